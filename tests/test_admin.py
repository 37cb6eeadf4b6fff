"""The admin serves every page of the imported data and never shows store secrets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory_ai.models import DailyDemand, Order, Store, Variant
from tests.conftest import FIXTURES


@pytest.fixture
def imported(shop, run_command):
    run_command("import_orders", str(FIXTURES / "online_retail_small.csv"), "--store", shop.domain, "--no-progress")
    return shop


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    ["store", "location", "product", "variant", "order", "refund", "inventorylevel", "dailydemand", "webhookevent",
     "serviceheartbeat", "forecastrun", "forecastresult", "forecast", "classpolicy", "reordersuggestion",
     "stockadjustment"],
)  # fmt: skip
def test_changelists_render(admin_client, imported, model):
    response = admin_client.get(reverse(f"admin:inventory_ai_{model}_changelist"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_detail_pages_render(admin_client, imported):
    pages = [
        reverse("admin:inventory_ai_store_change", args=[imported.pk]),
        reverse("admin:inventory_ai_variant_change", args=[Variant.objects.first().pk]),
        reverse("admin:inventory_ai_order_change", args=[Order.objects.get(platform_id="536365").pk]),
        reverse("admin:inventory_ai_dailydemand_change", args=[DailyDemand.objects.first().pk]),
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200


@pytest.mark.django_db
def test_store_page_never_shows_secrets(admin_client, imported):
    page = admin_client.get(reverse("admin:inventory_ai_store_change", args=[imported.pk])).content.decode()
    assert "hush" not in page
    assert "shpat_test" not in page
    assert "1 webhook secret(s)" in page


@pytest.mark.django_db
def test_synced_records_are_read_only(admin_client, imported):
    order = Order.objects.get(platform_id="536365")
    response = admin_client.post(reverse("admin:inventory_ai_order_change", args=[order.pk]), {"number": "#hacked"})
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).number == "#536365"


@pytest.mark.django_db
def test_store_defaults_are_editable(admin_client, imported):
    url = reverse("admin:inventory_ai_store_change", args=[imported.pk])
    form = {
        "platform": "shopify", "domain": imported.domain, "name": "Gifts", "active": "on", "api_base_url": "",
        "api_version": "2026-10", "timezone": "Europe/London", "currency": "GBP", "country_code": "GB",
        "default_lead_time_days": "21", "default_review_period_days": "7", "default_service_level": "0.97",
        "default_moq": "1", "default_case_pack": "6", "service_measure": "fill_rate", "fill_rate_scope": "store",
        "receiving": "transfer",
    }  # fmt: skip
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    store = Store.objects.get(pk=imported.pk)
    assert (store.default_lead_time_days, store.default_case_pack) == (21, 6)
    assert (store.service_measure, store.fill_rate_scope, store.receiving) == ("fill_rate", "store", "transfer")
    assert store.webhook_secrets == ["hush"]  # untouched by the form


@pytest.mark.django_db
def test_failed_webhook_events_can_be_requeued(admin_client, shop):
    from inventory_ai.models import WebhookEvent

    event = WebhookEvent.objects.create(
        platform="shopify", store=shop, topic="orders/create", dedup_key="x", body=b"{}", status="failed", attempts=8
    )
    response = admin_client.post(
        reverse("admin:inventory_ai_webhookevent_changelist"),
        {"action": "requeue_failed", "_selected_action": [event.pk]},
        follow=True,
    )
    assert "1 failed event(s) re-queued" in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("received", 0)
