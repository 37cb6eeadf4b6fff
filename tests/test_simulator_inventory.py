"""The store simulator's stock API follows the platforms' documented write semantics."""

from __future__ import annotations

import httpx
import pytest

from integrations.shopify.client import ADJUST_QUANTITIES, ShopifyClient, ShopifyThrottled
from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import Faults, InventoryStore, ThrottleBucket, WooItem
from integrations.simulator.state import StoreState
from integrations.woocommerce.client import WooCommerceClient


@pytest.fixture
def server():
    inventory = InventoryStore(faults=Faults(seed=1))
    inventory.set_level("1", "9", 10)
    with ApiServer(StoreState(), inventory=inventory, access_token="t", consumer_key="ck", consumer_secret="cs") as api:
        api.start()
        yield api


def adjust_input(delta: int, change_from) -> dict:
    change = {
        "inventoryItemId": "gid://shopify/InventoryItem/1",
        "locationId": "gid://shopify/Location/9",
        "delta": delta,
    }
    if change_from != "omit":
        change["changeFromQuantity"] = change_from
    return {"name": "available", "reason": "received", "changes": [change]}


def graphql(server, query: str, variables: dict, token: str = "t") -> httpx.Response:
    return httpx.post(
        f"{server.url}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token},
    )


def test_a_repeated_key_returns_the_first_answer_and_a_reused_key_with_other_input_is_refused(server):
    first = graphql(server, ADJUST_QUANTITIES, {"input": adjust_input(5, 10), "idempotencyKey": "k1"}).json()
    again = graphql(server, ADJUST_QUANTITIES, {"input": adjust_input(5, 10), "idempotencyKey": "k1"}).json()
    other = graphql(server, ADJUST_QUANTITIES, {"input": adjust_input(6, 15), "idempotencyKey": "k1"}).json()

    assert first["data"] == again["data"]
    assert server.inventory.level("1", "9") == 15
    codes = [e["code"] for e in other["data"]["inventoryAdjustQuantities"]["userErrors"]]
    assert codes == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert "throttleStatus" in first["extensions"]["cost"]


def test_writes_need_a_key_and_a_change_from_quantity(server):
    no_key = graphql(
        server, ADJUST_QUANTITIES.replace(" @idempotent(key: $idempotencyKey)", ""), {"input": adjust_input(1, 10)}
    )
    assert "requires an idempotency key" in no_key.json()["errors"][0]["message"]
    no_cas = graphql(server, ADJUST_QUANTITIES, {"input": adjust_input(1, "omit"), "idempotencyKey": "k2"}).json()
    assert no_cas["data"]["inventoryAdjustQuantities"]["userErrors"][0]["code"] == "INVALID"
    opt_out = graphql(server, ADJUST_QUANTITIES, {"input": adjust_input(1, None), "idempotencyKey": "k3"}).json()
    assert opt_out["data"]["inventoryAdjustQuantities"]["userErrors"] == []
    assert server.inventory.level("1", "9") == 11
    assert graphql(server, ADJUST_QUANTITIES, {}, token="wrong").status_code == 401


def test_an_empty_cost_bucket_answers_throttled_with_the_wait():
    inventory = InventoryStore(bucket=ThrottleBucket(maximum_available=15, restore_rate=5, available=15))
    inventory.set_level("1", "9", 10)
    with ApiServer(StoreState(), inventory=inventory, access_token="t") as api:
        api.start()
        with ShopifyClient(api.url, "t", "2026-10") as client:
            client.adjust_available("1", "9", 1, 10, "a")
            with pytest.raises(ShopifyThrottled) as throttled:
                client.adjust_available("1", "9", 1, 11, "b")
    assert 0.5 < throttled.value.retry_after <= 2.0
    assert inventory.level("1", "9") == 11


def test_woocommerce_products_variations_and_batches(server):
    server.inventory.add_woo_item(WooItem(id=5, stock_quantity=3))
    server.inventory.add_woo_item(WooItem(id=8, parent_id=7, stock_quantity=1))
    with WooCommerceClient(server.url, "ck", "cs") as client:
        assert client.get_item("8", "7")["stock_quantity"] == 1
        assert client.update_item("5", {"stock_quantity": 9})["stock_quantity"] == 9
        answers = client.batch_update([{"id": 8, "stock_quantity": 4}, {"id": 99, "stock_quantity": 1}], parent_id="7")
        assert answers[0]["stock_quantity"] == 4
        assert answers[1]["error"]["code"] == "woocommerce_rest_product_invalid_id"
        with pytest.raises(ValueError, match="at most 100"):
            client.batch_update([{"id": 5}] * 101)
    too_many = httpx.post(
        f"{server.url}/wp-json/wc/v3/products/batch", json={"update": [{"id": 5}] * 101}, auth=("ck", "cs")
    )
    assert too_many.status_code == 400
    assert httpx.get(f"{server.url}/wp-json/wc/v3/products/5", auth=("ck", "bad")).status_code == 401


def test_faults_answer_429_and_5xx_before_doing_anything(server):
    server.inventory.faults = Faults(rate_429=0.5, rate_5xx=0.5, seed=3)
    statuses = {
        graphql(server, ADJUST_QUANTITIES, {"input": adjust_input(1, None), "idempotencyKey": f"f{n}"}).status_code
        for n in range(20)
    }
    assert statuses == {429, 503}
    assert server.inventory.level("1", "9") == 10
