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
import json
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from chaos_abuse_requests import (  # noqa: E402
    CLOSED,
    HEADER_NAMES,
    INVALID_HEADER_BYTES,
    SHOPIFY_PATH,
    TIMEOUT_S,
    WEBHOOK_MAX_BYTES,
    WOOCOMMERCE_PATH,
    ApiDraft,
    Planned,
    Targets,
    WebhookDraft,
    all_drafts,
    expect_api,
    expect_delivery,
    wire_value,
)

from tests.abuse_strategies import api_url, sign, signature_header  # noqa: E402

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
