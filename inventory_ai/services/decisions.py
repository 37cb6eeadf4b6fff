"""Decisions on restock suggestions and stock adjustments: a planner approves (optionally with an edited quantity) or
rejects a pending one, and every decision is written to the audit log with who, when and from where.

Deciding either kind follows one skeleton (`_Decision.decide`): lock the row, check that it is still pending, take
an edited quantity, stamp the decision, save, write the audit entry and start what an approval sets going. The kinds
differ only in what they write and in what follows: an approved suggestion goes on its supplier's draft purchase
order; an approved adjustment is pushed to the store once the transaction commits.
"""

from __future__ import annotations

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory_ai.choices import (
    AdjustmentReason,
    AdjustmentStatus,
    AuditAction,
    AuditSource,
    SuggestionStatus,
)
from inventory_ai.models import InventoryLevel, Location, ReorderSuggestion, StockAdjustment, Variant
from inventory_ai.services import audit, purchasing, push


class _Decision:
    """Deciding one kind of pending document: the steps every kind shares, in `decide`; a subclass names its model,
    statuses and fields, and says what an approval changes before it is stamped and what it starts after."""

    model: type[ReorderSuggestion] | type[StockAdjustment]
    statuses: type[models.TextChoices]
    edited: str  # the quantity an approval may edit, as read from the document and named in the audit log
    saved: tuple[str, ...]  # the fields a decision writes
    logged_before: tuple[str, ...]  # what the audit entry shows before the decision ...
    logged_after: tuple[str, ...]  # ... and after it

    def decide(self, target, approve: bool, user, edited: int | None, source: str, note: str) -> bool:
        """Approve (taking `edited` as the new quantity) or reject `target` if it is still pending, and log it;
        returns whether it changed. `target` is refreshed from the database."""
        if edited is not None and edited < 0:
            raise ValueError(_("a quantity cannot be negative"))
        with transaction.atomic():
            # The lock makes two planners deciding at once take turns: the second sees the first's decision.
            current = self.model.objects.select_for_update().get(pk=target.pk)
            if current.status != self.statuses.PENDING:
                return False
            if approve and edited is not None and edited != getattr(current, self.edited):
                _record_edit(current, self.edited, getattr(current, self.edited), edited, user, source, note)
                self.take_edit(current, edited)
            before = {name: getattr(current, name) for name in self.logged_before}
            if approve:
                self.prepare_approval(current)
            _stamp_decision(current, self.statuses.APPROVED if approve else self.statuses.REJECTED, user)
            current.save(update_fields=list(self.saved))
            audit.record(
                current,
                AuditAction.APPROVE if approve else AuditAction.REJECT,
                user,
                source,
                before=before,
                after={name: getattr(current, name) for name in self.logged_after},
                note=note,
            )
            if approve:
                self.follow_approval(current, user, source)
        target.refresh_from_db()
        return True

    def take_edit(self, current, edited: int) -> None:
        """Keep an edited quantity on the document."""
        raise NotImplementedError

    def prepare_approval(self, current) -> None:
        """Change what an approval needs changed before it is stamped (nothing by default)."""

    def follow_approval(self, current, user, source: str) -> None:
        """Start what an approved document sets going, inside the deciding transaction."""
        raise NotImplementedError


class _SuggestionDecision(_Decision):
    """An approved suggestion is a line of its supplier's draft purchase order (`services.purchasing`)."""

    model = ReorderSuggestion
    statuses = SuggestionStatus
    edited = "quantity"
    saved = ("status", "approved_qty", "decided_at", "decided_by")
    logged_before = ("status", "quantity")
    logged_after = ("status", "quantity")

    def take_edit(self, current: ReorderSuggestion, edited: int) -> None:
        current.approved_qty = edited

    def follow_approval(self, current: ReorderSuggestion, user, source: str) -> None:
        if current.quantity > 0:
            purchasing.add_to_draft(current, user, source)


