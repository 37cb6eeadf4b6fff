"""Edge cases found in review: each one a way an event could be lost, doubled or misapplied."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from inventory_ai.models import InventoryLevel, Order, Product, Variant, WebhookEvent
from inventory_ai.services.webhooks import requeue_stale_events
from tests.demand_helpers import stored_demand
from tests.test_webhooks_shopify import simple_order
from tests.webhook_helpers import fixture, post_shopify, post_woocommerce, process_pending


@pytest.mark.django_db
def test_refund_of_an_untracked_line_does_not_block_the_event(client, shop):
    order = simple_order(updated="2026-11-27T10:00:00+00:00")
    order["line_items"].append({"id": 2, "variant_id": None, "title": "Engraving", "quantity": 1, "price": "5.00"})
    cancelled = dict(order, updated_at="2026-11-27T11:00:00+00:00", cancelled_at="2026-11-27T11:00:00+00:00")
    cancelled["refunds"] = [
        {"id": 70, "order_id": 1001, "created_at": "2026-11-27T11:00:00+00:00",
         "refund_line_items": [{"id": 1, "line_item_id": 2, "quantity": 1, "restock_type": "no_restock"}]}
    ]  # fmt: skip
    post_shopify(client, "orders/create", order)
    post_shopify(client, "orders/cancelled", cancelled)
    assert process_pending() == ["processed", "processed"]
    assert Order.objects.get().status == "cancelled"
    assert stored_demand(shop) == {}
    assert "not a tracked line" in WebhookEvent.objects.get(topic="orders/cancelled").last_error


@pytest.mark.django_db
def test_a_deleted_order_stays_deleted_when_an_older_update_arrives_late(client, shop):
    post_shopify(client, "orders/create", simple_order())
    post_shopify(client, "orders/delete", {"id": 1001})
    post_shopify(client, "orders/updated", simple_order(updated="2026-11-27T12:00:00+00:00"))
    process_pending()
    assert Order.objects.get().status == "deleted"
    assert stored_demand(shop) == {}


@pytest.mark.django_db
def test_an_older_product_snapshot_does_not_delete_newer_variants(client, shop):
    newer = fixture("shopify", "products_update__doc_example_3")
    older = fixture("shopify", "products_update__doc_example_1")
    older["variants"] = older["variants"][:1]
    post_shopify(client, "products/update", newer)
    post_shopify(client, "products/update", older)
    process_pending()
    assert not Variant.objects.filter(deleted_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_woocommerce_variation_leaves_its_parent_product_alone(client, db):
    from inventory_ai.services.stores import upsert_store

    upsert_store("woocommerce", "https://shop.example", webhook_secret="woo-secret")
    post_woocommerce(client, "product.created", fixture("woocommerce", "product_created__doc_example_2"))  # variable
    variation = fixture("woocommerce", "product_updated__variation_doc_example_1")
    variation.update(parent_id=799, type="variation")
    post_woocommerce(client, "product.updated", variation)
    assert process_pending() == ["processed", "processed"]
    parent = Product.objects.get(platform_id="799")
    assert (parent.product_type, parent.title) == ("variable", "Ship Your Idea")
    assert Variant.objects.get(platform_id="732").product == parent


@pytest.mark.django_db
def test_an_unexpected_error_parks_the_event_as_failed(client, shop):
    post_shopify(client, "orders/create", simple_order())
    with mock.patch("inventory_ai.services.webhooks.apply_records", side_effect=KeyError("boom")):
        assert process_pending() == ["failed"]
    event = WebhookEvent.objects.get()
    assert "KeyError" in event.last_error
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_the_sweeper_leaves_events_waiting_for_a_scheduled_retry(shop):
    now = timezone.now()
    body = json.dumps(simple_order()).encode()
    common = {"platform": "shopify", "store": shop, "topic": "orders/create", "body": body}
    never_sent = WebhookEvent.objects.create(dedup_key="a", **common)
    waiting = WebhookEvent.objects.create(dedup_key="b", attempts=2, last_attempt_at=now, **common)
    lost = WebhookEvent.objects.create(dedup_key="c", attempts=2, last_attempt_at=now - timedelta(hours=1), **common)
    WebhookEvent.objects.update(received_at=now - timedelta(hours=2))
    with mock.patch("inventory_ai.services.webhooks.enqueue_processing", return_value=True) as enqueue:
        assert requeue_stale_events(timedelta(minutes=5)) == 2
    assert sorted(call.args[0] for call in enqueue.call_args_list) == sorted([never_sent.pk, lost.pk])
    assert waiting.pk not in [call.args[0] for call in enqueue.call_args_list]


@pytest.mark.django_db
def test_newer_stock_level_wins_across_a_utc_offset_change(client, shop):
    post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
    level = {"inventory_item_id": 808950810, "location_id": 1}
    # 05:50 UTC, then 06:10 UTC written with another offset (a daylight-saving change in the store's zone)
    post_shopify(
        client, "inventory_levels/update", {**level, "available": 5, "updated_at": "2026-11-01T01:50:00-04:00"}
    )
    post_shopify(
        client, "inventory_levels/update", {**level, "available": 7, "updated_at": "2026-11-01T01:10:00-05:00"}
    )
    process_pending()
    assert InventoryLevel.objects.get().available == 7


@pytest.mark.django_db
def test_customers_redact_reaches_bodies_not_processed_yet(client, shop):
    post_shopify(client, "orders/paid", {"id": 5, "email": "a@example.com", "customer": {"id": 7}})  # ignored topic
    post_shopify(client, "customers/redact", {"customer": {"id": 7}, "orders_to_redact": [5]})
    process_pending()
    body = json.loads(bytes(WebhookEvent.objects.get(topic="orders/paid").body))
    assert (body["email"], body["customer"]) == (None, None)


@pytest.mark.django_db
def test_changing_the_store_time_zone_moves_demand_to_the_new_local_days(client, shop):
    from inventory_ai.services.stores import upsert_store

    late = dict(simple_order(), created_at="2026-11-27T23:30:00+00:00")  # 23:30 in London, 08:30 next day in Tokyo
    post_shopify(client, "orders/create", late)
    process_pending()
    assert stored_demand(shop) == {("MUG", "2026-11-27"): 2}
    upsert_store("shopify", shop.domain, timezone="Asia/Tokyo")
    assert stored_demand(shop) == {("MUG", "2026-11-28"): 2}
    cancelled = dict(late, updated_at="2026-11-28T09:00:00+00:00", cancelled_at="2026-11-28T09:00:00+00:00")
    post_shopify(client, "orders/cancelled", cancelled)
    process_pending()
    # the cancellation is taken off the day the units are on now: nothing left, nothing negative
    assert stored_demand(shop) == {}
