"""The Shopify gateway: a shop through the GraphQL Admin API (`ShopifyClient`), as `integrations.gateway` asks.

Stock writes are compare-and-set (`changeFromQuantity`) and idempotent (`@idempotent(key: ...)`), one change per
request: a mutation carries one idempotency key, so changes batched together would be retried together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from integrations.errors import StillRunning, StoreAPIError, UnsupportedOperation
from integrations.gateway import (
    APPLIED,
    PHASE_CATALOGUE,
    PHASE_DISCOUNTS,
    PHASE_LOCATIONS,
    PHASE_ORDERS,
    PHASE_REFUNDS,
    PHASE_STOCK_LEVELS,
    REJECTED,
    RENEW_BEFORE,
    STALE,
    AccessCheck,
    InboundLine,
    InboundShipment,
    Page,
    StockChange,
    StockItem,
    StockWriteResult,
    WebhookSubscription,
)
from integrations.records import DiscountRecord, RefundRecord
from integrations.shopify import constants, discounts, graphql, oauth, transfers
from integrations.shopify.client import DEFAULT_TIMEOUT, InventoryWrite, ShopifyClient, ShopifyThrottled
from integrations.shopify.webhooks import ShopifyProvider

# GraphQL names topics as enum values (ORDERS_CREATE); deliveries as paths (orders/create).
_TOPICS_BY_ENUM = {
    topic.upper().replace("/", "_"): topic for topic in constants.HANDLED_TOPICS | constants.IGNORED_TOPICS
}


# A bulk result's URL that no longer answers (it expires seven days after the operation completed).
EXPIRED_RESULT = (403, 404, 410)


def topic_enum(topic: str) -> str:
    return topic.upper().replace("/", "_")


class ShopifyGateway:
    platform = "shopify"
    display_name = "Shopify"
    webhooks = ShopifyProvider()
    credential_names = ("access_token",)
    default_api_version = constants.API_VERSION
    supports_compare_and_set = True
    supports_transfers = True
    batch_size = 1
    # The catalogue is re-read on every reconciliation too (a bulk operation): a missed products/update webhook would
    # otherwise leave a variant without its inventory item, and its stock unread. Discounts come after the catalogue:
    # they name its products. Refunds come last: their lines cost API points per order (a bulk query cannot hold
    # them), and the forecasts do not wait for them, since each order line carries its quantity net of refunds.
    sync_phases = (PHASE_LOCATIONS, PHASE_CATALOGUE, PHASE_DISCOUNTS, PHASE_ORDERS, PHASE_STOCK_LEVELS, PHASE_REFUNDS)
    forecast_inputs_until = PHASE_STOCK_LEVELS
    # Every topic the product reads but the privacy ones, which an app declares in its configuration, not the API.
    subscription_topics = tuple(sorted(constants.HANDLED_TOPICS - constants.COMPLIANCE_TOPICS))

    location_page_size = 250
    bulk_products_per_page = 1000
    bulk_orders_per_page = 250
    bulk_items_per_page = 1000
    # Within one page, a throttled request waits this often, this long at most, before the page fails for a retry.
    throttle_waits = 30
    throttle_wait_seconds = 10.0
    bulk_poll_seconds = 2.0
    subscription_page_size = 100

    @staticmethod
    def normalize_address(value: str) -> str:
        """A shop domain: `Example.myshopify.com`, `https://example.myshopify.com/` -> `example.myshopify.com`."""
        value = value.strip()
        if not value:
            raise ValueError("A store domain or site URL is required")
        host = urlsplit(value if "://" in value else f"https://{value}").hostname or ""
        if not host or "." not in host:
            raise ValueError(f"Not a shop domain: {value!r}")
        return host.lower()

    @staticmethod
    def api_base_url(address: str) -> str:
        return f"https://{address}"

    @staticmethod
    def credentials_renewable(credentials: Mapping[str, str]) -> bool:
        """An expiring offline token with its refresh token, or a client credentials token (the store's own app: its
        `client_id` and `client_secret` are in the credentials); a legacy token is not."""
        return bool(
            credentials.get("refresh_token") or (credentials.get("client_id") and credentials.get("client_secret"))
        )

    @staticmethod
    def credentials_expiring(credentials: Mapping[str, str]) -> bool:
        """Renewable credentials within RENEW_BEFORE of their expiry; a legacy token never expires."""
        expires = credentials.get("expires_at")
        return (
            bool(expires)
            and ShopifyGateway.credentials_renewable(credentials)
            and datetime.fromisoformat(expires) - RENEW_BEFORE <= datetime.now(UTC)
        )

    @staticmethod
    def renew_credentials(
        base_url: str, credentials: Mapping[str, str], app: Mapping[str, str], *, timeout: float
    ) -> dict[str, str]:
        if credentials.get("refresh_token"):
            grant = oauth.refresh(
                base_url, app.get("client_id", ""), app.get("client_secret", ""), credentials["refresh_token"],
                timeout=timeout,
            )  # fmt: skip
        else:
            grant = oauth.client_credentials(
                base_url, credentials.get("client_id", ""), credentials.get("client_secret", ""), timeout=timeout
            )
        return {**credentials, **grant.credentials()}

    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, str],
        *,
        api_version: str = constants.API_VERSION,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        on_unauthorized: Callable[[], str | None] | None = None,
    ) -> None:
        self.client = ShopifyClient(
            base_url, credentials.get("access_token", ""), api_version, timeout=timeout, transport=transport,
            on_unauthorized=on_unauthorized,
        )  # fmt: skip

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ShopifyGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading --------------------------------------------------------------------------------------------------

    def read_locations(self, position: Any = None) -> Page:
        return Page(*self.client.locations_page(position, first=self.location_page_size))

    def read_catalogue(self, position: Any = None) -> Page:
        """The catalogue through a bulk operation, a thousand products (with their variants) per page."""
        lines, following = self._bulk(position, graphql.BULK_PRODUCTS, self.bulk_products_per_page)
        return Page(graphql.products_from_jsonl(lines), following)

    def read_orders(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        """Orders with their lines through a bulk operation (every one, or those updated since a time), 250 per
        page; their refunds are read in the refunds phase."""
        lines, following = self._bulk(position, graphql.bulk_orders(updated_since), self.bulk_orders_per_page)
        return Page([graphql.order_record(node) for node in graphql.orders_from_jsonl(lines)], following)

    def read_order_refunds(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        """The refunds with their lines of the orders that have some: a bulk operation lists every order (or those
        updated since a time) with its refunds' ids, then the refunded ones of each page of 250 are read, four per
        request."""
        document = graphql.bulk_order_refunds(updated_since)
        lines, following = self._bulk(position, document, self.bulk_orders_per_page)
        refunded = [str(line["id"]) for line in lines if line.get("refunds")]
        refunds = self._refunds(refunded)
        records: list[Any] = []
        for order_gid in refunded:
            records.extend(graphql.refund_records(refunds.get(order_gid, []), graphql.numeric_id(order_gid)))
        return Page(records, following)

    def _bulk(self, position: Any, document: str, per_page: int) -> tuple[list[dict[str, Any]], Any]:
        """One step of a bulk read, and the position of the next: start the operation (its id is the position), poll
        until it completes, then read its JSONL `per_page` top-level objects at a time from a byte offset (a resumed
        run reads on from the saved offset). A result that has expired meanwhile is read again from a new operation;
        a position of a paged read, from before orders were read in bulk, starts one too."""
        client = self.client
        if not isinstance(position, dict) or "bulk" not in position:
            return [], {"bulk": client.start_bulk_query(document)}
        if "url" not in position:
            operation = client.bulk_operation(position["bulk"])
            if operation.get("status") in ("CREATED", "RUNNING"):
                raise StillRunning(
                    f"bulk operation {position['bulk']} is {operation.get('status')}", self.bulk_poll_seconds
                )
            if operation.get("status") != "COMPLETED" or not operation.get("url"):
                raise StoreAPIError(
                    f"bulk operation {position['bulk']} ended {operation.get('status')}: {operation.get('errorCode')}",
                    transient=False,
                )
            return [], {"bulk": position["bulk"], "url": operation["url"], "offset": 0}
        try:
            lines, offset = client.bulk_page(position["url"], int(position.get("offset") or 0), per_page)
        except StoreAPIError as exc:
            if exc.status not in EXPIRED_RESULT:
                raise
            return [], {"bulk": client.start_bulk_query(document)}
        return lines, ({**position, "offset": offset} if offset is not None else None)

    def _refunds(self, order_gids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The refunds of these orders with their lines, by order id, a few orders per request. An empty cost
        bucket is waited for here (the wait is short): failing the page would read its first requests again."""
        refunds: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(order_gids), graphql.REFUNDS_PER_REQUEST):
            chunk = order_gids[start : start + graphql.REFUNDS_PER_REQUEST]
            for attempt in range(self.throttle_waits + 1):
                try:
                    answer = self.client.graphql(graphql.ORDERS_REFUNDS, {"ids": chunk})
                    break
                except ShopifyThrottled as exc:
                    if attempt == self.throttle_waits or exc.retry_after > self.throttle_wait_seconds:
                        raise
                    time.sleep(exc.retry_after)
            for node in answer.get("nodes") or []:
                if node and node.get("id"):
                    refunds[str(node["id"])] = node.get("refunds") or []
        return refunds

    def read_refunds(self, order_id: str) -> list[RefundRecord]:
        data = self.client.graphql(graphql.ORDER_REFUNDS, {"id": f"gid://shopify/Order/{order_id}"})
        order = data.get("order")
        if order is None:
            raise StoreAPIError(f"order {order_id} is unknown to the store", transient=False, status=404)
        return graphql.refund_records(order.get("refunds") or [], str(order_id))

    def read_discounts(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        """A page of discounts sorted by id, each with all of its items (longer item lists and collections are read
        on before the page is returned, so the position stays a plain cursor)."""
        data = self.client.graphql(
            discounts.DISCOUNTS,
            {
                "first": discounts.DISCOUNTS_PER_PAGE,
                "cursor": position,
                "query": discounts.updated_since_query(updated_since),
                "itemsFirst": discounts.ITEMS_PER_PAGE,
            },
        )
        connection = data.get("discountNodes") or {}
        records = [self._discount(node) for node in connection.get("nodes") or []]
        info = connection.get("pageInfo") or {}
        return Page([record for record in records if record is not None], _next(info))

    def read_discount(self, discount_id: str) -> DiscountRecord | None:
        node = self.client.graphql(
            discounts.DISCOUNT, {"id": _discount_gid(discount_id), "itemsFirst": discounts.ITEMS_PER_PAGE}
        ).get("discountNode")
        return self._discount(node) if node else None

    def _discount(self, node: dict[str, Any]) -> DiscountRecord | None:
        parsed = discounts.parse_discount(node)
        if parsed is None:
            return None
        items = parsed.items
        while items.pending:
            side, cursors = next(iter(items.pending.items()))
            answer = self.client.graphql(
                discounts.side_items_query(side),
                {"id": node["id"], "itemsFirst": discounts.ITEMS_PER_PAGE, **cursors},
            )
            discount = (answer.get("discountNode") or {}).get("discount") or {}
            before = dict(items.pending)
            items.add(side, (discount.get(side) or {}).get("items"))
            if items.pending == before:
                raise StoreAPIError(f"discount {parsed.discount_id}: its {side} items did not page on", transient=True)
        products: set[str] = set()
        for collection_id in sorted(items.collection_ids):
            products |= self._collection_products(collection_id)
        return parsed.record(products)

    def _collection_products(self, collection_id: str) -> set[str]:
        products: set[str] = set()
        cursor = None
        while True:
            answer = self.client.graphql(
                discounts.COLLECTION_PRODUCTS,
                {
                    "id": f"gid://shopify/Collection/{collection_id}",
                    "first": discounts.COLLECTION_PRODUCTS_PER_PAGE,
                    "cursor": cursor,
                },
            )
            connection = (answer.get("collection") or {}).get("products") or {}
            products.update(graphql.numeric_id(node.get("id")) for node in connection.get("nodes") or [])
            cursor = _next(connection.get("pageInfo") or {})
            if cursor is None:
                return products

    def read_stock_levels(self, position: Any, location_ids: Sequence[str]) -> Page:
        """Every item's level at these locations through a bulk operation (`graphql.BULK_STOCK_LEVELS`), a thousand
        items (with their levels) per page."""
        if not location_ids:
            return Page([], None)
        lines, following = self._bulk(position, graphql.BULK_STOCK_LEVELS, self.bulk_items_per_page)
        return Page(graphql.levels_from_jsonl(lines, {str(location) for location in location_ids}), following)

    def read_available(self, item: StockItem) -> int | None:
        return self.client.read_available(item.inventory_item_id, item.location_id)

    # --- writing stock --------------------------------------------------------------------------------------------

    def write_stock(self, change: StockChange) -> StockWriteResult:
        """Received stock through `inventoryAdjustQuantities` (a delta), a correction through
        `inventorySetQuantities`; both only if the shop still holds `expected`. A stale quantity is read again."""
        item = change.item
        if not item.inventory_item_id:
            return StockWriteResult(REJECTED, error="the variant has no Shopify inventory item id yet")
        common = {
            "inventory_item_id": item.inventory_item_id,
            "location_id": item.location_id,
            "change_from": change.expected,
            "idempotency_key": change.idempotency_key,
            "reason": "received" if change.received else "correction",
            "reference": change.reference,
        }
        client = self.client
        if change.received and change.shipment_line_id:
            return self._receive_on_shipment(change)
        if change.received:
            request = {"mutation": "inventoryAdjustQuantities", "delta": change.delta, **common}
            write: InventoryWrite = client.adjust_available(delta=change.delta, **common)
        else:
            request = {"mutation": "inventorySetQuantities", "quantity": change.quantity, **common}
            write = client.set_available(quantity=change.quantity, **common)
        if write.applied:
            return StockWriteResult(
                APPLIED, before=change.expected, after=write.quantity_after, request=request, response=write.response
            )
        if write.stale:
            current = client.read_available(item.inventory_item_id, item.location_id)
            return StockWriteResult(STALE, before=current, request=request, response=write.response)
        messages = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in write.user_errors)
        return StockWriteResult(REJECTED, request=request, response=write.response, error=messages)

    def _receive_on_shipment(self, change: StockChange) -> StockWriteResult:
        """Received stock accepted on its line of an inbound transfer's shipment: Shopify moves it from incoming to
        available. No compare-and-set (it adds, whatever the shop sold meanwhile); the idempotency key keeps a
        repeated attempt from receiving twice. The quantity after is read back."""
        item = change.item
        request = {
            "mutation": "inventoryShipmentReceive",
            "shipment_id": change.shipment_id,
            "shipment_line_id": change.shipment_line_id,
            "quantity": change.delta,
            "idempotency_key": change.idempotency_key,
        }
        payload = transfers.receive(
            self.client, change.shipment_id, change.shipment_line_id, change.delta, change.idempotency_key
        )
        errors = payload.get("userErrors") or []
        if errors:
            messages = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
            return StockWriteResult(REJECTED, request=request, response=payload, error=messages)
        after = self.client.read_available(item.inventory_item_id, item.location_id)
        return StockWriteResult(APPLIED, after=after, request=request, response=payload)

    def write_stock_batch(self, changes: Sequence[StockChange]) -> dict[int, StockWriteResult | StoreAPIError]:
        results: dict[int, StockWriteResult | StoreAPIError] = {}
        for change in changes:
            try:
                results[change.key] = self.write_stock(change)
            except StoreAPIError as exc:
                results[change.key] = exc
        return results

    # --- inbound transfers ---------------------------------------------------------------------------------------

    def uses_transfers(self) -> bool:
        return transfers.uses_transfers(self.client)

    def create_inbound_transfer(
        self, reference: str, location_id: str, lines: Sequence[InboundLine], idempotency_key: str
    ) -> InboundShipment:
        return transfers.create_inbound(self.client, reference, location_id, lines, idempotency_key)

    def cancel_inbound(self, shipment_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str) -> None:
        transfers.cancel(self.client, shipment_id, lines, idempotency_key)

    # --- webhook subscriptions ------------------------------------------------------------------------------------

    def list_webhook_subscriptions(self) -> list[WebhookSubscription]:
        subscriptions, cursor = [], None
        while True:
            data = self.client.graphql(
                graphql.WEBHOOK_SUBSCRIPTIONS, {"first": self.subscription_page_size, "cursor": cursor}
            )
            connection = data.get("webhookSubscriptions") or {}
            subscriptions.extend(_subscription(node) for node in connection.get("nodes") or [])
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return subscriptions
            cursor = info.get("endCursor")

    def create_webhook_subscription(self, topic: str, address: str, secret: str = "") -> WebhookSubscription:
        data = self.client.graphql(
            graphql.WEBHOOK_SUBSCRIPTION_CREATE, {"topic": topic_enum(topic), "webhookSubscription": {"uri": address}}
        )
        payload = data.get("webhookSubscriptionCreate") or {}
        _raise_user_errors("webhookSubscriptionCreate", payload)
        if not payload.get("webhookSubscription"):
            raise StoreAPIError("webhookSubscriptionCreate: no subscription was created", transient=False)
        return _subscription(payload["webhookSubscription"])

    def update_webhook_subscription(self, subscription_id: str, address: str) -> WebhookSubscription:
        data = self.client.graphql(
            graphql.WEBHOOK_SUBSCRIPTION_UPDATE,
            {"id": _subscription_gid(subscription_id), "webhookSubscription": {"uri": address}},
        )
        payload = data.get("webhookSubscriptionUpdate") or {}
        _raise_user_errors("webhookSubscriptionUpdate", payload)
        if not payload.get("webhookSubscription"):
            raise StoreAPIError("webhookSubscriptionUpdate: no subscription was updated", transient=False)
        return _subscription(payload["webhookSubscription"])

    def delete_webhook_subscription(self, subscription_id: str) -> None:
        data = self.client.graphql(graphql.WEBHOOK_SUBSCRIPTION_DELETE, {"id": _subscription_gid(subscription_id)})
        _raise_user_errors("webhookSubscriptionDelete", data.get("webhookSubscriptionDelete") or {})

    def enable_webhook_subscription(self, subscription_id: str) -> None:
        raise UnsupportedOperation("Shopify removes a failing subscription rather than disabling it: subscribe again")

    # --- the access token -----------------------------------------------------------------------------------------

    def check_access(self) -> AccessCheck:
        installation = self.client.graphql(graphql.ACCESS_SCOPES).get("currentAppInstallation") or {}
        return AccessCheck(tuple(str(scope.get("handle")) for scope in installation.get("accessScopes") or []))

    def revoke_access(self) -> None:
        self.client.revoke_access()


def _subscription(node: dict[str, Any]) -> WebhookSubscription:
    enum = str(node.get("topic") or "")
    return WebhookSubscription(
        subscription_id=graphql.numeric_id(node.get("id")),
        topic=_TOPICS_BY_ENUM.get(enum, enum.lower()),
        address=str(node.get("uri") or ""),
    )


def _next(info: dict[str, Any]) -> str | None:
    return str(info["endCursor"]) if info.get("hasNextPage") and info.get("endCursor") else None


def _subscription_gid(subscription_id: str) -> str:
    return (
        subscription_id
        if subscription_id.startswith("gid://")
        else f"gid://shopify/WebhookSubscription/{subscription_id}"
    )


def _discount_gid(discount_id: str) -> str:
    return discount_id if discount_id.startswith("gid://") else f"gid://shopify/DiscountNode/{discount_id}"


def _raise_user_errors(mutation: str, payload: dict[str, Any]) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        messages = "; ".join(str(error.get("message")) for error in errors)
        raise StoreAPIError(f"{mutation}: {messages}", transient=False)
