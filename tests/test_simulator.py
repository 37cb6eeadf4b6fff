"""The store simulator: payloads shaped like the platforms' documented examples, signatures, retries, duplicates,
per-order sequencing, source totals, the WooCommerce refunds API and the command line. No database: a small
receiver in a thread stands in for the product."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from integrations.simulator import (
    StoreState,
    build_events,
    first_orders,
    read_online_retail,
    replay,
    sign_shopify,
    sign_woocommerce,
    source_totals,
    start_api_server,
)
from integrations.simulator import shopify_payloads as shopify
from integrations.simulator import woocommerce_payloads as woo
from integrations.simulator.transport import LeanHTTP1Transport
from tests.conftest import FIXTURES, ROOT

# Three orders; 536365 gets a return of 2 lanterns (C536367) and later a third line (the invoice reappears);
# 536366 is returned in full (C536369). POST is a fee, not stock, and is skipped.
ROWS = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,12,2010-12-01 09:00:00,1.85,13047,United Kingdom
C536367,71053,WHITE METAL LANTERN,-2,2010-12-02 10:00:00,3.39,17850,United Kingdom
536368,22632,HAND WARMER RED POLKA DOT,3,2010-12-03 11:00:00,2.10,12583,France
536365,84029G,KNITTED UNION FLAG HOT WATER BOTTLE,2,2010-12-03 12:00:00,3.39,17850,United Kingdom
C536369,22633,HAND WARMER UNION JACK,-12,2010-12-04 10:00:00,1.85,13047,United Kingdom
"""
SHOPIFY_SEQUENCE = [
    ("orders/create", "536365"),
    ("orders/create", "536366"),
    ("refunds/create", "536365"),
    ("orders/updated", "536365"),
    ("orders/create", "536368"),
    ("orders/updated", "536365"),
    ("refunds/create", "536366"),
    ("orders/updated", "536366"),
]
WOOCOMMERCE_SEQUENCE = [
    ("order.created", "536365"),
    ("order.created", "536366"),
    ("order.updated", "536365"),
    ("order.created", "536368"),
    ("order.updated", "536365"),
    ("order.updated", "536366"),
]
LANTERN_REFUND_ID = 536367 * 1_000_000 + 536365
WOO_GMT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
SHOPIFY_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
# Fields the documented examples happen to fill but the platforms document as nullable.
NULLABLE = {"contact_email", "note", "user_id", "variant_title", "vendor"}


def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def assert_shape(ours, example, required, *, extra_allowed=()):
    """Our keys are a subset of the example's, every required field is there, and shared fields agree on type."""
    assert set(ours) - set(example) - set(extra_allowed) == set()
    assert set(required) <= set(ours)
    for key in set(ours) & set(example):
        if ours[key] is None and key in NULLABLE:
            continue
        assert json_type(ours[key]) == json_type(example[key]), key


def load_fixture(name):
    return json.loads((FIXTURES / name).read_text())


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every request and answers as the test says."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.answer = lambda number, request: 200
        self.delay = lambda request: 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = {"path": self.path, "headers": headers, "body": body, "started": time.monotonic()}
                with receiver.lock:
                    number = len(receiver.requests)
                    receiver.requests.append(request)
                time.sleep(receiver.delay(request))
                status = receiver.answer(number, request)
                request["finished"] = time.monotonic()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def orders_file(tmp_path):
    path = tmp_path / "online_retail.csv"
    path.write_text(ROWS)
    return path


@pytest.fixture
def records(orders_file):
    return list(read_online_retail(orders_file))


def run_replay(events, target, **options):
    options.setdefault("backoff_base", 0.001)
    return asyncio.run(replay(events, target, **options))


def payloads_of(events, topic):
    return [json.loads(event.body) for event in events if event.topic == topic]


def test_source_totals_match_a_hand_count(records):
    # given the small file (5 order lines over 3 orders, 2 returns, a fee row)
    # when it is totalled
    totals = source_totals(records)

    # then units are net of the 2 lanterns and 12 hand warmers returned
    assert totals == {
        "orders": 3,
        "order_lines": 5,
        "units_ordered": 6 + 6 + 12 + 3 + 2,
        "units_refunded": 2 + 12,
        "net_units": 15,
        "refunds": 2,
        "refund_lines": 2,
        "rows_skipped": 1,
    }


