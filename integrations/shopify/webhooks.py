"""Shopify webhook deliveries: headers, deduplication key, and payload normalisation by topic."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from integrations.shopify import constants as c
from integrations.shopify.normalize import normalize_payload
from integrations.webhooks import Delivery, PayloadError, WebhookRejected, body_digest, header, parse_timestamp


class ShopifyProvider:
    platform = "shopify"
    handled_topics = c.HANDLED_TOPICS
    ignored_topics = c.IGNORED_TOPICS
    topic_header = c.HEADER_TOPIC

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # Shopify sends no test deliveries of its own

    def read_delivery(self, headers: Mapping[str, str]) -> Delivery:
        shop = header(headers, c.HEADER_SHOP_DOMAIN).lower()
        if not shop:
            raise WebhookRejected(401, f"missing {c.HEADER_SHOP_DOMAIN}")
        try:
            triggered_at = parse_timestamp(header(headers, c.HEADER_TRIGGERED_AT))
            if triggered_at is not None and triggered_at.tzinfo is not None:
                # Stored in UTC: a moment that exists in its own offset but not in UTC (0001-01-01T00:00+14:00)
                # would be written as a year the database can store but never read back.
                triggered_at.astimezone(UTC)
        except (PayloadError, OverflowError):
            triggered_at = None
        return Delivery(
            store_key=shop,
            topic=header(headers, c.HEADER_TOPIC),
            signature=header(headers, c.HEADER_HMAC),
            delivery_id=header(headers, c.HEADER_WEBHOOK_ID),
            event_id=header(headers, c.HEADER_EVENT_ID),
            triggered_at=triggered_at,
            api_version=header(headers, c.HEADER_API_VERSION),
            recorded_headers={name: header(headers, name) for name in c.RECORDED_HEADERS if header(headers, name)},
        )

    def dedup_key(self, delivery: Delivery, body: bytes, payload: Any) -> str:
        # Shopify's webhook id is the same on every retry of a delivery; without one, the body itself identifies it.
        if delivery.delivery_id:
            return f"shopify:{delivery.delivery_id}"[:128]
        return f"shopify-body:{delivery.topic}:{body_digest(body)}"[:128]

    def normalize(self, topic: str, payload: Any) -> list[Any]:
        return normalize_payload(topic, payload)
