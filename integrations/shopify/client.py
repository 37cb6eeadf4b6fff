"""Every outbound call to a Shopify store's GraphQL Admin API.

A small httpx client rather than Shopify's `shopifyapp` helper: that helper builds the endpoint from the shop name
(`https://<shop>.myshopify.com`) with no way to point it at another address, which the store simulator, staging
proxies and tests need, and it hides the throttle status that pacing depends on.

Writes follow the 2026-04 contract: every quantity carries `changeFromQuantity` (compare-and-set) and every
inventory mutation an `@idempotent(key: ...)` directive, so a retried request can never apply twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from integrations.errors import StoreAPIError
from integrations.records import LocationRecord
from integrations.shopify import graphql

DEFAULT_TIMEOUT = 10.0
ITEM_GID = "gid://shopify/InventoryItem/"
LOCATION_GID = "gid://shopify/Location/"

READ_LEVEL = """
query InventoryLevel($id: ID!, $locationId: ID!) {
  inventoryItem(id: $id) {
    id
    inventoryLevel(locationId: $locationId) { quantities(names: ["available"]) { name quantity } }
  }
}
"""

SET_QUANTITIES = """
mutation SetAvailable($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}
"""

ADJUST_QUANTITIES = """
mutation AdjustAvailable($input: InventoryAdjustQuantitiesInput!, $idempotencyKey: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}
"""

STALE = "CHANGE_FROM_QUANTITY_STALE"
# A bulk query refused because the app already runs as many as the shop allows: it can start later.
BULK_BUSY = ("OPERATION_IN_PROGRESS", "LIMIT_REACHED")


def item_gid(inventory_item_id: str) -> str:
    return inventory_item_id if inventory_item_id.startswith("gid://") else ITEM_GID + inventory_item_id


def location_gid(location_id: str) -> str:
    return location_id if location_id.startswith("gid://") else LOCATION_GID + location_id


@dataclass(frozen=True)
class InventoryWrite:
    """What a stock write did: applied (with the quantity after it), refused as stale, or refused otherwise."""

    applied: bool
    stale: bool = False
    quantity_after: int | None = None
    group_id: str = ""
    user_errors: list[dict[str, Any]] = field(default_factory=list)
    response: dict[str, Any] = field(default_factory=dict)


class ShopifyThrottled(StoreAPIError):
    """The cost bucket is empty: retry after `retry_after` seconds."""

    retry_after: float

    def __init__(self, message: str, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, transient=True, status=status, retry_after=retry_after)


class ShopifyClient:
    """GraphQL Admin API client for one shop (`base_url` like https://shop.myshopify.com, or a simulator)."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        api_version: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        on_unauthorized: Callable[[], str | None] | None = None,
    ):
        # Asked for a new token when the shop answers 401 (an expiring token revoked or run out early): the request
        # is sent once more with it. None, or no new token: the 401 is raised.
        self.on_unauthorized = on_unauthorized
        self.base_url = base_url.rstrip("/")
        self.endpoint = f"{self.base_url}/admin/api/{api_version}/graphql.json"
        self._client = httpx.Client(
            headers={"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"},
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )
        self.throttle_status: dict[str, Any] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of one request. Timeouts, 429, 5xx and THROTTLED raise transient errors; the rest permanent."""
        response = self._post(query, variables)
        if response.status_code == 401 and self.on_unauthorized is not None:
            token = self.on_unauthorized()
            if token:
                self._client.headers["X-Shopify-Access-Token"] = token
                response = self._post(query, variables)
        if response.status_code == 429:
            retry_after = _float(response.headers.get("Retry-After"), 1.0)
            raise ShopifyThrottled(f"POST {self.endpoint}: HTTP 429", retry_after, status=429)
        if response.status_code >= 500:
            raise StoreAPIError(
                f"POST {self.endpoint}: HTTP {response.status_code}", transient=True, status=response.status_code
            )
        if response.status_code >= 400:
            raise StoreAPIError(
                f"POST {self.endpoint}: HTTP {response.status_code}: {response.text[:200]}",
                transient=False,
                status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise StoreAPIError(f"POST {self.endpoint}: the answer is not JSON", transient=True) from exc
        cost = (body.get("extensions") or {}).get("cost") or {}
        self.throttle_status = cost.get("throttleStatus") or {}
        errors = body.get("errors") or []
        if errors:
            if any((error.get("extensions") or {}).get("code") == "THROTTLED" for error in errors):
                raise ShopifyThrottled(f"{self.endpoint}: throttled", self._wait_for(cost))
            messages = "; ".join(str(error.get("message", error)) for error in errors)[:500]
            # a field the app's access scopes do not cover: refused like an HTTP 403, never worth retrying
            denied = any((error.get("extensions") or {}).get("code") == "ACCESS_DENIED" for error in errors)
            raise StoreAPIError(f"{self.endpoint}: {messages}", transient=False, status=403 if denied else None)
        return body.get("data") or {}

    def _post(self, query: str, variables: dict[str, Any] | None) -> httpx.Response:
        try:
            return self._client.post(self.endpoint, json={"query": query, "variables": variables or {}})
        except httpx.HTTPError as exc:
            raise StoreAPIError(f"POST {self.endpoint}: {exc.__class__.__name__}: {exc}", transient=True) from exc

    def revoke_access(self) -> None:
        """Revoke the access token, which uninstalls the app from the shop (the one REST call: GraphQL has none)."""
        url = f"{self.base_url}/admin/api_permissions/current.json"
        try:
            response = self._client.delete(url)
        except httpx.HTTPError as exc:
            raise StoreAPIError(f"DELETE {url}: {exc.__class__.__name__}: {exc}", transient=True) from exc
        if response.status_code == 429:
            raise ShopifyThrottled(f"DELETE {url}: HTTP 429", _float(response.headers.get("Retry-After"), 1.0), 429)
        if response.status_code >= 400:
            raise StoreAPIError(
                f"DELETE {url}: HTTP {response.status_code}",
                transient=response.status_code >= 500,
                status=response.status_code,
            )

    def _wait_for(self, cost: dict[str, Any]) -> float:
        """Seconds until the bucket holds the requested cost again."""
        status = cost.get("throttleStatus") or {}
        needed = float(cost.get("requestedQueryCost") or 10) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 50)
        return max(needed / rate, 0.1)

    def read_available(self, inventory_item_id: str, location_id: str) -> int | None:
        """The `available` quantity of an item at a location, or None when it is not stocked there."""
        data = self.graphql(READ_LEVEL, {"id": item_gid(inventory_item_id), "locationId": location_gid(location_id)})
        level = (data.get("inventoryItem") or {}).get("inventoryLevel")
        if not level:
            return None
        for quantity in level.get("quantities") or []:
            if quantity.get("name") == "available":
                return int(quantity["quantity"])
        return None

    def start_bulk_query(self, document: str) -> str:
        """Start a bulk query, its objects grouped under their parents; returns the operation's id. The shop runs
        a few at a time per app: a refusal for that is transient."""
        data = self.graphql(graphql.BULK_RUN, {"query": document})
        payload = data.get("bulkOperationRunQuery") or {}
        errors = payload.get("userErrors") or []
        if errors or not payload.get("bulkOperation"):
            message = "; ".join(str(error.get("message")) for error in errors) or "no bulk operation was created"
            busy = any(error.get("code") in BULK_BUSY for error in errors) or "in progress" in message
            raise StoreAPIError(f"bulkOperationRunQuery: {message}", transient=busy)
        return str(payload["bulkOperation"]["id"])

    def bulk_operation(self, operation_id: str) -> dict[str, Any]:
        """The operation's `status` (CREATED, RUNNING, COMPLETED, FAILED, ...), `url` when completed, counts."""
        node = self.graphql(graphql.BULK_STATUS, {"id": operation_id}).get("node")
        if not node:
            raise StoreAPIError(f"bulk operation {operation_id} is unknown to the store", transient=False)
        return node

    def bulk_page(self, url: str, offset: int, roots: int) -> tuple[list[dict[str, Any]], int | None]:
        """Up to `roots` top-level objects, each with the objects grouped under it, from byte `offset` of a completed
        bulk operation's JSONL (a signed URL: no API credentials are sent); and the offset of the next top-level
        object, None after the last. Read as a stream from the offset, so a page costs what it holds, whatever the
        size of the file."""
        lines: list[dict[str, Any]] = []
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with httpx.stream(
                "GET", url, headers=headers, timeout=self._client.timeout, follow_redirects=True
            ) as response:
                if response.status_code == 416:  # the offset is the file's end
                    return [], None
                if response.status_code >= 400:
                    # An expired URL (after seven days) or a storage error: the operation must be run again.
                    raise StoreAPIError(
                        f"GET bulk result: HTTP {response.status_code}",
                        transient=response.status_code >= 500,
                        status=response.status_code,
                    )
                # a server that ignores the range sends the whole file: skip to the offset
                position, start, seen = (offset if response.status_code == 206 else 0), offset, 0
                for line in _lines(response.iter_bytes()):
                    here, position = position, position + len(line)
                    if here < start or not line.strip():
                        continue
                    item = json.loads(line)
                    if "__parentId" not in item:
                        seen += 1
                        if seen > roots:
                            return lines, here
                    lines.append(item)
        except httpx.HTTPError as exc:
            raise StoreAPIError(f"GET bulk result: {exc.__class__.__name__}: {exc}", transient=True) from exc
        except ValueError as exc:
            raise StoreAPIError("the bulk result is not JSONL", transient=True) from exc
        return lines, None

    def locations_page(self, cursor: str | None = None, first: int = 250) -> tuple[list[LocationRecord], str | None]:
        data = self.graphql(graphql.LOCATIONS, {"first": first, "cursor": cursor})
        connection = data.get("locations") or {}
        return [graphql.location_record(node) for node in connection.get("nodes") or []], _next_cursor(connection)

    def set_available(
        self,
        inventory_item_id: str,
        location_id: str,
        quantity: int,
        change_from: int | None,
        idempotency_key: str,
        reason: str = "correction",
        reference: str = "",
    ) -> InventoryWrite:
        """Set `available` to `quantity` if the store still holds `change_from` (compare-and-set)."""
        entry = {"quantity": quantity}
        return self._write_level(
            SET_QUANTITIES, "quantities", entry, inventory_item_id, location_id, change_from, idempotency_key, reason,
            reference,
        )  # fmt: skip

    def adjust_available(
        self,
        inventory_item_id: str,
        location_id: str,
        delta: int,
        change_from: int | None,
        idempotency_key: str,
        reason: str = "received",
        reference: str = "",
    ) -> InventoryWrite:
        """Add `delta` to `available` if the store still holds `change_from` (compare-and-set)."""
        entry = {"delta": delta}
        return self._write_level(
            ADJUST_QUANTITIES, "changes", entry, inventory_item_id, location_id, change_from, idempotency_key, reason,
            reference,
        )  # fmt: skip

    def _write_level(
        self,
        document: str,
        list_name: str,
        entry: dict[str, Any],
        inventory_item_id: str,
        location_id: str,
        change_from: int | None,
        idempotency_key: str,
        reason: str,
        reference: str,
    ) -> InventoryWrite:
        payload = {
            "name": "available",
            "reason": reason,
            "referenceDocumentUri": reference or None,
            list_name: [
                {
                    "inventoryItemId": item_gid(inventory_item_id),
                    "locationId": location_gid(location_id),
                    **entry,
                    "changeFromQuantity": change_from,
                }
            ],
        }
        data = self.graphql(document, {"input": payload, "idempotencyKey": idempotency_key})
        mutation = "inventorySetQuantities" if list_name == "quantities" else "inventoryAdjustQuantities"
        return _write_result(data.get(mutation) or {})


def _next_cursor(connection: dict[str, Any]) -> str | None:
    info = connection.get("pageInfo") or {}
    return info.get("endCursor") if info.get("hasNextPage") else None


def _write_result(payload: dict[str, Any]) -> InventoryWrite:
    errors = payload.get("userErrors") or []
    if errors:
        return InventoryWrite(
            applied=False,
            stale=any(error.get("code") == STALE for error in errors),
            user_errors=errors,
            response=payload,
        )
    group = payload.get("inventoryAdjustmentGroup") or {}
    changes = group.get("changes") or []
    after = changes[0].get("quantityAfterChange") if changes else None
    return InventoryWrite(
        applied=True,
        quantity_after=int(after) if after is not None else None,
        group_id=str(group.get("id", "")),
        response=payload,
    )


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Whole lines (with their newline) from a stream of byte chunks."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line + b"\n"
    if pending:
        yield pending
