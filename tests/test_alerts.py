"""A planner's daily digest of what needs attention (opt-in per store), and the same on the dashboard."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from inventory_ai import dispatch
from inventory_ai.choices import AdjustmentStatus, SuggestionStatus, WebhookStatus
from inventory_ai.models import (
    AlertSubscription,
    Location,
    PurchaseOrder,
    ReorderSuggestion,
    StockAdjustment,
    WebhookEvent,
)
from inventory_ai.services import alerts, purchasing, replenishment
from inventory_ai.services.roles import PLANNER, create_staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def troubled(forecast_store, settings, monkeypatch):
    """A store with one SKU that runs out before an order can arrive, a purchase order overdue, a push in conflict
    and a failed webhook."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    monkeypatch.setattr(dispatch, "send", lambda *args, **kw: None)
    shop, _, variants = forecast_store
    replenishment.recompute_suggestions(shop)
    today = shop.local_today()
    late, ordered = ReorderSuggestion.objects.filter(store=shop, status=SuggestionStatus.PENDING).order_by("pk")[:2]
    ReorderSuggestion.objects.filter(pk=late.pk).update(order_by=today - timedelta(days=2), stockout_date=today)
    ReorderSuggestion.objects.filter(store=shop, status=SuggestionStatus.PENDING).exclude(pk=late.pk).update(
        order_by=today + timedelta(days=30)
    )
    replenishment.decide_suggestion(ordered, approve=True, user=None)
    order = purchasing.send(PurchaseOrder.objects.get(store=shop), None, email=False)
    PurchaseOrder.objects.filter(pk=order.pk).update(expected_on=today - timedelta(days=3))
    location = Location.objects.get(store=shop)
    StockAdjustment.objects.create(store=shop, variant=variants[5], location=location, expected_available=5,
                                   new_available=9, status=AdjustmentStatus.CONFLICT)  # fmt: skip
    WebhookEvent.objects.create(store=shop, platform="shopify", topic="orders/create", dedup_key="w-1", body=b"{}",
                                status=WebhookStatus.FAILED)  # fmt: skip
    return shop, late, order


def test_a_subscribed_planner_gets_the_digest_once_a_day(troubled):
    shop, late, order = troubled
    planner = create_staff_user("pat.planner", PLANNER, "planner-pass-1", email="pat@shop.example")
    no_address = create_staff_user("sam.planner", PLANNER, "planner-pass-2")
    AlertSubscription.objects.create(user=planner, store=shop)
    AlertSubscription.objects.create(user=no_address, store=shop)

    assert alerts.send_digests() == {"sent": 1, "nothing_to_say": 0, "failed": 0, "no_address": 1}
    [message] = mail.outbox
    assert message.to == ["pat@shop.example"]
    body = message.body
    assert f"1 SKU(s) run out before an order placed today can arrive:\n  - {late.variant.sku}" in body
    assert f"{order.number} from {order.supplier.name}" in body
    assert "1 stock change(s) not written to the store (conflict or failed)" in body
    assert "1 webhook(s) from the store failed in the last 24 hours." in body
    # once per store-local day
    assert alerts.send_digests()["sent"] == 0
    assert len(mail.outbox) == 1
    assert AlertSubscription.objects.get(user=planner).last_sent_on == shop.local_today()


def test_nothing_to_say_sends_nothing_and_a_failed_send_is_kept_and_tried_again(troubled):
    shop, late, order = troubled
    planner = create_staff_user("pat.planner", PLANNER, "planner-pass-1", email="pat@shop.example")
    subscription = AlertSubscription.objects.create(user=planner, store=shop)
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("connection refused")):
        assert alerts.send_digests()["failed"] == 1
    subscription.refresh_from_db()
    assert "connection refused" in subscription.last_error
    assert subscription.last_sent_on is None
    assert alerts.send_digests()["sent"] == 1  # tried again at the next run

    # a store with nothing to report sends no digest
    AlertSubscription.objects.filter(pk=subscription.pk).update(last_sent_on=None)
    ReorderSuggestion.objects.filter(pk=late.pk).update(status=SuggestionStatus.REJECTED)
    purchasing.cancel(order, None)
    StockAdjustment.objects.update(status=AdjustmentStatus.REJECTED)
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(days=2))
    assert alerts.send_digests()["nothing_to_say"] == 1
    assert len(mail.outbox) == 1


def test_the_dashboard_shows_overdue_orders_and_a_planner_subscribes_in_the_admin(troubled, client):
    shop, _, order = troubled
    planner = create_staff_user("pat.planner", PLANNER, "planner-pass-1", email="pat@shop.example")
    client.force_login(planner)
    page = client.get(reverse("admin:index")).content.decode()
    assert order.number in page
    answer = client.post(reverse("admin:inventory_ai_alertsubscription_add"), {"store": shop.pk, "active": "on"})
    assert answer.status_code == 302
    assert AlertSubscription.objects.get().user == planner
