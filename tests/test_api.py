"""The REST API: permissions, filters, decisions with audit, manual adjustments, forecasts, schema, health."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from inventory_ai.choices import AuditAction, SuggestionStatus
from inventory_ai.models import AuditEntry, Forecast, Location, ReorderSuggestion, StockAdjustment
from inventory_ai.services import replenishment
from inventory_ai.services.api_tokens import issue_token
from inventory_ai.services.health import record_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(forecast_store):
    shop, run, variants = forecast_store
    replenishment.recompute_suggestions(shop)
    today = timezone.localdate()
    pending = ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING).order_by("pk")
    for weeks, suggestion in enumerate(pending, start=3):
        suggestion.stockout_date = today + timedelta(weeks=weeks)
        suggestion.order_by = suggestion.stockout_date - timedelta(days=14)
        suggestion.save()
    urgent = pending.first()
    urgent.order_by = today - timedelta(days=1)
    urgent.save()
    return shop, run, variants, urgent


def as_user(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    return client


def test_anonymous_requests_are_refused_and_health_is_open(planned):
    anonymous = APIClient()
    for path in ("/api/v1/suggestions/", "/api/v1/variants/", "/api/v1/stores/", "/api/v1/adjustments/"):
        assert anonymous.get(path).status_code == 401
    suggestion = planned[3]
    assert anonymous.post(f"/api/v1/suggestions/{suggestion.pk}/approve/").status_code == 401
    assert anonymous.get("/healthz").status_code in (200, 503)


def test_a_viewer_reads_and_filters_but_cannot_decide(planned, viewer):
    shop, _, variants, urgent = planned
    client = as_user(viewer)

    everything = client.get("/api/v1/suggestions/", {"status": "pending"}).json()
    assert everything["count"] == ReorderSuggestion.objects.filter(status="pending").count()
    assert everything["results"][0]["id"] == urgent.pk  # most urgent first
    late = client.get("/api/v1/suggestions/", {"risk": "late"}).json()
    assert [row["id"] for row in late["results"]] == [urgent.pk]
    by_sku = client.get("/api/v1/suggestions/", {"sku": urgent.variant.sku}).json()
    assert {row["sku"] for row in by_sku["results"]} == {urgent.variant.sku}

    refused = client.post(f"/api/v1/suggestions/{urgent.pk}/approve/", {"quantity": 3}, format="json")
    assert refused.status_code == 403
    assert client.post("/api/v1/adjustments/", {}, format="json").status_code == 403
    urgent.refresh_from_db()
    assert urgent.status == "pending"
    assert not AuditEntry.objects.exists()


def test_a_planner_approves_with_another_quantity_through_the_api(planned, planner):
    *_, urgent = planned
    client = as_user(planner)

    answer = client.post(
        f"/api/v1/suggestions/{urgent.pk}/approve/",
        {"quantity": urgent.suggested_qty + 5, "note": "pallet"},
        format="json",
    )

    assert answer.status_code == 200
    assert answer.json()["status"] == "approved"
    assert answer.json()["quantity"] == urgent.suggested_qty + 5
    entries = AuditEntry.objects.filter(target_type="suggestion", target_id=urgent.pk).order_by("pk")
    assert [(e.action, e.source, e.actor_name, e.note) for e in entries] == [
        (AuditAction.EDIT, "api", "pat.planner", "pallet"),
        (AuditAction.APPROVE, "api", "pat.planner", "pallet"),
    ]
    # deciding twice changes nothing and says why
    again = client.post(f"/api/v1/suggestions/{urgent.pk}/reject/", {}, format="json")
    assert again.status_code == 409
    bad = client.post(f"/api/v1/suggestions/{urgent.pk}/approve/", {"quantity": -1}, format="json")
    assert bad.status_code == 400


def test_manual_adjustments_are_proposed_approved_and_validated(planned, planner, django_capture_on_commit_callbacks):
    shop, _, variants, _ = planned
    location = Location.objects.get(store=shop)
    client = as_user(planner)

    created = client.post(
        "/api/v1/adjustments/",
        {"variant": variants[2].pk, "location": location.pk, "delta": 12, "reason": "restock", "note": "PO 77"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["expected_available"], body["new_available"], body["delta"], body["status"]) == (5, 17, 12, "pending")

    both = client.post(
        "/api/v1/adjustments/",
        {"variant": variants[2].pk, "location": location.pk, "delta": 1, "new_available": 3},
        format="json",
    )
    assert both.status_code == 400
    negative = client.post(
        "/api/v1/adjustments/", {"variant": variants[2].pk, "location": location.pk, "delta": -50}, format="json"
    )
    assert negative.status_code == 400

    with django_capture_on_commit_callbacks() as callbacks:
        approved = client.post(f"/api/v1/adjustments/{body['id']}/approve/", {"new_available": 18}, format="json")
    assert approved.status_code == 200
    assert approved.json()["new_available"] == 18
    assert len(callbacks) == 1  # the push is queued after the approval commits
    assert StockAdjustment.objects.get(pk=body["id"]).status == "approved"
    listed = client.get("/api/v1/adjustments/", {"status": "approved", "sku": variants[2].sku}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]


def test_variants_carry_stock_policy_and_the_forecast_with_intervals(planned, viewer):
    shop, run, variants, _ = planned
    client = as_user(viewer)

    listed = client.get("/api/v1/variants/", {"store": shop.pk, "search": variants[0].sku}).json()
    row = next(r for r in listed["results"] if r["id"] == variants[0].pk)
    assert row["available"] == 5
    first_period = Forecast.objects.filter(run=run, variant=variants[0]).order_by("period_start").first()
    assert row["next_period_forecast"] == pytest.approx(first_period.mean)
    assert row["forecast_model"] == first_period.model
    assert row["policy"] == {
        "lead_time_days": 14,
        "review_period_days": 7,
        "service_level": 0.95,
        "moq": 1,
        "case_pack": 1,
    }

    forecast = client.get(f"/api/v1/variants/{variants[0].pk}/forecast/").json()
    assert forecast["run"] == run.pk
    assert len(forecast["periods"]) == 6
    first = forecast["periods"][0]
    assert first["intervals"]["lo-80"] <= first["mean"] <= first["intervals"]["hi-95"]
    assert forecast["model"] in forecast["backtest_rmsse"]

    runs = client.get("/api/v1/runs/", {"store": shop.pk}).json()
    assert runs["results"][0]["status"] == "succeeded"
    assert runs["results"][0]["progress"] == 1.0


def test_stores_never_show_secrets(planned, viewer):
    answer = as_user(viewer).get("/api/v1/stores/")
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "shpat_test" not in text
    assert "hush" not in text
    assert "credentials" not in text
    assert answer.json()["results"][0]["variant_count"] == 12


def test_the_openapi_schema_is_valid_and_the_docs_are_served_locally(admin_client):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    schema = admin_client.get("/api/v1/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/suggestions/{id}/approve/" in text
    assert "/api/v1/adjustments/" in text
    docs = admin_client.get("/api/v1/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in docs
    assert "cdn" not in docs.lower()


def test_health_names_each_part_and_fails_without_a_worker(client):
    missing = client.get("/healthz")
    assert missing.status_code == 503
    report = missing.json()
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["worker"] == {"ok": False, "detail": "never recorded"}

    record_heartbeat("worker")
    record_heartbeat("beat")
    ready = client.get("/healthz")
    assert ready.json()["checks"]["broker"]["ok"] is True
    assert ready.status_code == 200