class _AdjustmentDecision(_Decision):
    """An approved adjustment is written to the store: its push is sent once the approval commits."""

    model = StockAdjustment
    statuses = AdjustmentStatus
    edited = "new_available"
    saved = ("status", "expected_available", "new_available", "decided_at", "decided_by")
    logged_before = ("status", "expected_available")
    logged_after = ("status", "expected_available", "new_available")

    def take_edit(self, current: StockAdjustment, edited: int) -> None:
        current.new_available = edited

    def prepare_approval(self, current: StockAdjustment) -> None:
        if current.reason != AdjustmentReason.RESTOCK:
            return
        # A received restock adds units: it is rebased on the stock we hold now (kept current by the store's
        # webhooks), since a restock proposed days ago would otherwise always meet a stale quantity.
        held = _held_stock(current.variant_id, current.location_id)
        if held is not None and held != current.expected_available:
            delta = current.delta
            current.expected_available, current.new_available = held, max(held + delta, 0)

    def follow_approval(self, current: StockAdjustment, user, source: str) -> None:
        push.enqueue_push(current.pk)


def decide_suggestion(
    suggestion: ReorderSuggestion,
    approve: bool,
    user,
    quantity: int | None = None,
    source: str = AuditSource.ADMIN,
    note: str = "",
) -> bool:
    """Approve (optionally with an edited quantity) or reject a pending suggestion, and log it in the audit log.

    Returns whether it changed: a suggestion already decided or superseded (a newer forecast replaced it while the
    planner looked) is left alone.
    """
    return _SuggestionDecision().decide(suggestion, approve, user, quantity, source, note)


def decide_adjustment(
    adjustment: StockAdjustment,
    approve: bool,
    user,
    new_available: int | None = None,
    source: str = AuditSource.ADMIN,
    note: str = "",
) -> bool:
    """Approve (optionally with an edited quantity) or reject a pending adjustment, and log it in the audit log."""
    return _AdjustmentDecision().decide(adjustment, approve, user, new_available, source, note)


def create_adjustment(
    variant: Variant,
    location: Location,
    user,
    new_available: int | None = None,
    delta: int | None = None,
    reason: str = AdjustmentReason.MANUAL,
    note: str = "",
    source: str = AuditSource.ADMIN,
) -> StockAdjustment:
    """Propose a stock change at a location, as a new quantity or as a delta on the quantity we last read.

    The quantity read now is kept as `expected_available`: the push applies only if the store still holds it.
    """
    if (new_available is None) == (delta is None):
        raise ValueError(_("give either a new quantity or a delta"))
    if variant.store_id != location.store_id:
        raise ValueError(_("the variant and the location belong to different stores"))
    level = InventoryLevel.objects.filter(variant=variant, location=location).first()
    expected = level.available if level is not None else 0
    target = new_available if new_available is not None else expected + delta
    if target < 0:
        message = _("the new quantity would be negative (%(expected)s %(delta)s)")
        raise ValueError(message % {"expected": expected, "delta": f"{delta:+d}"})
    with transaction.atomic():
        adjustment = StockAdjustment.objects.create(
            store_id=variant.store_id,
            variant=variant,
            location=location,
            expected_available=expected,
            new_available=target,
            reason=reason,
            note=note,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        audit.record(
            adjustment,
            AuditAction.CREATE,
            user,
            source,
            after={"expected_available": expected, "new_available": target, "reason": reason},
            note=note,
        )
    return adjustment


def _held_stock(variant_id: int, location_id: int) -> int | None:
    """The stock we hold for a variant at a location (kept current by the store's webhooks), or None."""
    levels = InventoryLevel.objects.filter(variant_id=variant_id, location_id=location_id)
    return levels.values_list("available", flat=True).first()


def _record_edit(target, field: str, before: int, after: int, user, source: str, note: str) -> None:
    """Log an edited quantity as its own audit entry, before the decision's."""
    audit.record(target, AuditAction.EDIT, user, source, before={field: before}, after={field: after}, note=note)


def _stamp_decision(target: ReorderSuggestion | StockAdjustment, status: str, user) -> None:
    """Set the decision's status, when it was made and by whom (no one for the system)."""
    target.status = status
    target.decided_at = timezone.now()
    target.decided_by = user if user is not None and user.is_authenticated else None
