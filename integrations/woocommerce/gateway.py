"""The WooCommerce gateway: a site through the REST API v3 (`WooCommerceClient`), as `integrations.gateway` asks.

WooCommerce keeps one stock count per product or variation (no locations) and has no compare-and-set: a stock
write reads the count immediately before writing, applies the approved delta to that fresh value and leaves its
idempotency key in the product's meta data, so a retry that finds its own key there knows the change is already
applied. Up to 100 writes go in one batch request per parent product.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from integrations.errors import StoreAPIError, UnsupportedOperation
from integrations.gateway import (
    ALREADY_APPLIED,
    APPLIED,
    PHASE_CATALOGUE,
    PHASE_ORDERS,
    REJECTED,
    AccessCheck,
    InboundLine,
    InboundShipment,
    Page,
    StockChange,
    StockItem,
    StockWriteResult,
    WebhookSubscription,
)
from integrations.records import DiscountRecord, InventoryLevelRecord, RefundRecord
from integrations.webhooks import PayloadError
from integrations.woocommerce import constants
from integrations.woocommerce.client import BATCH_LIMIT, DEFAULT_TIMEOUT, WooCommerceClient
from integrations.woocommerce.constants import PUSH_MARKER_KEY
from integrations.woocommerce.normalize import normalize_payload
from integrations.woocommerce.webhooks import WooCommerceProvider

logger = logging.getLogger(__name__)


# The name of the webhooks the product makes on a site (the site lists the merchant's and other plugins' too).
WEBHOOK_NAME = "Inventory AI: "


class WooCommerceGateway:
    platform = "woocommerce"
    display_name = "WooCommerce"
    webhooks = WooCommerceProvider()
    credential_names = ("consumer_key", "consumer_secret")
    default_api_version = "wc/v3"
    supports_compare_and_set = False
    supports_transfers = False
    batch_size = BATCH_LIMIT
    # Stock levels come with the catalogue (a product's own count): no phase of their own, and no locations.
    sync_phases = (PHASE_CATALOGUE, PHASE_ORDERS)
    forecast_inputs_until = PHASE_ORDERS
    subscription_topics = tuple(sorted(constants.HANDLED_TOPICS))

    page_size = 100

    @staticmethod
    def normalize_address(value: str) -> str:
        """A site URL without a trailing slash: `https://Shop.Example/` -> `https://shop.example` (the scheme is
        kept: the site URL is how WooCommerce names itself in `X-WC-Webhook-Source`; a path is kept for sites
        installed below the root)."""
        value = value.strip()
        if not value:
            raise ValueError("A store domain or site URL is required")
        parts = urlsplit(value if "://" in value else f"https://{value}")
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"Not a site URL: {value!r}")
        netloc = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
        return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"

    @staticmethod
    def credentials_renewable(credentials: Mapping[str, str]) -> bool:
        return False  # REST keys do not expire; a new key takes the merchant's approval

    @staticmethod
    def credentials_expiring(credentials: Mapping[str, str]) -> bool:
        return False

    @staticmethod
    def renew_credentials(
        base_url: str, credentials: Mapping[str, str], app: Mapping[str, str], *, timeout: float
    ) -> dict[str, str]:
        raise UnsupportedOperation("WooCommerce REST keys do not expire: there is nothing to renew")

    @staticmethod
    def api_base_url(address: str) -> str:
        return address

    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, str],
        *,
        api_version: str = "wc/v3",
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        on_unauthorized: Callable[[], str | None] | None = None,
    ) -> None:
        # The REST API is always v3 (`REST_PREFIX`); `api_version` and `on_unauthorized` (REST keys do not expire)
        # are accepted for the shared signature.
        self.client = WooCommerceClient(
            base_url,
            credentials.get("consumer_key", ""),
            credentials.get("consumer_secret", ""),
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> WooCommerceGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading --------------------------------------------------------------------------------------------------

    def read_locations(self, position: Any = None) -> Page:
        """WooCommerce has no locations: its stock is kept at the store's one implicit location."""
        return Page([], None)

    def read_catalogue(self, position: Any = None) -> Page:
        """Products by id, each variable product followed by its variations; their stock levels included."""
        client = self.client
        page = int(position or 1)
        products, total_pages = client.page("products", page, self.page_size, orderby="id", order="asc")
        records: list[Any] = []
        for product in products:
            records.extend(_normalized("product.updated", product))
            if product.get("type") == "variable":
                variation_page, variation_pages = 1, 1
                while variation_page <= variation_pages:
                    variations, variation_pages = client.page(
                        f"products/{product.get('id')}/variations", variation_page, self.page_size
                    )
                    for variation in variations:
                        records.extend(_normalized("product.updated", {**variation, "parent_id": product.get("id")}))
                    variation_page += 1
        return Page(records, (page + 1 if page < total_pages else None))

    def read_orders(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        """Orders by id (`modified_after` a time, if given). Their refunds come as `RefundsToFetch`: an order
        names its refunds without their lines, which `read_refunds` reads."""
        page = int(position or 1)
        params: dict[str, Any] = {"orderby": "id", "order": "asc"}
        if updated_since is not None:
            params["modified_after"] = updated_since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        orders, total_pages = self.client.page("orders", page, self.page_size, **params)
        records: list[Any] = []
        for order in orders:
            records.extend(_normalized("order.updated", order))
        return Page(records, (page + 1 if page < total_pages else None))

    def read_refunds(self, order_id: str) -> list[RefundRecord]:
        return self.client.order_refunds(order_id)

    def read_stock_levels(self, position: Any, location_ids: Sequence[str]) -> Page:
        """The stock counts of the catalogue's pages (WooCommerce keeps them on the products themselves)."""
        records, next_position = self.read_catalogue(position)
        return Page([record for record in records if isinstance(record, InventoryLevelRecord)], next_position)

    def read_order_refunds(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        raise UnsupportedOperation("WooCommerce orders are read with their refunds")

    def read_discounts(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        raise UnsupportedOperation(_NO_DISCOUNTS)

    def read_discount(self, discount_id: str) -> DiscountRecord | None:
        raise UnsupportedOperation(_NO_DISCOUNTS)

    def read_available(self, item: StockItem) -> int | None:
        found = self.client.get_item(item.variant_id, _parent(item))
        if not found.get("manage_stock") or found.get("stock_quantity") is None:
            return None
        return int(found["stock_quantity"])

    # --- writing stock --------------------------------------------------------------------------------------------

    def write_stock(self, change: StockChange) -> StockWriteResult:
        item = change.item
        parent = _parent(item)
        client = self.client
        found = client.get_item(item.variant_id, parent)
        fresh = found.get("stock_quantity")
        if _markers(found).get(PUSH_MARKER_KEY) == change.idempotency_key:
            # Our earlier attempt wrote it (its answer was lost): the stock already includes the change.
            return StockWriteResult(ALREADY_APPLIED, after=fresh, response={"stock_quantity": fresh})
        fresh = int(fresh or 0) if found.get("manage_stock") else 0
        target = max(fresh + change.delta, 0)
        request = {
            "path": client.item_path(item.variant_id, parent),
            "manage_stock": True,
            "stock_quantity": target,
            "meta_data": [{"key": PUSH_MARKER_KEY, "value": change.idempotency_key}],
        }
        answer = client.update_item(item.variant_id, {k: v for k, v in request.items() if k != "path"}, parent)
        return StockWriteResult(
            APPLIED,
            before=fresh,
            after=answer.get("stock_quantity", target),
            request=request,
            response={"stock_quantity": answer.get("stock_quantity")},
        )

    def write_stock_batch(self, changes: Sequence[StockChange]) -> dict[int, StockWriteResult | StoreAPIError]:
        """Per parent product (variations are written through their parent), one fresh read of the group's stock
        (`include=`) and one batch update. A failed request fails its whole group; an update the batch answer left
        out is not known to have applied (retried with the same marker)."""
        if len(changes) > self.batch_size:
            raise ValueError(f"a batch takes at most {self.batch_size} changes")
        groups: dict[str | None, list[StockChange]] = {}
        for change in changes:
            groups.setdefault(_parent(change.item), []).append(change)
        results: dict[int, StockWriteResult | StoreAPIError] = {}
        for parent, members in groups.items():
            try:
                written = self._write_group(parent, members)
            except StoreAPIError as exc:
                results.update((change.key, exc) for change in members)
                continue
            for change in members:
                results[change.key] = written.get(change.key) or StoreAPIError(
                    "the batch answer did not mention it", transient=True
                )
        return results

    def _write_group(self, parent: str | None, members: list[StockChange]) -> dict[int, StockWriteResult]:
        client = self.client
        path = f"products/{parent}/variations" if parent else "products"
        ids = ",".join(change.item.variant_id for change in members)
        items, _ = client.page(path, 1, BATCH_LIMIT, include=ids)
        fresh = {str(item.get("id")): item for item in items}
        results: dict[int, StockWriteResult] = {}
        updates, by_item = [], {}
        for change in members:
            item = fresh.get(change.item.variant_id)
            if item is None:
                results[change.key] = StockWriteResult(REJECTED, error="the store has no such product")
                continue
            if _markers(item).get(PUSH_MARKER_KEY) == change.idempotency_key:
                quantity = item.get("stock_quantity")
                results[change.key] = StockWriteResult(ALREADY_APPLIED, after=quantity)
                continue
            before = int(item.get("stock_quantity") or 0) if item.get("manage_stock") else 0
            target = max(before + change.delta, 0)
            update = {
                "id": int(change.item.variant_id),
                "manage_stock": True,
                "stock_quantity": target,
                "meta_data": [{"key": PUSH_MARKER_KEY, "value": change.idempotency_key}],
            }
            updates.append(update)
            by_item[str(update["id"])] = (change, before, update)
        if updates:
            for answer in client.batch_update(updates, parent):
                change, before, update = by_item[str(answer.get("id"))]
                if "error" in answer:
                    error = answer["error"]
                    results[change.key] = StockWriteResult(
                        REJECTED, before=before, request=update, error=str(error.get("message", error))
                    )
                else:
                    results[change.key] = StockWriteResult(
                        APPLIED,
                        before=before,
                        after=answer.get("stock_quantity"),
                        request={"batch": path + "/batch", **update},
                        response={"stock_quantity": answer.get("stock_quantity")},
                    )
        return results

    # --- webhook subscriptions ------------------------------------------------------------------------------------

    def list_webhook_subscriptions(self) -> list[WebhookSubscription]:
        subscriptions, page, pages = [], 1, 1
        while page <= pages:
            hooks, pages = self.client.page("webhooks", page, self.page_size)
            subscriptions.extend(_subscription(hook) for hook in hooks)
            page += 1
        return subscriptions

    def create_webhook_subscription(self, topic: str, address: str, secret: str = "") -> WebhookSubscription:
        body = {"name": f"{WEBHOOK_NAME}{topic}", "topic": topic, "delivery_url": address, "status": "active"}
        if secret:
            body["secret"] = secret
        return _subscription(self.client.request("POST", "webhooks", body=body))

    def update_webhook_subscription(self, subscription_id: str, address: str) -> WebhookSubscription:
        return _subscription(self.client.request("PUT", f"webhooks/{subscription_id}", body={"delivery_url": address}))

    def delete_webhook_subscription(self, subscription_id: str) -> None:
        # Without `force`, WooCommerce refuses: webhooks cannot be trashed.
        self.client.request("DELETE", f"webhooks/{subscription_id}", params={"force": "true"})

    def enable_webhook_subscription(self, subscription_id: str) -> None:
        # WooCommerce disables a webhook after 5 failed deliveries in a row; active again, it counts from zero.
        self.client.request("PUT", f"webhooks/{subscription_id}", body={"status": "active"})

    # --- inbound transfers ---------------------------------------------------------------------------------------

    def uses_transfers(self) -> bool:
        return False  # WooCommerce keeps one stock count per product: deliveries are plain additions

    def create_inbound_transfer(
        self, reference: str, location_id: str, lines: Sequence[InboundLine], idempotency_key: str
    ) -> InboundShipment:
        raise UnsupportedOperation(_NO_TRANSFERS)

    def cancel_inbound(self, shipment_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str) -> None:
        raise UnsupportedOperation(_NO_TRANSFERS)

    # --- the access token -----------------------------------------------------------------------------------------

    def check_access(self) -> AccessCheck:
        # REST keys do not say what they may do: reading one product is the cheapest call that needs them.
        self.client.page("products", 1, 1)
        return AccessCheck(None)

    def revoke_access(self) -> None:
        raise UnsupportedOperation(
            "WooCommerce's REST API cannot revoke its own keys: delete them under WooCommerce > Settings > "
            "Advanced > REST API"
        )


# WooCommerce's sales are the products' own scheduled sale prices (read with the catalogue); its coupons carry no
# start date and no product scope worth a promotion.
_NO_DISCOUNTS = "WooCommerce keeps its sales on the products (date_on_sale_from/to), read with the catalogue"


_NO_TRANSFERS = "WooCommerce has no inventory transfers: a delivery is received as an addition to the stock"


def _parent(item: StockItem) -> str | None:
    """A variation is written through its parent product; a simple product is its own variant."""
    return item.product_id if item.product_id != item.variant_id else None


def _markers(item: dict[str, Any]) -> dict[str, str]:
    return {str(m.get("key")): str(m.get("value")) for m in item.get("meta_data") or [] if isinstance(m, dict)}


def _normalized(topic: str, payload: Any) -> list[Any]:
    try:
        return normalize_payload(topic, payload)
    except PayloadError as exc:
        logger.warning("skipping a record the store API answered: %s", exc)
        return []


def _subscription(hook: Any) -> WebhookSubscription:
    if not isinstance(hook, dict) or hook.get("id") in (None, ""):
        raise StoreAPIError("a webhook in the store's answer has no id", transient=False)
    return WebhookSubscription(
        subscription_id=str(hook["id"]),
        topic=str(hook.get("topic") or ""),
        address=str(hook.get("delivery_url") or ""),
        active=hook.get("status") == "active",
        ours=str(hook.get("name") or "").startswith(WEBHOOK_NAME),
    )
