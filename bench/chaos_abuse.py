"""Abuse against a live server: thousands of hostile and broken requests at the webhook endpoints and the API.

    python bench/chaos_abuse.py --base-url http://127.0.0.1:8000 --database-url postgres://.../inventory_ai \\
        --shopify-domain shop.myshopify.com --shopify-secret ... --woo-store-url https://shop.example \\
        --woo-secret ... --viewer-token ...

The requests come from the Hypothesis strategies the in-process test uses (`tests/abuse_strategies.py`), drawn with
a seed: wrong, missing and replayed signatures, unknown stores and topics, unicode in every header, deeply nested
and truncated JSON, numbers beyond every integer type, oversized bodies, wrong methods and content types; on the
socket, bodies shorter than their Content-Length, lying or malformed lengths, chunked bodies (well and badly
formed), control characters in headers, header and request-line limits and bytes that are not HTTP at all; on the
API, missing, garbage and read-only (viewer) tokens with garbage ids, query parameters, bodies, Accept and Host
headers. Every request carries its own delivery id. The same seed draws the same requests from the same code
(Hypothesis also draws on literals of the project modules loaded, so another entry point may draw others); every
failure is reported with its request, which reproduces it alone.

What must hold (issue 10, section 5): each answer is the documented one (401 bad signature or unknown store, 400
malformed, 413 too large, 405 wrong method; 401/403/404 on the API), never a 5xx, no connection error (a crash);
the webhook inbox gains exactly one row per distinct delivery validly signed for a known store (kept even when the
body is garbage, answered 400) and nothing else, every row it gains can be read back, and restock suggestions,
stock adjustments and the audit log do not change. The stores must see no other traffic during the run.

`run_abuse()` is also called by the chaos bench; run alone, this prints a table and exits 1 unless all holds.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.abuse_strategies import (  # noqa: E402
    api_object_ids,
    api_queries,
    api_url,
    content_types,
    header_texts,
    json_values,
    shopify_topics,
    sign,
    signature_header,
    text,
    timestamps,
    wire_bodies,
    woocommerce_topics,
)

# The product's default INVENTORY_AI["WEBHOOK_MAX_BYTES"]: larger bodies are refused with 413.
WEBHOOK_MAX_BYTES = 5 * 1024 * 1024
SHOPIFY_PATH = "/webhooks/shopify/"
WOOCOMMERCE_PATH = "/webhooks/woocommerce/"
CLOSED = 0  # the pseudo-status of a connection closed without an answer (fine only for bytes that are not HTTP)
TIMEOUT_S = 30.0
# Bytes gunicorn refuses in a header value (RFC 9110 5.5) and answers 400 for, before the application sees them.
INVALID_HEADER_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
PING_BODY = re.compile(rb"^webhook_id=\d+$")  # WooCommerce's unsigned test delivery, answered 200 and not kept
# Nesting deeper than this may or may not exceed the parser's recursion limit in a server thread (its stack is
# deeper than ours), so such a signed body may be answered 200 (an object) or 400 (unreadable).
UNCERTAIN_DEPTH = 600
# A well-formed CSRF cookie: with one, Django's error pages read a POST's body (looking for the form's token).
CSRF_COOKIE = "csrftoken=" + "a1B2" * 8

# (pattern on the decoded path, route) for the API's routes; DefaultRouter's ids are `[^/.]+`.
API_ROUTES = (
    (re.compile(r"/api/v1/(stores|variants|suggestions|adjustments|runs)/"), "list"),
    (re.compile(r"/api/v1/(stores|variants|suggestions|adjustments|runs)/[^/.]+/"), "detail"),
    (re.compile(r"/api/v1/(suggestions|adjustments)/[^/.]+/(approve|reject)/"), "decide"),
    (re.compile(r"/api/v1/variants/[^/.]+/forecast/"), "forecast"),
    (re.compile(r"/api/v1/stats/"), "stats"),
)
API_TEMPLATES = tuple(f"/api/v1/{path}" for path in [
    "suggestions/", "suggestions/{id}/", "suggestions/{id}/approve/", "suggestions/{id}/reject/",
    "adjustments/", "adjustments/{id}/", "adjustments/{id}/approve/", "adjustments/{id}/reject/",
    "variants/", "variants/{id}/", "variants/{id}/forecast/", "stores/", "stores/{id}/", "runs/", "runs/{id}/",
    "stats/",
])  # fmt: skip
API_QUERY_NAMES = (
    "store", "status", "risk", "sku", "page", "ordering", "search", "variant", "location", "abc_class", "supplier",
    "reason", "kind",
)  # fmt: skip


@dataclass(frozen=True)
class Targets:
    host: str
    port: int
    shopify_domain: str
    shopify_secret: str
    woo_store_url: str
    woo_secret: str
    viewer_token: str
    run_tag: str


@dataclass
class Planned:
    """One request to send, with what the server may answer and the inbox row it must leave, if any."""

    category: str
    method: str
    target: str  # path and query, as sent
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    allowed: frozenset[int] = frozenset()
    raw: bytes | None = None  # a whole message sent on a plain socket (HTTP no client library would send)
    keeps: tuple[str, str] | None = None  # (platform, deduplication key) of the row a signed delivery leaves

    def describe(self) -> str:
        headers = {name.decode(): value[:80].decode("latin-1") for name, value in self.headers}
        head = self.raw[:160] if self.raw is not None else self.body[:120]
        return f"{self.method} {self.target[:120]} headers={headers} body[:120]={head!r}"


# --- What the server sees and answers ---------------------------------------------------------------------------


CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])


def wire_value(value: str, *, controls: bool = False) -> bytes:
    """A header value as UTF-8 on the wire: without the bytes no client library sends (line breaks, NUL, blanks at
    either end) and, unless `controls`, without the control characters the HTTP server refuses before the product
    sees the request (those are sent on purpose by a few kinds only)."""
    raw = value.encode("utf-8", "replace").translate(None, b"\x00\r\n\x0b\x0c" if controls else CONTROL_BYTES)
    return raw.strip(b" \t")


def store_name(platform: str, value: str) -> str | None:
    """The store a header names, normalised as the product does (None: not a store name at all)."""
    value = value.strip()
    if platform == "shopify":
        value = value.lower()
    if not value:
        return None
    try:
        parts = urlsplit(value if "://" in value else f"https://{value}")
        if platform == "shopify":
            host = parts.hostname or ""
            return host.lower() if host and "." in host else None
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return None
        netloc = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return None
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_payload(body: bytes) -> tuple[Any, bool, bool]:
    """(payload, readable JSON, uncertain): as the product reads a signed body."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None, False, False  # the server's deeper stack fails no later than ours
    return payload, True, _depth(payload) > UNCERTAIN_DEPTH


