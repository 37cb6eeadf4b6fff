"""Signed deliveries holding text that is not ordinary text: lone UTF-16 surrogates (valid JSON escapes with no UTF-8
encoding, so no column can hold them), NUL (PostgreSQL text refuses it), C1 controls and non-characters (valid
Unicode, stored as sent).

Whatever a signed body holds, the answer is never a 5xx and the raw body is kept as received: the event is stored
(its resource id made storable), and the worker parks it as failed, naming the field and the character, when such
text would reach a column. A header cannot carry such text through a real server (WSGI decodes headers as latin-1),
and one that does anyway is refused with 400 like a header holding a NUL.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory_ai.models import Order, OrderLine, Product, Variant, WebhookEvent
from inventory_ai.services.stores import upsert_store
from inventory_ai.services.webhooks import requeue_failed_events
from inventory_ai.text import storable
from tests.abuse_strategies import C1_CONTROLS, NON_CHARACTERS, json_bytes, with_odd_text
from tests.test_webhooks_shopify import simple_order
from tests.webhook_helpers import WOO_SITE, fixture, post_shopify, post_woocommerce, process_pending

pytestmark = pytest.mark.django_db

SURROGATE = "\udb8c"
# Every topic each platform handles, and one it ignores.
SHOPIFY_TOPICS = (
    "orders/create", "orders/updated", "orders/cancelled", "orders/edited", "orders/delete", "refunds/create",
    "products/create", "products/update", "products/delete", "inventory_levels/update", "inventory_levels/connect",
    "inventory_levels/disconnect", "inventory_items/update", "inventory_items/delete", "locations/create",
    "locations/update", "locations/delete", "customers/data_request", "customers/redact", "orders/paid",
)  # fmt: skip
WOOCOMMERCE_TOPICS = (
    "order.created", "order.updated", "order.deleted", "order.restored", "product.created", "product.updated",
    "product.deleted", "product.restored", "coupon.created",
)  # fmt: skip
FINAL = {"processed", "failed", "ignored"}
# Topics that store the body's own `id` when applied (as the order, product, inventory item or location id).
ID_STORED_TOPICS = {
    "orders/delete", "products/create", "products/update", "products/delete", "inventory_items/update",
    "inventory_items/delete", "locations/create", "locations/update", "locations/delete", "order.deleted",
    "product.created", "product.updated", "product.deleted", "product.restored",
}  # fmt: skip
IGNORED_TOPICS = {"orders/paid", "coupon.created"}


@pytest.fixture
def woo(db):
    store, _ = upsert_store(
        "woocommerce",
        WOO_SITE,
        webhook_secret="woo-secret",
        credentials={"consumer_key": "ck_demo", "consumer_secret": "cs_demo"},
    )
    return store


def post(client, platform: str, topic: str, body: bytes, **headers):
    send = post_shopify if platform == "shopify" else post_woocommerce
    return send(client, topic, body, **headers)


def assert_parked_with_a_readable_reason(event: WebhookEvent) -> None:
    assert event.status == "failed", (event.topic, event.status, event.last_error)
    assert event.last_error.strip()
    assert event.last_error.encode("utf-8")  # storable text: no lone surrogate, read back from the column
    assert "\x00" not in event.last_error


# --- The inbox row ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "topic"),
    [("shopify", topic) for topic in SHOPIFY_TOPICS] + [("woocommerce", topic) for topic in WOOCOMMERCE_TOPICS],
)
def test_a_signed_body_whose_id_is_a_lone_surrogate_is_kept_on_every_topic(client, shop, woo, platform, topic):
    # given a signed body whose id is a lone surrogate, as a JSON escape (the grammar allows it)
    body = b'{"id": "\\udb8c", "line_items": []}'

    # when it is received
    answer = post(client, platform, topic, body)

    # then it is kept as received (it was a 500, and the platform retried it until it gave up), its resource id
    # written so that it can be stored and read
    assert answer.status_code == 200, answer.content
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body
    assert event.resource_id == "\\udb8c"
    assert event.status in ("received", "ignored")

    # and the worker takes it to a final state: parked as failed, saying why, where the id would be stored (other
    # topics are parked for what the short body lacks, or applied when it holds nothing to store)
    process_pending()
    event.refresh_from_db()
    if topic in IGNORED_TOPICS:
        assert event.status == "ignored"
    elif topic in ID_STORED_TOPICS:
        assert_parked_with_a_readable_reason(event)
        assert "id holds a lone UTF-16 surrogate (U+DB8C), which cannot be stored as text" in event.last_error
    else:
        assert event.status in FINAL
        if event.status == "failed":
            assert_parked_with_a_readable_reason(event)


def test_a_resend_of_a_woocommerce_body_holding_a_lone_surrogate_is_a_duplicate(client, woo):
    # given a signed WooCommerce body whose id and modification time are lone surrogates
    body = b'{"id": "\\udb8c", "date_modified_gmt": "\\udfff"}'

    # when it is sent twice (WooCommerce changes the delivery id on every send)
    first = post_woocommerce(client, "order.updated", body)
    second = post_woocommerce(client, "order.updated", body)

    # then it is kept once: the deduplication key is computed from the body without failing on it
    assert (first.status_code, second.status_code) == (200, 200), (first.content, second.content)
    assert second.json() == {"status": "duplicate"}
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize("escaped", [True, False], ids=["escape", "raw-bytes"])
def test_a_body_that_is_not_valid_utf8_is_kept_byte_for_byte(client, shop, escaped):
    # given a signed order whose id holds a lone surrogate, as an escape or as the raw bytes UTF-8 forbids
    body = json_bytes(simple_order(order_id="1" + SURROGATE), escaped=escaped)

    # when it is received
    answer = post_shopify(client, "orders/create", body)

    # then the exact bytes are kept
    assert answer.status_code == 200, answer.content
    assert bytes(WebhookEvent.objects.get().body) == body


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("12\x003", "123"),
        ("a\udb8cb", "a\\udb8cb"),
        ("\x00\ud800\udfff", "\\ud800\\udfff"),
        ("é\x85\ufffe\U0010ffff", "é\x85\ufffe\U0010ffff"),
        ("\ud83d\ude00", "\\ud83d\\ude00"),  # a pair left as two code points is still two lone surrogates
    ],
)
def test_storable_text_leaves_out_nul_and_writes_lone_surrogates_as_escapes(text, kept):
    assert storable(text) == kept
    assert storable(text).encode("utf-8")


# --- Processing ------------------------------------------------------------------------------------------------------


def shopify_order_with(line_field: str = "", order_field: str = "", text: str = SURROGATE) -> tuple[str, dict]:
    order = simple_order()
    if order_field:
        order[order_field] = text
    if line_field:
        order["line_items"][0][line_field] = text
    return "orders/create", order


def shopify_product_with(field: str, variant_field: str = "") -> tuple[str, dict]:
    product = fixture("shopify", "products_update__doc_example_1")
    if field:
        product[field] = "Mug " + SURROGATE
    if variant_field:
        product["variants"][0][variant_field] = "MUG-" + SURROGATE
    return "products/update", product


def woo_order_with(field: str) -> tuple[str, dict]:
    order = fixture("woocommerce", "order_created__doc_example_1")
    order["line_items"][0][field] = SURROGATE + " Woo"
    return "order.created", order


def woo_product_with(field: str) -> tuple[str, dict]:
    product = fixture("woocommerce", "product_created__doc_example_1")
    product[field] = SURROGATE
    return "product.created", product


UNSTORABLE_FIELDS = [
    ("shopify", shopify_order_with(order_field="id"), "order.order_id", "a lone UTF-16 surrogate (U+DB8C)"),
    ("shopify", shopify_order_with(order_field="currency"), "order.currency", "a lone UTF-16 surrogate (U+DB8C)"),
    ("shopify", shopify_order_with(order_field="name"), "order.number", "a lone UTF-16 surrogate (U+DB8C)"),
    ("shopify", shopify_order_with("sku"), "order.lines[0].variant.sku", "a lone UTF-16 surrogate (U+DB8C)"),
    ("shopify", shopify_order_with("title"), "order.lines[0].variant.product_title", "a lone UTF-16 surrogate"),
    ("shopify", shopify_order_with("variant_id"), "order.lines[0].variant.variant_id", "a lone UTF-16 surrogate"),
    ("shopify", shopify_order_with("id"), "order.lines[0].line_id", "a lone UTF-16 surrogate (U+DB8C)"),
    ("shopify", shopify_order_with("sku", text="MUG\x00"), "order.lines[0].variant.sku", "a NUL character"),
    ("shopify", shopify_order_with("name", text="\x00"), "order.lines[0].variant.title", "a NUL character"),
    ("shopify", shopify_product_with("title"), "product.title", "a lone UTF-16 surrogate (U+DB8C)"),
    ("shopify", shopify_product_with("vendor"), "product.vendor", "a lone UTF-16 surrogate (U+DB8C)"),
    ("shopify", shopify_product_with("", "sku"), "product.variants[0].sku", "a lone UTF-16 surrogate (U+DB8C)"),
    (
        "shopify",
        ("products/delete", {"id": SURROGATE}),
        "product_deleted.product_id",
        "a lone UTF-16 surrogate (U+DB8C)",
    ),
    (
        "shopify",
        ("refunds/create", {**fixture("shopify", "refunds_create__doc_example_2"), "id": "\udfff"}),
        "refund.refund_id",
        "a lone UTF-16 surrogate (U+DFFF)",
    ),
    (
        "shopify",
        (
            "inventory_levels/update",
            {**fixture("shopify", "inventory_levels_update__doc_example_1"), "inventory_item_id": "\ud800"},
        ),
        "inventory_level.inventory_item_id",
        "a lone UTF-16 surrogate (U+D800)",
    ),
    (
        "shopify",
        ("locations/update", {"id": 1, "name": "Back room " + SURROGATE, "active": True}),
        "location.name",
        "a lone UTF-16 surrogate (U+DB8C)",
    ),
    (
        "shopify",
        ("customers/redact", {"customer": {"id": 7}, "orders_to_redact": [SURROGATE]}),
        "privacy_request.order_ids[0]",
        "a lone UTF-16 surrogate (U+DB8C)",
    ),
    ("woocommerce", woo_order_with("name"), "order.lines[0].variant.title", "a lone UTF-16 surrogate (U+DB8C)"),
    ("woocommerce", woo_order_with("sku"), "order.lines[0].variant.sku", "a lone UTF-16 surrogate (U+DB8C)"),
    ("woocommerce", woo_product_with("name"), "product.title", "a lone UTF-16 surrogate (U+DB8C)"),
    ("woocommerce", woo_product_with("sku"), "product.variants[0].sku", "a lone UTF-16 surrogate (U+DB8C)"),
]


@pytest.mark.parametrize(
    ("platform", "delivery", "field", "character"),
    UNSTORABLE_FIELDS,
    ids=[f"{case[0]}-{case[2]}-{case[3].split()[1]}" for case in UNSTORABLE_FIELDS],
)
def test_text_a_column_cannot_hold_parks_the_event_naming_the_field(
    client, shop, woo, platform, delivery, field, character
):
    # given a signed, readable delivery where one field that would be stored holds text no column can hold
    topic, payload = delivery
    assert post(client, platform, topic, json.dumps(payload).encode()).status_code == 200

    # when the worker processes it
    statuses = process_pending()

    # then it is parked as failed, once (no retry loop), with a reason that names the field and the character, and
    # nothing of it is applied
    assert statuses == ["failed"], statuses
    event = WebhookEvent.objects.get()
    assert_parked_with_a_readable_reason(event)
    assert process_pending() == []  # nothing left to retry
    assert event.last_error.startswith(f"unreadable payload: {field} holds {character}"), event.last_error
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()


@pytest.mark.parametrize("text", [*C1_CONTROLS, *NON_CHARACTERS, "Mug \x85\ufffe\U0010ffff"])
def test_c1_controls_and_non_characters_are_stored_as_sent(client, shop, text):
    # given a signed order and product whose SKU and titles hold C1 controls or non-characters (valid Unicode)
    order = simple_order()
    order["line_items"][0].update(sku="MUG" + text, title=text, name=text)
    product = fixture("shopify", "products_update__doc_example_2")
    product["title"] = text

    # when they are received and processed
    assert post_shopify(client, "orders/create", order).status_code == 200
    assert post_shopify(client, "products/update", product).status_code == 200
    statuses = process_pending()

    # then they are applied, the text stored exactly as sent
    assert statuses == ["processed", "processed"], [event.last_error for event in WebhookEvent.objects.all()]
    assert Variant.objects.get(platform_id="11").sku == "MUG" + text
    assert Product.objects.get(platform_id=str(product["id"])).title == text


# --- Headers ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "header"),
    [
        ("shopify", "HTTP_X_SHOPIFY_TOPIC"),
        ("shopify", "HTTP_X_SHOPIFY_WEBHOOK_ID"),
        ("shopify", "HTTP_X_SHOPIFY_EVENT_ID"),
        ("shopify", "HTTP_X_SHOPIFY_SHOP_DOMAIN"),
        ("shopify", "HTTP_X_SHOPIFY_API_VERSION"),
        ("woocommerce", "HTTP_X_WC_WEBHOOK_TOPIC"),
        ("woocommerce", "HTTP_X_WC_WEBHOOK_DELIVERY_ID"),
        ("woocommerce", "HTTP_X_WC_WEBHOOK_ID"),
        ("woocommerce", "HTTP_X_WC_WEBHOOK_SOURCE"),
    ],
)
def test_a_header_holding_a_lone_surrogate_is_refused_and_nothing_kept(client, shop, woo, platform, header, caplog):
    # given a signed delivery with a header holding a lone surrogate (no HTTP server produces one: WSGI decodes
    # header bytes as latin-1; only an in-process caller can)
    body = json.dumps(simple_order()).encode()
    topic = "orders/create" if platform == "shopify" else "order.created"

    # when it is received
    answer = post(client, platform, topic, body, **{header: "x" + SURROGATE})

    # then it is refused as a header holding a NUL is (PostgreSQL cannot even look it up), and nothing is kept
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"status": "rejected", "detail": "a header contains a lone UTF-16 surrogate (U+DB8C)"}
    assert not WebhookEvent.objects.exists()
    # and the refusal is logged in text any log can write (the topic escaped)
    [refusal] = [record.getMessage() for record in caplog.records if record.name == "inventory_ai.views"]
    assert "surrogate" in refusal
    assert refusal.encode("utf-8")


def test_headers_holding_c1_controls_are_kept_as_received(client, shop):
    # given a signed delivery whose topic and webhook id hold what a real server can hand over: latin-1 characters
    # (UTF-8 bytes on the wire decoded as latin-1), C1 controls among them
    webhook_id = "id-\x85\x9f" + "é".encode().decode("latin-1")
    topic = "orders/\x85create"  # inside the value: blanks around a header value are not part of it
    body = json.dumps(simple_order()).encode()

    # when it is received
    answer = post_shopify(client, topic, body, webhook_id=webhook_id, HTTP_X_SHOPIFY_API_VERSION="2026-10\x9b")

    # then it is stored with those headers exactly (an unknown topic: kept and ignored)
    assert answer.status_code == 200, answer.content
    event = WebhookEvent.objects.get()
    assert (event.topic, event.delivery_id, event.api_version, event.status) == (
        topic,
        webhook_id,
        "2026-10\x9b",
        "ignored",
    )
    assert event.headers["X-Shopify-Topic"] == topic


# --- Generated bodies ------------------------------------------------------------------------------------------------

# Examples per test; ABUSE_EXAMPLES raises it for a longer hunt (as in tests/test_abuse.py).
FUZZ = settings(
    max_examples=max(int(os.environ.get("ABUSE_EXAMPLES", "1000")) // 20, 1),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def shopify_documents() -> list[tuple[str, dict]]:
    return [
        ("orders/create", fixture("shopify", "orders_create__doc_example_1")),
        ("orders/updated", simple_order()),
        ("orders/cancelled", fixture("shopify", "orders_create__doc_example_2")),
        ("orders/delete", {"id": 1001}),
        ("refunds/create", fixture("shopify", "refunds_create__doc_example_2")),
        ("products/create", fixture("shopify", "products_update__doc_example_2")),
        ("products/update", fixture("shopify", "products_update__doc_example_1")),
        ("products/delete", {"id": 632910392}),
        ("inventory_levels/update", fixture("shopify", "inventory_levels_update__doc_example_1")),
        ("inventory_levels/disconnect", {"inventory_item_id": 808950810, "location_id": 1}),
        ("inventory_items/update", {"id": 808950810, "sku": "IPOD", "cost": "25.00", "updated_at": None}),
        ("locations/update", {"id": 1, "name": "Back room", "active": True}),
        ("customers/redact", {"customer": {"id": 7}, "orders_to_redact": [1001]}),
        ("orders/paid", simple_order()),
    ]


def woocommerce_documents() -> list[tuple[str, dict]]:
    return [
        ("order.created", fixture("woocommerce", "order_created__doc_example_1")),
        ("order.updated", fixture("woocommerce", "order_updated__doc_example_3")),
        ("order.deleted", {"id": 727}),
        ("product.created", fixture("woocommerce", "product_created__doc_example_1")),
        ("product.updated", fixture("woocommerce", "product_updated__variation_doc_example_1")),
        ("product.deleted", {"id": 794}),
        ("coupon.created", {"id": 1, "code": "take-ten"}),
    ]


def odd_deliveries(documents: list[tuple[str, dict]]) -> st.SearchStrategy[tuple[str, bytes]]:
    """A documented body for one topic with odd text in some of its fields, written escaped or as raw bytes."""
    return st.tuples(st.sampled_from(documents), st.booleans()).flatmap(
        lambda chosen: st.tuples(
            st.just(chosen[0][0]),
            with_odd_text(chosen[0][1]).map(lambda payload, escaped=chosen[1]: json_bytes(payload, escaped=escaped)),
        )
    )


def deliver_and_process(client, platform: str, topic: str, body: bytes) -> None:
    last = WebhookEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    answer = post(client, platform, topic, body)

    assert answer.status_code == 200, answer.content[:300]
    new = WebhookEvent.objects.filter(pk__gt=last)
    if answer.json() == {"status": "duplicate"}:
        assert not new.exists()  # the same body sent before (WooCommerce recognises a resend by its body)
        return
    event = new.get()
    assert bytes(event.body) == body
    assert event.status in ("received", "ignored")

    process_pending()  # raises if processing crashed instead of retrying or parking the event

    event.refresh_from_db()
    if event.status == "received":
        # waiting for what it refers to (a refund before its order): retried later
        assert event.attempts >= 1
        assert event.last_error
    elif event.status == "failed":
        assert_parked_with_a_readable_reason(event)
    else:
        assert event.status in FINAL


@FUZZ
@given(delivery=odd_deliveries(shopify_documents()))
def test_shopify_bodies_with_odd_text_are_kept_and_never_crash_the_worker(client, shop, delivery):
    topic, body = delivery
    deliver_and_process(client, "shopify", topic, body)


@FUZZ
@given(delivery=odd_deliveries(woocommerce_documents()))
def test_woocommerce_bodies_with_odd_text_are_kept_and_never_crash_the_worker(client, woo, delivery):
    topic, body = delivery
    deliver_and_process(client, "woocommerce", topic, body)


def test_an_event_parked_for_odd_text_is_parked_again_when_requeued(client, shop):
    # given an event parked as failed for a lone surrogate in its SKU
    topic, order = shopify_order_with("sku")
    post_shopify(client, topic, order)
    assert process_pending() == ["failed"]
    event = WebhookEvent.objects.get()

    # when an admin re-queues it
    requeue_failed_events([event.pk])
    statuses = process_pending()

    # then it is parked again with the same reason (no crash, no loop)
    assert statuses == ["failed"]
    event.refresh_from_db()
    assert event.last_error.startswith("unreadable payload: order.lines[0].variant.sku holds a lone UTF-16 surrogate")
