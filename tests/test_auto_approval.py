"""Suggestions approved on their own by the rules a store turns on: classes, value limit, quantity band, daily cap,
never for a variant in conflict, audited as the system's and listed on the dashboard."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inventory_ai.choices import AdjustmentStatus, AuditSource, SuggestionStatus
from inventory_ai.models import (
    AuditEntry,
    AutoApprovalRule,
    PurchaseOrderLine,
    ReorderSuggestion,
    StockAdjustment,
    Variant,
)
from inventory_ai.services import auto_approval, replenishment

pytestmark = pytest.mark.django_db


@pytest.fixture
def costed(forecast_store):
    shop, run, variants = forecast_store
    Variant.objects.filter(store=shop).update(unit_cost=Decimal("1.00"))
    return shop, variants


def pending(shop):
    return ReorderSuggestion.objects.filter(store=shop, status=SuggestionStatus.PENDING)


def rule(shop, **terms) -> AutoApprovalRule:
    values = {"name": "small B and C orders", "active": True, "abc_classes": "BC", "max_order_value": Decimal("1000"),
              "daily_value_cap": Decimal("100000"), **terms}  # fmt: skip
    return AutoApprovalRule.objects.create(store=shop, **values)


def test_nothing_is_approved_until_a_rule_is_turned_on(costed):
    shop, _ = costed
    rule(shop, active=False)
    replenishment.recompute_suggestions(shop)
    assert pending(shop).exists()
    assert not ReorderSuggestion.objects.filter(store=shop, status=SuggestionStatus.APPROVED).exists()


def test_an_active_rule_approves_its_classes_below_its_limit_as_the_system(costed, client, viewer):
    shop, _ = costed
    rule(shop)
    counts = replenishment.recompute_suggestions(shop)

    approved = ReorderSuggestion.objects.filter(store=shop, status=SuggestionStatus.APPROVED)
    assert counts["auto_approved"] == approved.count() > 0
    assert set(approved.values_list("abc_class", flat=True)) <= {"B", "C"}
    assert pending(shop).filter(abc_class__in=["B", "C"]).count() == 0  # all of them were small enough
    assert pending(shop).filter(abc_class="A").exists()  # class A is left to a planner
    first = approved.first()
    assert first.approved_by_rule.name == "small B and C orders"
    assert first.decided_by is None
    entry = AuditEntry.objects.get(target_type="suggestion", target_id=first.pk, action="approve")
    assert entry.source == AuditSource.SYSTEM
    assert "small B and C orders" in entry.note
    assert PurchaseOrderLine.objects.filter(suggestions=first).exists()  # on its supplier's draft like any approval
    # and the dashboard lists what the rules approved
    client.force_login(viewer)
    page = client.get(reverse("admin:index")).content.decode()
    assert f"Approved automatically, last 24 h: {approved.count()}" in page


def test_the_value_limit_and_the_daily_cap_leave_the_rest_to_a_planner(costed):
    shop, _ = costed
    replenishment.recompute_suggestions(shop)
    values = sorted(s.value for s in pending(shop).filter(abc_class__in=["B", "C"]))
    assert len(values) >= 3
    # a limit that only the two smallest meet, and a cap that only takes the smallest
    capped = rule(shop, max_order_value=values[1], daily_value_cap=values[0])
    assert auto_approval.apply_rules(shop) == 1
    assert auto_approval.approved_today(capped) == values[0]
    assert auto_approval.apply_rules(shop) == 0  # the cap is spent for the day


def approved_before(suggestion: ReorderSuggestion, quantity: int) -> ReorderSuggestion:
    """An earlier order of the same variant, approved with `quantity`."""
    earlier = ReorderSuggestion.objects.get(pk=suggestion.pk)
    earlier.pk, earlier.status, earlier.approved_qty = None, SuggestionStatus.APPROVED, quantity
    earlier.save()
    return earlier


def test_a_variant_in_conflict_and_a_quantity_off_its_last_order_are_left_alone(costed):
    shop, _ = costed
    replenishment.recompute_suggestions(shop)
    conflicted, banded = list(pending(shop).filter(abc_class__in=["B", "C"]).order_by("pk"))[:2]
    rule(shop, quantity_band_percent=20)
    # the quantity band needs a previous order to compare with: none yet, so nothing is approved
    assert auto_approval.apply_rules(shop, [conflicted.variant_id, banded.variant_id]) == 0
    # one far off the suggestion's quantity does not let it through either
    earlier = approved_before(banded, banded.quantity * 3)
    assert auto_approval.apply_rules(shop, [banded.variant_id]) == 0
    # about the same quantity (within 20%) does, but not for a variant whose stock push is in conflict
    ReorderSuggestion.objects.filter(pk=earlier.pk).update(approved_qty=banded.quantity + 1)
    approved_before(conflicted, conflicted.quantity)
    StockAdjustment.objects.create(store=shop, variant=conflicted.variant, location=conflicted.location,
                                   expected_available=1, new_available=2, status=AdjustmentStatus.CONFLICT)  # fmt: skip
    assert auto_approval.apply_rules(shop, [conflicted.variant_id, banded.variant_id]) == 1
    banded.refresh_from_db()
    conflicted.refresh_from_db()
    assert (banded.status, conflicted.status) == (SuggestionStatus.APPROVED, SuggestionStatus.PENDING)


def test_a_rule_names_its_classes_with_a_b_and_c(costed):
    shop, _ = costed
    bad = AutoApprovalRule(store=shop, name="x", abc_classes="BX", max_order_value=1, daily_value_cap=1)
    with pytest.raises(ValidationError):
        bad.full_clean()
    good = AutoApprovalRule(store=shop, name="x", abc_classes="cb", max_order_value=1, daily_value_cap=1)
    good.full_clean()
    assert good.abc_classes == "BC"