def woocommerce_dedup_key(topic: str, body: bytes, payload: Any) -> str:
    """WooCommerce deliveries are deduplicated by what they say (its delivery id changes on every resend)."""
    resource_id = modified = ""
    if isinstance(payload, dict):
        resource_id, modified = str(payload.get("id", "")), str(payload.get("date_modified_gmt", ""))
    material = "|".join((topic.split(".", 1)[0], resource_id, modified, hashlib.sha256(body).hexdigest()))
    return "wc:" + hashlib.sha256(material.encode()).hexdigest()


HEADER_NAMES = {
    "shopify": {
        "store": "X-Shopify-Shop-Domain",
        "topic": "X-Shopify-Topic",
        "signature": "X-Shopify-Hmac-Sha256",
        "delivery": "X-Shopify-Webhook-Id",
    },
    "woocommerce": {
        "store": "X-WC-Webhook-Source",
        "topic": "X-WC-Webhook-Topic",
        "signature": "X-WC-Webhook-Signature",
        "delivery": "X-WC-Webhook-Delivery-ID",
    },
}


def expect_delivery(
    platform: str, headers: list[tuple[bytes, bytes]], body: bytes, targets: Targets
) -> tuple[frozenset[int], tuple[str, str] | None]:
    """What the webhook endpoint answers a well-formed POST, and the row it keeps (None: nothing kept)."""
    if any(INVALID_HEADER_BYTES.search(value) for _, value in headers):
        return frozenset({400}), None  # refused by the HTTP server itself
    if len(body) > WEBHOOK_MAX_BYTES:
        return frozenset({413}), None
    seen = {name.decode().lower(): value.decode("latin-1").strip() for name, value in headers}
    names = HEADER_NAMES[platform]

    def get(key: str) -> str:
        return seen.get(names[key].lower(), "")

    if platform == "woocommerce" and not get("store") and not get("signature") and PING_BODY.match(body.strip()):
        return frozenset({200}), None
    own = store_name(platform, targets.shopify_domain if platform == "shopify" else targets.woo_store_url)
    if not get("store") or store_name(platform, get("store")) != own:
        return frozenset({401}), None
    secret = targets.shopify_secret if platform == "shopify" else targets.woo_secret
    if not get("signature") or not hmac.compare_digest(sign(body, secret).encode(), get("signature").encode()):
        return frozenset({401}), None
    topic = get("topic")
    if not topic:
        return frozenset({400}), None
    payload, readable, uncertain = parse_payload(body)
    answer = {200} if readable and isinstance(payload, dict) else {400}
    if uncertain:
        answer = {200, 400}
    # Shopify's webhook id is the same on every resend; WooCommerce's changes, so its key is what the body says.
    shopify_key = f"shopify:{get('delivery')}"[:128]
    key = shopify_key if platform == "shopify" else woocommerce_dedup_key(topic, body, payload)
    return frozenset(answer), (platform, key)


def api_route(path: str) -> str | None:
    return next((route for pattern, route in API_ROUTES if pattern.fullmatch(path)), None)


def expect_api(
    who: str, method: str, target: str, headers: list[tuple[bytes, bytes]], accept: str | None, bad_host: bool
) -> frozenset[int]:
    """What the API answers anonymous, wrongly authenticated and read-only (viewer) requests."""
    if any(INVALID_HEADER_BYTES.search(value) for _, value in headers):
        return frozenset({400})
    if bad_host:
        return frozenset({400})  # Django refuses a Host outside ALLOWED_HOSTS before anything else
    raw_path, _, query = target.partition("?")
    path = unquote(raw_path, errors="replace")
    if not path.endswith("/"):
        # APPEND_SLASH: redirected when the address with a slash exists
        return frozenset({301}) if api_route(path + "/") else frozenset({404})
    if "." in path:
        # An id with a dot may match the router's format-suffix routes (`/1.json/`): any answer but an error.
        return frozenset({200, 400, 401, 403, 404, 405, 406})
    route = api_route(path)
    if route is None:
        return frozenset({404})
    answers: set[int]
    if who != "viewer":
        answers = {401}
    elif method in ("GET", "HEAD"):
        answers = {
            # A bad filter value is 400 (detail routes filter too), a bad page number 404.
            "list": {200, 400, 404} if query else {200},
            "detail": {200, 400, 404} if query else {200, 404},
            "forecast": {200, 400, 404} if query else {200, 404},
            "decide": {405},  # approve and reject are POST-only
            "stats": {200},
        }[route]
    elif method == "OPTIONS":
        answers = {200}
    elif method in ("POST", "PUT", "PATCH", "DELETE"):
        answers = {405} if route == "stats" else {403}  # a viewer decides and proposes nothing
    else:
        answers = {405}
    if accept is not None and accept != "*/*":
        answers |= {406}  # no renderer for the Accept header (checked before authentication)
    return frozenset(answers)


