"""Send events to a receiver as a store platform would: concurrently across orders, in sequence within one order,
retried with exponential backoff on any non-2xx answer, timeout or connection error, sometimes delivered twice.

Within an order the next event starts only after the previous one (and its duplicate, if any) got its final answer,
so a receiver sees each order's snapshots in the order they were made; different orders overlap up to
`concurrency` requests in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import http.cookiejar
import importlib.util
import math
import random
import ssl
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import certifi
import httpx

from integrations.simulator.events import Event
from integrations.simulator.transport import LeanHTTP1Transport


def _remember_missing_sniffio() -> None:
    """httpcore (httpx's default transport) imports `sniffio` on every request to learn the event loop, and falls
    back to asyncio when it is missing. Without sniffio installed each of those imports searches the whole sys.path
    again, about a millisecond per request. Marking the module missing in `sys.modules` makes the failure
    immediate; it changes nothing else, as importing it could only fail."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


HTTP_TRANSPORTS = ("lean", "httpx")
# Events read ahead of the ones in flight, per unit of concurrency: enough to keep every connection busy while a
# few orders wait on their previous event, without building the whole file's events up front.
LOOKAHEAD_PER_SLOT = 4


@dataclass
class ReplayStats:
    """What a replay did. `sent` = `accepted` + rejected deliveries + `retried`."""

    events: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    # Every send's outcome (status code, "timeout" or "connection_error"), retries included.
    answers: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    duplicates_sent: int = 0
    # In a duplicate storm: deliveries sent after a later event of the same order had been sent (stale snapshots).
    stale_deliveries: int = 0
    dropped: int = 0
    wall_seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def throughput(self) -> float:
        return self.accepted / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def latency_percentiles(self) -> dict[str, float]:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}

        def rank(fraction: float) -> float:
            # Nearest-rank percentile: the smallest sample with at least `fraction` of the samples at or below it.
            index = math.ceil(round(fraction * len(ordered), 6)) - 1
            return round(ordered[min(max(index, 0), len(ordered) - 1)], 2)

        return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": round(ordered[-1], 2)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": sum(self.rejected.values()),
            "rejected_by_status": dict(sorted(self.rejected.items())),
            "answers": dict(sorted(self.answers.items())),
            "retried": self.retried,
            "duplicates_sent": self.duplicates_sent,
            "stale_deliveries": self.stale_deliveries,
            "dropped": self.dropped,
            "throughput_per_s": round(self.throughput, 1),
            "latency_ms": self.latency_percentiles(),
            "wall_seconds": round(self.wall_seconds, 3),
        }


class TokenBucket:
    """Start-rate limit: at most `rate` acquisitions per second, with a burst of one (0 = unlimited)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def acquire(self) -> None:
        if not self.interval:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class _NoCookies(http.cookiejar.CookieJar):
    """Platforms' webhook senders keep no cookies; skipping the jar saves parsing every response's headers."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


class _Lanes:
    """`concurrency` slots for requests, each with its own client holding one keep-alive connection.

    One client per connection rather than one pooled client: `LeanHTTP1Transport` holds a single connection, and
    httpcore's pool (with `http_transport="httpx"`) re-checks every pooled connection, a socket poll each, several
    times per request, about a millisecond of CPU per request at 16 connections.
    """

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self.free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in clients:
            self.free.put_nowait(client)


class _Sender:
    def __init__(
        self,
        lanes: _Lanes,
        target: str,
        stats: ReplayStats,
        *,
        rate: float,
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
    ) -> None:
        self.lanes = lanes
        self.target = httpx.URL(target)
        self.stats = stats
        self.bucket = TokenBucket(rate)
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    async def run(self, event: Event, previous: asyncio.Task | None, duplicate: bool) -> None:
        if previous is not None:
            # The previous event of this order never raises for HTTP failures, so this only waits.
            await previous
        await self.bucket.acquire()
        if await self.deliver(event) and duplicate:
            self.stats.duplicates_sent += 1
            await self.deliver(event)

    async def deliver(self, event: Event) -> bool:
        """Send until a 2xx answer or `max_attempts` sends; returns whether it was accepted."""
        stats = self.stats
        free = self.lanes.free
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                stats.retried += 1
                # The lane is released while waiting, so other orders keep the connections busy.
                await asyncio.sleep(min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 2)))
            client = await free.get()
            try:
                stats.sent += 1
                started = time.perf_counter()
                try:
                    response = await client.post(self.target, content=event.body, headers=event.headers_for_send())
                except httpx.TimeoutException:
                    outcome = "timeout"
                except httpx.TransportError:
                    outcome = "connection_error"
                else:
                    outcome = str(response.status_code)
                    if response.is_success:
                        stats.answers[outcome] += 1
                        stats.latencies_ms.append((time.perf_counter() - started) * 1000)
                        stats.accepted += 1
                        return True
                stats.answers[outcome] += 1
                stats.latencies_ms.append((time.perf_counter() - started) * 1000)
            finally:
                free.put_nowait(client)
        stats.rejected[outcome] += 1
        return False


class _StormCopy(Event):
    """A further delivery of an event already counted, in a duplicate storm."""

    __slots__ = ()


def _new_delivery(event: Event) -> Event:
    """The same event delivered again as a new delivery: the platform's delivery id header gets a fresh value."""
    delivery_header = "x-shopify-webhook-id"
    headers = tuple(
        (name, str(uuid.uuid4()) if name.lower() == delivery_header else value) for name, value in event.headers
    )
    return dataclasses.replace(event, headers=headers)