def test_limit_replays_a_prefix_of_the_file(records):
    # when only the first two orders are wanted
    prefix = list(first_orders(records, 2))

    # then the file stops where the third order starts, keeping the return that came before it
    assert source_totals(prefix) | {"rows_skipped": 0} == {
        "orders": 2,
        "order_lines": 3,
        "units_ordered": 24,
        "units_refunded": 2,
        "net_units": 22,
        "refunds": 1,
        "refund_lines": 1,
        "rows_skipped": 0,
    }


def test_shopify_events_follow_the_file_and_are_signed(records):
    # when the file becomes Shopify webhooks
    events = build_events("shopify", records, secret="shpss_test", shop_domain="gifts.myshopify.com")

    # then each order is created, updated when it changes, and each refund is announced before the order update
    assert [(event.topic, event.order_id) for event in events] == SHOPIFY_SEQUENCE
    for event in events:
        expected = base64.b64encode(hmac.new(b"shpss_test", event.body, hashlib.sha256).digest()).decode()
        assert event.header("X-Shopify-Hmac-Sha256") == expected == sign_shopify(event.body, "shpss_test")
        assert event.header("X-Shopify-Topic") == event.topic
        assert event.header("X-Shopify-Shop-Domain") == "gifts.myshopify.com"
        assert event.header("X-Shopify-API-Version") == "2026-10"
        assert event.header("Content-Type") == "application/json"
        uuid.UUID(event.header("X-Shopify-Webhook-Id"))
        uuid.UUID(event.header("X-Shopify-Event-Id"))
        assert event.header("X-Shopify-Triggered-At")
    assert len({event.header("X-Shopify-Webhook-Id") for event in events}) == len(events)

    # and every snapshot of an order is strictly newer than the one before
    snapshots = defaultdict(list)
    for event in events:
        if event.topic.startswith("orders/"):
            snapshots[event.order_id].append(json.loads(event.body)["updated_at"])
    for times in snapshots.values():
        assert all(SHOPIFY_TIME.match(value) for value in times)
        assert times == sorted(set(times))

    # and refunds show in current_quantity and the refunds list, old lines kept when the invoice reappears
    orders = payloads_of(events, "orders/updated")
    after_return, reappeared, returned_in_full = orders
    assert [line["current_quantity"] for line in after_return["line_items"]] == [6, 4]
    assert [refund["id"] for refund in after_return["refunds"]] == [LANTERN_REFUND_ID]
    assert after_return["financial_status"] == "partially_refunded"
    assert [line["id"] for line in reappeared["line_items"]] == [5363650001, 5363650002, 5363650003]
    assert [line["current_quantity"] for line in reappeared["line_items"]] == [6, 4, 2]
    assert returned_in_full["financial_status"] == "refunded"
    assert returned_in_full["line_items"][0]["current_quantity"] == 0
    refund = payloads_of(events, "refunds/create")[0]
    assert refund["id"] == LANTERN_REFUND_ID
    assert refund["order_id"] == 536365
    line = refund["refund_line_items"][0]
    assert (line["line_item_id"], line["quantity"], line["restock_type"], line["subtotal"]) == (
        5363650002,
        2,
        "return",
        6.78,
    )


