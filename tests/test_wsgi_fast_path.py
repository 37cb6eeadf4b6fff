"""The WSGI fast path for webhook POSTs answers exactly like the Django views."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from inventory_ai.models import WebhookEvent
from inventory_ai.wsgi import application
from tests.webhook_helpers import SHOPIFY_DOMAIN, sign


def call(path, body=b"", method="POST", **headers):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body))}
    environ["wsgi.input"] = io.BytesIO(body)
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, response_headers):
        captured["status"], captured["headers"] = status, dict(response_headers)

    # As Django's test client does: keep the test's database connection open across the request signals.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        content = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return int(captured["status"].split()[0]), captured["headers"], content


def shopify_headers(body, secret="hush", **extra):
    return {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": SHOPIFY_DOMAIN,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Webhook-Id": "fast-1",
        "X-Shopify-API-Version": "2026-10",
        **extra,
    }


@pytest.mark.django_db
def test_signed_delivery_is_stored(shop):
    body = json.dumps({"id": 5, "created_at": "2026-11-27T10:00:00Z", "line_items": []}).encode()
    status, headers, content = call("/webhooks/shopify/", body, **shopify_headers(body))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(content) == {"status": "accepted"}
    event = WebhookEvent.objects.get()
    assert (event.topic, event.delivery_id, event.api_version) == ("orders/create", "fast-1", "2026-10")
    assert event.headers["X-Shopify-Shop-Domain"] == SHOPIFY_DOMAIN
    # the same delivery again is a duplicate
    status, _, content = call("/webhooks/shopify/", body, **shopify_headers(body))
    assert (status, json.loads(content)) == (200, {"status": "duplicate"})


@pytest.mark.django_db
def test_refusals(shop):
    body = b'{"id": 5}'
    assert call("/webhooks/shopify/", body, **shopify_headers(body, secret="wrong"))[0] == 401
    assert call("/webhooks/shopify/", b"x" * (5 * 1024 * 1024 + 1), **shopify_headers(b""))[0] == 413
    assert (
        call("/webhooks/woocommerce/", b"webhook_id=3", **{"Content-Type": "application/x-www-form-urlencoded"})[0]
        == 200
    )
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_other_requests_go_to_django(shop):
    status, _, _ = call("/webhooks/shopify/", method="GET")
    assert status == 405
    status, _, content = call("/healthz/live", method="GET")
    assert (status, json.loads(content)) == (200, {"status": "ok"})
