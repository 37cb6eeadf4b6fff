"""The webhook inbox: receive (verify, store once, answer) and process (in a worker).

Receiving does the least that makes an event safe: find the store, verify the signature over the raw bytes, insert
one `WebhookEvent` row (unique per store and deduplication key), and enqueue its processing after the commit. If the
broker is down the row stays `received` and the sweeper enqueues it later; if the database is down the caller
answers 503 so that the platform retries. Processing parses, normalises and applies the payload in one transaction
with the event's status change, so an event is applied exactly once however often its task runs.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from integrations import records as r
from integrations.errors import StoreAPIError
from integrations.webhooks import PayloadError, WebhookRejected, signature_matches
from inventory_ai import dispatch
from inventory_ai.choices import WebhookStatus
from inventory_ai.gateways import store_gateway, webhook_provider
from inventory_ai.models import Refund, Store, WebhookEvent
from inventory_ai.models.stores import normalize_store_domain
from inventory_ai.services.records import NotReadyYet, apply_records
from inventory_ai.text import describe_character, find_unstorable_text, storable, unstorable_character

logger = logging.getLogger(__name__)

# An event that still cannot be applied after this many attempts is parked as failed (visible, re-queueable).
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Received:
    status: int
    message: str
    event_id: int | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class _StoreKeys:
    pk: int
    domain: str
    secrets: tuple[str, ...]
    expires: float


# Stores' ids and decrypted webhook secrets, per process, for a short time: the lookup and the decryption would
# otherwise be a third of the time of a delivery. A signature that fails against cached secrets is checked again
# against fresh ones, so a rotated secret works at once.
_STORE_CACHE: dict[tuple[str, str], _StoreKeys] = {}
STORE_CACHE_SECONDS = 30.0


def _store_keys(platform: str, store_key: str, *, fresh: bool = False) -> _StoreKeys:
    try:
        domain = normalize_store_domain(platform, store_key)
    except ValueError as exc:
        raise WebhookRejected(401, "unknown store") from exc
    cached = _STORE_CACHE.get((platform, domain))
    now = time.monotonic()
    if cached is not None and cached.expires > now and (not fresh or cached.expires - now > STORE_CACHE_SECONDS - 1):
        # A forced refresh re-reads at most once a second, so a flood of forged signatures cannot hammer the database.
        return cached
    # Inactive stores are still found: Shopify sends shop/redact after the app is uninstalled.
    store = Store.objects.filter(platform=platform, domain=domain).only("pk", "domain", "webhook_secrets").first()
    if store is None:
        _STORE_CACHE.pop((platform, domain), None)
        raise WebhookRejected(401, "unknown store")
    keys = _StoreKeys(store.pk, store.domain, tuple(store.webhook_secrets), time.monotonic() + STORE_CACHE_SECONDS)
    _STORE_CACHE[(platform, domain)] = keys
    return keys


def forget_cached_stores() -> None:
    _STORE_CACHE.clear()


def receive_webhook(platform: str, headers: dict[str, str], body: bytes) -> Received:
    """Verify and store one delivery. Raises WebhookRejected (4xx) and lets database errors propagate (503)."""
    for value in headers.values():
        # No platform sends a NUL, and no server can hand over a lone surrogate (WSGI decodes header bytes as
        # latin-1): the database could not store such text, nor even look up the store or the delivery by it.
        if character := unstorable_character(str(value)):
            raise WebhookRejected(400, f"a header contains {describe_character(character)}")
    provider = webhook_provider(platform)
    delivery = provider.read_delivery(headers)
    store = _store_keys(platform, delivery.store_key)
    if not signature_matches(body, delivery.signature, store.secrets):
        store = _store_keys(platform, delivery.store_key, fresh=True)
        if not signature_matches(body, delivery.signature, store.secrets):
            raise WebhookRejected(401, "invalid signature")
    if not delivery.topic:
        raise WebhookRejected(400, "missing topic header")

    payload: Any = None
    error = ""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        error = f"unparseable body: {exc}"
    except RecursionError:
        # A signed body nested deeper than the parser's stack: kept as a failed event like any unreadable body.
        error = "unparseable body: nested too deeply"
    if not error and not isinstance(payload, dict):
        error = "the body is not a JSON object"
    known = delivery.topic in provider.handled_topics
    status = WebhookStatus.FAILED if error else (WebhookStatus.RECEIVED if known else WebhookStatus.IGNORED)
    event_pk = _insert_event(
        platform=platform,
        store_id=store.pk,
        topic=delivery.topic[:100],
        dedup_key=provider.dedup_key(delivery, body, payload),
        delivery_id=delivery.delivery_id[:128],
        event_id=delivery.event_id[:128],
        triggered_at=delivery.triggered_at,
        api_version=delivery.api_version[:20],
        headers=delivery.recorded_headers,
        body=body,
        resource_id=_payload_resource_id(payload),
        status=status,
        last_error=storable(error) or ("" if known else "topic not used by Inventory AI"),
    )
    if event_pk is None:
        return Received(400, error, duplicate=True) if error else Received(200, "duplicate", duplicate=True)
    if error:
        logger.warning("Rejected webhook %s %s for %s: %s", platform, delivery.topic, store.domain, error,
                       extra={"store": store.domain})  # fmt: skip
        return Received(400, error, event_id=event_pk)
    if status == WebhookStatus.RECEIVED:
        # The row is committed (one autocommit statement): a worker can find it.
        enqueue_processing(event_pk)
    return Received(200, "accepted" if known else "ignored", event_id=event_pk)


def _insert_event(**fields: Any) -> int | None:
    """Insert an inbox row in one statement; None when the same delivery is already stored.

    A single INSERT .. ON CONFLICT DO NOTHING RETURNING in autocommit: no transaction round trips, and a duplicate
    is not an exception. This is the hot path of every delivery.
    """
    adapt = connection.ops.adapt_datetimefield_value
    fields = {**fields, "headers": json.dumps(fields["headers"]), "received_at": adapt(timezone.now()), "attempts": 0}
    fields.update(triggered_at=adapt(fields["triggered_at"]), processed_at=None, last_attempt_at=None)
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(name) for name in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
        "ON CONFLICT (store_id, dedup_key) DO NOTHING RETURNING id"
    )
    if connection.vendor == "postgresql":
        # A server-side prepared statement: parsed and planned once per connection instead of on every delivery
        # (Django's own cursors bind parameters on the client).
        import psycopg

        connection.ensure_connection()
        # Django's error wrapper, as its own cursors have: psycopg's errors become django.db errors (answered 503),
        # and the connection is marked as failed so that it is closed at the end of the request instead of being
        # reused, lost, by every later request (after a database restart).
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, list(fields.values()), prepare=True)
            row = cursor.fetchone()
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(fields.values()))
            row = cursor.fetchone()
    return row[0] if row else None


def _payload_resource_id(payload: Any) -> str:
    """The order (or other resource) a body is about, recorded at once so privacy requests find every stored body."""
    if not isinstance(payload, dict):
        return ""
    value = payload.get("order_id") or payload.get("id") or ""
    # A signed body may still say anything: a NUL or a lone surrogate ("\u0000", "\udb8c" in the JSON) cannot be
    # stored as text, and the row must be written whatever the body holds.
    return storable(str(value))[:64] if isinstance(value, int | str) else ""


def enqueue_processing(event_id: int) -> bool:
    """Send the event to a worker; a broker that is down leaves it `received` for the sweeper (never lost), and
    sending pauses for a few seconds (`dispatch.try_send`) so that webhook answers stay fast."""
    return dispatch.try_send("process_webhook_event_task", event_id)


def _resource_id(items: list[Any]) -> str:
    for item in items:
        for name in ("order_id", "product_id", "inventory_item_id", "location_id", "discount_id"):
            value = getattr(item, name, "")
            if value:
                return str(value)[:64]
    return ""


def fetch_remote(store: Store, items: list[Any]) -> list[Any]:
    """Replace what a payload only names with what the store's API says (outside any transaction): `RefundsToFetch`
    with the refunds, `DiscountToFetch` with the discount (or its deletion, when the store no longer has it)."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, r.DiscountToFetch):
            discount = store_gateway(store).read_discount(item.discount_id)
            out.append(discount or r.DiscountDeleted(item.discount_id.rsplit("/", 1)[-1]))
            continue
        if not isinstance(item, r.RefundsToFetch):
            out.append(item)
            continue
        recorded = set(
            Refund.objects.filter(store=store, platform_id__in=item.refund_ids).values_list("platform_id", flat=True)
        )
        if recorded >= set(item.refund_ids):
            continue
        refunds = store_gateway(store).read_refunds(item.order_id)
        out.extend(refund for refund in refunds if refund.refund_id not in recorded)
    return out


