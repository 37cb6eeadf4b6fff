"""WooCommerce webhooks: the shared provider suite, the creation ping, statuses, products and variations."""

from __future__ import annotations

import pytest

from inventory_ai.models import InventoryLevel, Order, Product, Variant, WebhookEvent
from inventory_ai.services.stores import upsert_store
from tests.demand_helpers import stored_demand
from tests.webhook_cases import WebhookProviderCases
from tests.webhook_helpers import WOO_SITE, fixture, post_woocommerce, process_pending


@pytest.fixture
def woo(db):
    store, _ = upsert_store(
        "woocommerce",
        WOO_SITE,
        webhook_secret="woo-secret",
        credentials={"consumer_key": "ck_demo", "consumer_secret": "cs_demo"},
        timezone="America/Toronto",
        currency="USD",
    )
    return store


def order_created() -> dict:
    return fixture("woocommerce", "order_created__doc_example_1")


def with_status(status: str, modified: str) -> dict:
    order = order_created()
    order["status"], order["date_modified_gmt"] = status, modified
    return order


class TestWooCommerceSuite(WebhookProviderCases):
    order_topic = "order.created"
    unused_topic = "coupon.created"
    signature_header = "HTTP_X_WC_WEBHOOK_SIGNATURE"
    url = "/webhooks/woocommerce/"
    demand_after_newer: dict = {}

    @pytest.fixture
    def store(self, woo):
        return woo

    def post(self, client, topic, payload, **kwargs):
        return post_woocommerce(client, topic, payload, **kwargs)

    def same_delivery(self):
        return {}  # WooCommerce changes the delivery id on every send: the body identifies a resend

    def other_store(self):
        return {"site": "https://elsewhere.example"}

    def order_snapshots(self):
        return order_created(), with_status("cancelled", "2017-03-23T10:00:00")


@pytest.mark.django_db
class TestOrders:
    def test_ping_on_webhook_creation_answers_200_and_stores_nothing(self, client, woo):
        response = client.post(
            "/webhooks/woocommerce/", data="webhook_id=17", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 200
        assert not WebhookEvent.objects.exists()

    def test_documented_order_and_sku_less_lines(self, client, woo):
        assert post_woocommerce(client, "order.created", order_created()).status_code == 200
        assert process_pending() == ["processed"]
        order = Order.objects.get()
        assert (order.platform_id, order.number, order.platform_status) == ("727", "727", "processing")
        # the simple product without SKU is matched by its product id; the variation by its variation id
        assert dict(Variant.objects.values_list("platform_id", "sku")) == {"93": "", "23": "Bar3"}
        # 19:28 GMT on 22 March 2017 is 15:28 in Toronto
        assert stored_demand(woo) == {("", "2017-03-22"): 2, ("Bar3", "2017-03-22"): 1}

    @pytest.mark.parametrize("status", ["cancelled", "refunded", "failed", "trash"])
    def test_non_demand_statuses_remove_units_and_restore_brings_them_back(self, client, woo, status):
        post_woocommerce(client, "order.created", order_created())
        post_woocommerce(client, "order.updated", with_status(status, "2017-03-23T10:00:00"))
        process_pending()
        assert stored_demand(woo) == {}
        post_woocommerce(client, "order.restored", with_status("processing", "2017-03-24T10:00:00"))
        process_pending()
        assert stored_demand(woo) == {("", "2017-03-22"): 2, ("Bar3", "2017-03-22"): 1}

    def test_completed_update_keeps_demand_and_deleted_removes_it(self, client, woo):
        post_woocommerce(client, "order.created", order_created())
        post_woocommerce(client, "order.updated", fixture("woocommerce", "order_updated__doc_example_3"))
        process_pending()
        assert Order.objects.get().platform_status == "completed"
        assert sum(stored_demand(woo).values()) == 3
        post_woocommerce(client, "order.deleted", {"id": 727})
        process_pending()
        assert stored_demand(woo) == {}

    def test_resend_with_a_new_delivery_id_is_a_duplicate(self, client, woo):
        first = post_woocommerce(client, "order.created", order_created(), delivery_id="a")
        second = post_woocommerce(client, "order.created", order_created(), delivery_id="b")
        assert second.json()["status"] == "duplicate"
        assert (first.status_code, WebhookEvent.objects.count()) == (200, 1)


@pytest.mark.django_db
class TestProducts:
    def test_simple_product_variable_product_and_variations(self, client, woo):
        post_woocommerce(client, "product.created", fixture("woocommerce", "product_created__doc_example_1"))
        post_woocommerce(client, "product.created", fixture("woocommerce", "product_created__doc_example_2"))
        post_woocommerce(client, "product.updated", fixture("woocommerce", "product_updated__variation_doc_example_1"))
        assert process_pending() == ["processed"] * 3
        assert Variant.objects.get(platform_id="794").title == "Premium Quality"
        # a variable product is not sellable itself: no variant for it
        assert Product.objects.filter(platform_id="799").exists()
        assert not Variant.objects.filter(platform_id="799").exists()
        assert Variant.objects.filter(platform_id="732").exists()

    def test_managed_stock_becomes_a_level_and_deleting_marks_the_variant(self, client, woo):
        product = fixture("woocommerce", "product_created__doc_example_1")
        product.update(manage_stock=True, stock_quantity=12)
        post_woocommerce(client, "product.updated", product)
        process_pending()
        level = InventoryLevel.objects.get()
        assert (level.available, level.location.is_primary) == (12, True)
        post_woocommerce(client, "product.deleted", {"id": 794})
        process_pending()
        assert Variant.objects.get(platform_id="794").deleted_at is not None
        product["date_modified_gmt"] = "2017-03-24T10:00:00"
        post_woocommerce(client, "product.restored", product)
        process_pending()
        assert Variant.objects.get(platform_id="794").deleted_at is None