def test_shopify_payloads_match_the_documented_examples(records):
    # given the documented Order and Refund examples
    order_example = load_fixture("shopify/orders_create__doc_example_2.json")
    refund_example = load_fixture("shopify/refunds_create__doc_example_1.json")

    # when the file is replayed
    events = build_events("shopify", records, secret="s")
    order = payloads_of(events, "orders/updated")[0]
    refund = payloads_of(events, "refunds/create")[0]

    # then field names and JSON types are those of the examples
    assert_shape(
        order,
        order_example,
        ["id", "name", "order_number", "created_at", "updated_at", "processed_at", "cancelled_at", "currency"]
        + ["financial_status", "fulfillment_status", "line_items", "refunds", "location_id", "total_price"],
    )
    line_fields = ["id", "variant_id", "product_id", "sku", "title", "name", "variant_title", "quantity"]
    line_fields += ["current_quantity", "price", "fulfillable_quantity", "vendor"]
    for line in order["line_items"]:
        assert_shape(line, order_example["line_items"][0], line_fields)
        assert re.fullmatch(r"\d+\.\d\d", line["price"])
    assert order["name"] == "#536365"
    assert order["cancelled_at"] is None
    assert order["currency"] == "GBP"
    assert order["created_at"] == "2010-12-01T08:26:00+00:00"
    assert_shape(order["refunds"][0], order_example["refunds"][0], ["id", "order_id", "refund_line_items"])
    assert_shape(
        refund,
        refund_example,
        ["id", "order_id", "created_at", "processed_at", "restock", "refund_line_items", "transactions"],
    )
    refund_line = refund["refund_line_items"][0]
    assert_shape(
        refund_line,
        refund_example["refund_line_items"][0],
        ["id", "line_item_id", "quantity", "restock_type", "location_id", "subtotal", "line_item"],
    )
    assert_shape(refund_line["line_item"], order_example["line_items"][0], line_fields)
    assert refund["restock"] is True
    assert refund["transactions"] == []


def test_woocommerce_events_keep_quantities_and_list_refunds(records):
    # given the documented order example
    example = load_fixture("woocommerce/order_created__doc_example_1.json")

    # when the file becomes WooCommerce webhooks
    events = build_events("woocommerce", records, secret="wc_secret", site_url="https://gifts.example")

    # then one event per change, signed, with the subscription's headers
    assert [(event.topic, event.order_id) for event in events] == WOOCOMMERCE_SEQUENCE
    for event in events:
        expected = base64.b64encode(hmac.new(b"wc_secret", event.body, hashlib.sha256).digest()).decode()
        assert event.header("X-WC-Webhook-Signature") == expected == sign_woocommerce(event.body, "wc_secret")
        assert event.header("X-WC-Webhook-Source") == "https://gifts.example/"
        assert event.header("X-WC-Webhook-Topic") == event.topic
        assert event.header("X-WC-Webhook-Resource") == "order"
        assert event.header("X-WC-Webhook-Event") == event.topic.split(".")[1]
        assert event.header("X-WC-Webhook-ID").isdigit()

    # and the payloads have the example's fields and types
    payloads = [json.loads(event.body) for event in events]
    line_fields = ["id", "name", "product_id", "variation_id", "quantity", "sku", "price", "subtotal", "total"]
    for payload in payloads:
        assert_shape(
            payload,
            example,
            ["id", "number", "status", "currency", "date_created", "date_created_gmt", "date_modified"]
            + ["date_modified_gmt", "line_items", "refunds"],
        )
        assert WOO_GMT.match(payload["date_created_gmt"])
        assert WOO_GMT.match(payload["date_modified_gmt"])
        for line in payload["line_items"]:
            assert_shape(line, example["line_items"][0], line_fields + ["meta_data"])
            assert line["variation_id"] == 0

    # and a refund leaves quantities alone, lists the refund, advances the modified date, and a full one refunds
    created, _, after_return, _, reappeared, returned_in_full = payloads
    assert [line["quantity"] for line in after_return["line_items"]] == [6, 6]
    assert after_return["refunds"] == [{"id": LANTERN_REFUND_ID, "reason": "", "total": "-6.78"}]
    assert after_return["date_modified_gmt"] > created["date_modified_gmt"]
    assert after_return["status"] == "processing"
    assert [line["quantity"] for line in reappeared["line_items"]] == [6, 6, 2]
    assert reappeared["date_modified_gmt"] > after_return["date_modified_gmt"]
    assert returned_in_full["status"] == "refunded"
    assert returned_in_full["line_items"][0]["product_id"] == int(returned_in_full["line_items"][0]["product_id"])
    assert created["number"] == "536365"
    assert created["date_created_gmt"] == "2010-12-01T08:26:00"