def process_webhook_event(event_id: int) -> str:
    """Apply one stored event; returns its final status. Raises NotReadyYet/transient errors to be retried.

    Whatever cannot be applied ends visibly: retried with backoff while it may still succeed (what it refers to is not
    known yet, the store API or the database is briefly unavailable), parked as failed with the reason otherwise.
    """
    event = WebhookEvent.objects.select_related("store").defer("store__webhook_secrets").filter(pk=event_id).first()
    if event is None or event.status != WebhookStatus.RECEIVED:
        return event.status if event else "missing"
    provider = webhook_provider(event.platform)
    try:
        items = provider.normalize(event.topic, json.loads(bytes(event.body)))
    except (PayloadError, ValueError, TypeError, AttributeError, KeyError) as exc:
        return _finish(event_id, WebhookStatus.FAILED, f"unreadable payload: {exc}")
    if unstorable := _unstorable_text(items):
        return _finish(event_id, WebhookStatus.FAILED, f"unreadable payload: {unstorable}")
    parked_reason = ""
    try:
        items = fetch_remote(event.store, items)
    except StoreAPIError as exc:
        if exc.transient:
            return _retry_later(event_id, f"store API: {exc}")
        # Apply what the payload itself says (the order's status and lines) and park the event for what it only
        # names: re-queued once the store's API answers, it applies them (everything else is idempotent).
        items = [item for item in items if not isinstance(item, r.RefundsToFetch | r.DiscountToFetch)]
        parked_reason = f"refunds or a discount could not be read from the store API: {exc}"
    if unstorable := _unstorable_text(items):  # refunds read from the store's API
        return _finish(event_id, WebhookStatus.FAILED, f"unreadable answer from the store API: {unstorable}")
    try:
        with transaction.atomic():
            locked = WebhookEvent.objects.select_for_update().only("status", "attempts").get(pk=event_id)
            if locked.status != WebhookStatus.RECEIVED:
                return locked.status  # another worker finished it meanwhile
            notes = apply_records(event.store, items)
            locked.status = WebhookStatus.FAILED if parked_reason else WebhookStatus.PROCESSED
            locked.attempts += 1
            locked.processed_at = locked.last_attempt_at = timezone.now()
            locked.resource_id = _resource_id(items)
            locked.last_error = storable("; ".join([parked_reason] if parked_reason else notes))[:2000]
            locked.save(
                update_fields=["status", "attempts", "processed_at", "last_attempt_at", "resource_id", "last_error"]
            )
            return locked.status
    except NotReadyYet as exc:
        return _retry_later(event_id, str(exc))
    except OperationalError:
        raise  # the database is briefly unavailable: the task retries
    except Exception as exc:  # a bug or data the schema refuses: park it visibly instead of retrying forever
        logger.exception("Webhook event %s could not be applied", event_id, extra={"event": event_id})
        return _finish(event_id, WebhookStatus.FAILED, f"{exc.__class__.__name__}: {exc}")


