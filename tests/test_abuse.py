"""Hostile and broken requests against the webhook endpoints and the API: documented 4xx, never a 500, nothing
kept from an unsigned request, and everything a store signed kept even when it is garbage (answered 400).

Hypothesis draws the requests: wrong, missing and replayed signatures, truncated and oversized bodies, wrong content
types, deeply nested JSON, huge numbers, unicode in every field, unknown stores and topics.
"""

from __future__ import annotations

import hashlib
import json
import os
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import Resolver404, resolve
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData
from hypothesis import HealthCheck, given, settings

from inventory_ai.models import AuditEntry, ReorderSuggestion, StockAdjustment, WebhookEvent
from inventory_ai.services.api_tokens import issue_token
from tests.abuse_strategies import (
    api_methods,
    api_object_ids,
    api_paths,
    api_queries,
    api_url,
    api_users,
    as_sent,
    bodies,
    content_types,
    json_values,
    shopify_domains,
    shopify_topics,
    sign,
    signature_header,
    signature_kinds,
    woocommerce_signature_kinds,
    woocommerce_sources,
    woocommerce_topics,
)

pytestmark = pytest.mark.django_db

SECRET = "hush"  # the `shop` fixture's webhook secret
DOMAIN = "test-gifts.myshopify.com"
# Examples per test (three fuzzed tests): 1,000 in the suite; ABUSE_EXAMPLES raises it for a longer hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("ABUSE_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(
    body=bodies,
    signature=signature_kinds,
    topic=shopify_topics,
    domain=shopify_domains(DOMAIN),
    content_type=content_types,
)
def test_shopify_webhook_abuse_never_errors_and_keeps_nothing_unsigned(
    client, shop, body, signature, topic, domain, content_type
):
    headers = {"HTTP_X_SHOPIFY_TOPIC": as_sent(topic), "HTTP_X_SHOPIFY_SHOP_DOMAIN": as_sent(domain)}
    headers["HTTP_X_SHOPIFY_WEBHOOK_ID"] = hashlib.sha1(body + signature.encode()).hexdigest()
    if (value := signature_header(signature, body, SECRET)) is not None:
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = value
    before = WebhookEvent.objects.count()

    answer = client.post("/webhooks/shopify/", data=body, content_type=content_type, **headers)

    assert answer.status_code < 500, answer.content[:300]
    # What the server sees is the header as sent (latin-1 on the wire), not the generated text.
    accepted = signature == "valid" and domain == DOMAIN and headers["HTTP_X_SHOPIFY_TOPIC"].strip() != ""
    if not accepted:
        assert answer.status_code in (400, 401), answer.content[:300]
        assert WebhookEvent.objects.count() == before  # nothing kept from a request the store did not sign
    else:
        assert answer.status_code in (200, 202, 400)
        if answer.status_code == 400:
            # a signed but unreadable body is kept as a failed event (nothing is lost), and the store is told why
            assert WebhookEvent.objects.filter(status="failed").exists()


def test_oversized_and_lying_bodies_are_refused_before_reading(client, shop, settings):
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "WEBHOOK_MAX_BYTES": 1000}
    body = b'{"id": 1}' + b" " * 2000
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": "orders/create",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": DOMAIN,
        "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body, SECRET),
    }
    assert client.post("/webhooks/shopify/", data=body, content_type="application/json", **headers).status_code == 413
    lying = client.post(
        "/webhooks/shopify/", data=b"{}", content_type="application/json", CONTENT_LENGTH="nonsense", **headers
    )
    assert lying.status_code == 400
    assert client.get("/webhooks/shopify/").status_code == 405
    assert not WebhookEvent.objects.exists()