def test_encoded_bodies_equal_the_reference_payloads(records):
    # given the store's state after each record
    state = StoreState()
    for record in records:
        # when an event is built, its body is what the dict builders give for the state at that point
        for event in build_events("shopify", [record], secret="s", state=state):
            if event.topic.startswith("orders/"):
                assert json.loads(event.body) == json.loads(
                    json.dumps(shopify.shopify_order(state.orders[event.order_id]))
                )
        order = state.orders.get(getattr(record, "order_id", ""))
        if order is not None:
            assert json.loads(woo.woo_order_json(order, state.tz)) == json.loads(
                json.dumps(woo.woo_order(order, state.tz))
            )


def test_duplicates_keep_the_shopify_webhook_id_and_get_new_woocommerce_delivery_ids(records, receiver):
    # given every accepted event is sent twice
    shopify_events = build_events("shopify", records, secret="s")
    woocommerce_events = build_events("woocommerce", records, secret="s")

    # when both platforms' events are replayed
    shopify_stats = run_replay(shopify_events, receiver.url, duplicates=1.0, concurrency=4)
    shopify_requests = list(receiver.requests)
    receiver.requests.clear()
    woocommerce_stats = run_replay(woocommerce_events, receiver.url, duplicates=1.0, concurrency=4)
    woocommerce_requests = list(receiver.requests)

    # then a Shopify duplicate is the same delivery: same webhook id, event id, body and signature
    assert shopify_stats.duplicates_sent == len(shopify_events) == 8
    assert shopify_stats.sent == shopify_stats.accepted == 16
    by_webhook = defaultdict(list)
    for request in shopify_requests:
        by_webhook[request["headers"]["x-shopify-webhook-id"]].append(request)
    assert len(by_webhook) == 8
    for first, second in by_webhook.values():
        assert first["body"] == second["body"]
        assert first["headers"]["x-shopify-event-id"] == second["headers"]["x-shopify-event-id"]
        assert first["headers"]["x-shopify-hmac-sha256"] == second["headers"]["x-shopify-hmac-sha256"]

    # and a WooCommerce duplicate is a new delivery of the same body
    assert woocommerce_stats.duplicates_sent == 6
    by_body = defaultdict(list)
    for request in woocommerce_requests:
        by_body[request["body"]].append(request["headers"]["x-wc-webhook-delivery-id"])
    assert len(by_body) == 6
    assert all(len(set(delivery_ids)) == 2 for delivery_ids in by_body.values())


def test_a_503_is_retried_with_the_same_delivery(records, receiver):
    # given a receiver that answers 503 to the first request only
    receiver.answer = lambda number, request: 503 if number == 0 else 200
    events = build_events("shopify", records, secret="s")

    # when the events are replayed
    stats = run_replay(events, receiver.url, concurrency=1)

    # then the first event was sent again, identically, and everything was accepted
    assert (stats.events, stats.sent, stats.accepted, stats.retried) == (8, 9, 8, 1)
    assert stats.rejected == {}
    first = receiver.requests[0]
    (retry,) = [request for request in receiver.requests[1:] if request["body"] == first["body"]]
    assert first["headers"]["x-shopify-webhook-id"] == retry["headers"]["x-shopify-webhook-id"]
    assert first["headers"]["x-shopify-hmac-sha256"] == retry["headers"]["x-shopify-hmac-sha256"]
    report = stats.as_dict()
    assert report["sent"] == report["accepted"] + report["rejected"] + report["retried"]
    assert set(report["latency_ms"]) == {"p50", "p95", "p99", "max"}


def test_deliveries_that_never_succeed_are_rejected_by_status(records, receiver):
    # given a receiver that refuses refunds for good
    receiver.answer = lambda number, request: 410 if request["headers"]["x-shopify-topic"] == "refunds/create" else 200
    events = build_events("shopify", records, secret="s")

    # when replayed with three attempts per delivery
    stats = run_replay(events, receiver.url, max_attempts=3)

    # then each refund was tried three times and counted as rejected, and the rest went through
    assert stats.rejected == {"410": 2}
    assert (stats.sent, stats.accepted, stats.retried) == (6 + 2 * 3, 6, 2 * 2)

    # and an unreachable receiver gives connection errors, not an exception
    receiver.stop()
    stats = run_replay(events[:1], receiver.url, max_attempts=2)
    assert stats.rejected == {"connection_error": 1}


