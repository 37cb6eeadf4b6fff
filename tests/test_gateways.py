"""The store gateways (`integrations.gateway`): one registry, and what each platform's gateway asks of its API.

Reads and stock writes run against the store simulator; webhook subscriptions and the access token, which the
simulator does not serve, against recorded requests (httpx's MockTransport).
"""

from __future__ import annotations

import json

import httpx
import pytest

from integrations import gateway as g
from integrations.errors import StillRunning, StoreAPIError, UnsupportedOperation
from integrations.platforms import GATEWAYS, UnknownPlatform, gateway_class
from integrations.records import InventoryLevelRecord, ProductRecord
from integrations.shopify.gateway import ShopifyGateway
from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import InventoryStore, WooItem
from integrations.simulator.state import StoreState
from integrations.woocommerce.gateway import WooCommerceGateway
from inventory_ai.choices import Platform
from inventory_ai.models import PushAttempt


def test_every_platform_has_one_gateway_and_its_webhook_provider():
    assert set(GATEWAYS) == set(Platform.values)
    for platform, gateway in GATEWAYS.items():
        assert gateway_class(platform) is gateway
        assert gateway.platform == gateway.webhooks.platform == platform
    with pytest.raises(UnknownPlatform, match="Unknown platform 'magento'"):
        gateway_class("magento")


def test_stock_write_outcomes_are_push_attempt_outcomes():
    assert {g.APPLIED, g.ALREADY_APPLIED, g.STALE, g.REJECTED} <= set(PushAttempt.Outcome.values)


def test_gateways_say_what_their_platform_can_do():
    assert (ShopifyGateway.supports_compare_and_set, ShopifyGateway.batch_size) == (True, 1)
    assert (WooCommerceGateway.supports_compare_and_set, WooCommerceGateway.batch_size) == (False, 100)
    assert ShopifyGateway.sync_phases == (
        g.PHASE_LOCATIONS,
        g.PHASE_CATALOGUE,
        g.PHASE_DISCOUNTS,
        g.PHASE_ORDERS,
        g.PHASE_STOCK_LEVELS,
        g.PHASE_REFUNDS,
    )
    # the forecasts read orders (each line net of its refunds) and stock: a new store's first retrain does not wait
    # for the refunds' lines
    assert ShopifyGateway.forecast_inputs_until == g.PHASE_STOCK_LEVELS
    assert WooCommerceGateway.sync_phases == (g.PHASE_CATALOGUE, g.PHASE_ORDERS)
    assert ShopifyGateway.api_base_url("shop.myshopify.com") == "https://shop.myshopify.com"
    assert WooCommerceGateway.api_base_url("https://shop.example") == "https://shop.example"


@pytest.fixture
def simulator():
    with ApiServer(
        StoreState(), inventory=InventoryStore(), access_token="shpat_gw", consumer_key="ck_gw", consumer_secret="cs_gw"
    ) as server:
        server.start()
        yield server


def woocommerce(url: str, secret: str = "cs_gw", **options) -> WooCommerceGateway:
    return WooCommerceGateway(url, {"consumer_key": "ck_gw", "consumer_secret": secret}, timeout=5, **options)


def shopify(url: str, **options) -> ShopifyGateway:
    return ShopifyGateway(url, {"access_token": "shpat_gw"}, api_version="2026-10", timeout=5, **options)


def test_woocommerce_reads_stock_on_its_products_at_one_implicit_location(simulator):
    # given a simple product and a variable one with a variation, and one product whose stock is not managed
    simulator.inventory.add_woo_item(WooItem(id=31, sku="premium", stock_quantity=2))
    simulator.inventory.add_woo_item(WooItem(id=22, variable=True, manage_stock=False, stock_quantity=None))
    simulator.inventory.add_woo_item(WooItem(id=23, parent_id=22, sku="idea-black", stock_quantity=7))

    with woocommerce(simulator.url) as gateway:
        # then there are no locations to read, the counts are read one by one or with the catalogue
        assert gateway.read_locations() == g.Page([], None)
        assert gateway.read_available(g.StockItem(product_id="22", variant_id="23")) == 7
        assert gateway.read_available(g.StockItem(product_id="31", variant_id="31")) == 2
        assert gateway.read_available(g.StockItem(product_id="22", variant_id="22")) is None
        levels, next_position = gateway.read_stock_levels(None, [])
    assert next_position is None
    assert all(isinstance(level, InventoryLevelRecord) for level in levels)
    assert sorted((level.variant_id, level.available) for level in levels) == [("23", 7), ("31", 2)]


