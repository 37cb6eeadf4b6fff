"""Every outbound call to a WooCommerce store's REST API v3."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from integrations.errors import StoreAPIError
from integrations.records import RefundRecord
from integrations.webhooks import PayloadError
from integrations.woocommerce.constants import REST_PREFIX
from integrations.woocommerce.normalize import refund_record

DEFAULT_TIMEOUT = 10.0
BATCH_LIMIT = 100  # WooCommerce refuses larger batches
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class WooCommerceClient:
    """A WooCommerce REST API client authenticated with a consumer key and secret (HTTP Basic, over HTTPS)."""

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" and parts.hostname not in LOCAL_HOSTS:
            # Basic auth sends the keys in clear: only over HTTPS, or to a simulator on this machine.
            raise StoreAPIError(f"refusing to send API keys to {self.base_url} without HTTPS", transient=False)
        self._client = httpx.Client(
            auth=(consumer_key, consumer_secret), timeout=timeout, follow_redirects=False, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WooCommerceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """One REST call; timeouts, 429 and 5xx raise transient errors, other 4xx permanent ones."""
        return self._json(method, self._send(method, path, params, body))

    def page(self, path: str, page: int, per_page: int = 100, **params: Any) -> tuple[list[Any], int]:
        """One page of a listing and the number of pages (WordPress's `X-WP-TotalPages`)."""
        response = self._send("GET", path, {**params, "page": page, "per_page": per_page}, None)
        items = self._json("GET", response)
        if not isinstance(items, list):
            raise StoreAPIError(f"GET {path}: a listing did not answer a list", transient=False)
        try:
            total_pages = int(response.headers.get("X-WP-TotalPages", "1"))
        except ValueError:
            total_pages = 1
        return items, total_pages

    def _send(self, method: str, path: str, params: dict[str, Any] | None, body: Any) -> httpx.Response:
        url = f"{self.base_url}{REST_PREFIX}/{path.lstrip('/')}"
        try:
            response = self._client.request(method, url, params=params, json=body)
        except httpx.HTTPError as exc:
            raise StoreAPIError(f"{method} {url}: {exc.__class__.__name__}: {exc}", transient=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise StoreAPIError(
                f"{method} {url}: HTTP {response.status_code}", transient=True, status=response.status_code
            )
        if response.status_code >= 400:
            raise StoreAPIError(
                f"{method} {url}: HTTP {response.status_code}: {response.text[:200]}",
                transient=False,
                status=response.status_code,
            )
        return response

    @staticmethod
    def _json(method: str, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise StoreAPIError(f"{method} {response.url}: the answer is not JSON", transient=True) from exc

    @staticmethod
    def item_path(product_id: str, parent_id: str | None = None) -> str:
        """A simple product is `products/<id>`; a variation `products/<parent>/variations/<id>`."""
        return f"products/{parent_id}/variations/{product_id}" if parent_id else f"products/{product_id}"

    def get_item(self, product_id: str, parent_id: str | None = None) -> dict[str, Any]:
        return self.get(self.item_path(product_id, parent_id))

    def update_item(self, product_id: str, changes: dict[str, Any], parent_id: str | None = None) -> dict[str, Any]:
        return self.request("PUT", self.item_path(product_id, parent_id), body=changes)

    def batch_update(self, updates: list[dict[str, Any]], parent_id: str | None = None) -> list[dict[str, Any]]:
        """Update up to 100 products (or variations of one parent) in one request; one answer per update, with an
        `error` member for those that failed."""
        if len(updates) > BATCH_LIMIT:
            raise ValueError(f"a batch takes at most {BATCH_LIMIT} updates")
        path = f"products/{parent_id}/variations/batch" if parent_id else "products/batch"
        return list(self.request("POST", path, body={"update": updates}).get("update") or [])

    def order_refunds(self, order_id: str) -> list[RefundRecord]:
        """Every refund of an order, with the order lines each one covers."""
        refunds: list[RefundRecord] = []
        page = 1
        while True:
            batch = self.get(f"orders/{order_id}/refunds", {"per_page": 100, "page": page})
            if not isinstance(batch, list):
                raise StoreAPIError(f"orders/{order_id}/refunds did not answer a list", transient=False)
            try:
                refunds.extend(refund_record(item, order_id) for item in batch)
            except PayloadError as exc:
                raise StoreAPIError(f"orders/{order_id}/refunds: {exc}", transient=False) from exc
            if len(batch) < 100:
                return refunds
            page += 1
