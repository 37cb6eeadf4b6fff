"""The admin for planners: dashboard, variant forecast page, decisions with confirmation, permissions, audit log."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from inventory_ai.choices import AdjustmentStatus, AuditAction, SuggestionStatus, WebhookStatus
from inventory_ai.models import (
    AuditEntry,
    InventoryLevel,
    Location,
    ReorderSuggestion,
    StockAdjustment,
    Variant,
    WebhookEvent,
)
from inventory_ai.models.audit import AuditLogIsAppendOnly
from inventory_ai.selectors.model_names import model_label
from inventory_ai.services import replenishment
from inventory_ai.services.roles import PLANNER, VIEWER, ensure_roles

pytestmark = pytest.mark.django_db

SUGGESTIONS = reverse("admin:inventory_ai_reordersuggestion_changelist")
ADJUSTMENTS = reverse("admin:inventory_ai_stockadjustment_changelist")


@pytest.fixture
def suggestions(forecast_store):
    """The forecast store with its restock suggestions computed; the steady SKU runs out tomorrow."""
    shop, run, variants = forecast_store
    replenishment.recompute_suggestions(shop)
    pending = ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING)
    today = timezone.localdate()
    # every SKU but the first stocks out in 4 to 15 weeks, the first tomorrow
    for weeks, suggestion in enumerate(pending.order_by("pk"), start=4):
        suggestion.stockout_date = today + timedelta(weeks=weeks)
        suggestion.order_by = suggestion.stockout_date - timedelta(days=suggestion.lead_time_days)
        suggestion.save(update_fields=["stockout_date", "order_by"])
    tomorrow = today + timedelta(days=1)
    pending.filter(variant=variants[0]).update(stockout_date=tomorrow, order_by=tomorrow - timedelta(days=14))
    return shop, run, variants, list(pending.order_by("pk"))


def login(client, user):
    client.force_login(user)
    return client


def test_the_roles_hold_the_permissions_the_product_defines():
    # given the groups made after migrate
    ensure_roles()
    planner = set(Group.objects.get(name=PLANNER).permissions.values_list("codename", flat=True))
    viewer = set(Group.objects.get(name=VIEWER).permissions.values_list("codename", flat=True))

    # then viewers only view, planners also decide
    assert "view_reordersuggestion" in viewer
    assert "view_auditentry" in viewer
    assert all(code.startswith("view_") for code in viewer)
    assert {"approve_reordersuggestion", "approve_stockadjustment"} <= planner
    assert viewer < planner
    assert not {"change_auditentry", "delete_auditentry", "delete_reordersuggestion"} & planner


def test_the_dashboard_shows_what_needs_attention(client, planner, suggestions):
    shop, run, variants, pending = suggestions
    # given webhook traffic: one processed, one failed, one waiting for an hour
    for number, status in enumerate([WebhookStatus.PROCESSED, WebhookStatus.FAILED, WebhookStatus.RECEIVED]):
        WebhookEvent.objects.create(
            platform="shopify", store=shop, topic="orders/create", dedup_key=f"d{number}", body=b"{}", status=status
        )
    WebhookEvent.objects.filter(status=WebhookStatus.RECEIVED).update(received_at=timezone.now() - timedelta(hours=1))
    # and one pending adjustment of +7 units at a unit cost of 2
    variants[1].unit_cost = 2
    variants[1].save()
    replenishment.create_adjustment(variants[1], Location.objects.get(store=shop), planner, delta=7)

    # when the planner opens the admin's front page
    page = login(client, planner).get(reverse("admin:index"))

    # then it shows the at-risk SKU, the pending suggestions with their value, the run and the webhook health
    assert page.status_code == 200
    html = page.content.decode()
    dashboard = page.context["dashboard"]
    assert dashboard["at_risk_count"] == 1
    assert [s.variant for s in dashboard["at_risk"]] == [variants[0]]
    assert dashboard["suggestions"]["count"] == len(pending)
    assert dashboard["adjustments"]["pending"] == 1
    assert dashboard["adjustments"]["units"] == 7
    assert dashboard["adjustments"]["value"] == 7 * 2
    assert dashboard["webhooks"] == {"received": 3, "processed": 1, "ignored": 0, "failed": 1, "failed_total": 1}
    assert dashboard["oldest_unprocessed_age"] >= timedelta(minutes=59)
    assert variants[0].sku in html
    assert f"#{run.pk} Succeeded" in html
    assert "oldest unprocessed: 1 h ago" in html
    assert shop.domain in html


def test_the_variant_page_charts_history_forecast_and_policy(client, viewer, suggestions):
    shop, run, variants, _ = suggestions
    variant = variants[0]

    # when a viewer opens the variant's forecast page
    page = login(client, viewer).get(reverse("admin:inventory_ai_variant_forecast", args=[variant.pk]))

    # then the chart draws 52 weeks of history, the forecast mean with both bands, and the policy lines
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<rect x=") >= 52  # a bar per history week (empty weeks are zero-height bars)
    assert 'class="forecast-mean"' in html
    assert 'class="band-80"' in html
    assert 'class="band-95"' in html
    suggestion = ReorderSuggestion.objects.get(variant=variant, status=SuggestionStatus.PENDING)
    assert 'class="reorder-point" x1=' in html
    assert f'data-value="{suggestion.reorder_point}"' in html
    assert f'data-value="{suggestion.order_up_to}"' in html
    overview = page.context["overview"]
    assert len(overview.forecast) == 6
    assert len(overview.history) == 52
    assert sum(p.units for p in overview.history) > 0
    # the chosen model against the alternatives, and the suggestion's explanation
    assert model_label(overview.result.model) in html  # the chosen model, named in words
    assert "Backtest RMSSE" in html
    assert [c["chosen"] for c in overview.candidates].count(True) == 1
    assert suggestion.reason.split(";")[0] in html
    # a viewer gets no approve button
    assert "approve-suggestion" not in html


def test_out_of_stock_weeks_are_shaded(client, viewer, suggestions):
    shop, run, variants, _ = suggestions
    variant = variants[2]
    first_week = run.data_until - timedelta(days=13)
    variant.daily_demand.filter(date__gte=first_week).update(out_of_stock=True)
    from inventory_ai.models import DailyDemand

    DailyDemand.objects.get_or_create(
        variant=variant, location=Location.objects.get(store=shop), date=run.data_until, defaults={"units": 0}
    )
    DailyDemand.objects.filter(variant=variant, date=run.data_until).update(out_of_stock=True)

    page = login(client, viewer).get(reverse("admin:inventory_ai_variant_forecast", args=[variant.pk]))

    assert page.content.decode().count('<rect class="out-of-stock" x=') >= 1
    assert page.context["overview"].history[-1].out_of_stock


def test_a_planner_approves_through_the_confirmation_page_with_an_edited_quantity(client, planner, suggestions):
    *_, pending = suggestions
    first, second = pending[:2]
    login(client, planner)

    # when the planner picks "Approve selected" on two suggestions
    page = client.post(SUGGESTIONS, {"action": "approve_selected", "_selected_action": [first.pk, second.pk]})

    # then a confirmation page lists them with editable quantities, and nothing is decided yet
    assert page.status_code == 200
    assert page.templates[0].name == "admin/inventory_ai/confirm_decision.html"
    assert f'name="quantity-{first.pk}" value="{first.suggested_qty}"' in page.content.decode()
    assert ReorderSuggestion.objects.filter(pk__in=[first.pk, second.pk], status="pending").count() == 2

    # when the planner edits one quantity and confirms
    done = client.post(
        SUGGESTIONS,
        {
            "action": "approve_selected",
            "_selected_action": [first.pk, second.pk],
            "post": "yes",
            f"quantity-{first.pk}": first.suggested_qty + 12,
            f"quantity-{second.pk}": second.suggested_qty,
        },
    )

    # then both are approved, the edit is kept, and the audit log says who did what with before and after
    assert done.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.approved_qty, first.decided_by) == ("approved", first.suggested_qty + 12, planner)
    assert second.status == "approved"
    assert second.quantity == second.suggested_qty
    entries = list(AuditEntry.objects.filter(target_type="suggestion", target_id=first.pk).order_by("pk"))
    assert [(e.action, e.actor_name, e.source) for e in entries] == [
        (AuditAction.EDIT, "pat.planner", "admin"),
        (AuditAction.APPROVE, "pat.planner", "admin"),
    ]
    assert entries[0].before == {"quantity": first.suggested_qty}
    assert entries[0].after == {"quantity": first.suggested_qty + 12}
    assert entries[1].before["status"] == "pending"
    assert entries[1].after["status"] == "approved"
    # and the suggestion's page shows its trail
    detail = client.get(reverse("admin:inventory_ai_reordersuggestion_change", args=[first.pk]))
    assert "pat.planner" in detail.content.decode()


def test_a_bad_quantity_is_refused_on_the_confirmation_page(client, planner, suggestions):
    *_, pending = suggestions
    target = pending[0]
    page = login(client, planner).post(
        SUGGESTIONS,
        {"action": "approve_selected", "_selected_action": [target.pk], "post": "yes", f"quantity-{target.pk}": "-3"},
    )
    assert page.status_code == 200
    assert "Enter a whole number, 0 or more." in page.content.decode()
    target.refresh_from_db()
    assert target.status == "pending"
    assert not AuditEntry.objects.exists()


def test_a_planner_approves_one_suggestion_from_the_variant_page(client, planner, suggestions):
    _, _, variants, _ = suggestions
    suggestion = ReorderSuggestion.objects.get(variant=variants[0], status="pending")
    login(client, planner)
    page = client.get(reverse("admin:inventory_ai_variant_forecast", args=[variants[0].pk]))
    approve_url = reverse("admin:inventory_ai_reordersuggestion_approve", args=[suggestion.pk])
    assert approve_url in page.content.decode()

    confirm = client.get(approve_url)
    assert confirm.status_code == 200
    assert "Yes, approve" in confirm.content.decode()
    done = client.post(approve_url, {"post": "yes", f"quantity-{suggestion.pk}": suggestion.suggested_qty})

    assert done.status_code == 302
    assert done.url == reverse("admin:inventory_ai_variant_forecast", args=[variants[0].pk])
    suggestion.refresh_from_db()
    assert suggestion.status == "approved"


def test_rejecting_needs_no_quantity_and_is_logged(client, planner, suggestions):
    *_, pending = suggestions
    target = pending[0]
    done = login(client, planner).post(
        SUGGESTIONS, {"action": "reject_selected", "_selected_action": [target.pk], "post": "yes"}
    )
    assert done.status_code == 302
    target.refresh_from_db()
    assert target.status == "rejected"
    assert target.approved_qty is None
    assert AuditEntry.objects.get(target_id=target.pk).action == AuditAction.REJECT


def test_a_viewer_sees_no_decision_and_a_forged_one_is_refused(client, viewer, suggestions):
    *_, pending = suggestions
    target = pending[0]
    login(client, viewer)

    # the changelist offers only the export
    page = client.get(SUGGESTIONS)
    assert page.status_code == 200
    actions = [choice[0] for choice in page.context["action_form"].fields["action"].choices]
    assert "approve_selected" not in actions
    assert "reject_selected" not in actions
    assert "export_csv" in actions

    # a forged action POST changes nothing
    client.post(
        SUGGESTIONS,
        {"action": "approve_selected", "_selected_action": [target.pk], "post": "yes", f"quantity-{target.pk}": 1},
    )
    # and the single-object decision URL answers 403
    forged = client.post(
        reverse("admin:inventory_ai_reordersuggestion_approve", args=[target.pk]),
        {"post": "yes", f"quantity-{target.pk}": 1},
    )
    assert forged.status_code == 403
    target.refresh_from_db()
    assert target.status == "pending"
    assert not AuditEntry.objects.exists()


def test_anonymous_users_are_sent_to_the_login_page(client, suggestions):
    *_, pending = suggestions
    answer = client.post(reverse("admin:inventory_ai_reordersuggestion_approve", args=[pending[0].pk]), {"post": "yes"})
    assert answer.status_code == 302
    assert "/login/" in answer.url
    assert ReorderSuggestion.objects.get(pk=pending[0].pk).status == "pending"


def test_suggestions_filter_by_risk_and_search_by_sku_sorted_by_urgency(client, planner, suggestions):
    _, _, variants, pending = suggestions
    login(client, planner)

    risky = client.get(SUGGESTIONS, {"risk": "late"})
    assert [s.variant for s in risky.context["cl"].result_list] == [variants[0]]

    found = client.get(SUGGESTIONS, {"q": variants[3].sku})
    assert {s.variant for s in found.context["cl"].result_list} <= {variants[3]}

    everything = client.get(SUGGESTIONS, {"status__exact": "pending"})
    listed = list(everything.context["cl"].result_list)
    assert listed[0].variant == variants[0]  # the most urgent first
    dates = [s.stockout_date for s in listed if s.stockout_date]
    assert dates == sorted(dates)
    assert "Late" in everything.content.decode()


def test_suggestions_export_to_csv(client, viewer, suggestions):
    *_, pending = suggestions
    answer = login(client, viewer).post(
        SUGGESTIONS, {"action": "export_csv", "_selected_action": [s.pk for s in pending]}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert len(rows) == len(pending)
    assert {int(r["id"]) for r in rows} == {s.pk for s in pending}
    assert all(r["sku"] and r["reason"] for r in rows)


def test_csv_cells_that_look_like_formulas_are_defused(client, viewer, suggestions):
    _, _, variants, pending = suggestions
    variants[0].product.title = '=HYPERLINK("http://evil")'  # the title column shows the product's
    variants[0].product.save()
    target = ReorderSuggestion.objects.get(variant=variants[0], status="pending")
    answer = login(client, viewer).post(SUGGESTIONS, {"action": "export_csv", "_selected_action": [target.pk]})
    row = next(csv.DictReader(io.StringIO(answer.content.decode())))
    assert row["title"].startswith("'=")


def test_a_planner_proposes_and_approves_a_manual_adjustment(client, planner, forecast_store):
    shop, _, variants = forecast_store
    location = Location.objects.get(store=shop)
    login(client, planner)

    # when the planner adds "+24 received" on the add form
    added = client.post(
        reverse("admin:inventory_ai_stockadjustment_add"),
        {"variant": variants[1].pk, "location": location.pk, "delta": "24", "reason": "restock", "note": "PO 1183"},
    )

    # then the adjustment holds the quantity read from the store and the target, and is logged
    assert added.status_code == 302, added.content.decode()[:2000]
    adjustment = StockAdjustment.objects.get()
    assert (adjustment.expected_available, adjustment.new_available, adjustment.status) == (5, 29, "pending")
    assert adjustment.created_by == planner

    # when the planner approves it with a corrected quantity
    client.post(
        ADJUSTMENTS,
        {
            "action": "approve_selected",
            "_selected_action": [adjustment.pk],
            "post": "yes",
            f"quantity-{adjustment.pk}": "30",
        },
    )
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.new_available, adjustment.decided_by) == ("approved", 30, planner)
    actions = list(
        AuditEntry.objects.filter(target_type="adjustment", target_id=adjustment.pk)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [AuditAction.CREATE, AuditAction.EDIT, AuditAction.APPROVE]


def test_an_adjustment_needs_a_quantity_or_a_change_but_not_both(client, planner, forecast_store):
    shop, _, variants = forecast_store
    location = Location.objects.get(store=shop)
    page = login(client, planner).post(
        reverse("admin:inventory_ai_stockadjustment_add"),
        {"variant": variants[1].pk, "location": location.pk, "new_available": "3", "delta": "2", "reason": "manual"},
    )
    assert page.status_code == 200
    assert "Give either the new quantity or a change" in page.content.decode()
    assert not StockAdjustment.objects.exists()


def test_a_viewer_cannot_add_or_approve_adjustments(client, viewer, forecast_store):
    shop, _, variants = forecast_store
    location = Location.objects.get(store=shop)
    adjustment = replenishment.create_adjustment(variants[1], location, None, new_available=9)
    login(client, viewer)
    added = client.post(
        reverse("admin:inventory_ai_stockadjustment_add"),
        {"variant": variants[1].pk, "location": location.pk, "delta": "1", "reason": "manual"},
    )
    assert added.status_code == 403
    client.post(
        ADJUSTMENTS,
        {
            "action": "approve_selected",
            "_selected_action": [adjustment.pk],
            "post": "yes",
            f"quantity-{adjustment.pk}": 9,
        },
    )
    adjustment.refresh_from_db()
    assert adjustment.status == AdjustmentStatus.PENDING
    # the system's own entry names no user
    entry = AuditEntry.objects.get(target_id=adjustment.pk)
    assert (entry.actor_name, entry.source, entry.action) == ("", "system", AuditAction.CREATE)


def test_nobody_edits_or_deletes_the_audit_log(admin_client, planner, suggestions):
    *_, pending = suggestions
    replenishment.decide_suggestion(pending[0], approve=False, user=planner)
    entry = AuditEntry.objects.get()

    # the admin shows it read-only, even to a superuser
    page = admin_client.get(reverse("admin:inventory_ai_auditentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert admin_client.post(reverse("admin:inventory_ai_auditentry_delete", args=[entry.pk])).status_code == 403
    assert admin_client.get(reverse("admin:inventory_ai_auditentry_add")).status_code == 403

    # and the model refuses changes and deletes, one by one or in bulk
    entry.note = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(note="rewritten")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().note == ""


def test_a_suggestion_decided_elsewhere_is_left_alone(client, planner, suggestions):
    *_, pending = suggestions
    target = pending[0]
    login(client, planner)
    # the planner opens the confirmation page; meanwhile a newer forecast supersedes the suggestion
    client.post(SUGGESTIONS, {"action": "approve_selected", "_selected_action": [target.pk]})
    ReorderSuggestion.objects.filter(pk=target.pk).update(status=SuggestionStatus.SUPERSEDED)

    done = client.post(
        SUGGESTIONS,
        {"action": "approve_selected", "_selected_action": [target.pk], "post": "yes", f"quantity-{target.pk}": 5},
        follow=True,
    )
    assert "None of the selected restock suggestions is pending." in done.content.decode()
    assert ReorderSuggestion.objects.get(pk=target.pk).status == SuggestionStatus.SUPERSEDED


def test_failed_events_are_requeued_and_runs_listed(client, planner, admin_client, suggestions):
    shop, run, *_ = suggestions
    event = WebhookEvent.objects.create(
        platform="shopify", store=shop, topic="orders/create", dedup_key="x", body=b"{", status=WebhookStatus.FAILED
    )
    runs = login(client, planner).get(reverse("admin:inventory_ai_forecastrun_changelist"))
    assert runs.status_code == 200
    assert f"{run.skus_total}/{run.skus_total}" in runs.content.decode()
    # planners do not re-queue webhook events (an operator's job); a superuser does
    events = client.get(reverse("admin:inventory_ai_webhookevent_changelist"))
    assert events.context["action_form"] is None  # no action left to offer
    admin_client.post(
        reverse("admin:inventory_ai_webhookevent_changelist"),
        {"action": "requeue_failed", "_selected_action": [event.pk]},
    )
    event.refresh_from_db()
    assert event.status == WebhookStatus.RECEIVED


def test_stock_levels_show_on_the_variant_page(client, viewer, forecast_store):
    shop, _, variants = forecast_store
    InventoryLevel.objects.filter(variant=variants[4]).update(available=1234)
    page = login(client, viewer).get(reverse("admin:inventory_ai_variant_forecast", args=[variants[4].pk]))
    assert "1,234" in page.content.decode()


def test_the_add_user_command_makes_a_planner_who_can_log_in(run_command, client):
    out, _ = run_command("add_user", "sam", "--role", "planner")
    password = out.strip().rsplit("password ", 1)[1]
    assert client.login(username="sam", password=password)
    assert client.get(reverse("admin:index")).status_code == 200
    from django.contrib.auth import get_user_model

    sam = get_user_model().objects.get(username="sam")
    assert sam.is_staff
    assert not sam.is_superuser
    assert sam.has_perm("inventory_ai.approve_reordersuggestion")


def test_the_suggestion_list_reads_by_product_supplier_and_an_urgency_that_tells_rows_apart(
    client, viewer, suggestions
):
    from inventory_ai.models import Product

    shop, _, variants, pending = suggestions
    # Shopify names a product's only variant "Default Title": the list shows the product's title instead
    Product.objects.filter(variants=variants[0]).update(title="Kraft Notebook", vendor="Paper Mill Ltd")
    Variant.objects.filter(pk=variants[0].pk).update(title="Default Title")
    # one to order this week: its last day to order is in three days
    today = timezone.localdate()
    ReorderSuggestion.objects.filter(pk=pending[1].pk).update(order_by=today + timedelta(days=3))

    page = login(client, viewer).get(SUGGESTIONS + "?status__exact=pending").content.decode()
    assert "Kraft Notebook" in page
    assert "Default Title" not in page
    assert "Paper Mill Ltd" in page
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, re.S)
    urgencies = [label for row in rows for label in re.findall(r'class="risk [^"]+"[^>]*>([^<]+)<', row)]
    # what needs deciding first comes first: the late one, then the one of this week, then the rest
    assert urgencies[:2] == ["Late", "Order this week"]
    assert set(urgencies[2:]) == {"Fine"}
    dashboard = client.get(reverse("admin:index")).content.decode()
    assert re.search(r">1 late<", dashboard)
    assert re.search(r">1 to order this week<", dashboard)
    assert re.search(rf">{len(pending) - 2} fine for now<", dashboard)
