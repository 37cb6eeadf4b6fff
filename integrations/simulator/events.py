"""Records -> webhook deliveries, the way each platform announces the same history.

Shopify: the first snapshot of an order is `orders/create`; a later snapshot is `orders/updated` with the full order;
a refund is `refunds/create` (the Refund resource) followed by `orders/updated` (lines' `current_quantity` reduced).
WooCommerce: `order.created`, then `order.updated` for any change, refunds included; its order payload lists refunds
by id and total only (the refunded lines come from the REST API, see `api_server`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from integrations.records import OrderRecord, RefundRecord
from integrations.simulator import shopify_payloads, woocommerce_payloads
from integrations.simulator.payloads import encode
from integrations.simulator.signing import sign_shopify, sign_woocommerce
from integrations.simulator.state import Record, StoreState

SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"
PLATFORMS = (SHOPIFY, WOOCOMMERCE)
SHOPIFY_API_VERSION = "2026-10"
DEFAULT_SHOP_DOMAIN = "demo.myshopify.com"
# A webhook subscription has one id per topic in WooCommerce; these stand for the store's two subscriptions.
WOOCOMMERCE_WEBHOOK_IDS = {"order.created": "1", "order.updated": "2"}
WOOCOMMERCE_DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"


@dataclass(frozen=True, slots=True)
class Event:
    """One webhook event: the body and signed headers stay the same on every send of it (retries, duplicates).

    `per_send_header`, when set, names a header that gets a fresh value on each send (WooCommerce's delivery id).
    """

    platform: str
    topic: str
    order_id: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    per_send_header: str = ""

    def headers_for_send(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        if self.per_send_header:
            headers.append((self.per_send_header, uuid.uuid4().hex))
        return headers

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), "")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventBuilder:
    """Turns records into events for one platform, applying each record to `state` (the simulated store)."""

    def __init__(
        self,
        platform: str,
        secret: str,
        *,
        state: StoreState | None = None,
        shop_domain: str = DEFAULT_SHOP_DOMAIN,
        site_url: str = "https://shop.example",
    ) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r} (expected one of {', '.join(PLATFORMS)})")
        self.platform = platform
        self.secret = secret
        self.state = state if state is not None else StoreState()
        self.shop_domain = shop_domain
        self.site_url = site_url
        self.refunds_without_order = 0

    def events_for(self, record: Record) -> list[Event]:
        if isinstance(record, OrderRecord):
            order, created = self.state.apply_order(record)
            if self.platform == SHOPIFY:
                topic = "orders/create" if created else "orders/updated"
                return [self._shopify(topic, order.order_id, shopify_payloads.shopify_order_json(order))]
            body = woocommerce_payloads.woo_order_json(order, self.state.tz)
            return [self._woocommerce("order.created" if created else "order.updated", order.order_id, body)]
        if isinstance(record, RefundRecord):
            order = self.state.apply_refund(record)
            if order is None:
                self.refunds_without_order += 1
                return []
            if self.platform == SHOPIFY:
                refund = encode(shopify_payloads.shopify_refund(order, record))
                return [
                    self._shopify("refunds/create", order.order_id, refund),
                    self._shopify("orders/updated", order.order_id, shopify_payloads.shopify_order_json(order)),
                ]
            body = woocommerce_payloads.woo_order_json(order, self.state.tz)
            return [self._woocommerce("order.updated", order.order_id, body)]
        return []

    def _shopify(self, topic: str, order_id: str, body: bytes) -> Event:
        headers = (
            ("Content-Type", "application/json"),
            ("User-Agent", "Shopify-Captain-Hook"),
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Hmac-Sha256", sign_shopify(body, self.secret)),
            ("X-Shopify-Shop-Domain", self.shop_domain),
            ("X-Shopify-API-Version", SHOPIFY_API_VERSION),
            ("X-Shopify-Webhook-Id", str(uuid.uuid4())),
            ("X-Shopify-Event-Id", str(uuid.uuid4())),
            ("X-Shopify-Triggered-At", _now()),
        )
        return Event(SHOPIFY, topic, order_id, body, headers)

    def _woocommerce(self, topic: str, order_id: str, body: bytes) -> Event:
        resource, _, action = topic.partition(".")
        headers = (
            ("Content-Type", "application/json"),
            ("User-Agent", "WooCommerce/9.0.0 Hookshot (WordPress/6.5)"),
            ("X-WC-Webhook-Source", self.site_url.rstrip("/") + "/"),
            ("X-WC-Webhook-Topic", topic),
            ("X-WC-Webhook-Resource", resource),
            ("X-WC-Webhook-Event", action),
            ("X-WC-Webhook-Signature", sign_woocommerce(body, self.secret)),
            ("X-WC-Webhook-ID", WOOCOMMERCE_WEBHOOK_IDS[topic]),
        )
        return Event(WOOCOMMERCE, topic, order_id, body, headers, per_send_header=WOOCOMMERCE_DELIVERY_HEADER)


def iter_events(
    platform: str,
    records: Iterable[Record],
    *,
    secret: str,
    state: StoreState | None = None,
    shop_domain: str = DEFAULT_SHOP_DOMAIN,
    site_url: str = "https://shop.example",
) -> Iterator[Event]:
    """Events for `records`, built lazily in file order (the store's state advances as they are built)."""
    builder = EventBuilder(platform, secret, state=state, shop_domain=shop_domain, site_url=site_url)
    for record in records:
        yield from builder.events_for(record)


def build_events(
    platform: str,
    records: Iterable[Record],
    *,
    secret: str,
    state: StoreState | None = None,
    shop_domain: str = DEFAULT_SHOP_DOMAIN,
    site_url: str = "https://shop.example",
) -> list[Event]:
    """All events for `records` at once (see `iter_events` to build them while sending)."""
    return list(iter_events(platform, records, secret=secret, state=state, shop_domain=shop_domain, site_url=site_url))