def test_woocommerce_refuses_keys_it_does_not_know(simulator):
    with woocommerce(simulator.url) as gateway:
        assert gateway.check_access() == g.AccessCheck(scopes=None)
    with woocommerce(simulator.url, secret="wrong") as gateway, pytest.raises(StoreAPIError) as refused:
        gateway.check_access()
    assert (refused.value.status, refused.value.transient) == (401, False)


def test_woocommerce_keys_are_not_sent_to_a_remote_site_without_https():
    with pytest.raises(StoreAPIError, match="without HTTPS"):
        woocommerce("http://shop.example")


def test_woocommerce_batch_writes_each_parent_in_one_request_and_says_what_each_change_did(simulator):
    # given a variation, a simple product, and a change of a product the store does not have
    simulator.inventory.add_woo_item(WooItem(id=23, parent_id=22, stock_quantity=7))
    simulator.inventory.add_woo_item(WooItem(id=31, stock_quantity=2))
    changes = [
        g.StockChange(
            1, g.StockItem("22", "23"), delta=5, quantity=12, expected=7, received=True, idempotency_key="k1"
        ),
        g.StockChange(
            2, g.StockItem("31", "31"), delta=8, quantity=10, expected=2, received=False, idempotency_key="k2"
        ),
        g.StockChange(
            3, g.StockItem("40", "40"), delta=1, quantity=1, expected=0, received=False, idempotency_key="k3"
        ),
    ]

    with woocommerce(simulator.url) as gateway:
        results = gateway.write_stock_batch(changes)
        # when the same batch is sent again (its answer was lost)
        again = gateway.write_stock_batch(changes[:2])

    assert [results[key].outcome for key in (1, 2, 3)] == [g.APPLIED, g.APPLIED, g.REJECTED]
    assert (results[1].before, results[1].after, results[2].after) == (7, 12, 10)
    assert results[3].error == "the store has no such product"
    assert [again[key].outcome for key in (1, 2)] == [g.ALREADY_APPLIED, g.ALREADY_APPLIED]
    assert (simulator.inventory.woo[23].stock_quantity, simulator.inventory.woo[31].stock_quantity) == (12, 10)


def test_shopify_reads_one_quantity_and_writes_with_compare_and_set(simulator):
    simulator.inventory.set_level("808", "55", 5)
    item = g.StockItem(product_id="1", variant_id="2", inventory_item_id="808", location_id="55")
    stale = g.StockChange(1, item, delta=3, quantity=8, expected=4, received=False, idempotency_key="k-stale")
    fresh = g.StockChange(2, item, delta=3, quantity=8, expected=5, received=False, idempotency_key="k-fresh")

    with shopify(simulator.url) as gateway:
        results = gateway.write_stock_batch([stale, fresh])
        assert gateway.read_available(item) == 8

    assert (results[1].outcome, results[1].before) == (g.STALE, 5)
    assert (results[2].outcome, results[2].before, results[2].after) == (g.APPLIED, 5, 8)
    assert results[2].request["mutation"] == "inventorySetQuantities"


def test_shopify_has_no_inventory_item_no_write():
    change = g.StockChange(1, g.StockItem("1", "2"), 1, 1, 0, received=True, idempotency_key="k")
    with shopify("https://shop.myshopify.com") as gateway:
        result = gateway.write_stock(change)
    assert (result.outcome, result.error) == (g.REJECTED, "the variant has no Shopify inventory item id yet")


