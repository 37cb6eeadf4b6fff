"""Orders and the catalogue read through Shopify's bulk operations, and what one GraphQL request may cost.

The simulator prices every request as Shopify documents (a query above 1,000 points refused, the unused part of the
requested cost given back) and refuses the bulk queries Shopify refuses, so a document the product sends that the
real API would not run fails here first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from integrations.errors import StillRunning, StoreAPIError
from integrations.records import OrderLineRecord, OrderRecord, RefundLineRecord, RefundRecord, VariantRef
from integrations.shopify import discounts, graphql
from integrations.shopify.client import READ_LEVEL, ShopifyClient
from integrations.shopify.gateway import ShopifyGateway
from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import InventoryStore
from integrations.simulator.shopify_cost import MAX_QUERY_COST, Document
from integrations.simulator.state import StoreState
from tests.conftest import read_all

WHEN = datetime(2026, 11, 1, 9, tzinfo=UTC)


def order(number: int, lines: int = 2, when: datetime = WHEN) -> OrderRecord:
    items = tuple(
        OrderLineRecord(
            f"{number}{index:02d}",
            VariantRef(product_id=str(10 + index), variant_id=str(20 + index), sku=f"B-{index}"),
            2,
            2,
            Decimal("2.50"),
        )
        for index in range(lines)
    )
    return OrderRecord(str(number), f"#{number}", when, when, "open", "paid", "GBP", items)


@pytest.fixture
def shop():
    with ApiServer(StoreState(), inventory=InventoryStore(), access_token="t") as server:
        server.start()
        yield server


def gateway(server: ApiServer) -> ShopifyGateway:
    return ShopifyGateway(server.url, {"access_token": "t"}, api_version="2026-10", timeout=5)


def post(server: ApiServer, query: str, variables: dict | None = None) -> dict:
    return httpx.post(
        f"{server.url}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": "t"},
    ).json()


# --- the cost of a request -------------------------------------------------------------------------------------------


def test_requested_cost_follows_shopifys_rules():
    # an object costs 1, a scalar 0, a connection 2 plus its page size times what each node costs
    assert Document("{ shop { id name } }").requested() == 1
    assert Document("query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": 10}).requested() == 12
    nested = "{ products(first: 10) { nodes { id variants(first: 5) { edges { node { id } } } } } }"
    assert Document(nested).requested() == 2 + 10 * (1 + 2 + 5)
    # nodes(ids:) costs its selection once per id; a mutation costs 10 whatever it selects
    assert Document('{ nodes(ids: ["a", "b"]) { ... on Order { id customer { id } } } }').requested() == 4
    assert Document("mutation { x(a: 1) { y { z } } }").requested() == 10
    # fragments on different types of an interface: the dearest one, not their sum
    union = "{ node(id: 1) { ... on A { a { id } } ... on B { b { c { id } } } } }"
    assert Document(union).requested() == 1 + 2


def test_every_document_the_product_sends_stays_within_one_querys_limit():
    items = {"itemsFirst": discounts.ITEMS_PER_PAGE}
    documents = [
        (graphql.LOCATIONS, {"first": ShopifyGateway.location_page_size}),
        (READ_LEVEL, {}),
        (graphql.ORDER_REFUNDS, {}),
        (graphql.ORDERS_REFUNDS, {"ids": ["gid://shopify/Order/1"] * graphql.REFUNDS_PER_REQUEST}),
        (graphql.WEBHOOK_SUBSCRIPTIONS, {"first": ShopifyGateway.subscription_page_size}),
        (graphql.ACCESS_SCOPES, {}),
        (graphql.BULK_STATUS, {}),
        (discounts.DISCOUNTS, {"first": discounts.DISCOUNTS_PER_PAGE, **items}),
        (discounts.DISCOUNT, items),
        (discounts.side_items_query("customerGets"), items),
        (discounts.side_items_query("customerBuys"), items),
        (discounts.COLLECTION_PRODUCTS, {"first": discounts.COLLECTION_PRODUCTS_PER_PAGE}),
    ]
    costs = [Document(query, variables).requested() for query, variables in documents]
    assert max(costs) <= MAX_QUERY_COST, costs


def test_a_query_that_asks_too_much_is_refused_and_the_unused_cost_given_back(shop):
    shop.state.apply_order(order(1))
    paged = "{ orders(first: 50) { nodes { id lineItems(first: 250) { nodes { id variant { id } } } } } }"
    refused = post(shop, paged)
    assert refused["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "data" not in refused
    with ShopifyClient(shop.url, "t", "2026-10") as client, pytest.raises(StoreAPIError) as error:
        client.graphql(paged)
    assert not error.value.transient
    assert "max cost" in str(error.value)
    # a page that may cost 502 points and holds one order with two lines costs what it returned
    answer = post(shop, "{ orders(first: 100) { nodes { id lineItems(first: 2) { nodes { id } } } } }")
    cost = answer["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (2 + 100 * (1 + 2 + 2), 2 + 1 + 2 + 2)
    assert cost["throttleStatus"]["currentlyAvailable"] >= shop.inventory.bucket.maximum_available - 10


# --- bulk operations in the simulator --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ node(id: "x") { id } }', "top level `node`"),
        ("{ orders { edges { node { id refunds { refundLineItems { edges { node { quantity } } } } } } } }", "list"),
        (
            "{ products { edges { node { id variants { edges { node { id "
            "media { edges { node { id x { edges { node { id } } } } } } } } } } } } }",
            "nested more than 2",
        ),
        ("{ products { edges { node { title variants { edges { node { id } } } } } } }", "'id' field"),
        ("{ customers { edges { node { id } } } }", "products, orders and inventory items"),
    ],
)
def test_bulk_queries_shopify_would_not_run_are_refused(shop, query, message):
    with ShopifyClient(shop.url, "t", "2026-10") as client, pytest.raises(StoreAPIError, match=message) as refused:
        client.start_bulk_query(query)
    assert not refused.value.transient


def test_five_bulk_operations_run_at_once_and_a_sixth_waits(shop):
    with ShopifyClient(shop.url, "t", "2026-10") as client:
        operations = [client.start_bulk_query(graphql.BULK_PRODUCTS) for _ in range(5)]
        with pytest.raises(StoreAPIError, match="limit reached") as busy:
            client.start_bulk_query(graphql.BULK_PRODUCTS)
        assert busy.value.transient
        assert [client.bulk_operation(operations[0])["status"] for _ in range(2)] == ["RUNNING", "COMPLETED"]
        client.start_bulk_query(graphql.BULK_PRODUCTS)  # one has ended: there is room again


def test_the_result_file_is_read_a_page_at_a_time_from_a_byte_offset(shop):
    for number in range(1, 6):
        shop.state.apply_order(order(number, lines=3))
    with ShopifyClient(shop.url, "t", "2026-10") as client:
        operation = client.start_bulk_query(graphql.bulk_orders())
        client.bulk_operation(operation)
        url = client.bulk_operation(operation)["url"]
        pages, offset = [], 0
        while offset is not None:
            lines, offset = client.bulk_page(url, offset, roots=2)
            pages.append(lines)
    # two orders and their three lines each per page, the last page holding the fifth
    assert [len(page) for page in pages] == [8, 8, 4]
    assert [line["id"] for page in pages for line in page if "__parentId" not in line] == [
        f"gid://shopify/Order/{number}" for number in range(1, 6)
    ]
    # the file is served in part from an offset (206), and past its end answers 416
    whole = httpx.get(url)
    tail = httpx.get(url, headers={"Range": "bytes=10-"})
    assert (tail.status_code, tail.content) == (206, whole.content[10:])
    assert httpx.get(url, headers={"Range": f"bytes={len(whole.content)}-"}).status_code == 416
    assert httpx.get(f"{shop.url}/bulk/99.jsonl").status_code == 404


def test_without_grouping_children_may_come_after_every_parent(shop):
    shop.state.apply_order(order(1))
    shop.state.apply_order(order(2))
    run = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }"
    operation = post(shop, run, {"q": graphql.bulk_orders()})["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
    with ShopifyClient(shop.url, "t", "2026-10") as client:
        client.bulk_operation(operation)
        lines = [line for line in httpx.get(client.bulk_operation(operation)["url"]).text.splitlines()]
    parents = ["__parentId" in line for line in lines]
    assert parents == [False, False, True, True, True, True]


# --- the gateway's reads ---------------------------------------------------------------------------------------------


def test_orders_are_read_in_bulk_and_their_refunds_apart_page_by_page(shop):
    for number in range(1, 8):
        shop.state.apply_order(order(number, lines=2, when=WHEN + timedelta(hours=number)))
    for number in (2, 5, 6, 7, 3):
        line = RefundLineRecord(f"{number}01", 1)
        shop.state.apply_refund(RefundRecord(f"9{number}", str(number), WHEN + timedelta(days=1), (line,)))
    with gateway(shop) as reader:
        reader.bulk_orders_per_page = 3
        orders, steps = read_all(reader.read_orders)
        refunds, refund_steps = read_all(reader.read_order_refunds)
    # the orders, with each line's quantity net of its refunds (what the forecasts read)
    assert [o.order_id for o in orders] == [str(number) for number in range(1, 8)]
    assert all(len(o.lines) == 2 and o.lines[0].unit_price == Decimal("2.50") for o in orders)
    assert {o.order_id: o.lines[1].current_quantity for o in orders} == {
        str(number): (1 if number in (2, 3, 5, 6, 7) else 2) for number in range(1, 8)
    }
    # then each refund with the lines it gave back
    assert all(isinstance(record, RefundRecord) for record in refunds)
    assert sorted(record.order_id for record in refunds) == ["2", "3", "5", "6", "7"]
    assert next(r for r in refunds if r.order_id == "5").lines == (RefundLineRecord("501", 1, "return"),)
    # start, poll (running), poll (completed), then 3 pages of at most 3 orders: for both reads
    assert (steps, refund_steps) == (6, 6)


def test_a_throttled_refunds_request_waits_within_its_page(shop, monkeypatch):
    import time

    from integrations.shopify import gateway as shopify_gateway

    waits: list[float] = []
    sleep = time.sleep
    monkeypatch.setattr(shopify_gateway.time, "sleep", lambda seconds: (waits.append(seconds), sleep(seconds)))
    for number in range(1, 10):
        shop.state.apply_order(order(number))
        line = RefundLineRecord(f"{number}01", 1)
        shop.state.apply_refund(RefundRecord(f"9{number}", str(number), WHEN + timedelta(days=1), (line,)))
    bucket = shop.inventory.bucket
    bucket.maximum_available, bucket.restore_rate = 1000, 400
    with gateway(shop) as reader:
        position = None
        while position is None or "url" not in position:
            try:
                position = reader.read_order_refunds(position).next_position
            except StillRunning:
                continue
        bucket.available = 0.0  # the bucket is empty when the page starts: each request waits for its 816 points
        page = reader.read_order_refunds(position)
    assert sorted(int(record.order_id) for record in page.records) == list(range(1, 10))
    assert waits  # the page waited for the bucket instead of failing (and reading its first requests again)


def test_a_reconciliation_reads_only_the_orders_updated_since(shop):
    for number in range(1, 5):
        shop.state.apply_order(order(number, when=WHEN + timedelta(days=number)))
    with gateway(shop) as reader:
        records, _ = read_all(reader.read_orders, updated_since=WHEN + timedelta(days=3))
    assert [record.order_id for record in records] == ["3", "4"]


def test_an_expired_result_and_a_paged_position_start_a_new_operation(shop):
    shop.state.apply_order(order(1))
    with gateway(shop) as reader:
        page = reader.read_orders("eyJsYXN0X2lkIjo0fQ==")  # a cursor saved before orders were read in bulk
        assert page.records == []
        assert set(page.next_position) == {"bulk"}
        expired = {"bulk": page.next_position["bulk"], "url": f"{shop.url}/bulk/99.jsonl", "offset": 0}
        again = reader.read_orders(expired)
        assert again.records == []
        assert again.next_position["bulk"] != expired["bulk"]
        records, _ = read_all(reader.read_orders)
        assert reader.read_order_refunds("eyJsYXN0X2lkIjo0fQ==").records == []
    assert [record.order_id for record in records] == ["1"]


def test_the_catalogue_is_read_in_bulk_a_page_of_products_at_a_time(shop):
    shop.state.apply_order(order(1, lines=5))
    with gateway(shop) as reader:
        reader.bulk_products_per_page = 2
        records, steps = read_all(reader.read_catalogue)
    assert [(p.product_id, [v.sku for v in p.variants]) for p in records] == [
        (str(10 + index), [f"B-{index}"]) for index in range(5)
    ]
    assert steps == 3 + 3


def test_the_stock_read_is_one_bulk_operation_that_leaves_the_cost_bucket_full(shop):
    # given a shop of 2,500 items stocked at three locations, one of them not read (not ours, or inactive)
    for item in range(1, 2501):
        for location in ("11", "12", "13"):
            shop.inventory.set_level(str(item), location, item % 9)
    shop.inventory.set_incoming("7", "11", 4)
    before = shop.inventory.bucket.take(0)[1]["throttleStatus"]["currentlyAvailable"]

    # when the gateway reads the levels at two of them
    with gateway(shop) as reader:
        levels, steps = read_all(reader.read_stock_levels, location_ids=["11", "12"])

    # then every item's level at those two comes back once, with what is incoming, from a bulk operation read a
    # thousand items a page (start, two polls, three pages), and the bucket paid for the mutation and the polls only
    assert len(levels) == 5000
    assert {(level.inventory_item_id, level.location_id) for level in levels} == {
        (str(item), location) for item in range(1, 2501) for location in ("11", "12")
    }
    seven = next(level for level in levels if (level.inventory_item_id, level.location_id) == ("7", "11"))
    assert (seven.available, seven.incoming) == (7, 4)
    assert steps == 6
    after = shop.inventory.bucket.take(0)[1]["throttleStatus"]["currentlyAvailable"]
    assert before - after < 50