# --- Drawing the requests -----------------------------------------------------------------------------------------

# Weights out of 200: a third validly signed; a body over the limit (5 MiB on the wire each) 1%.
OTHER_KINDS = (
    "known-store-variant", "missing-signature", "wrong-secret", "garbage-signature", "other-body-signature",
    "unknown-store", "missing-store", "missing-topic", "unicode-headers", "wrong-method", "path-variant",
    "truncated-body", "declared-oversize", "bad-content-length", "chunked", "chunked-malformed", "invalid-header",
)  # fmt: skip
WEBHOOK_KINDS = ("signed",) * 62 + tuple(kind for kind in OTHER_KINDS for _ in range(8)) + ("oversized-body",) * 2
SIGNATURE_OF_KIND = {
    "missing-signature": "missing",
    "wrong-secret": "wrong-secret",
    "garbage-signature": "garbage",
    "other-body-signature": "other-body",
}


@dataclass(frozen=True)
class WebhookDraft:
    platform: str
    kind: str
    body: bytes
    store: str | None  # None: no header
    topic: str | None
    signature: str  # a kind from abuse_strategies.SIGNATURE_KINDS
    content_type: str
    extra: tuple[tuple[str, str | None], ...]  # None: header not sent
    id_suffix: str
    method: str = "POST"
    path_suffix: str = ""
    wire: Any = None  # the socket-level variant's drawn parameters


@dataclass(frozen=True)
class ApiDraft:
    who: str
    authorization: str | None
    method: str
    template: str
    object_id: Any
    query: tuple[tuple[str, str], ...]
    raw_query: str | None
    body: bytes
    content_type: str
    accept: str | None
    host: str | None
    cookie: str | None
    drop_slash: bool


@dataclass(frozen=True)
class WireDraft:
    kind: str
    data: bytes


def _known_store_variants(platform: str, own: str) -> list[str]:
    if platform == "shopify":
        return [own.upper(), f"https://{own}/", f"HTTPS://{own}/admin", f"{own}:443", f"\t{own} "]
    parts = urlsplit(own)
    return [own + "/", own.replace(parts.hostname or "", (parts.hostname or "").upper()), own.upper() + "/"]


def _unknown_stores(platform: str, own: str) -> list[str]:
    if platform == "shopify":
        return ["unknown.myshopify.com", "myshopify.com", f"{own}.evil.example", f"evil.example/{own}", "[::1"]
    return [f"{own}:8443", f"{own}/other", own.replace("https://", "ftp://"), "https://unknown.example", "http://["]


