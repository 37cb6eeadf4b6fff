"""Building signed deliveries the way each platform sends them, and processing stored events as a worker would."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path

from inventory_ai.models import WebhookEvent
from inventory_ai.tasks import process_webhook_event_task

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHOPIFY_DOMAIN = "test-gifts.myshopify.com"
WOO_SITE = "https://shop.example"


def fixture(platform: str, name: str) -> dict:
    return copy.deepcopy(json.loads((FIXTURES / platform / f"{name}.json").read_text()))


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def body_of(payload) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def post_shopify(client, topic, payload, *, secret="hush", shop=SHOPIFY_DOMAIN, webhook_id=None, **extra):
    body = body_of(payload)
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body, secret),
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": shop,
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_EVENT_ID": str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_TRIGGERED_AT": "2026-11-27T10:00:00Z",
        "HTTP_X_SHOPIFY_API_VERSION": "2026-10",
    }
    headers.update(extra)
    return client.post("/webhooks/shopify/", data=body, content_type="application/json", **headers)


def post_woocommerce(client, topic, payload, *, secret="woo-secret", site=WOO_SITE, delivery_id=None, **extra):
    body = body_of(payload)
    headers = {
        "HTTP_X_WC_WEBHOOK_SOURCE": site + "/",
        "HTTP_X_WC_WEBHOOK_TOPIC": topic,
        "HTTP_X_WC_WEBHOOK_RESOURCE": topic.split(".")[0],
        "HTTP_X_WC_WEBHOOK_EVENT": topic.split(".")[-1],
        "HTTP_X_WC_WEBHOOK_SIGNATURE": sign(body, secret),
        "HTTP_X_WC_WEBHOOK_ID": "17",
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery_id or uuid.uuid4().hex,
    }
    headers.update(extra)
    return client.post("/webhooks/woocommerce/", data=body, content_type="application/json", **headers)


def process_pending() -> list[str]:
    """One processing attempt for every received event, in arrival order, as the task makes it.

    Arguments go through JSON as they do through the broker. An attempt the task would retry is reported as
    "retry: <reason>" (the retry schedule itself is Celery's; the worker tests run it for real).
    """
    statuses = []
    for event_id in WebhookEvent.objects.filter(status="received").order_by("pk").values_list("pk", flat=True):
        (event_id,) = json.loads(json.dumps([event_id]))
        try:
            statuses.append(process_webhook_event_task.run.__wrapped__(event_id))
        except process_webhook_event_task.autoretry_for as exc:
            statuses.append(f"retry: {exc}")
    return statuses
