"""Shopify webhooks: the shared provider suite, and each topic's effect on orders, demand, catalogue and stock."""

from __future__ import annotations

import pytest

from inventory_ai.models import (
    DailyDemand,
    InventoryLevel,
    Location,
    Order,
    Product,
    Refund,
    Store,
    Variant,
    WebhookEvent,
)
from tests.demand_helpers import stored_demand
from tests.webhook_cases import WebhookProviderCases
from tests.webhook_helpers import fixture, post_shopify, process_pending


def order_fixture(number: int = 2) -> dict:
    return fixture("shopify", f"orders_create__doc_example_{number}")


def simple_order(order_id=1001, *, updated="2026-11-27T10:00:00+00:00", current=2, quantity=2, cancelled=None):
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "created_at": "2026-11-27T09:00:00+00:00",
        "updated_at": updated,
        "cancelled_at": cancelled,
        "currency": "GBP",
        "financial_status": "paid",
        "line_items": [
            {
                "id": 1,
                "variant_id": 11,
                "product_id": 10,
                "sku": "MUG",
                "title": "Mug",
                "name": "Mug",
                "quantity": quantity,
                "current_quantity": current,
                "price": "8.00",
            },
        ],
        "refunds": [],
    }


class TestShopifySuite(WebhookProviderCases):
    order_topic = "orders/create"
    unused_topic = "orders/paid"
    signature_header = "HTTP_X_SHOPIFY_HMAC_SHA256"
    url = "/webhooks/shopify/"
    demand_after_newer: dict = {}

    @pytest.fixture
    def store(self, shop):
        return shop

    def post(self, client, topic, payload, **kwargs):
        return post_shopify(client, topic, payload, **kwargs)

    def same_delivery(self):
        return {"webhook_id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}

    def other_store(self):
        return {"shop": "someone-else.myshopify.com"}

    def order_snapshots(self):
        older = order_fixture(2)
        newer = order_fixture(2)
        newer["updated_at"] = "2008-01-11T09:00:00-05:00"
        newer["cancelled_at"] = "2008-01-11T09:00:00-05:00"
        return older, newer


@pytest.mark.django_db
class TestOrders:
    def test_documented_order_counts_only_what_was_not_refunded(self, client, shop):
        # the documented order: green and black were refunded (current_quantity 0), red is still ordered
        assert post_shopify(client, "orders/create", order_fixture(2)).status_code == 200
        assert process_pending() == ["processed"]
        order = Order.objects.get(store=shop)
        assert (order.platform_id, order.number, order.status) == ("450789469", "#1001", "open")
        # 11:00 in New York on 10 Jan 2008 is 16:00 in London: the same day
        assert stored_demand(shop) == {("IPOD2008RED", "2008-01-10"): 1}
        # the refund embedded in the order is recorded once, and the variants are placeholders until products arrive
        assert Refund.objects.get().platform_id == "509562969"
        assert Variant.objects.filter(store=shop, is_placeholder=True).count() == 3

    def test_refunds_create_after_the_order_removes_units_once(self, client, shop):
        post_shopify(client, "orders/create", order_fixture(2))
        post_shopify(client, "refunds/create", fixture("shopify", "refunds_create__doc_example_1"))  # red, no_restock
        post_shopify(client, "refunds/create", fixture("shopify", "refunds_create__doc_example_3"))  # already embedded
        assert process_pending() == ["processed", "processed", "processed"]
        assert stored_demand(shop) == {}
        assert Refund.objects.count() == 2

    def test_refund_before_its_order_waits_and_is_applied_later(self, client, shop):
        post_shopify(client, "refunds/create", fixture("shopify", "refunds_create__doc_example_1"))
        assert process_pending()[0].startswith("retry")
        event = WebhookEvent.objects.get()
        assert (event.status, event.attempts) == ("received", 1)
        assert "not known yet" in event.last_error
        post_shopify(client, "orders/create", order_fixture(2))
        assert process_pending()[1] == "processed"  # the order; the refund (first in line) retries once more
        assert process_pending() == ["processed"]
        assert stored_demand(shop) == {}

    def test_cancel_and_delete_remove_demand(self, client, shop):
        post_shopify(client, "orders/create", simple_order(1))
        post_shopify(client, "orders/create", simple_order(2))
        post_shopify(
            client,
            "orders/cancelled",
            simple_order(1, updated="2026-11-27T11:00:00+00:00", cancelled="2026-11-27T11:00:00+00:00"),
        )
        post_shopify(client, "orders/delete", {"id": 2})
        assert process_pending() == ["processed"] * 4
        assert stored_demand(shop) == {}
        assert dict(Order.objects.values_list("platform_id", "status")) == {"1": "cancelled", "2": "deleted"}

    def test_order_edit_and_the_update_that_follows_count_the_removal_once(self, client, shop):
        post_shopify(client, "orders/create", simple_order(quantity=3, current=3))
        edit = {
            "order_edit": {
                "id": 1,
                "order_id": 1001,
                "created_at": "2026-11-27T10:30:00+00:00",
                "committed_at": "2026-11-27T10:31:00+00:00",
                "line_items": {"additions": [], "removals": [{"id": 1, "delta": 2}]},
            }
        }
        post_shopify(client, "orders/edited", edit)
        post_shopify(client, "orders/updated", simple_order(quantity=3, current=1, updated="2026-11-27T10:31:00+00:00"))
        assert process_pending() == ["processed"] * 3
        assert stored_demand(shop) == {("MUG", "2026-11-27"): 1}

    def test_update_delivered_before_the_edit_makes_the_edit_a_no_op(self, client, shop):
        post_shopify(client, "orders/create", simple_order(quantity=3, current=3))
        post_shopify(client, "orders/updated", simple_order(quantity=3, current=1, updated="2026-11-27T10:31:00+00:00"))
        edit = {
            "order_edit": {
                "id": 1,
                "order_id": 1001,
                "committed_at": "2026-11-27T10:31:00+00:00",
                "created_at": "2026-11-27T10:30:00+00:00",
                "line_items": {"removals": [{"id": 1, "delta": 2}]},
            }
        }
        post_shopify(client, "orders/edited", edit)
        process_pending()
        assert stored_demand(shop) == {("MUG", "2026-11-27"): 1}

    def test_custom_and_gift_card_lines_are_not_demand(self, client, shop):
        order = simple_order()
        order["line_items"] += [
            {"id": 2, "variant_id": None, "product_id": None, "title": "Engraving", "quantity": 1, "price": "5.00"},
            {
                "id": 3,
                "variant_id": 99,
                "product_id": 98,
                "title": "Gift card",
                "quantity": 1,
                "price": "25.00",
                "gift_card": True,
            },
        ]
        post_shopify(client, "orders/create", order)
        process_pending()
        assert stored_demand(shop) == {("MUG", "2026-11-27"): 2}

    def test_payload_without_created_at_is_kept_as_failed(self, client, shop):
        post_shopify(client, "orders/create", order_fixture(1))  # the short documented example has no dates
        assert process_pending() == ["failed"]
        assert "missing created_at" in WebhookEvent.objects.get().last_error


@pytest.mark.django_db
class TestCatalogueAndStock:
    @pytest.mark.parametrize("topic", ["products/create", "products/update"])
    def test_products_update_creates_and_completes_variants(self, client, shop, topic):
        post_shopify(client, "orders/create", order_fixture(2))
        post_shopify(client, topic, fixture("shopify", "products_update__doc_example_1"))
        assert process_pending() == ["processed", "processed"]
        product = Product.objects.get(platform_id="632910392")
        assert product.title == "IPod Nano - 8GB"
        variants = dict(Variant.objects.filter(product=product).values_list("sku", "is_placeholder"))
        assert variants == {"IPOD2008PINK": False, "IPOD2008RED": False, "IPOD2008GREEN": False, "IPOD2008BLACK": False}
        assert Variant.objects.get(sku="IPOD2008PINK").inventory_item_id == "808950810"

    def test_a_variant_missing_from_a_newer_product_is_deleted(self, client, shop):
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        newer = fixture("shopify", "products_update__doc_example_3")
        newer["variants"] = [v for v in newer["variants"] if v["sku"] != "IPOD2008BLACK"]
        post_shopify(client, "products/update", newer)
        process_pending()
        assert Variant.objects.get(sku="IPOD2008BLACK").deleted_at is not None
        assert Variant.objects.get(sku="IPOD2008PINK").deleted_at is None

    def test_products_delete_marks_the_product_and_its_variants(self, client, shop):
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        post_shopify(client, "products/delete", {"id": 632910392})
        process_pending()
        assert Product.objects.get().deleted_at is not None
        assert not Variant.objects.filter(deleted_at__isnull=True).exists()

    def test_inventory_levels_newest_wins_and_stockouts_mark_the_day(self, client, shop):
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        for number in (1, 3, 2):  # 1 is newer than 3 for the same item; 2 is a stock-out of another item
            post_shopify(
                client, "inventory_levels/update", fixture("shopify", f"inventory_levels_update__doc_example_{number}")
            )
        assert process_pending() == ["processed"] * 4
        pink = InventoryLevel.objects.get(variant__sku="IPOD2008PINK")
        assert (pink.available, pink.location.platform_id) == (6, "655441491")
        assert "older stock level" in WebhookEvent.objects.filter(topic="inventory_levels/update")[1].last_error
        black = DailyDemand.objects.get(variant__sku="IPOD2008BLACK")
        assert (black.date.isoformat(), black.out_of_stock, black.units) == ("2025-07-02", True, 0)

    def test_restock_brings_back_stock_and_marks_every_day_it_was_out(self, client, shop):
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        level = {"inventory_item_id": 457924702, "location_id": 844681632}
        post_shopify(client, "inventory_levels/update", {**level, "available": 0, "updated_at": "2026-03-01T12:00:00Z"})
        post_shopify(client, "inventory_levels/update", {**level, "available": 5, "updated_at": "2026-03-04T09:00:00Z"})
        process_pending()
        days = DailyDemand.objects.filter(variant__sku="IPOD2008BLACK", out_of_stock=True)
        assert sorted(d.date.isoformat() for d in days) == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]

    def test_stock_level_for_an_unknown_item_waits_for_its_product(self, client, shop):
        post_shopify(client, "inventory_levels/update", fixture("shopify", "inventory_levels_update__doc_example_1"))
        assert process_pending()[0].startswith("retry")
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        assert process_pending()[1] == "processed"
        assert process_pending() == ["processed"]
        assert InventoryLevel.objects.get().available == 6

    def test_refund_with_restock_does_not_touch_stock(self, client, shop):
        # the platform restocks and then reports the new level itself; applying the refund to stock would double it
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        post_shopify(
            client,
            "inventory_levels/update",
            {"inventory_item_id": 457924702, "location_id": 1, "available": 4, "updated_at": "2026-01-01T00:00:00Z"},
        )
        post_shopify(client, "orders/create", order_fixture(2))
        post_shopify(client, "refunds/create", fixture("shopify", "refunds_create__doc_example_3"))  # legacy_restock
        process_pending()
        assert InventoryLevel.objects.get().available == 4

    def test_connect_disconnect_and_inventory_items(self, client, shop):
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        post_shopify(
            client,
            "inventory_levels/connect",
            {"inventory_item_id": 808950810, "location_id": 7, "available": 3, "updated_at": "2026-01-01T00:00:00Z"},
        )
        post_shopify(
            client,
            "inventory_items/update",
            {"id": 808950810, "sku": "PINK-2", "cost": "25.50", "updated_at": "2026-01-02T00:00:00Z"},
        )
        process_pending()
        pink = Variant.objects.get(inventory_item_id="808950810")
        assert (pink.sku, str(pink.unit_cost)) == ("PINK-2", "25.5000")
        assert InventoryLevel.objects.filter(variant=pink).count() == 1
        post_shopify(client, "inventory_levels/disconnect", {"inventory_item_id": 808950810, "location_id": 7})
        post_shopify(client, "inventory_items/delete", {"id": 808950810})
        process_pending()
        assert not InventoryLevel.objects.filter(variant=pink).exists()
        pink.refresh_from_db()
        assert pink.deleted_at is not None

    def test_locations(self, client, shop):
        post_shopify(
            client,
            "locations/create",
            {"id": 5, "name": "Warehouse", "active": True, "updated_at": "2026-01-01T00:00:00Z"},
        )
        post_shopify(
            client,
            "locations/update",
            {"id": 5, "name": "Main warehouse", "active": True, "updated_at": "2026-01-02T00:00:00Z"},
        )
        post_shopify(client, "locations/delete", {"id": 5})
        process_pending()
        location = Location.objects.get(platform_id="5")
        assert (location.name, location.active) == ("Main warehouse", False)