# Strategies are built once: a composite that builds its strategies on every draw spends its time validating them.
KINDS = st.sampled_from(WEBHOOK_KINDS)
MISSING = st.sampled_from([None, ""])
MISSING_TOPICS = st.sampled_from([None, "", " "])
WRONG_METHODS = st.sampled_from(["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])
PATH_SUFFIXES = st.sampled_from(["?a=1", "?" + "%00" * 3, "x/", "/", "%2e%2e/"])
TRUNCATABLE = st.binary(min_size=2, max_size=300) | wire_bodies.filter(lambda value: len(value) >= 2)
DECLARED_OVERSIZE = st.integers(min_value=WEBHOOK_MAX_BYTES + 1, max_value=10**18)
BAD_LENGTHS = st.sampled_from(["abc", "-1", "1.5", "0x10", "1e3", "\xb2", "1, 2", "twice", "+5"]) | st.integers(
    min_value=-(10**6), max_value=-1
).map(str)
CHUNK_SIZES = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=8)
MALFORMED_CHUNKS = st.sampled_from(["bad-size", "no-terminator", "truncated", "no-last-chunk", "negative-size"])
INVALID_HEADERS = st.sampled_from(["nul", "control", "bare-cr", "obs-fold", "no-colon", "space-before-colon"])
WEBHOOK_CONTENT_TYPES = content_types | st.sampled_from(["application/json; charset=utf-16", "multipart/form-data"])
ID_SUFFIXES = st.just("") | text
MAYBE_CSRF_COOKIE = st.none() | st.just(CSRF_COOKIE)
PING_IDS = st.integers(min_value=0)


def webhook_drafts(platform: str, targets: Targets) -> st.SearchStrategy[WebhookDraft]:
    own = targets.shopify_domain if platform == "shopify" else targets.woo_store_url
    topics = shopify_topics if platform == "shopify" else woocommerce_topics
    known_variants = st.sampled_from(_known_store_variants(platform, own))
    unknown = st.sampled_from(_unknown_stores(platform, own)) | text
    own_or_text = st.just(own) | header_texts

    @st.composite
    def draft(draw: st.DrawFn) -> WebhookDraft:
        kind = draw(KINDS)
        store: str | None = own
        topic: str | None = draw(topics)
        signature = SIGNATURE_OF_KIND.get(kind, "valid")
        body = draw(wire_bodies)
        method, path_suffix, wire = "POST", "", None
        if platform == "shopify":
            extra = [("X-Shopify-Triggered-At", draw(timestamps)), ("X-Shopify-API-Version", draw(text))]
            extra += [("X-Shopify-Event-Id", draw(text))]
        else:
            extra = [("X-WC-Webhook-ID", draw(text)), ("X-WC-Webhook-Resource", draw(text))]
        if kind == "known-store-variant":
            store = draw(known_variants)
        elif kind == "unknown-store":
            store = draw(unknown)
        elif kind == "missing-store":
            store = draw(MISSING)
            if platform == "woocommerce" and draw(st.booleans()):
                # WooCommerce's creation ping: no source, no signature, a form-encoded id
                body, signature = f"webhook_id={draw(PING_IDS)}".encode(), "missing"
        elif kind == "missing-topic":
            topic = draw(MISSING_TOPICS)
        elif kind == "unicode-headers":
            store, topic = draw(own_or_text), draw(header_texts)
            extra = [(name, draw(header_texts)) for name, _ in extra]
        elif kind == "wrong-method":
            method = draw(WRONG_METHODS)
        elif kind == "path-variant":
            path_suffix = draw(PATH_SUFFIXES)
            extra.append(("Cookie", draw(MAYBE_CSRF_COOKIE)))
        elif kind == "oversized-body":
            body = b""  # replaced by one shared body of the limit plus one byte when planned
        elif kind == "truncated-body":
            body = draw(TRUNCATABLE)
            wire = draw(st.integers(min_value=0, max_value=len(body) - 1))
        elif kind == "declared-oversize":
            wire = draw(DECLARED_OVERSIZE)
        elif kind == "bad-content-length":
            wire = draw(BAD_LENGTHS)
        elif kind == "chunked":
            wire = draw(CHUNK_SIZES)
        elif kind == "chunked-malformed":
            wire = draw(MALFORMED_CHUNKS)
        elif kind == "invalid-header":
            wire = draw(INVALID_HEADERS)
        return WebhookDraft(
            platform=platform,
            kind=kind,
            body=body,
            store=store,
            topic=topic,
            signature=signature,
            content_type=draw(WEBHOOK_CONTENT_TYPES),
            extra=tuple(extra),
            id_suffix=draw(ID_SUFFIXES),
            method=method,
            path_suffix=path_suffix,
            wire=wire,
        )

    return draft()


BAD_AUTHORIZATIONS = st.one_of(
    st.sampled_from(
        [
            "Token 0000",
            "Token",
            "Token a b",
            "Bearer 0123456789abcdef",
            "Basic dmlld2VyOnZpZXdlcg==",
            "token",
            "Token " + "f" * 40,
            "Token \xe9\xe8",
        ]
    ),
    header_texts.map(lambda value: "Token " + value),
    header_texts,
)
WHO = st.sampled_from(["anonymous", "bad-token", "viewer", "viewer", "viewer"])
TOKEN_KEYWORDS = st.sampled_from(["Token", "Token", "token", "TOKEN"])
API_METHODS = st.sampled_from(["GET"] * 4 + ["HEAD", "OPTIONS", "POST", "POST", "PUT", "PATCH", "DELETE", "FOO"])
HUGE_INTEGERS = st.integers(min_value=-(10**30), max_value=10**30)
OBJECT_IDS = api_object_ids | HUGE_INTEGERS
QUERIES = api_queries | st.dictionaries(
    st.sampled_from(API_QUERY_NAMES), st.one_of(text, HUGE_INTEGERS.map(str), st.just("\x00")), max_size=4
)
API_BODIES = st.just(b"") | wire_bodies | json_values.map(lambda value: json.dumps(value).encode())
API_TEMPLATE_CHOICES = st.sampled_from(API_TEMPLATES)
RAW_QUERIES = st.none() | st.none() | st.sampled_from(["%", "%zz", "a=%ff%fe", "&&&=", "page=1&page=x"])
API_CONTENT_TYPES = content_types | st.sampled_from(["multipart/form-data; boundary=", "application/json"])
ACCEPTS = st.none() | st.none() | st.sampled_from(["*/*", "application/xml", "text/csv"]) | text
HOSTS = st.none() | st.none() | st.none() | st.sampled_from(["evil.example", "", "127.0.0.1.evil"])
COOKIES = st.none() | st.none() | text.map(lambda value: f"sessionid={value}; csrftoken=x") | st.just(CSRF_COOKIE)
ONE_IN_30 = st.integers(min_value=0, max_value=29).map(lambda number: number == 17)


def api_drafts(targets: Targets) -> st.SearchStrategy[ApiDraft]:
    @st.composite
    def draft(draw: st.DrawFn) -> ApiDraft:
        who = draw(WHO)
        authorization = None
        if who == "viewer":
            authorization = f"{draw(TOKEN_KEYWORDS)} {targets.viewer_token}"
        elif who == "bad-token":
            authorization = draw(BAD_AUTHORIZATIONS)
        method = draw(API_METHODS)
        body = draw(API_BODIES)
        return ApiDraft(
            who=who,
            authorization=authorization,
            method=method,
            template=draw(API_TEMPLATE_CHOICES),
            object_id=draw(OBJECT_IDS),
            query=tuple(draw(QUERIES).items()),
            raw_query=draw(RAW_QUERIES),
            body=body if method not in ("GET", "HEAD") else b"",
            content_type=draw(API_CONTENT_TYPES),
            accept=draw(ACCEPTS),
            host=draw(HOSTS),
            cookie=draw(COOKIES),
            drop_slash=draw(ONE_IN_30),
        )

    return draft()


WIRE_FIXED = (
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"G\x01T /api/v1/stores/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/\xff\xfe/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /webhooks/shopify/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n12345",
)
WIRE_KINDS = st.sampled_from(["not-http", "not-http", "header-too-large", "too-many-headers", "request-line"])
NOT_HTTP = st.sampled_from(WIRE_FIXED) | st.binary(min_size=1, max_size=200)
LARGE_SIZES = st.integers(min_value=8200, max_value=20000)
HEADER_COUNTS = st.integers(min_value=101, max_value=300)


@st.composite
def wire_drafts(draw: st.DrawFn) -> WireDraft:
    kind = draw(WIRE_KINDS)
    if kind == "not-http":
        data = draw(NOT_HTTP)
    elif kind == "header-too-large":
        data = b"POST /webhooks/shopify/ HTTP/1.1\r\nHost: x\r\nX-Shopify-Topic: " + b"a" * draw(LARGE_SIZES)
        data += b"\r\n\r\n"
    elif kind == "too-many-headers":
        data = b"GET /api/v1/stores/ HTTP/1.1\r\nHost: x\r\n"
        data += b"".join(b"X-%d: a\r\n" % n for n in range(draw(HEADER_COUNTS))) + b"\r\n"
    else:
        data = b"GET /api/v1/stores/?q=" + b"a" * draw(LARGE_SIZES) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    return WireDraft(kind, data)


# Shares of the requests: Shopify 40%, WooCommerce 25%, the API 30%, bytes that are not a well-formed request 5%.
SHARES = (("shopify", 40), ("woocommerce", 25), ("api", 30), ("wire", 5))


def draw_drafts(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    """`count` examples of `strategy`, the same for the same seed (Hypothesis drives the choices)."""
    found: list[Any] = []
    round_ = 0
    while len(found) < count:

        @settings(
            max_examples=count - len(found),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis_seed(seed * 1000 + round_)
        @given(strategy)
        def collect(value: Any) -> None:
            found.append(value)

        collect()
        round_ += 1
    return found[:count]


def area_strategy(area: str, targets: Targets) -> st.SearchStrategy[Any]:
    if area in ("shopify", "woocommerce"):
        return webhook_drafts(area, targets)
    return api_drafts(targets) if area == "api" else wire_drafts()


def draw_job(job: tuple[str, Targets, int, int]) -> list[Any]:
    area, targets, size, job_seed = job
    return draw_drafts(area_strategy(area, targets), size, job_seed)


JOB_SIZE = 500  # drafts per generation job: jobs run in parallel, and their seeds do not depend on the CPU count


def all_drafts(targets: Targets, count: int, seed: int) -> list[Any]:
    """`count` drafts in the shares above, shuffled with the seed; drawn in parallel processes (Hypothesis spends
    about a millisecond per example, most of it its own bookkeeping)."""
    sizes = {area: count * share // 100 for area, share in SHARES}
    sizes["shopify"] += count - sum(sizes.values())
    jobs = [
        (area, targets, min(JOB_SIZE, size - start), seed * 1_000_000 + number * 1000 + start // JOB_SIZE)
        for number, (area, size) in enumerate(sizes.items())
        for start in range(0, size, JOB_SIZE)
    ]
    processes = min(len(jobs), os.cpu_count() or 1, 8)
    if processes > 1:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            batches = list(pool.map(draw_job, jobs))
    else:
        batches = [draw_job(job) for job in jobs]
    found = [draft for batch in batches for draft in batch]
    random.Random(seed).shuffle(found)
    return found


# --- Planning: drafts -> requests on the wire ---------------------------------------------------------------------


class Planner:
    def __init__(self, targets: Targets) -> None:
        self.targets = targets
        self._oversized: dict[str, tuple[bytes, str]] = {}

    def oversized(self, platform: str) -> tuple[bytes, str]:
        if platform not in self._oversized:
            body = b'{"id": 1, "padding": "' + b"x" * WEBHOOK_MAX_BYTES + b'"}'
            secret = self.targets.shopify_secret if platform == "shopify" else self.targets.woo_secret
            self._oversized[platform] = (body, sign(body, secret))
        return self._oversized[platform]

    def plan(self, draft: Any, index: int) -> Planned:
        if isinstance(draft, WebhookDraft):
            return self.webhook(draft, index)
        if isinstance(draft, ApiDraft):
            return self.api(draft)
        allowed = {"not-http": {CLOSED, 400}, "request-line": {400, 414}}.get(draft.kind, {400, 431})
        return Planned(f"wire/{draft.kind}", "RAW", "", raw=draft.data, allowed=frozenset(allowed))

    def webhook(self, draft: WebhookDraft, index: int) -> Planned:
        targets, platform = self.targets, draft.platform
        names = HEADER_NAMES[platform]
        secret = targets.shopify_secret if platform == "shopify" else targets.woo_secret
        body, signature = draft.body, signature_header(draft.signature, draft.body, secret)
        if draft.kind == "oversized-body":
            body, signature = self.oversized(platform)
        values: list[tuple[str, str | None]] = [
            (names["store"], draft.store),
            (names["topic"], draft.topic),
            (names["signature"], signature),
            (names["delivery"], f"{targets.run_tag}-{index}{draft.id_suffix}"),
            *draft.extra,
            ("Content-Type", draft.content_type or None),
        ]
        controls = draft.kind == "unicode-headers"
        headers = [(name.encode(), wire_value(value, controls=controls)) for name, value in values if value is not None]
        path = (SHOPIFY_PATH if platform == "shopify" else WOOCOMMERCE_PATH) + draft.path_suffix
        category = f"{platform}/{draft.kind}"
        planned = Planned(category, draft.method, path, headers, body)
        if draft.wire is not None:
            return self.webhook_on_socket(planned, draft)
        if draft.method != "POST":
            planned.allowed = frozenset({405})  # only POST is routed to the webhook views
            if any(INVALID_HEADER_BYTES.search(value) for _, value in headers):
                planned.allowed = frozenset({400})
            return planned
        if draft.path_suffix and not draft.path_suffix.startswith("?"):
            planned.allowed = frozenset({404})  # not the webhook address (no fast path, no view)
            if any(INVALID_HEADER_BYTES.search(value) for _, value in headers):
                planned.allowed = frozenset({400})
            return planned
        planned.allowed, planned.keeps = expect_delivery(platform, headers, body, targets)
        return planned

    def webhook_on_socket(self, planned: Planned, draft: WebhookDraft) -> Planned:
        """The same delivery written by hand: lengths that lie, chunked bodies, header bytes a client refuses."""
        platform, body, kind = draft.platform, planned.body, draft.kind
        headers = [(name, value) for name, value in planned.headers if name.lower() != b"content-length"]
        framing: list[bytes] = []
        payload = body
        if kind == "truncated-body":
            framing, payload = [b"Content-Length: %d" % len(body)], body[: draft.wire]
            planned.allowed, planned.keeps = expect_delivery(platform, headers, payload, self.targets)
        elif kind == "declared-oversize":
            framing, payload = [b"Content-Length: %d" % draft.wire], body[:100]
            planned.allowed = frozenset({413})
        elif kind == "bad-content-length":
            lengths = ["5", "6"] if draft.wire == "twice" else [draft.wire]
            framing = [b"Content-Length: " + value.encode("latin-1") for value in lengths]
            planned.allowed = frozenset({400})
        elif kind == "chunked":
            framing, payload = [b"Transfer-Encoding: chunked"], chunked(body, draft.wire)
            planned.allowed, planned.keeps = expect_delivery(platform, headers, body, self.targets)
        elif kind == "chunked-malformed":
            framing, payload = [b"Transfer-Encoding: chunked"], malformed_chunked(body, draft.wire)
            planned.allowed = frozenset({400})
        elif kind == "invalid-header":
            framing = [b"Content-Length: %d" % len(body), invalid_header(draft.wire)]
            planned.allowed = frozenset({400})
        if kind not in ("truncated-body", "chunked") and any(INVALID_HEADER_BYTES.search(v) for _, v in headers):
            planned.allowed = frozenset({400})
        host = f"{self.targets.host}:{self.targets.port}".encode()
        lines = [b"POST " + planned.target.encode() + b" HTTP/1.1", b"Host: " + host]
        lines += [name + b": " + value for name, value in headers] + framing
        planned.raw = b"\r\n".join(lines) + b"\r\n\r\n" + payload
        planned.method = "RAW"
        return planned

    def api(self, draft: ApiDraft) -> Planned:
        target = api_url(draft.template, draft.object_id)
        if draft.drop_slash:
            target = target.rstrip("/")
        query = draft.raw_query if draft.raw_query is not None else urlencode(draft.query)
        if query:
            target += "?" + query
        headers: list[tuple[bytes, bytes]] = []
        for name, value in (
            ("Authorization", draft.authorization),
            ("Content-Type", draft.content_type or None),
            ("Accept", draft.accept),
            ("Cookie", draft.cookie),
        ):
            if value is not None:
                headers.append((name.encode(), wire_value(value)))
        if draft.host is not None:
            headers.append((b"Host", draft.host.encode()))
        accept = next((value.decode("latin-1").strip() for name, value in headers if name == b"Accept"), None)
        allowed = expect_api(draft.who, draft.method, target, headers, accept, draft.host is not None)
        return Planned(f"api/{draft.who}", draft.method, target, headers, draft.body, allowed=allowed)


def chunked(body: bytes, sizes: list[int]) -> bytes:
    pieces, rest = [], body
    for size in sizes:
        if not rest:
            break
        piece, rest = rest[:size], rest[size:]
        pieces.append(b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n")
    if rest:
        pieces.append(b"%x\r\n" % len(rest) + rest + b"\r\n")
    return b"".join(pieces) + b"0\r\n\r\n"


def malformed_chunked(body: bytes, how: str) -> bytes:
    body = body or b"{}"
    size = b"%x" % len(body)
    return {
        "bad-size": b"zz\r\n" + body + b"\r\n0\r\n\r\n",
        "no-terminator": size + b"\r\n" + body + b"XX0\r\n\r\n",
        "truncated": size + b"\r\n" + body[: len(body) // 2],
        "no-last-chunk": size + b"\r\n" + body + b"\r\n",
        "negative-size": b"-5\r\n" + body + b"\r\n0\r\n\r\n",
    }[how]


def invalid_header(how: str) -> bytes:
    return {
        "nul": b"X-Note: a\x00b",
        "control": b"X-Note: a\x01b",
        "bare-cr": b"X-Note: a\rb",
        "obs-fold": b"X-Note: a\r\n b",
        "no-colon": b"X-Note a",
        "space-before-colon": b"X-Note : a",
    }[how]


def add_replays(planned: list[Planned], rng: random.Random) -> list[Planned]:
    """Resend some signed deliveries exactly (same delivery id: no second row), and move some signatures onto other
    bodies (a captured signature replayed: refused)."""
    signed = [item for item in planned if item.keeps is not None and item.raw is None]
    if not signed:
        return planned
    extra: list[Planned] = []
    for original in rng.sample(signed, k=max(1, len(signed) // 50)):
        extra.append(replace(original, category=original.category.split("/")[0] + "/replayed-delivery"))
    for original in rng.sample(signed, k=max(1, len(signed) // 50)):
        donor = rng.choice(signed)
        if donor.body == original.body or donor.category.split("/")[0] != original.category.split("/")[0]:
            continue
        signature_name = (
            b"x-shopify-hmac-sha256" if original.target.startswith(SHOPIFY_PATH) else b"x-wc-webhook-signature"
        )
        donated = next(value for name, value in donor.headers if name.lower() == signature_name)
        headers = [(name, donated if name.lower() == signature_name else value) for name, value in original.headers]
        headers = [(n, (v + b"-r") if n.lower().endswith((b"webhook-id", b"delivery-id")) else v) for n, v in headers]
        extra.append(
            replace(
                original,
                category=original.category.split("/")[0] + "/replayed-signature",
                headers=headers,
                allowed=frozenset({401}),
                keeps=None,
            )
        )
    merged = planned + extra
    rng.shuffle(merged)
    return merged


# --- Sending -----------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: int | None  # None: a transport error
    error: str = ""


def send_raw(host: str, port: int, data: bytes) -> Outcome:
    """Write one message, half-close, read the answer until the server closes (skipping 100 Continue)."""
    received = b""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before reading everything: its answer is still readable
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
    except OSError as exc:
        return Outcome(None, f"{exc.__class__.__name__}: {exc}")
    statuses = [int(match) for match in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", received)]
    final = [status for status in statuses if status >= 200]
    if not received:
        return Outcome(CLOSED)
    if not final:
        return Outcome(None, f"unreadable answer {received[:100]!r}")
    return Outcome(final[0])


class Sender:
    def __init__(self, base_url: str, targets: Targets) -> None:
        self.base_url, self.targets = base_url.rstrip("/"), targets
        self.local = threading.local()
        self.clients: list[httpx.Client] = []
        self.lock = threading.Lock()

    def client(self) -> httpx.Client:
        client = getattr(self.local, "client", None)
        if client is None:
            # No cookie jar: every request carries only its own headers, so each one reproduces alone.
            jar = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
            client = httpx.Client(base_url=self.base_url, timeout=TIMEOUT_S, follow_redirects=False, cookies=jar)
            with self.lock:
                self.clients.append(client)
            self.local.client = client
        return client

    def send(self, planned: Planned) -> Outcome:
        if planned.raw is not None:
            return send_raw(self.targets.host, self.targets.port, planned.raw)
        try:
            answer = self.client().request(
                planned.method, planned.target, headers=planned.headers, content=planned.body or None
            )
        except httpx.HTTPError as exc:
            return Outcome(None, f"{exc.__class__.__name__}: {exc}")
        return Outcome(answer.status_code, " ".join(answer.text.split())[:200] if answer.status_code >= 500 else "")

    def close(self) -> None:
        for client in self.clients:
            client.close()


# --- The database -------------------------------------------------------------------------------------------------


def snapshot(database_url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        last_event = conn.execute("SELECT coalesce(max(id), 0) FROM inventory_ai_webhookevent").fetchone()[0]
        others = {
            table: conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(id || ':' || {columns}, ',' ORDER BY id), '')) FROM {table}"
            ).fetchone()
            for table, columns in (
                ("inventory_ai_reordersuggestion", "status || ':' || coalesce(approved_qty, -1)"),
                ("inventory_ai_stockadjustment", "status || ':' || new_available"),
                ("inventory_ai_auditentry", "action"),
            )
        }
    return {"last_event": last_event, "others": others}


def existing_keys(database_url: str, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    import psycopg

    keys = list(keys)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT platform, dedup_key FROM inventory_ai_webhookevent WHERE dedup_key = ANY(%s)",
            [[key for _, key in keys]],
        ).fetchall()
    return {(platform, key) for platform, key in rows}


def new_events(database_url: str, after_id: int) -> tuple[list[tuple[str, str]], list[str]]:
    """The rows added since `after_id` as (platform, key), and the ids of rows that cannot be read back whole."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, platform, dedup_key FROM inventory_ai_webhookevent WHERE id > %s ORDER BY id", [after_id]
        ).fetchall()
        unreadable = []
        try:
            conn.execute("SELECT * FROM inventory_ai_webhookevent WHERE id > %s", [after_id]).fetchall()
        except psycopg.DataError:
            conn.rollback()
            for pk, *_ in rows:
                try:
                    conn.execute("SELECT * FROM inventory_ai_webhookevent WHERE id = %s", [pk]).fetchall()
                except psycopg.DataError as exc:
                    conn.rollback()
                    unreadable.append(f"event {pk}: {exc}")
    return [(platform, key) for _, platform, key in rows], unreadable


# --- The run -------------------------------------------------------------------------------------------------------


def run_abuse(
    base_url: str,
    *,
    database_url: str,
    shopify_domain: str,
    shopify_secret: str,
    woo_store_url: str,
    woo_secret: str,
    viewer_token: str,
    requests: int = 10000,
    concurrency: int = 8,
    seed: int = 0,
) -> dict:
    """Send `requests` generated bad requests (plus a few replays) to the live server at `base_url` and check the
    answers and the database (see the module's docstring). Returns the figures and `ok`."""
    parts = urlsplit(base_url)
    targets = Targets(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 80,
        shopify_domain=shopify_domain,
        shopify_secret=shopify_secret,
        woo_store_url=woo_store_url,
        woo_secret=woo_secret,
        viewer_token=viewer_token,
        run_tag=f"abuse-{seed}-{secrets.token_hex(4)}",  # delivery ids unique across runs on the same database
    )
    generation_started = time.monotonic()
    drawn = all_drafts(targets, requests, seed)
    planner = Planner(targets)
    planned = [planner.plan(draft, index) for index, draft in enumerate(drawn)]
    planned = add_replays(planned, random.Random(seed))
    generation_s = time.monotonic() - generation_started

    kept = {item.keeps for item in planned if item.keeps is not None}
    already = existing_keys(database_url, kept)
    before = snapshot(database_url)
    sender = Sender(base_url, targets)
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(pool.map(sender.send, planned))
    finally:
        sender.close()
    wall_s = time.monotonic() - started
    after = snapshot(database_url)
    added, unreadable = new_events(database_url, before["last_event"])
    try:
        alive = httpx.get(f"{base_url.rstrip('/')}/healthz/live", timeout=10).status_code == 200
    except httpx.HTTPError:
        alive = False

    by_status: Counter[int] = Counter()  # 0: closed without an answer; transport errors are counted apart
    by_category: Counter[str] = Counter()
    failing_categories: Counter[str] = Counter()
    server_errors = transport_errors = unexpected = 0
    failures: list[dict] = []
    for item, outcome in zip(planned, outcomes, strict=True):
        by_category[item.category] += 1
        if outcome.status is not None:
            by_status[outcome.status] += 1
        problem = ""
        if outcome.status is None:
            transport_errors += 1
            problem = outcome.error
        elif outcome.status >= 500:
            server_errors += 1
            failing_categories[item.category] += 1
            problem = f"server error {outcome.status} {outcome.error}"
        elif outcome.status not in item.allowed:
            unexpected += 1
            problem = f"answered {outcome.status}, expected one of {sorted(item.allowed)}"
        if problem and len(failures) < 10:
            failures.append({"category": item.category, "problem": problem, "request": item.describe()})

    expected_rows = kept - already
    added_set = set(added)
    foreign = [key for key in added if key not in kept]  # a row no validly signed request asked for
    missing = expected_rows - added_set
    for key in foreign[:3] + sorted(missing)[:3]:
        if len(failures) < 10:
            what = "kept without a valid signature" if key in foreign else "signed delivery not kept"
            failures.append({"category": f"{key[0]}/inbox", "problem": what, "request": key[1]})
    for problem in unreadable[:3]:
        if len(failures) < 10:
            failures.append({"category": "inbox/unreadable-row", "problem": problem, "request": ""})
    other_tables_changed = before["others"] != after["others"]
    ok = (
        server_errors == 0
        and transport_errors == 0
        and unexpected == 0
        and len(added) == len(expected_rows)
        and not foreign
        and not missing
        and not unreadable
        and not other_tables_changed
        and alive
    )
    return {
        "requests": len(planned),
        "generation_s": round(generation_s, 2),
        "wall_s": round(wall_s, 2),
        "rate_per_s": round(len(planned) / wall_s, 1) if wall_s else 0.0,
        "by_status": dict(sorted(by_status.items())),
        "by_category": dict(sorted(by_category.items())),
        "server_errors": server_errors,
        "server_errors_by_category": dict(sorted(failing_categories.items())),
        "transport_errors": transport_errors,
        "unexpected_answers": unexpected,
        "events_added": len(added),
        "events_expected": len(expected_rows),
        "events_kept_without_signature": len(foreign),
        "events_unreadable": len(unreadable),
        "other_tables_changed": other_tables_changed,
        "server_alive_after": alive,
        "ok": ok,
        "examples_of_failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the live server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--database-url", required=True, help="its PostgreSQL database (rows are counted there)")
    parser.add_argument("--shopify-domain", required=True)
    parser.add_argument("--shopify-secret", required=True, help="the Shopify store's webhook secret")
    parser.add_argument("--woo-store-url", required=True)
    parser.add_argument("--woo-secret", required=True, help="the WooCommerce store's webhook secret")
    parser.add_argument("--viewer-token", required=True, help="API token of a user in the Viewer role")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run_abuse(
        args.base_url,
        database_url=args.database_url,
        shopify_domain=args.shopify_domain,
        shopify_secret=args.shopify_secret,
        woo_store_url=args.woo_store_url,
        woo_secret=args.woo_secret,
        viewer_token=args.viewer_token,
        requests=args.requests,
        concurrency=args.concurrency,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    sys.exit(0 if result["ok"] else 1)


def print_table(result: dict) -> None:
    print(f"Abuse: {result['requests']:,} requests in {result['wall_s']:.1f} s ({result['rate_per_s']:,.0f}/s), "
          f"drawn in {result['generation_s']:.1f} s")  # fmt: skip
    print("answers:    " + ", ".join(f"{status}: {count:,}" for status, count in result["by_status"].items()))
    cells = [f"{name:<34}{count:>6,}" for name, count in result["by_category"].items()]
    for start in range(0, len(cells), 3):
        print("  " + "    ".join(cells[start : start + 3]))
    rows = [
        ("server errors (5xx)", result["server_errors"], 0),
        ("transport errors", result["transport_errors"], 0),
        ("unexpected answers", result["unexpected_answers"], 0),
        ("inbox rows added", result["events_added"], result["events_expected"]),
        ("rows kept unsigned", result["events_kept_without_signature"], 0),
        ("rows unreadable", result["events_unreadable"], 0),
        ("other tables changed", int(result["other_tables_changed"]), 0),
        ("server alive after", int(result["server_alive_after"]), 1),
    ]
    for name, got, expected in rows:
        print(f"{name:<24}{got:>8,}   expected {expected:,}  {'OK' if got == expected else 'MISMATCH'}")
    for name, count in result["server_errors_by_category"].items():
        print(f"  5xx in {name}: {count:,}")
    for failure in result["examples_of_failures"]:
        print(f"- {failure['category']}: {failure['problem']}\n    {failure['request'][:300]}")
    print("ok: " + ("yes" if result["ok"] else "NO"))


if __name__ == "__main__":
    main()