def _storm(events: Iterable[Event], copies: int, window: int, rng: random.Random, stats: ReplayStats):
    """Each event `copies` times, shuffled within windows of `window` events."""
    batch: list[tuple[int, Event]] = []
    latest_sent: dict[str, int] = {}

    def shuffled() -> list[Event]:
        rng.shuffle(batch)
        for position, event in batch:
            if position < latest_sent.get(event.order_id, -1):
                stats.stale_deliveries += 1
            latest_sent[event.order_id] = max(position, latest_sent.get(event.order_id, -1))
        ready = [event for _, event in batch]
        batch.clear()
        return ready

    for position, event in enumerate(events):
        batch.append((position, event))
        for copy in range(1, copies):
            again = _new_delivery(event) if copy == copies - 1 else event
            batch.append((position, _StormCopy(**{f.name: getattr(again, f.name) for f in dataclasses.fields(Event)})))
            stats.duplicates_sent += 1
        if len(batch) >= window * copies:
            yield from shuffled()
    yield from shuffled()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # One TLS context for all clients: loading the CA bundle takes ~20 ms per context.
    return ssl.create_default_context(cafile=certifi.where())


def _new_client(target: str, timeout: float, http_transport: str) -> httpx.AsyncClient:
    if http_transport not in HTTP_TRANSPORTS:
        raise ValueError(f"unknown http_transport {http_transport!r} (expected one of {', '.join(HTTP_TRANSPORTS)})")
    if http_transport == "lean" and httpx.URL(target).scheme == "http":
        transport: httpx.AsyncBaseTransport = LeanHTTP1Transport()
    else:
        transport = httpx.AsyncHTTPTransport(
            verify=_tls_context(), limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)
        )
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), transport=transport, trust_env=False, cookies=_NoCookies())


async def replay(
    events: Iterable[Event],
    target: str,
    *,
    concurrency: int = 16,
    rate: float = 0.0,
    duplicates: float = 0.0,
    drop: float = 0.0,
    timeout: float = 5.0,
    max_attempts: int = 8,
    seed: int = 0,
    backoff_base: float = 0.2,
    backoff_cap: float = 5.0,
    client: httpx.AsyncClient | None = None,
    http_transport: str = "lean",
    storm_copies: int = 1,
    storm_window: int = 200,
) -> ReplayStats:
    """POST every event to `target`; `events` may be a lazy iterator (it is read a little ahead of the sends).

    Without `client`, each of the `concurrency` request slots gets its own `httpx.AsyncClient` with one keep-alive
    connection (`timeout` applies to connect, write and read alike), over `LeanHTTP1Transport` for an `http://`
    target unless `http_transport="httpx"` asks for httpx's default transport; a given `client` is shared by all
    slots instead and left open.

    Which events get a duplicate delivery is drawn in event order from `random.Random(seed)`, so it does not
    depend on timing. A `drop` share of the events is never sent at all, as when a platform's delivery is lost
    (drawn from its own generator, so the duplicates stay the same); reconciliation is what recovers them.

    `storm_copies` > 1 turns the replay into a duplicate storm: events are taken `storm_window` at a time, each
    delivered `storm_copies` times, and every window is shuffled and sent with no order kept, so an order's older
    snapshot often arrives after a newer one and a refund before its order. Of the copies, the first ones repeat the
    delivery as is (a retry); the last one is a new delivery of the same event (a fresh webhook id).
    """
    _remember_missing_sniffio()
    concurrency = max(1, concurrency)
    stats = ReplayStats()
    rng, drop_rng = random.Random(seed), random.Random(seed + 1)
    if client is not None:
        clients, owned = [client] * concurrency, []
    else:
        owned = [_new_client(target, timeout, http_transport) for _ in range(concurrency)]
        clients = owned
    sender = _Sender(
        _Lanes(clients),
        target,
        stats,
        rate=rate,
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        backoff_cap=backoff_cap,
    )
    lookahead = asyncio.Semaphore(concurrency * LOOKAHEAD_PER_SLOT)
    last_of_order: dict[str, asyncio.Task] = {}
    running: set[asyncio.Task] = set()
    failures: list[BaseException] = []

    def finished(task: asyncio.Task, order_id: str) -> None:
        running.discard(task)
        lookahead.release()
        if last_of_order.get(order_id) is task:
            del last_of_order[order_id]
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception())

    if storm_copies > 1:
        events = _storm(events, storm_copies, max(1, storm_window), random.Random(seed + 2), stats)

    started = time.perf_counter()
    try:
        for event in events:
            if failures:
                break
            if not isinstance(event, _StormCopy):
                stats.events += 1
            if drop > 0 and drop_rng.random() < drop:
                stats.dropped += 1
                continue
            await lookahead.acquire()
            duplicate = duplicates > 0 and rng.random() < duplicates
            previous = None if storm_copies > 1 else last_of_order.get(event.order_id)
            task = asyncio.create_task(sender.run(event, previous, duplicate))
            last_of_order[event.order_id] = task
            running.add(task)
            task.add_done_callback(lambda done, order_id=event.order_id: finished(done, order_id))
            # Building the next event is CPU work on this loop: let answers that arrived meanwhile be read first,
            # or their latency would include the time spent building events ahead.
            await asyncio.sleep(0)
        if running:
            done, _ = await asyncio.wait(set(running))
            failures.extend(task.exception() for task in done if not task.cancelled() and task.exception())
    finally:
        if running:
            # Only when the dispatch loop itself failed or was cancelled: stop what is still queued or sending.
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        for owned_client in owned:
            await owned_client.aclose()
        stats.wall_seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    return stats
