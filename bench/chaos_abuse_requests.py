"""The abuse run's requests (`bench/chaos_abuse.py`): what to send, drawn from the Hypothesis strategies of
`tests/abuse_strategies.py`, and what the server must answer to each and keep of it."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import os
import random
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.abuse_strategies import (  # noqa: E402
    api_object_ids,
    api_queries,
    content_types,
    header_texts,
    json_values,
    shopify_topics,
    sign,
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