class BrokenBody:
    """A request body the server cannot finish reading: what gunicorn's input stream does with a chunked body that
    is malformed (bad size, missing terminator) or broken off before its last chunk."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error

    readline = read


@pytest.mark.parametrize(
    "error",
    [NoMoreData(), ChunkMissingTerminator(b"XX"), InvalidChunkSize(b"zz")],
    ids=["broken-off", "missing-terminator", "bad-size"],
)
def test_a_body_that_cannot_be_read_is_refused_not_an_error(client, shop, error):
    # given a delivery whose body stream fails while it is read
    body = b'{"id": 1}'
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": "orders/create",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": DOMAIN,
        "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body, SECRET),
    }

    # when it is received
    answer = client.post(
        "/webhooks/shopify/", data=body, content_type="application/json", **headers, **{"wsgi.input": BrokenBody(error)}
    )

    # then the sender is told it sent a bad request (it was a 500), and nothing is kept
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"status": "rejected", "detail": "the body could not be read"}
    assert not WebhookEvent.objects.exists()


def shopify_delivery(body: bytes, **extra: str) -> dict[str, str]:
    return {
        "HTTP_X_SHOPIFY_TOPIC": "orders/create",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": DOMAIN,
        "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body, SECRET),
        "HTTP_X_SHOPIFY_WEBHOOK_ID": hashlib.sha1(body).hexdigest(),
        **extra,
    }


def test_a_signed_body_whose_id_holds_a_nul_is_kept(client, shop):
    # given a signed body whose id is a string with a NUL (PostgreSQL text cannot hold one)
    body = b'{"id": "12\\u00003", "line_items": []}'

    # when it is received
    answer = client.post("/webhooks/shopify/", data=body, content_type="application/json", **shopify_delivery(body))

    # then it is kept like any signed delivery (it was a 500 and lost), its resource id without the NUL
    assert answer.status_code == 200, answer.content
    assert WebhookEvent.objects.get().resource_id == "123"


@pytest.mark.parametrize("triggered_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59"])
def test_a_delivery_time_outside_the_utc_calendar_is_not_recorded(client, shop, triggered_at):
    # given a signed delivery stamped with a moment that exists in its offset but not in UTC
    body = b'{"id": 7, "line_items": []}'
    headers = shopify_delivery(body, HTTP_X_SHOPIFY_TRIGGERED_AT=triggered_at)

    # when it is received
    answer = client.post("/webhooks/shopify/", data=body, content_type="application/json", **headers)

    # then it is kept without that time, and the row can be read back (it was stored as a year before 1, which
    # neither the worker nor the admin could load)
    assert answer.status_code == 200, answer.content
    event = WebhookEvent.objects.get()
    assert event.triggered_at is None


@FUZZ
@given(
    body=json_values,
    signature=woocommerce_signature_kinds,
    source=woocommerce_sources("https://fuzz-woo.example"),
    topic=woocommerce_topics,
)
def test_woocommerce_webhook_abuse_never_errors(client, body, signature, source, topic):
    from inventory_ai.services.stores import upsert_store

    upsert_store("woocommerce", "https://fuzz-woo.example", webhook_secret=SECRET)
    raw = json.dumps(body).encode()
    headers = {
        "HTTP_X_WC_WEBHOOK_SOURCE": as_sent(source),
        "HTTP_X_WC_WEBHOOK_TOPIC": as_sent(topic),
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": hashlib.sha1(raw).hexdigest(),
    }
    if (value := signature_header(signature, raw, SECRET)) is not None:
        headers["HTTP_X_WC_WEBHOOK_SIGNATURE"] = value
    before = WebhookEvent.objects.count()

    answer = client.post("/webhooks/woocommerce/", data=raw, content_type="application/json", **headers)

    assert answer.status_code < 500, answer.content[:300]
    if signature != "valid":
        assert answer.status_code in (200, 400, 401)  # 200 only for WooCommerce's unsigned ping on creation
        assert WebhookEvent.objects.count() == before


@pytest.fixture
def tokens(planner, viewer):
    return {
        "planner": issue_token(planner)[1],
        "viewer": issue_token(viewer)[1],
    }


@FUZZ
@given(
    who=api_users,
    method=api_methods,
    path=api_paths,
    object_id=api_object_ids,
    payload=json_values,
    query=api_queries,
)
def test_api_abuse_never_errors_and_only_planners_decide(client, tokens, who, method, path, object_id, payload, query):
    headers = {}
    if who in tokens:
        headers["HTTP_AUTHORIZATION"] = f"Token {tokens[who]}"
    elif who == "bad-token":
        headers["HTTP_AUTHORIZATION"] = "Token 0000"
    url = api_url(path, object_id)
    decisions_before = AuditEntry.objects.count()
    if method == "get":
        answer = client.get(url, query, **headers)
    else:
        answer = getattr(client, method)(url, data=json.dumps(payload), content_type="application/json", **headers)

    assert answer.status_code < 500, (url, answer.content[:300])
    if who in ("anonymous", "bad-token"):
        try:
            resolve(unquote(url.split("?")[0]))  # as the server sees the path
        except Resolver404:
            assert answer.status_code == 404  # no such address: nothing to authenticate against
        else:
            assert answer.status_code == 401
    if who != "planner":
        assert AuditEntry.objects.count() == decisions_before  # nobody but a planner decided or proposed anything
    assert not ReorderSuggestion.objects.exclude(status="pending").exclude(decided_by__username="pat.planner").exists()
    assert not StockAdjustment.objects.exclude(created_by__username="pat.planner").exists()


@pytest.mark.parametrize(
    ("path", "host", "expected"),
    [("/webhooks/shopify/x/", "localhost", 404), ("/api/v1/stores/", "evil.example", 400)],
    ids=["not-found", "disallowed-host"],
)
def test_a_broken_form_posted_to_an_error_page_is_not_a_server_error(db, path, host, expected):
    # given a client holding a well-formed CSRF cookie (any browser that has seen the admin has one)
    client = Client(enforce_csrf_checks=True, raise_request_exception=False, HTTP_HOST=host)
    client.cookies["csrftoken"] = "a1B2" * 8

    # when it posts a multipart body without a boundary to an address that answers with an error page
    answer = client.generic("POST", path, b"{}", content_type="multipart/form-data")

    # then the error page is answered, not a 500
    assert answer.status_code == expected


def test_error_pages_answer_browsers_with_a_page_and_clients_with_json(db):
    # given a browser and an API client asking for an address that does not exist
    client = Client(raise_request_exception=False)

    # when each asks
    page = client.get("/nowhere/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    data = client.get("/nowhere/", HTTP_ACCEPT="application/json")

    # then the browser gets a page and the client JSON, both 404
    assert (page.status_code, data.status_code) == (404, 404)
    assert page["Content-Type"].startswith("text/html")
    assert b"<h1>Not found</h1>" in page.content
    assert data.json() == {"status": "error", "detail": "not found"}
