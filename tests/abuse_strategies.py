"""Hostile requests for the webhook endpoints and the API, as Hypothesis strategies and helpers.

Shared by the in-process test (`tests/test_abuse.py`, Django's test client) and the live-server bench
(`bench/chaos_abuse.py`, real HTTP against gunicorn), so both throw the same things at the product. Nothing here
imports Django: the bench runs without settings.

The test draws from `bodies`, `signature_kinds`, `shopify_topics`, `shopify_domains`, `content_types`,
`woocommerce_signature_kinds`, `woocommerce_sources`, `woocommerce_topics` and the `api_*` strategies. The bench
draws from those too, and from `wire_bodies` (adding `extreme_bodies`: other encodings, numbers past every integer
type, NUL escapes), `header_texts` (control characters, latin-1, long values) and `timestamps` (delivery times at
the ends of the calendar), which go beyond what a test client request can carry. `tests/test_abuse_text.py` draws
documented bodies with odd text in their fields (`with_odd_text`: lone surrogates, NUL, C1 controls, non-characters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import quote

from hypothesis import strategies as st

# --- Values and bodies -------------------------------------------------------------------------------------------

text = st.text(max_size=60)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)


def nested(depth: int) -> bytes:
    """A JSON object nested `depth` levels deep (deeper than the parser's recursion limit from about 1,000)."""
    return b'{"a":' * depth + b"1" + b"}" * depth


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.builds(
        lambda order, cut: json.dumps(order).encode()[:cut],
        st.fixed_dictionaries({"id": st.integers(), "line_items": st.lists(json_values, max_size=3)}),
        st.integers(min_value=0, max_value=80),
    ),
    st.integers(min_value=50, max_value=5000).map(nested),
    st.just(b'{"id": 1e999999, "created_at": "\\ud800"}'),
)

# Bodies no store sends, but a broken proxy or an attacker may: raw UTF-8 text, other encodings, numbers beyond
# every integer type (and beyond Python's 4,300-digit limit for int()), JSON's non-standard constants, a byte order
# mark, orders whose every field is wrong.
order_like = st.fixed_dictionaries(
    {
        "id": st.one_of(st.integers(min_value=-(10**30), max_value=10**30), text, st.floats()),
        "created_at": st.one_of(text, st.integers()),
        "line_items": st.lists(
            st.fixed_dictionaries(
                {"variant_id": st.one_of(st.integers(), text), "quantity": st.one_of(st.integers(), st.floats())}
            ),
            max_size=3,
        ),
    },
    optional={"email": text, "note": text, "total_price": st.one_of(text, st.floats(allow_nan=False))},
)
extreme_bodies = st.one_of(
    json_values.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    order_like.map(lambda order: json.dumps(order, ensure_ascii=False).encode()),
    st.sampled_from(["utf-16", "utf-32", "utf-8-sig", "latin-1"]).flatmap(
        lambda codec: order_like.map(lambda order: json.dumps(order, ensure_ascii=codec == "latin-1").encode(codec))
    ),
    st.integers(min_value=20, max_value=6000).map(lambda digits: b'{"id": ' + b"9" * digits + b"}"),
    st.sampled_from(
        [
            b"",
            b" ",
            b"\x00",
            b"null",
            b"[]",
            b'"a string"',
            b'{"id": NaN, "total": Infinity}',
            b'{"id": -Infinity}',
            b'{"id": 1e400}',
            b'{"id": 1}{"id": 2}',
            b'{"id": 1,}',
            b'{"id": "\\u0000"}',
            b'{"a": "\\udfff"}',
            b"\xef\xbb\xbf{}",
            b"\xff\xfe\x00\x00",
            b"webhook_id=12345",
        ]
    ),
    st.integers(min_value=50, max_value=5000).map(lambda depth: b"[" * depth + b"]" * depth),
)
wire_bodies = st.one_of(bodies, extreme_bodies)

# --- Text a signed body may hold that is not ordinary text -----------------------------------------------------------
# Lone UTF-16 surrogates: valid JSON (`"\\udb8c"`; JSON's grammar allows any \\uXXXX escape) that Python reads, but no
# UTF-8 encoding exists for them, so no database can store them as text. NUL: valid Unicode that PostgreSQL text
# refuses. C1 controls and non-characters: odd, but valid Unicode that every column stores.

LONE_SURROGATES = ("\ud800", "\udb8c", "\udbff", "\udc00", "\udfff")
C1_CONTROLS = ("\x80", "\x85", "\x9b", "\x9f")
NON_CHARACTERS = ("\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff")
odd_characters = st.one_of(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(("\x00", *LONE_SURROGATES, *C1_CONTROLS, *NON_CHARACTERS)),
)
# Short texts mixing ordinary characters with at least one odd one.
odd_texts = st.builds(
    lambda before, odd, after: before + odd + after,
    st.text(max_size=6),
    st.lists(odd_characters, min_size=1, max_size=3).map("".join),
    st.text(max_size=6),
)
# Names of the fields that reach a database column when an event is applied (ids, titles, SKUs, names, statuses):
# drawn more often than the rest of a payload's leaves.
STORED_FIELD_NAMES = frozenset(
    {
        "id", "order_id", "line_item_id", "variant_id", "product_id", "variation_id", "parent_id",
        "inventory_item_id", "location_id", "sku", "title", "variant_title", "name", "vendor", "product_type",
        "status", "financial_status", "currency", "number", "order_number", "restock_type",
    }
)  # fmt: skip