def test_shopify_catalogue_waits_for_its_bulk_operation(simulator):
    with shopify(simulator.url) as gateway:
        records, position = gateway.read_catalogue(None)
        assert records == []
        with pytest.raises(StillRunning) as running:
            gateway.read_catalogue(position)
    assert running.value.retry_after == ShopifyGateway.bulk_poll_seconds


class Recorder:
    """A store that answers from a list of JSON bodies and keeps every request it was sent."""

    def __init__(self, *answers: object, status: int = 200) -> None:
        self.answers = list(answers)
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.answers.pop(0) if self.answers else {})

    def bodies(self) -> list[dict]:
        return [json.loads(request.content) for request in self.requests]


def test_shopify_subscribes_lists_and_deletes_webhooks_through_graphql():
    store = Recorder(
        {"data": {"webhookSubscriptionCreate": {"webhookSubscription": {
            "id": "gid://shopify/WebhookSubscription/7", "topic": "INVENTORY_LEVELS_UPDATE",
            "uri": "https://app.example/webhooks/shopify/"}, "userErrors": []}}},
        {"data": {"webhookSubscriptions": {"nodes": [
            {"id": "gid://shopify/WebhookSubscription/7", "topic": "INVENTORY_LEVELS_UPDATE",
             "uri": "https://app.example/webhooks/shopify/"}], "pageInfo": {"hasNextPage": False}}}},
        {"data": {"webhookSubscriptionDelete": {"deletedWebhookSubscriptionId": "gid://shopify/WebhookSubscription/7",
                                                 "userErrors": []}}},
        {"data": {"webhookSubscriptionCreate": {"webhookSubscription": None,
                                                 "userErrors": [{"field": ["uri"], "message": "Address is invalid"}]}}},
    )  # fmt: skip
    with shopify("https://shop.myshopify.com", transport=httpx.MockTransport(store)) as gateway:
        created = gateway.create_webhook_subscription(
            "inventory_levels/update", "https://app.example/webhooks/shopify/"
        )
        listed = gateway.list_webhook_subscriptions()
        gateway.delete_webhook_subscription(created.subscription_id)
        with pytest.raises(StoreAPIError, match="Address is invalid") as refused:
            gateway.create_webhook_subscription("orders/create", "ftp://nowhere")

    expected = g.WebhookSubscription("7", "inventory_levels/update", "https://app.example/webhooks/shopify/")
    assert created == expected
    assert listed == [expected]
    assert refused.value.transient is False
    create, _, delete, _ = store.bodies()
    assert create["variables"] == {
        "topic": "INVENTORY_LEVELS_UPDATE",
        "webhookSubscription": {"uri": "https://app.example/webhooks/shopify/"},
    }
    assert delete["variables"] == {"id": "gid://shopify/WebhookSubscription/7"}
    assert {str(request.url) for request in store.requests} == {
        "https://shop.myshopify.com/admin/api/2026-10/graphql.json"
    }
    assert store.requests[0].headers["X-Shopify-Access-Token"] == "shpat_gw"