def test_events_of_one_order_arrive_in_sequence(records, receiver):
    # given a receiver that is slow to create orders and fast otherwise, tempting later events to overtake
    receiver.delay = lambda request: 0.05 if request["headers"]["x-shopify-topic"] == "orders/create" else 0.0
    events = build_events("shopify", records, secret="s")

    # when replayed with more connections than orders
    stats = run_replay(events, receiver.url, concurrency=8)

    # then orders overlapped each other, but one order's events came one at a time and in order
    assert stats.accepted == 8
    assert receiver.requests[0]["finished"] > receiver.requests[1]["started"]
    per_order = defaultdict(list)
    for request in receiver.requests:
        per_order[str(json.loads(request["body"]).get("order_id") or json.loads(request["body"])["id"])].append(request)
    for order_id, requests in per_order.items():
        expected = [topic for topic, order in SHOPIFY_SEQUENCE if order == order_id]
        assert [request["headers"]["x-shopify-topic"] for request in requests] == expected
        for earlier, later in zip(requests, requests[1:], strict=False):
            assert later["started"] >= earlier["finished"]


def test_rate_limits_how_fast_events_start(records, receiver):
    # when 8 events are replayed at 40 per second
    started = time.monotonic()
    stats = run_replay(build_events("shopify", records, secret="s"), receiver.url, rate=40)

    # then starting them took at least 7 intervals
    assert stats.accepted == 8
    assert time.monotonic() - started >= 7 / 40


def fetch(url, user=None, password=None):
    request = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_woocommerce_api_serves_refunds_behind_basic_auth(records):
    # given the WooCommerce store after the replay's events were built
    example = load_fixture("woocommerce/api_order_refunds__doc_example_1.json")
    order_example = load_fixture("woocommerce/order_created__doc_example_1.json")
    state = StoreState()
    build_events("woocommerce", records, secret="s", state=state)

    with start_api_server(state, consumer_key="ck_test", consumer_secret="cs_test") as api:
        # when the refunds of the order with a return are fetched with the consumer key
        status, headers, refunds = fetch(f"{api.url}/wp-json/wc/v3/orders/536365/refunds", "ck_test", "cs_test")

        # then the refund names the order line it refunds, with negative quantities and totals
        assert status == 200
        assert headers["X-WP-Total"] == "1"
        (refund,) = refunds
        assert_shape(refund, example, ["id", "date_created", "date_created_gmt", "amount", "reason", "line_items"])
        assert (refund["id"], refund["amount"]) == (LANTERN_REFUND_ID, "6.78")
        assert WOO_GMT.match(refund["date_created_gmt"])
        (line,) = refund["line_items"]
        assert_shape(line, order_example["line_items"][0], ["id", "name", "product_id", "variation_id", "sku"])
        assert (line["quantity"], line["subtotal"], line["total"], line["sku"]) == (-2, "-6.78", "-6.78", "71053")
        meta = {item["key"]: item["value"] for item in line["meta_data"]}
        assert meta == {"_refunded_item_id": "5363650002"}

        # and the order itself and a single refund are there too
        status, _, order = fetch(f"{api.url}/wp-json/wc/v3/orders/536366", "ck_test", "cs_test")
        assert (status, order["status"], len(order["refunds"])) == (200, "refunded", 1)
        refund_url = f"{api.url}/wp-json/wc/v3/orders/536365/refunds/{LANTERN_REFUND_ID}"
        assert fetch(refund_url, "ck_test", "cs_test")[2]["id"] == LANTERN_REFUND_ID

        # and without credentials, or with the wrong secret, it answers 401 like WooCommerce
        status, _, error = fetch(f"{api.url}/wp-json/wc/v3/orders/536365/refunds")
        assert (status, error["code"], error["data"]["status"]) == (401, "woocommerce_rest_cannot_view", 401)
        assert fetch(f"{api.url}/wp-json/wc/v3/orders/536365/refunds", "ck_test", "wrong")[0] == 401

        # and an unknown order is a 404
        status, _, error = fetch(f"{api.url}/wp-json/wc/v3/orders/999999/refunds", "ck_test", "cs_test")
        assert (status, error["code"]) == (404, "woocommerce_rest_shop_order_invalid_id")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "integrations.simulator", "replay", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_replays_shopify_end_to_end(orders_file, receiver, tmp_path):
    # when the command replays the file's first five orders (all three here)
    report_path = tmp_path / "report.json"
    result = run_cli(
        "--platform", "shopify", "--orders", orders_file, "--target", receiver.url, "--secret", "s",
        "--limit", 5, "--duplicates", 0.5, "--json-out", report_path,
    )  # fmt: skip

    # then every event was accepted and the report states what the receiver should now hold
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["events"] == 8
    assert report["sent"] == report["accepted"] == 8 + report["duplicates_sent"] == len(receiver.requests)
    assert report["rejected"] == 0
    assert report["source"]["orders"] == 3
    assert report["source"]["order_lines"] == 5
    assert report["source"]["net_units"] == 15
    assert report["source"]["refunds"] == 2
    assert report["throughput_per_s"] > 0
    assert "net units 15" in result.stdout


