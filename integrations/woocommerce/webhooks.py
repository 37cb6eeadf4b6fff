"""WooCommerce webhook deliveries: headers, the creation ping, deduplication, and payload normalisation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from integrations.webhooks import Delivery, WebhookRejected, body_digest, header
from integrations.woocommerce import constants as c
from integrations.woocommerce.normalize import normalize_payload

PING_BODY = re.compile(rb"^webhook_id=\d+$")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's test delivery when a webhook is created: `webhook_id=<id>`, form-encoded, unsigned."""
    return (
        not header(headers, c.HEADER_SOURCE)
        and not header(headers, c.HEADER_SIGNATURE)
        and bool(PING_BODY.match(body.strip()))
    )


class WooCommerceProvider:
    platform = "woocommerce"
    handled_topics = c.HANDLED_TOPICS
    ignored_topics = c.IGNORED_TOPICS
    topic_header = c.HEADER_TOPIC

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return is_ping(headers, body)

    def read_delivery(self, headers: Mapping[str, str]) -> Delivery:
        source = header(headers, c.HEADER_SOURCE)
        if not source:
            raise WebhookRejected(401, f"missing {c.HEADER_SOURCE}")
        return Delivery(
            store_key=source,
            topic=header(headers, c.HEADER_TOPIC),
            signature=header(headers, c.HEADER_SIGNATURE),
            delivery_id=header(headers, c.HEADER_DELIVERY_ID),
            event_id=header(headers, c.HEADER_WEBHOOK_ID),
            recorded_headers={name: header(headers, name) for name in c.RECORDED_HEADERS if header(headers, name)},
        )

    def dedup_key(self, delivery: Delivery, body: bytes, payload: Any) -> str:
        # The delivery id changes on every send, so a resend is recognised by what it says: the resource, its id,
        # its modification time and the exact body.
        resource = delivery.topic.split(".", 1)[0]
        resource_id = modified = ""
        if isinstance(payload, dict):
            resource_id = str(payload.get("id", ""))
            modified = str(payload.get("date_modified_gmt", ""))
        material = "|".join((resource, resource_id, modified, body_digest(body)))
        # A signed body may hold lone UTF-16 surrogates ("\\udb8c" is valid JSON): they still identify it.
        return "wc:" + hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()

    def normalize(self, topic: str, payload: Any) -> list[Any]:
        return normalize_payload(topic, payload)
