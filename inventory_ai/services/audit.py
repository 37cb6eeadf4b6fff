"""Writes to the audit log. Every approval, rejection, edit, manual creation and push goes through `record`."""

from __future__ import annotations

from inventory_ai.choices import AuditSource
from inventory_ai.models import (
    AuditEntry,
    ForecastOverride,
    PurchaseOrder,
    ReorderSuggestion,
    StockAdjustment,
    Supplier,
    Variant,
)

TARGET_TYPES = {
    ReorderSuggestion: "suggestion",
    StockAdjustment: "adjustment",
    ForecastOverride: "override",
    PurchaseOrder: "purchase_order",
    Supplier: "supplier",
    Variant: "variant",
}


def record(
    target: ReorderSuggestion | StockAdjustment | ForecastOverride | PurchaseOrder | Supplier | Variant,
    action: str,
    user=None,
    source: str = AuditSource.ADMIN,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEntry:
    """Append one entry; call it inside the transaction that makes the change, so both land or neither does."""
    authenticated = user is not None and user.is_authenticated
    return AuditEntry.objects.create(
        actor=user if authenticated else None,
        actor_name=user.get_username() if authenticated else "",
        source=source if authenticated else AuditSource.SYSTEM,
        action=action,
        store_id=target.store_id,
        target_type=TARGET_TYPES[type(target)],
        target_id=target.pk,
        target_repr=str(target)[:255],
        before=before or {},
        after=after or {},
        note=note,
    )


def history(target: ReorderSuggestion | StockAdjustment):
    """The entries about one suggestion or adjustment, newest first."""
    return AuditEntry.objects.filter(target_type=TARGET_TYPES[type(target)], target_id=target.pk)