def test_cli_woocommerce_receiver_can_fetch_refunds_during_the_replay(orders_file, receiver, tmp_path):
    # given a receiver that, like the product's worker, fetches an order's refunds when told about one
    fetched = []

    def answer(number, request):
        payload = json.loads(request["body"])
        if payload["refunds"]:
            source = request["headers"]["x-wc-webhook-source"]
            url = f"{source}wp-json/wc/v3/orders/{payload['id']}/refunds"
            fetched.append(fetch(url, "ck_demo", "cs_demo"))
        return 200

    receiver.answer = answer

    # when the command replays the file as WooCommerce webhooks (the API's address is their source)
    result = run_cli(
        "--platform", "woocommerce", "--orders", orders_file, "--target", receiver.url, "--secret", "s",
        "--json-out", tmp_path / "report.json",
    )  # fmt: skip

    # then the API answered while the replay ran, with the refunded lines
    assert result.returncode == 0, result.stderr
    assert "Store API listening on http://127.0.0.1:" in result.stdout
    assert [status for status, _, _ in fetched] == [200, 200, 200]
    refunded_items = {
        meta["value"]
        for _, _, refunds in fetched
        for refund in refunds
        for line in refund["line_items"]
        for meta in line["meta_data"]
    }
    assert refunded_items == {"5363650002", "5363660001"}
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["events"], report["accepted"]) == (6, 6)


def test_lean_transport_reads_every_way_an_answer_can_end():
    # given a server that answers with chunks, then closes, then speaks HTTP/1.0, then drops an idle connection
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=1\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n",
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        b"HTTP/1.0 202 Accepted\r\n\r\nuntil close",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast",
    ]
    connections = []

    async def serve(reader, writer):
        connections.append(writer)
        while answers:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
            await reader.readexactly(length)
            answer = answers.pop(0)
            writer.write(answer)
            await writer.drain()
            if b"close" in answer or answer.startswith(b"HTTP/1.0") or answer.startswith(b"HTTP/1.1 204"):
                break
        writer.close()

    async def scenario():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
        results = []
        async with httpx.AsyncClient(transport=LeanHTTP1Transport(), timeout=5) as client:
            for _ in range(5):
                response = await client.post(url, content=b"{}")
                results.append((response.status_code, response.content))
                # the server's close of an idle connection reaches the client before its next request
                await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()
        return results

    # when five requests are sent through one transport
    results = asyncio.run(scenario())

    # then every answer is read whole, and the transport reconnects after each close
    assert results == [(200, b"ok!!!"), (201, b"ok"), (202, b"until close"), (204, b""), (200, b"last")]
    assert len(connections) == 4


def test_a_receiver_that_does_not_answer_in_time_is_a_timeout(records, receiver):
    # given a receiver slower than the timeout
    receiver.delay = lambda request: 0.5
    events = build_events("shopify", records, secret="s")[:1]

    # when the event is sent with a 0.1 s timeout, twice at most
    stats = run_replay(events, receiver.url, timeout=0.1, max_attempts=2)

    # then both attempts timed out and the event is rejected as such
    assert stats.rejected == {"timeout": 1}
    assert (stats.sent, stats.retried, stats.accepted) == (2, 1, 0)