@pytest.mark.django_db
class TestAppAndPrivacy:
    def test_app_uninstalled_deactivates_the_store_and_drops_its_token(self, client, shop):
        post_shopify(client, "app/uninstalled", {"id": 1, "domain": shop.domain})
        process_pending()
        store = Store.objects.get(pk=shop.pk)
        assert not store.active
        assert store.credentials == {}
        assert store.webhook_secrets  # later deliveries (shop/redact) still verify

    def test_customer_data_request_is_answered(self, client, shop):
        response = post_shopify(
            client,
            "customers/data_request",
            {
                "shop_id": 1,
                "shop_domain": shop.domain,
                "customer": {"id": 7},
                "orders_requested": [450789469],
                "data_request": {"id": 9},
            },
        )
        assert response.status_code == 200
        assert process_pending() == ["processed"]
        assert "no customer records" in WebhookEvent.objects.get().last_error

    def test_customer_redact_scrubs_personal_fields_from_stored_bodies(self, client, shop):
        order = order_fixture(2)
        assert order.get("email") or order.get("customer")
        post_shopify(client, "orders/create", order)
        post_shopify(
            client,
            "customers/redact",
            {"shop_id": 1, "shop_domain": shop.domain, "customer": {"id": 7}, "orders_to_redact": [450789469]},
        )
        assert process_pending() == ["processed", "processed"]
        stored = WebhookEvent.objects.get(topic="orders/create")
        import json

        body = json.loads(bytes(stored.body))
        assert body["customer"] is None
        assert body["email"] is None
        assert body["id"] == 450789469

    def test_shop_redact_erases_the_store_data(self, client, shop):
        post_shopify(client, "orders/create", order_fixture(2))
        post_shopify(client, "products/update", fixture("shopify", "products_update__doc_example_1"))
        process_pending()
        post_shopify(client, "shop/redact", {"shop_id": 1, "shop_domain": shop.domain})
        assert process_pending() == ["processed"]
        assert not Order.objects.exists()
        assert not Variant.objects.exists()
        assert not DailyDemand.objects.exists()
        store = Store.objects.get(pk=shop.pk)
        assert (store.active, store.webhook_secrets, store.credentials) == (False, [], {})
        assert list(WebhookEvent.objects.values_list("topic", flat=True)) == ["shop/redact"]