def _unstorable_text(items: list[Any]) -> str:
    """Why records cannot be applied when some text in them cannot be stored; "" when all of it can.

    Checked before anything is written: the database driver would refuse such text in the middle of the transaction
    (a lone surrogate cannot even be encoded to be sent), as an error that says nothing of where it came from.
    """
    for item in items:
        if found := find_unstorable_text(item):
            where, character = found
            return f"{where} holds {character}, which cannot be stored as text"
    return ""


def _retry_later(event_id: int, error: str) -> str:
    error = storable(error)
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        event.attempts += 1
        event.last_error = error[:2000]
        event.last_attempt_at = timezone.now()
        if event.attempts >= MAX_ATTEMPTS:
            event.status = WebhookStatus.FAILED
            event.save(update_fields=["attempts", "last_error", "last_attempt_at", "status"])
            logger.error("Webhook event %s parked as failed after %s attempts: %s", event_id, event.attempts, error,
                         extra={"event": event_id, "store": event.store_id})  # fmt: skip
            return event.status
        event.save(update_fields=["attempts", "last_error", "last_attempt_at"])
    raise NotReadyYet(error)


def _finish(event_id: int, status: str, error: str) -> str:
    error = storable(error)
    logger.warning("Webhook event %s %s: %s", event_id, status, error, extra={"event": event_id})
    now = timezone.now()
    WebhookEvent.objects.filter(pk=event_id, status=WebhookStatus.RECEIVED).update(
        status=status, last_error=error[:2000], processed_at=now, last_attempt_at=now
    )
    return status


# An event whose last attempt is older than this has lost its scheduled retry (the longest backoff is 10 minutes).
LOST_RETRY_AFTER = timedelta(minutes=15)


def requeue_stale_events(older_than: timedelta = timedelta(minutes=5), limit: int = 5000) -> int:
    """Enqueue events still `received` that no task will pick up: never enqueued (the broker was down when they
    arrived) or whose retry was lost (a worker died). Events waiting for a scheduled retry are left alone."""
    now = timezone.now()
    waiting = Q(status=WebhookStatus.RECEIVED) & (
        Q(last_attempt_at__isnull=True, received_at__lt=now - older_than)
        | Q(last_attempt_at__lt=now - max(older_than, LOST_RETRY_AFTER))
    )
    ids = list(WebhookEvent.objects.filter(waiting).order_by("received_at").values_list("pk", flat=True)[:limit])
    return sum(enqueue_processing(pk) for pk in ids)


def requeue_failed_events(event_ids: list[int]) -> int:
    """Put failed events back to `received` and enqueue them (the admin's re-queue action)."""
    ids = list(WebhookEvent.objects.filter(pk__in=event_ids, status=WebhookStatus.FAILED).values_list("pk", flat=True))
    WebhookEvent.objects.filter(pk__in=ids).update(
        status=WebhookStatus.RECEIVED, attempts=0, last_attempt_at=timezone.now()
    )
    for pk in ids:
        transaction.on_commit(lambda pk=pk: enqueue_processing(pk))
    return len(ids)