@pytest.mark.parametrize("http_transport", ["lean", "httpx"])
def test_both_transports_deliver_the_same_requests(records, receiver, http_transport):
    # when the events are replayed over either transport
    events = build_events("shopify", records, secret="s")
    stats = run_replay(events, receiver.url, http_transport=http_transport)

    # then the receiver got each body once, with its signature and the webhook path
    assert stats.accepted == 8
    assert sorted(request["body"] for request in receiver.requests) == sorted(event.body for event in events)
    for request in receiver.requests:
        assert request["path"] == "/webhooks/"
        assert request["headers"]["x-shopify-hmac-sha256"] == sign_shopify(request["body"], "s")
        assert request["headers"]["content-length"] == str(len(request["body"]))


def test_the_api_also_answers_shopify_admin_reads(records):
    # given the Shopify store after the replay's events were built
    state = StoreState()
    build_events("shopify", records, secret="s", state=state)

    with start_api_server(state, access_token="shpat_test") as api:
        # when an order and its refunds are read with the access token
        request = urllib.request.Request(f"{api.url}/admin/api/2026-10/orders/536365/refunds.json")
        request.add_header("X-Shopify-Access-Token", "shpat_test")
        with urllib.request.urlopen(request, timeout=5) as response:
            refunds = json.loads(response.read())["refunds"]

        # then they are the Refund resources the webhooks carried
        assert [refund["id"] for refund in refunds] == [LANTERN_REFUND_ID]
        assert refunds[0]["refund_line_items"][0]["line_item_id"] == 5363650002

        # and without the token it is a 401
        assert fetch(f"{api.url}/admin/api/2026-10/orders/536365.json")[0] == 401


def test_dropped_events_are_never_sent_and_counted(records, receiver):
    # given a store that loses about half of its webhook deliveries
    events = build_events("shopify", records, secret="s")

    # when the events are replayed
    stats = run_replay(events, receiver.url, drop=0.5, concurrency=2)

    # then the lost ones never reach the receiver and the report says how many were lost
    assert 0 < stats.dropped < len(events)
    assert stats.accepted == len(receiver.requests) == len(events) - stats.dropped
    assert stats.as_dict()["dropped"] == stats.dropped


def test_a_duplicate_storm_delivers_every_event_three_times_out_of_order(records, receiver):
    # given the file's Shopify events (an order's snapshots and refunds in sequence)
    events = build_events("shopify", records, secret="s")

    # when they are replayed as a storm of three copies, shuffled together
    stats = run_replay(events, receiver.url, storm_copies=3, storm_window=len(events), concurrency=1, seed=3)

    # then every event arrived three times: twice as the same delivery, once as a new delivery of the same event
    assert (stats.events, stats.duplicates_sent, stats.accepted) == (8, 16, 24)
    by_event = defaultdict(list)
    for request in receiver.requests:
        by_event[request["headers"]["x-shopify-event-id"]].append(request)
    assert len(by_event) == 8
    for copies in by_event.values():
        assert len({copy["body"] for copy in copies}) == 1
        assert sorted(Counter(copy["headers"]["x-shopify-webhook-id"] for copy in copies).values()) == [1, 2]

    # and the file's order was not kept: some later event arrived before an earlier one
    sent_order = [event.header("X-Shopify-Event-Id") for event in events]
    first_arrivals = list(dict.fromkeys(request["headers"]["x-shopify-event-id"] for request in receiver.requests))
    assert first_arrivals != sent_order
    assert sorted(first_arrivals) == sorted(sent_order)
    positions = {event_id: number for number, event_id in enumerate(sent_order)}
    orders = {event.header("X-Shopify-Event-Id"): event.order_id for event in events}
    latest, stale = {}, 0
    for request in receiver.requests:
        event_id = request["headers"]["x-shopify-event-id"]
        stale += positions[event_id] < latest.get(orders[event_id], -1)
        latest[orders[event_id]] = max(positions[event_id], latest.get(orders[event_id], -1))
    assert stats.stale_deliveries == stale > 0
    assert stats.as_dict()["answers"] == {"200": 24}
