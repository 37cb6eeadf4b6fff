"""Approving suggestions on their own, by the rules a store turned on (`AutoApprovalRule`).

Run after the suggestions are recomputed. Each pending suggestion goes to the first active rule of its store that it
meets (see the model); it is approved as a planner's approval is (it goes on its supplier's draft purchase order),
by the system, with the rule named in the audit entry and kept on the suggestion (`approved_by_rule`), which the
dashboard lists. A rule stops for the day once the value it approved today reaches its cap.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from decimal import Decimal

from django.utils import timezone

from inventory_ai.choices import AdjustmentStatus, AuditSource, SuggestionStatus
from inventory_ai.models import AutoApprovalRule, ReorderSuggestion, StockAdjustment, Store
from inventory_ai.services import decisions, purchasing

logger = logging.getLogger(__name__)


def apply_rules(store: Store, variant_ids: list[int] | None = None) -> int:
    """Approve the store's pending suggestions (of `variant_ids`, or all) that an active rule allows; returns how
    many it approved."""
    rules = list(AutoApprovalRule.objects.filter(store=store, active=True).select_related("supplier").order_by("pk"))
    if not rules:
        return 0
    pending = ReorderSuggestion.objects.filter(store=store, status=SuggestionStatus.PENDING).select_related(
        "variant__product", "variant__store"
    )
    if variant_ids is not None:
        pending = pending.filter(variant_id__in=variant_ids)
    pending = pending.prefetch_related("variant__supplier_items__supplier").order_by("order_by", "pk")
    conflicted = set(
        StockAdjustment.objects.filter(store=store, status=AdjustmentStatus.CONFLICT).values_list(
            "variant_id", flat=True
        )
    )
    spent = {rule.pk: approved_today(rule) for rule in rules}
    approved = 0
    for suggestion in pending:
        if suggestion.variant_id in conflicted:
            continue
        rule = next((rule for rule in rules if _meets(rule, suggestion, spent[rule.pk])), None)
        if rule is None:
            continue
        note = f"approved automatically by the rule {rule.name!r}"
        if decisions.decide_suggestion(suggestion, True, None, source=AuditSource.SYSTEM, note=note):
            ReorderSuggestion.objects.filter(pk=suggestion.pk).update(approved_by_rule=rule)
            spent[rule.pk] += suggestion.value
            approved += 1
    if approved:
        logger.info("%s suggestion(s) of %s approved by its rules", approved, store)
    return approved


def approved_today(rule: AutoApprovalRule) -> Decimal:
    """The value at cost the rule approved since the start of the store's day."""
    start = timezone.make_aware(datetime.combine(rule.store.local_today(), time.min), rule.store.tzinfo)
    total = Decimal("0")
    for suggestion in ReorderSuggestion.objects.filter(approved_by_rule=rule, decided_at__gte=start):
        total += suggestion.value or Decimal("0")
    return total


def _meets(rule: AutoApprovalRule, suggestion: ReorderSuggestion, spent: Decimal) -> bool:
    value = suggestion.value
    if value is None or suggestion.quantity <= 0:
        return False  # without a cost nothing can be weighed against the limits: a planner decides
    if (suggestion.abc_class or "?") not in rule.abc_classes.upper():
        return False
    if rule.supplier_id is not None and purchasing.supplier_name(suggestion.variant) != rule.supplier.name:
        return False
    if value > rule.max_order_value or spent + value > rule.daily_value_cap:
        return False
    if rule.quantity_band_percent is not None:
        last = _last_approved_quantity(suggestion)
        if last is None:
            return False  # no order to compare with: a planner decides the first one
        band = last * rule.quantity_band_percent / 100
        if abs(suggestion.quantity - last) > band:
            return False
    return True


def _last_approved_quantity(suggestion: ReorderSuggestion) -> int | None:
    last = (
        ReorderSuggestion.objects.filter(variant_id=suggestion.variant_id, status=SuggestionStatus.APPROVED)
        .exclude(pk=suggestion.pk)
        .order_by("-decided_at")
        .first()
    )
    return last.quantity if last is not None else None


def approved_on(store_ids: list[int] | None = None, since: datetime | None = None):
    """Suggestions approved by rules (since a time), newest first: what the dashboard lists."""
    rows = ReorderSuggestion.objects.filter(approved_by_rule__isnull=False)
    if store_ids is not None:
        rows = rows.filter(store_id__in=store_ids)
    if since is not None:
        rows = rows.filter(decided_at__gte=since)
    return rows.select_related("variant__product", "approved_by_rule", "store").order_by("-decided_at")


def value_of(rows) -> Decimal:
    return sum((row.value or Decimal("0") for row in rows), Decimal("0"))