def _leaves(value: object, path: tuple = ()) -> list[tuple]:
    """Paths to every string and number (not bool) in a JSON value."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))]
    return [path] if isinstance(value, str | int | float) and not isinstance(value, bool) else []


def _replaced(payload: object, replacements: list[tuple[tuple, str]]) -> object:
    copy = json.loads(json.dumps(payload))
    for path, text in replacements:
        parent = copy
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = text
    return copy


def with_odd_text(payload: dict) -> st.SearchStrategy[dict]:
    """`payload` (a documented webhook body) with one to four of its leaves replaced by odd text, most often a field
    that reaches a column."""
    leaves = _leaves(payload)
    stored = [path for path in leaves if path and path[-1] in STORED_FIELD_NAMES] or leaves
    chosen = st.one_of(st.sampled_from(stored), st.sampled_from(stored), st.sampled_from(leaves))
    return st.lists(st.tuples(chosen, odd_texts), min_size=1, max_size=4).map(
        lambda replacements: _replaced(payload, replacements)
    )


def json_bytes(payload: object, *, escaped: bool) -> bytes:
    """A body as a sender writes it: non-ASCII as `\\uXXXX` escapes, or as raw UTF-8 (a lone surrogate then becomes
    the three bytes UTF-8 forbids, which Python's JSON reader still decodes)."""
    if escaped:
        return json.dumps(payload).encode()
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")


# --- Signatures ----------------------------------------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """What a store sends: base64(HMAC-SHA256(raw body, secret))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


SIGNATURE_KINDS = ("valid", "missing", "wrong-secret", "garbage", "other-body")
signature_kinds = st.sampled_from(SIGNATURE_KINDS)
woocommerce_signature_kinds = st.sampled_from(["valid", "missing", "wrong-secret"])


def signature_header(kind: str, body: bytes, secret: str) -> str | None:
    """The signature header's value for one kind of (mostly wrong) signature; None: no header at all."""
    if kind == "valid":
        return sign(body, secret)
    if kind == "wrong-secret":
        return sign(body, "not-" + secret)
    if kind == "garbage":
        return "%%%not base64"
    if kind == "other-body":
        return sign(body + b" ", secret)  # a real signature, replayed onto a body it was not made for
    if kind == "missing":
        return None
    raise ValueError(f"unknown signature kind {kind!r}")


# --- Headers ---------------------------------------------------------------------------------------------------------


def as_sent(value: str) -> str:
    """A header value as the server reads it: UTF-8 bytes on the wire, decoded as latin-1 (PEP 3333)."""
    return value.encode("utf-8", "replace").decode("latin-1", "replace")


content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""])
shopify_topics = st.one_of(st.sampled_from(["orders/create", "refunds/create", "products/update"]), text)
woocommerce_topics = st.one_of(st.sampled_from(["order.created", "product.updated", "coupon.created"]), text)


def shopify_domains(domain: str) -> st.SearchStrategy[str]:
    """The store's own domain, an empty or unknown one, or any text."""
    return st.one_of(st.just(domain), st.sampled_from(["", "unknown.myshopify.com"]), text)


def woocommerce_sources(site_url: str) -> st.SearchStrategy[str]:
    """The store's own site URL or any text."""
    return st.one_of(st.just(site_url), text)


# Header values a real client can put on the wire (every byte but the line breaks): control characters, latin-1,
# any Unicode, long values.
header_texts = st.one_of(
    text,
    st.text(st.characters(codec="latin-1"), max_size=40),
    st.text(st.characters(max_codepoint=0x1F), max_size=8),
    st.integers(min_value=100, max_value=3000).map(lambda size: "x" * size),
)


def _utc_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# Delivery timestamps (X-Shopify-Triggered-At): valid ISO 8601 at both ends of the calendar with the widest offsets
# Python accepts (some fall outside the calendar once moved to UTC), impossible dates, and any header text.
timestamps = st.one_of(
    st.builds(
        lambda moment, minutes: moment.isoformat() + _utc_offset(minutes),
        st.datetimes(),
        st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:59.999999Z",
            "2026-02-30T10:00:00Z",
            "2026-11-27T10:00:00+24:00",
            "2026-11-27T25:00:00Z",
        ]
    ),
    header_texts,
)


# --- API -----------------------------------------------------------------------------------------------------------

API_PATHS = (
    "/api/v1/suggestions/",
    "/api/v1/suggestions/{id}/approve/",
    "/api/v1/suggestions/{id}/reject/",
    "/api/v1/adjustments/",
    "/api/v1/adjustments/{id}/approve/",
    "/api/v1/variants/",
    "/api/v1/variants/{id}/forecast/",
    "/api/v1/stores/",
    "/api/v1/runs/",
)
API_QUERY_NAMES = ("store", "status", "risk", "sku", "page", "ordering", "search")

api_users = st.sampled_from(["anonymous", "viewer", "planner", "bad-token"])
api_methods = st.sampled_from(["get", "post", "put", "patch", "delete"])
api_paths = st.sampled_from(API_PATHS)
api_object_ids = st.one_of(st.integers(min_value=-5, max_value=10**12), text)
api_queries = st.dictionaries(st.sampled_from(API_QUERY_NAMES), text, max_size=3)


def api_url(path: str, object_id: object) -> str:
    """A path template with its `{id}` filled in, percent-encoded as a client sends it."""
    return path.replace("{id}", quote(str(object_id), safe=""))