def test_woocommerce_subscribes_lists_moves_and_deletes_webhooks_through_rest():
    hook = {"id": 14, "name": "Inventory AI: order.updated", "topic": "order.updated",
            "delivery_url": "https://app.example/webhooks/woocommerce/", "status": "active"}  # fmt: skip
    merchants = {"id": 3, "name": "ERP", "topic": "order.created", "delivery_url": "https://erp.example/hook",
                 "status": "disabled"}  # fmt: skip
    moved = {**hook, "delivery_url": "https://new.example/webhooks/woocommerce/"}
    store = Recorder(hook, [hook, merchants], moved, {**hook, "status": "deleted"})
    with woocommerce("https://shop.example", transport=httpx.MockTransport(store)) as gateway:
        created = gateway.create_webhook_subscription(
            "order.updated", "https://app.example/webhooks/woocommerce/", secret="whsec"
        )
        listed = gateway.list_webhook_subscriptions()
        updated = gateway.update_webhook_subscription("14", "https://new.example/webhooks/woocommerce/")
        gateway.delete_webhook_subscription("14")

    expected = g.WebhookSubscription("14", "order.updated", "https://app.example/webhooks/woocommerce/")
    assert created == expected
    # the site lists the merchant's webhooks too: those are not ours
    assert listed == [expected, g.WebhookSubscription("3", "order.created", "https://erp.example/hook", False, False)]
    assert updated.address == "https://new.example/webhooks/woocommerce/"
    create, listing, update, delete = store.requests
    assert (update.method, update.url.path) == ("PUT", "/wp-json/wc/v3/webhooks/14")
    assert json.loads(update.content) == {"delivery_url": "https://new.example/webhooks/woocommerce/"}
    assert (create.method, create.url.path) == ("POST", "/wp-json/wc/v3/webhooks")
    assert json.loads(create.content) == {
        "name": "Inventory AI: order.updated",
        "topic": "order.updated",
        "delivery_url": "https://app.example/webhooks/woocommerce/",
        "status": "active",
        "secret": "whsec",
    }
    assert (listing.method, listing.url.path) == ("GET", "/wp-json/wc/v3/webhooks")
    assert (delete.method, delete.url.path, delete.url.params["force"]) == (
        "DELETE",
        "/wp-json/wc/v3/webhooks/14",
        "true",
    )


def test_shopify_checks_and_revokes_its_access_token():
    store = Recorder({"data": {"currentAppInstallation": {"accessScopes": [
        {"handle": "read_orders"}, {"handle": "write_inventory"}]}}}, {})  # fmt: skip
    with shopify("https://shop.myshopify.com", transport=httpx.MockTransport(store)) as gateway:
        assert gateway.check_access() == g.AccessCheck(scopes=("read_orders", "write_inventory"))
        gateway.revoke_access()
    revoke = store.requests[1]
    assert (revoke.method, str(revoke.url)) == (
        "DELETE",
        "https://shop.myshopify.com/admin/api_permissions/current.json",
    )
    assert revoke.headers["X-Shopify-Access-Token"] == "shpat_gw"

    refusing = Recorder({"errors": "[API] Invalid API key or access token"}, status=401)
    refused_gateway = shopify("https://shop.myshopify.com", transport=httpx.MockTransport(refusing))
    with refused_gateway as gateway, pytest.raises(StoreAPIError) as refused:
        gateway.check_access()
    assert (refused.value.status, refused.value.transient) == (401, False)


def test_woocommerce_cannot_revoke_its_own_keys():
    with woocommerce("https://shop.example") as gateway, pytest.raises(UnsupportedOperation, match="REST API"):
        gateway.revoke_access()


def test_shopify_reads_an_orders_refunds():
    store = Recorder({"data": {"order": {"id": "gid://shopify/Order/450789469", "refunds": [{
        "id": "gid://shopify/Refund/509562969", "createdAt": "2024-03-01T10:00:00Z",
        "refundLineItems": {"nodes": [{"quantity": 1, "restockType": "RETURN",
                                       "lineItem": {"id": "gid://shopify/LineItem/466157049"}}]}}]}}},
        {"data": {"order": None}})  # fmt: skip
    with shopify("https://shop.myshopify.com", transport=httpx.MockTransport(store)) as gateway:
        [refund] = gateway.read_refunds("450789469")
        with pytest.raises(StoreAPIError, match="unknown to the store"):
            gateway.read_refunds("1")
    assert (refund.refund_id, refund.order_id) == ("509562969", "450789469")
    assert [(line.line_id, line.quantity, line.restock_type) for line in refund.lines] == [("466157049", 1, "return")]
    assert store.bodies()[0]["variables"] == {"id": "gid://shopify/Order/450789469"}


def test_a_catalogue_page_holds_products(simulator):
    simulator.inventory.add_woo_item(WooItem(id=31, sku="premium", stock_quantity=2))
    with woocommerce(simulator.url) as gateway:
        records, _ = gateway.read_catalogue(None)
    assert [record.product_id for record in records if isinstance(record, ProductRecord)] == ["31"]
