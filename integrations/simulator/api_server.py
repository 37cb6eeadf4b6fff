"""A read-only store API on 127.0.0.1, answering from the replay's state, for receivers that fetch what a webhook
does not carry.

WooCommerce's order webhook lists refunds by id and total only; a receiver learns which lines a refund covered from
`GET /wp-json/wc/v3/orders/<id>/refunds` (HTTP Basic auth with a consumer key and secret). Served here:

- `GET /wp-json/wc/v3/orders/<id>`: the order as it is now;
- `GET /wp-json/wc/v3/orders/<id>/refunds[?page=&per_page=]`: its refunds, newest first, 10 per page by default
  (at most 100), with `X-WP-Total` and `X-WP-TotalPages` like WordPress;
- `GET /wp-json/wc/v3/orders/<id>/refunds/<refund id>`;
- Shopify's `GET /admin/api/<version>/orders/<id>.json` and `.../orders/<id>/refunds.json` (header
  `X-Shopify-Access-Token`), for receivers that reconcile against the Admin API;
- Open-Meteo's `GET /v1/archive` and `GET /v1/forecast` (no credentials), answered by `weather.WeatherApi`.

The state answered is the replay's as far as events have been built, which runs at most a few events ahead of the
sends, as a real store's API may already show a change whose webhook is still on its way. Errors are JSON in each
platform's shape: 401 without valid credentials, 404 for an unknown order or path.

`start_api_server(...)` starts it on a daemon thread and returns an `ApiServer`; `stop()` (or leaving its `with`
block) shuts it down. The CLI keeps it up until the replay ends plus `--linger` seconds, so a receiver's worker
can still fetch refunds for the last events.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import math
import re
import sys
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from integrations.simulator import (
    shopify_cost,
    shopify_graphql,
    shopify_payloads,
    shopify_transfers,
    woocommerce_payloads,
)
from integrations.simulator.inventory import InventoryStore
from integrations.simulator.shopify_bulk import ShopifyBulk
from integrations.simulator.shopify_oauth import ShopifyOAuth
from integrations.simulator.shopify_webhooks import ShopifySubscriptions
from integrations.simulator.state import StoreState
from integrations.simulator.weather import WEATHER_PATHS, WeatherApi
from integrations.simulator.woocommerce_connect import WooAuth, WooWebhooks

WOO_ORDER = re.compile(r"^/wp-json/wc/v3/orders/(\d+)(/refunds(?:/(\d+))?)?/?$")
SHOPIFY_ORDER = re.compile(r"^/admin/api/[\w-]+/orders/(\d+)(/refunds)?\.json$")
SHOPIFY_GRAPHQL = re.compile(r"^/admin/api/[\w-]+/graphql\.json$")
WOO_PRODUCT_LIST = re.compile(r"^/wp-json/wc/v3/products(?:/(\d+)/variations)?/?$")
WOO_ORDER_LIST = re.compile(r"^/wp-json/wc/v3/orders/?$")
WOO_PRODUCT = re.compile(r"^/wp-json/wc/v3/products/(?:(\d+)/variations/)?(\d+|batch)/?$")
WOO_WEBHOOKS = re.compile(r"^/wp-json/wc/v3/webhooks(?:/(\d+))?/?$")
WOO_DEFAULT_PER_PAGE = 10
WOO_MAX_PER_PAGE = 100


def _woo_error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, {"code": code, "message": message, "data": {"status": status}}


class ApiServer:
    """The server and its thread; `url` is `http://127.0.0.1:<port>`."""

    def __init__(
        self,
        state: StoreState,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        site_url: str = "",
        consumer_key: str = "ck_demo",
        consumer_secret: str = "cs_demo",
        access_token: str = "shpat_demo",
        inventory: InventoryStore | None = None,
        weather: WeatherApi | None = None,
        access_scopes: tuple[str, ...] | None = None,
        oauth: ShopifyOAuth | None = None,
    ) -> None:
        self.state = state
        self.oauth = oauth  # the app installed through OAuth, whose granted tokens the Admin API accepts too
        self.subscriptions = ShopifySubscriptions()
        self.woo_auth = WooAuth()  # keys granted through /wc-auth, accepted beside the configured one
        self.woo_webhooks = WooWebhooks()
        # The app's granted scopes where a test narrows them (None: all): a discount read without `read_discounts` is
        # refused as Shopify refuses it (ACCESS_DENIED).
        self.access_scopes = access_scopes
        self.inventory = inventory or InventoryStore()
        self.weather = weather or WeatherApi()
        self.bulk = ShopifyBulk(state, self.inventory)
        self.transfers = shopify_transfers.ShopifyTransfers(self.inventory)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.requests = 0
        self._count_lock = threading.Lock()
        self.httpd = _Server((host, port), _handler_for(self))
        self.site_url = site_url or self.url
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}"

    def start(self) -> ApiServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="store-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> ApiServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- routing --------------------------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, list[str]], headers: Any) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, extra headers) for a GET."""
        with self._count_lock:
            self.requests += 1
        if path in WEATHER_PATHS:
            return self.weather.answer(path, query)
        if path.startswith("/wp-json/"):
            if not self._woo_authorised(headers.get("Authorization", ""), query):
                status, body = _woo_error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
                return status, body, {"WWW-Authenticate": 'Basic realm="WooCommerce"'}
            return self._woo(path, query)
        if path.rstrip("/") == "/wc-auth/v1/authorize":
            return self.woo_auth.consent(query)
        if path.rstrip("/") == "/wc-auth/v1/access_granted":
            return self.woo_auth.approve(query)
        if self.oauth is not None and path == "/admin/oauth/authorize":
            return self.oauth.consent(query)
        if self.oauth is not None and path == "/admin/oauth/authorize/approve":
            return self.oauth.approve(query)
        if path.startswith("/admin/api/"):
            if not self._shopify_authorised(headers):
                message = "[API] Invalid API key or access token (unrecognized login or wrong password)"
                return 401, {"errors": message}, {}
            return self._shopify(path)
        status, body = _woo_error(404, "rest_no_route", "No route was found matching the URL and request method.")
        return status, body, {}

    def write(self, method: str, path: str, query: dict[str, list[str]], headers: Any, raw: bytes):
        """(status, JSON body, extra headers) for a POST or PUT: Shopify's GraphQL endpoint and WooCommerce's product
        and variation stock, with the configured faults."""
        with self._count_lock:
            self.requests += 1
        if path.startswith("/wp-json/"):
            if not self._woo_authorised(headers.get("Authorization", ""), query):
                status, body = _woo_error(
                    401, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this."
                )
                return status, body, {}
        elif method == "POST" and path == "/admin/oauth/access_token" and self.oauth is not None:
            return self.oauth.token(raw, headers.get("Content-Type", ""))
        elif path.startswith("/admin/api/") and not self._shopify_authorised(headers):
            return 401, {"errors": "[API] Invalid API key or access token"}, {}
        fault = self._fault()
        if fault is not None:
            return fault
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"errors": "The body is not JSON"}, {}
        if not isinstance(body, dict):
            return 400, {"errors": "The body must be a JSON object"}, {}
        if method == "POST" and SHOPIFY_GRAPHQL.match(path):
            return self._shopify_graphql(str(body.get("query", "")), body.get("variables") or {})
        hook = WOO_WEBHOOKS.match(path)
        if hook is not None:
            if method == "POST" and not hook.group(1):
                status, answer = self.woo_webhooks.create(body)
                return status, answer, {}
            if method == "PUT" and hook.group(1):
                status, answer = self.woo_webhooks.update(int(hook.group(1)), body)
                return status, answer, {}
            if method == "DELETE" and hook.group(1):
                force = query.get("force", [""])[0] in ("true", "1")
                status, answer = self.woo_webhooks.delete(int(hook.group(1)), force)
                return status, answer, {}
        match = WOO_PRODUCT.match(path)
        if match is not None:
            parent = int(match.group(1)) if match.group(1) else None
            if match.group(2) == "batch" and method == "POST":
                status, answer = self.inventory.woo_batch(body, parent)
                return status, answer, {}
            if match.group(2) != "batch" and method == "PUT":
                status, answer = self.inventory.woo_update(int(match.group(2)), body, parent)
                return status, answer, {}
        status, answer = _woo_error(404, "rest_no_route", "No route was found matching the URL and request method.")
        return status, answer, {}

    def _shopify_graphql(self, query: str, variables: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        """One GraphQL Admin API request, paid for from the cost bucket as Shopify does: its requested cost up front
        (a query that asks for more than 1,000 points is refused outright), the difference to its actual cost given
        back once it has run."""
        try:
            document = shopify_cost.Document(query, variables)
        except ValueError as exc:
            return 200, {"errors": [{"message": str(exc)}]}, {}
        requested = document.requested()
        if requested > shopify_cost.MAX_QUERY_COST:
            return 200, {"errors": [shopify_cost.max_cost_exceeded(requested)]}, {}
        bucket = self.inventory.bucket
        with self.inventory.lock:
            allowed, cost = bucket.take(requested)
        if not allowed:
            errors = [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
            return 200, {"errors": errors, "extensions": {"cost": cost}}, {}
        answer = self._shopify_answer(query, variables, document)
        actual = document.actual(answer.get("data")) if "errors" not in answer else 0
        with self.inventory.lock:
            cost = bucket.settle(requested, actual)
        return 200, {**answer, "extensions": {"cost": cost}}, {}

    def _shopify_answer(self, query: str, variables: dict[str, Any], document: shopify_cost.Document) -> dict[str, Any]:
        """The body of a GraphQL answer (`data` or `errors`)."""
        if "bulkOperationRunQuery" in query:
            return {"data": {"bulkOperationRunQuery": self.bulk.run_mutation(document)}}
        if re.search(r"\bnode\s*\(", query):
            return {"data": {"node": self.bulk.status(str(variables.get("id") or ""), self.url)}}
        if re.search(r"\bnodes\s*\(", query):
            return {"data": {"nodes": shopify_graphql.order_refunds(self.state, variables.get("ids") or [])}}
        if re.search(r"\bwebhookSubscription(s|Create|Update|Delete)\b", query):
            return {"data": self.subscriptions.answer(query, variables)}
        if re.search(r"\b(discountNodes|discountNode)\s*\(", query) and "read_discounts" not in (
            self.access_scopes if self.access_scopes is not None else ("read_discounts",)
        ):
            message = "Access denied for discountNodes field. Required access: `read_discounts` access scope."
            return {"errors": [{"message": message, "extensions": {"code": "ACCESS_DENIED"}}]}
        if re.search(r"\bdiscountNodes\s*\(", query):
            return {"data": shopify_graphql.discount_nodes(self.state, variables)}
        if re.search(r"\bdiscountNode\s*\(", query):  # one discount, or a follow-up page of its items
            return {"data": shopify_graphql.discount_node(self.state, query, variables)}
        if re.search(r"\bcollection\s*\(", query):
            return {"data": shopify_graphql.collection_products(self.state, variables)}
        if re.search(r"\blocations\s*\(", query):
            with self.inventory.lock:
                known = sorted({location for _, location in self.inventory.levels})
            return {"data": shopify_graphql.locations(known, variables)}
        if re.search(r"\bproducts\s*\(", query):
            return {"data": shopify_graphql.products(self.state, variables)}
        if re.search(r"\borders\s*\(", query):
            return {"data": shopify_graphql.orders(self.state, variables)}
        if shopify_transfers.OPERATIONS.search(query):
            return self.transfers.answer(query, variables)
        return self.inventory.shopify_graphql(query, variables)

    def bulk_file(self, path: str) -> bytes | None:
        """The JSONL of a completed bulk operation (served without credentials, like Shopify's signed URLs)."""
        match = re.match(r"^/bulk/(\d+)\.jsonl$", path)
        return self.bulk.file(int(match.group(1))) if match else None

    def _fault(self) -> tuple[int, Any, dict[str, str]] | None:
        faults = self.inventory.faults
        if faults.latency:
            time.sleep(faults.latency)
        status = faults.draw()
        if status == 429:
            return (
                429,
                {"errors": "Exceeded the rate limit for this api client. Reduce request rates."},
                {"Retry-After": "1.0"},
            )
        if status is not None:
            return status, {"errors": "Internal error, retry later"}, {}
        return None

    def _shopify_authorised(self, headers: Any) -> bool:
        token = headers.get("X-Shopify-Access-Token", "")
        if self.oauth is not None and self.oauth.accepts(token):
            return True
        return hmac.compare_digest(token.encode(), self.access_token.encode())

    def _woo_authorised(self, authorization: str, query: dict[str, list[str]]) -> bool:
        key = secret = ""
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                key, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif "consumer_key" in query:
            # WooCommerce also accepts the credentials as query parameters (over HTTPS).
            key, secret = query["consumer_key"][0], query.get("consumer_secret", [""])[0]
        if self.woo_auth.accepts(key, secret):
            return True
        key_ok = hmac.compare_digest(key.encode(), self.consumer_key.encode())
        return key_ok & hmac.compare_digest(secret.encode(), self.consumer_secret.encode())

    def _woo(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        if WOO_WEBHOOKS.match(path):
            return self._woo_page(self.woo_webhooks.listing(), query)
        listing = WOO_PRODUCT_LIST.match(path)
        if listing is not None or WOO_ORDER_LIST.match(path):
            fault = self._fault()
            if fault is not None:
                return fault
            try:
                after_text = query.get("modified_after", [""])[0]
                after = datetime.fromisoformat(after_text.replace("Z", "+00:00")) if after_text else None
                if after is not None and after.tzinfo is None:
                    after = after.replace(tzinfo=UTC)  # WooCommerce reads it in the site's time zone: UTC here
            except ValueError:
                status, body = _woo_error(400, "rest_invalid_param", "Invalid parameter(s): modified_after")
                return status, body, {}
            if listing is not None:
                parent = int(listing.group(1)) if listing.group(1) else None
                include_text = query.get("include", [""])[0]
                try:
                    include = {int(part) for part in include_text.split(",") if part} if include_text else None
                except ValueError:
                    status, body = _woo_error(400, "rest_invalid_param", "Invalid parameter(s): include")
                    return status, body, {}
                return self._woo_page(self.inventory.woo_list(parent, after, include), query)
            with self.state.lock:
                orders = [
                    woocommerce_payloads.woo_order(order, self.state.tz, self.site_url, links=True)
                    for order in sorted(self.state.orders.values(), key=lambda o: int(o.order_id))
                    if after is None or order.updated_at > after
                ]
            return self._woo_page(orders, query)
        product = WOO_PRODUCT.match(path)
        if product is not None and product.group(2) != "batch":
            fault = self._fault()
            if fault is not None:
                return fault
            parent = int(product.group(1)) if product.group(1) else None
            status, body = self.inventory.woo_get(int(product.group(2)), parent)
            return status, body, {}
        match = WOO_ORDER.match(path)
        if match is None:
            status, body = _woo_error(404, "rest_no_route", "No route was found matching the URL and request method.")
            return status, body, {}
        order_id, wants_refunds, refund_id = match.groups()
        tz, site_url = self.state.tz, self.site_url
        with self.state.lock:
            order = self.state.orders.get(order_id)
            if order is None:
                status, body = _woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
                return status, body, {}
            if not wants_refunds:
                return 200, woocommerce_payloads.woo_order(order, tz, site_url, links=True), {}
            refunds = [
                woocommerce_payloads.woo_refund(order, refund, tz, site_url) for refund in reversed(order.refunds)
            ]
        if refund_id is not None:
            found = [refund for refund in refunds if str(refund["id"]) == refund_id]
            if not found:
                status, body = _woo_error(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
                return status, body, {}
            return 200, found[0], {}
        return self._woo_page(refunds, query)

    def _woo_page(self, items: list[Any], query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        """One page of a listing with WordPress's `X-WP-Total` and `X-WP-TotalPages` headers."""
        try:
            page = max(1, int(query.get("page", ["1"])[0]))
            per_page = int(query.get("per_page", [str(WOO_DEFAULT_PER_PAGE)])[0])
        except ValueError:
            status, body = _woo_error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
            return status, body, {}
        if not 1 <= per_page <= WOO_MAX_PER_PAGE:
            status, body = _woo_error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
            return status, body, {}
        total_pages = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        return 200, chunk, {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(total_pages)}

    def _shopify(self, path: str) -> tuple[int, Any, dict[str, str]]:
        match = SHOPIFY_ORDER.match(path)
        if match is None:
            return 404, {"errors": "Not Found"}, {}
        with self.state.lock:
            order = self.state.orders.get(match.group(1))
            if order is None:
                return 404, {"errors": "Not Found"}, {}
            if match.group(2):
                return (
                    200,
                    {"refunds": [shopify_payloads.shopify_refund(order, refund) for refund in order.refunds]},
                    {},
                )
            return 200, {"order": shopify_payloads.shopify_order(order)}, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closed its connection with an answer half read (a bulk file read a page at a time) resets
        # it: nothing went wrong on our side.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _handler_for(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "inventory-ai-store-simulator"
        # Headers and body go out in separate writes; with Nagle's algorithm the body would wait for the client's
        # delayed ACK (about 40 ms per request on keep-alive connections), which no real store adds.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith("/bulk/"):
                self._bulk_file(server.bulk_file(parts.path))
                return
            status, body, extra = server.answer(parts.path, parse_qs(parts.query), self.headers)
            self._send(status, body, extra)

        def _bulk_file(self, data: bytes | None) -> None:
            """The file, or its tail from `Range: bytes=N-` (206; 416 past its end), as a storage service serves it."""
            if data is None:
                self._send(404, {"errors": "Not Found"}, {})
                return
            start = re.match(r"^bytes=(\d+)-$", self.headers.get("Range") or "")
            if start and int(start.group(1)) >= len(data):
                self._send(416, {"errors": "Range Not Satisfiable"}, {"Content-Range": f"bytes */{len(data)}"})
                return
            offset = int(start.group(1)) if start else 0
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/jsonl")
            self.send_header("Content-Length", str(len(data) - offset))
            if start:
                self.send_header("Content-Range", f"bytes {offset}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a reader that had its page stops
                self.wfile.write(data[offset:])

        def do_POST(self) -> None:
            self._write("POST")

        def do_PUT(self) -> None:
            self._write("PUT")

        def do_DELETE(self) -> None:
            self._write("DELETE")

        def _write(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, body, extra = server.write(method, parts.path, parse_qs(parts.query), self.headers, raw)
            self._send(status, body, extra)

        def _send(self, status: int, body: Any, extra: dict[str, str]) -> None:
            # A client that gave up waiting (a timeout it will retry) has nobody left to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send_json(status, body, extra)

        def _send_json(self, status: int, body: Any, extra: dict[str, str]) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()  # bytes: a malformed weather body
            self.send_response(status, HTTPStatus(status).phrase)
            if "Content-Type" not in extra:  # an HTML page (the OAuth consent) says so itself
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: a replay sends thousands of events and the CLI reports what matters.
            pass

    return Handler


def start_api_server(state: StoreState, **options: Any) -> ApiServer:
    """Start the API server on a daemon thread (`port=0` picks a free port); call `stop()` when done."""
    return ApiServer(state, **options).start()
