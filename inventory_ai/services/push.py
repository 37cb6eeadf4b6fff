"""Pushing approved stock adjustments to the store, exactly once.

The sequence for one adjustment:

1. Approval commits, then `push_adjustment_task` is enqueued on the `push` queue (and a beat sweeper re-enqueues
   approved adjustments whose task was lost).
2. The attempt is recorded and committed first (`PushAttempt`), so every try is visible even if the worker dies.
3. The write runs while the adjustment's row is locked, so two deliveries of the same task never write at once.
   - Shopify: `inventoryAdjustQuantities` (a received restock: a delta) or `inventorySetQuantities` (a correction),
     with `changeFromQuantity` = the quantity we read when proposing, and the adjustment's `push_key` as the
     `@idempotent` key. A retry after a timeout or a lost worker reuses the key, so Shopify applies it once and
     answers the first result. A stale quantity (an order arrived meanwhile) makes the adjustment a conflict: we
     read the store's quantity again and re-propose the change from it for a planner to approve — never overwrite.
   - WooCommerce has no compare-and-set: we read the stock immediately before writing, apply the approved delta to
     that fresh value and record both. The write carries the push key in the product's meta data, so a retry that
     finds its own key there knows the change is already applied and does not apply it twice.
4. Transient failures (timeouts, 429, 5xx, throttling) retry with exponential backoff (or the store's own wait);
   after `MAX_ATTEMPTS` the adjustment is parked as failed, visibly, with a retry action in the admin.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, Q, When
from django.utils import timezone

from integrations.errors import StoreAPIError
from integrations.shopify.client import InventoryWrite, ShopifyThrottled
from integrations.woocommerce.client import BATCH_LIMIT
from inventory_ai.choices import AdjustmentReason, AdjustmentStatus, AuditAction, AuditSource, Platform
from inventory_ai.models import PushAttempt, StockAdjustment, Store
from inventory_ai.services import audit, store_clients
from inventory_ai.services.inventory import apply_inventory_level

logger = logging.getLogger(__name__)

WOO_BATCH_THRESHOLD = 5  # this many WooCommerce adjustments waiting: push them through the batch endpoint
MAX_ATTEMPTS = 10  # failed attempts (timeouts, 5xx) before an adjustment is parked as failed
WOO_MARKER = "_inventory_ai_push"
SHOPIFY_REASONS = {
    AdjustmentReason.RESTOCK: "received",
    AdjustmentReason.RECONCILIATION: "correction",
    AdjustmentReason.MANUAL: "correction",
}
PUSHABLE = (AdjustmentStatus.APPROVED, AdjustmentStatus.PUSHING)


class RetryLater(Exception):
    """The push met a transient failure; retry it after `countdown` seconds."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


@dataclass(frozen=True)
class _Outcome:
    outcome: str
    before: int | None = None
    after: int | None = None
    request: dict | None = None
    response: dict | None = None
    error: str = ""


def enqueue_push(adjustment_id: int) -> None:
    """Send the push task once the surrounding transaction commits (the worker must see the approval)."""
    from inventory_ai import tasks

    transaction.on_commit(lambda: tasks.push_adjustment_task.delay(adjustment_id))


def reference_uri(adjustment: StockAdjustment) -> str:
    """The `referenceDocumentUri` naming our adjustment in the store's inventory history (not a Shopify GID)."""
    return f"inventory-ai://stock-adjustment/{adjustment.pk}"


def backoff(attempt: int, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: 2, 4, 8 ... seconds, at most `cap`."""
    return random.uniform(0.5, 1.0) * min(cap, 2.0**attempt)


def push_adjustment(adjustment_id: int) -> str:
    """Push one approved adjustment; returns its status. Raises RetryLater for a transient failure to retry.

    On WooCommerce, when several adjustments of the store are waiting, they go together through the batch endpoint
    (up to 100 per request) instead.
    """
    waiting = StockAdjustment.objects.filter(
        pk=adjustment_id, status__in=PUSHABLE, store__platform=Platform.WOOCOMMERCE
    )
    store_id = waiting.values_list("store_id", flat=True).first()
    if store_id is not None and _ready(store_id).count() >= WOO_BATCH_THRESHOLD:
        return push_woocommerce_batch(store_id, adjustment_id)
    with transaction.atomic():
        adjustment = (
            StockAdjustment.objects.select_for_update().select_related("store").filter(pk=adjustment_id).first()
        )
        if adjustment is None or adjustment.status not in PUSHABLE:
            return adjustment.status if adjustment else "missing"
        adjustment.status = AdjustmentStatus.PUSHING
        adjustment.push_attempts += 1
        adjustment.push_key = adjustment.push_key or uuid.uuid4().hex
        adjustment.save(update_fields=["status", "push_attempts", "push_key"])
        attempt = PushAttempt.objects.create(
            adjustment=adjustment, number=adjustment.push_attempts, idempotency_key=adjustment.push_key
        )
    # The attempt is on record; now write while holding the row, so a second delivery waits and then sees the end.
    countdown = None
    with transaction.atomic():
        adjustment = StockAdjustment.objects.select_for_update().select_related("store", "variant__product", "location")
        adjustment = adjustment.get(pk=adjustment_id)
        if adjustment.status != AdjustmentStatus.PUSHING:
            note = f"another delivery ended it: {adjustment.status}"
            _finish_attempt(attempt, _Outcome(PushAttempt.Outcome.ALREADY_APPLIED, error=note))
            return adjustment.status
        try:
            result = _write(adjustment)
        except StoreAPIError as exc:
            countdown, error = _transient_or_failed(adjustment, attempt, exc), str(exc)
        else:
            _finish_attempt(attempt, result)
            if result.outcome in (PushAttempt.Outcome.APPLIED, PushAttempt.Outcome.ALREADY_APPLIED):
                _pushed(adjustment, result)
            elif result.outcome == PushAttempt.Outcome.STALE:
                _conflict(adjustment, result)
            else:
                _failed(adjustment, result.error)
    if countdown is not None:
        # Raised after the commit, so the attempt and its schedule stay on record.
        raise RetryLater(error, countdown)
    return adjustment.status


def _ready(store_id: int):
    """The store's adjustments that may be pushed now (approved, or mid-push and not waiting for a retry)."""
    return StockAdjustment.objects.filter(store_id=store_id, status__in=PUSHABLE).exclude(
        next_push_at__gt=timezone.now()
    )


def push_woocommerce_batch(store_id: int, adjustment_id: int) -> str:
    """Push up to 100 waiting adjustments of a WooCommerce store (`adjustment_id`'s among them) in one read and one
    batch write per parent product; returns `adjustment_id`'s status. Same guarantees as a single push: attempts on
    record first, rows locked while writing, the push key in each product's meta data against a double apply."""
    with transaction.atomic():
        # Approved ones and the task's own; others mid-push belong to a running delivery (a lost one is found again
        # by its own redelivered task or the sweeper).
        candidates = _ready(store_id).filter(Q(status=AdjustmentStatus.APPROVED) | Q(pk=adjustment_id))
        chosen = list(
            candidates.select_for_update(skip_locked=True).order_by(
                # the task's own adjustment first, then the oldest
                Case(When(pk=adjustment_id, then=0), default=1),
                "pk",
            )[:BATCH_LIMIT]
        )
        attempts = {}
        for adjustment in chosen:
            adjustment.status = AdjustmentStatus.PUSHING
            adjustment.push_attempts += 1
            adjustment.push_key = adjustment.push_key or uuid.uuid4().hex
            adjustment.save(update_fields=["status", "push_attempts", "push_key"])
            attempts[adjustment.pk] = PushAttempt.objects.create(
                adjustment=adjustment, number=adjustment.push_attempts, idempotency_key=adjustment.push_key
            )
    # The task's own adjustment may be held by another delivery (which ends it); the ones chosen here are pushed here.
    countdown = None
    with transaction.atomic():
        locked = (
            StockAdjustment.objects.select_for_update()
            .select_related("store", "variant__product", "location")
            .filter(pk__in=attempts, status=AdjustmentStatus.PUSHING)
        )
        groups: dict[str | None, list[StockAdjustment]] = {}
        locked = list(locked)
        for pk in set(attempts) - {adjustment.pk for adjustment in locked}:
            note = "another delivery ended it first"
            _finish_attempt(attempts[pk], _Outcome(PushAttempt.Outcome.ALREADY_APPLIED, error=note))
        for adjustment in locked:
            variant = adjustment.variant
            parent = variant.product.platform_id if variant.product.platform_id != variant.platform_id else None
            groups.setdefault(parent, []).append(adjustment)
        for parent, members in groups.items():
            store = members[0].store
            try:
                results = _write_woocommerce_batch(store, parent, members)
            except StoreAPIError as exc:
                for adjustment in members:
                    wait = _transient_or_failed(adjustment, attempts[adjustment.pk], exc)
                    if adjustment.pk == adjustment_id:
                        countdown, error = wait, str(exc)
                    elif wait is not None:
                        _retry_later(adjustment.pk, wait)
                continue
            for adjustment in members:
                result = results.get(adjustment.pk)
                if result is None:
                    unknown = StoreAPIError("the batch answer did not mention it", transient=True)
                    wait = _transient_or_failed(adjustment, attempts[adjustment.pk], unknown)
                    if adjustment.pk == adjustment_id:
                        countdown, error = wait, str(unknown)
                    elif wait is not None:
                        _retry_later(adjustment.pk, wait)
                    continue
                _finish_attempt(attempts[adjustment.pk], result)
                if result.outcome in (PushAttempt.Outcome.APPLIED, PushAttempt.Outcome.ALREADY_APPLIED):
                    _pushed(adjustment, result)
                else:
                    _failed(adjustment, result.error)
    if countdown is not None:
        raise RetryLater(error, countdown)
    return StockAdjustment.objects.get(pk=adjustment_id).status


def _retry_later(adjustment_id: int, countdown: float) -> None:
    """A batch member whose own task may have finished already (the batch held it): its retry is scheduled here."""
    from inventory_ai import tasks

    transaction.on_commit(lambda: tasks.push_adjustment_task.apply_async((adjustment_id,), countdown=countdown))


def _write_woocommerce_batch(store: Store, parent: str | None, members: list[StockAdjustment]) -> dict[int, _Outcome]:
    """One fresh read of the group's stock (`include=`), then one batch update; an outcome per adjustment."""
    client = store_clients.woocommerce_client(store)
    path = f"products/{parent}/variations" if parent else "products"
    ids = ",".join(adjustment.variant.platform_id for adjustment in members)
    items, _ = client.page(path, 1, BATCH_LIMIT, include=ids)
    fresh = {str(item.get("id")): item for item in items}
    results: dict[int, _Outcome] = {}
    updates, by_item = [], {}
    for adjustment in members:
        item = fresh.get(adjustment.variant.platform_id)
        if item is None:
            results[adjustment.pk] = _Outcome(PushAttempt.Outcome.REJECTED, error="the store has no such product")
            continue
        markers = {str(m.get("key")): str(m.get("value")) for m in item.get("meta_data") or [] if isinstance(m, dict)}
        if markers.get(WOO_MARKER) == adjustment.push_key:
            quantity = item.get("stock_quantity")
            results[adjustment.pk] = _Outcome(PushAttempt.Outcome.ALREADY_APPLIED, after=quantity)
            continue
        before = int(item.get("stock_quantity") or 0) if item.get("manage_stock") else 0
        target = max(before + adjustment.delta, 0)
        update = {
            "id": int(adjustment.variant.platform_id),
            "manage_stock": True,
            "stock_quantity": target,
            "meta_data": [{"key": WOO_MARKER, "value": adjustment.push_key}],
        }
        updates.append(update)
        by_item[str(update["id"])] = (adjustment, before, update)
    if updates:
        for answer in client.batch_update(updates, parent):
            adjustment, before, update = by_item[str(answer.get("id"))]
            if "error" in answer:
                error = answer["error"]
                results[adjustment.pk] = _Outcome(
                    PushAttempt.Outcome.REJECTED, before=before, request=update, error=str(error.get("message", error))
                )
            else:
                results[adjustment.pk] = _Outcome(
                    PushAttempt.Outcome.APPLIED,
                    before=before,
                    after=answer.get("stock_quantity"),
                    request={"batch": path + "/batch", **update},
                    response={"stock_quantity": answer.get("stock_quantity")},
                )
    # An update the batch answer left out is not known to have applied: it is retried with the same marker.
    return results


def _write(adjustment: StockAdjustment) -> _Outcome:
    store = adjustment.store
    if store.platform == Platform.SHOPIFY:
        return _write_shopify(adjustment, store)
    return _write_woocommerce(adjustment, store)


def _write_shopify(adjustment: StockAdjustment, store: Store) -> _Outcome:
    variant, location = adjustment.variant, adjustment.location
    if not variant.inventory_item_id:
        return _Outcome(PushAttempt.Outcome.REJECTED, error="the variant has no Shopify inventory item id yet")
    common = {
        "inventory_item_id": variant.inventory_item_id,
        "location_id": location.platform_id,
        "change_from": adjustment.expected_available,
        "idempotency_key": adjustment.push_key,
        "reason": SHOPIFY_REASONS.get(adjustment.reason, "correction"),
        "reference": reference_uri(adjustment),
    }
    client = store_clients.shopify_client(store)
    if adjustment.reason == AdjustmentReason.RESTOCK:
        request = {"mutation": "inventoryAdjustQuantities", "delta": adjustment.delta, **common}
        write: InventoryWrite = client.adjust_available(delta=adjustment.delta, **common)
    else:
        request = {"mutation": "inventorySetQuantities", "quantity": adjustment.new_available, **common}
        write = client.set_available(quantity=adjustment.new_available, **common)
    if write.applied:
        return _Outcome(
            PushAttempt.Outcome.APPLIED,
            before=adjustment.expected_available,
            after=write.quantity_after,
            request=request,
            response=write.response,
        )
    if write.stale:
        current = client.read_available(variant.inventory_item_id, location.platform_id)
        return _Outcome(PushAttempt.Outcome.STALE, before=current, request=request, response=write.response)
    messages = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in write.user_errors)
    return _Outcome(PushAttempt.Outcome.REJECTED, request=request, response=write.response, error=messages)


def _write_woocommerce(adjustment: StockAdjustment, store: Store) -> _Outcome:
    variant = adjustment.variant
    parent = variant.product.platform_id if variant.product.platform_id != variant.platform_id else None
    client = store_clients.woocommerce_client(store)
    item = client.get_item(variant.platform_id, parent)
    markers = {str(m.get("key")): str(m.get("value")) for m in item.get("meta_data") or [] if isinstance(m, dict)}
    fresh = item.get("stock_quantity")
    if markers.get(WOO_MARKER) == adjustment.push_key:
        # Our earlier attempt wrote it (its answer was lost): the stock already includes the change.
        return _Outcome(PushAttempt.Outcome.ALREADY_APPLIED, after=fresh, response={"stock_quantity": fresh})
    fresh = int(fresh or 0) if item.get("manage_stock") else 0
    target = max(fresh + adjustment.delta, 0)
    request = {
        "path": client.item_path(variant.platform_id, parent),
        "manage_stock": True,
        "stock_quantity": target,
        "meta_data": [{"key": WOO_MARKER, "value": adjustment.push_key}],
    }
    answer = client.update_item(variant.platform_id, {k: v for k, v in request.items() if k != "path"}, parent)
    return _Outcome(
        PushAttempt.Outcome.APPLIED,
        before=fresh,
        after=answer.get("stock_quantity", target),
        request=request,
        response={"stock_quantity": answer.get("stock_quantity")},
    )


def _finish_attempt(attempt: PushAttempt, result: _Outcome) -> None:
    attempt.outcome = result.outcome
    attempt.store_quantity_before = result.before
    attempt.store_quantity_after = result.after
    attempt.request = result.request or {}
    attempt.response = result.response or {}
    attempt.error = result.error
    attempt.finished_at = timezone.now()
    attempt.save()


def _remember_level(adjustment: StockAdjustment, available: int | None) -> None:
    """What the store just told us is its quantity now: keep our copy in step (a webhook about an earlier change
    carries an earlier time and does not overwrite it; a later one does)."""
    if available is not None:
        apply_inventory_level(
            adjustment.store, adjustment.variant_id, adjustment.location_id, available, timezone.now()
        )


def _pushed(adjustment: StockAdjustment, result: _Outcome) -> None:
    _remember_level(adjustment, result.after)
    adjustment.status = AdjustmentStatus.PUSHED
    adjustment.pushed_at = timezone.now()
    adjustment.store_quantity_before = result.before if result.before is not None else adjustment.store_quantity_before
    adjustment.store_quantity_after = result.after
    adjustment.next_push_at = None
    adjustment.error = ""
    adjustment.save()
    audit.record(
        adjustment,
        AuditAction.PUSH,
        None,
        AuditSource.SYSTEM,
        before={"store_quantity": adjustment.store_quantity_before},
        after={"store_quantity": adjustment.store_quantity_after, "status": adjustment.status},
        note="already applied by an earlier attempt" if result.outcome == PushAttempt.Outcome.ALREADY_APPLIED else "",
    )


def _conflict(adjustment: StockAdjustment, result: _Outcome) -> None:
    """The store's quantity moved since we read it: keep ours unapplied and propose the change again from theirs."""
    current = result.before
    _remember_level(adjustment, current)
    adjustment.status = AdjustmentStatus.CONFLICT
    adjustment.store_quantity_before = current
    adjustment.error = (
        f"The store held {current if current is not None else 'no stock record'}, not the "
        f"{adjustment.expected_available} read when this was proposed (an order or another app changed it)."
    )
    if current is not None:
        target = (
            current + adjustment.delta if adjustment.reason == AdjustmentReason.RESTOCK else adjustment.new_available
        )
        follow_up = StockAdjustment.objects.create(
            store=adjustment.store,
            variant=adjustment.variant,
            location=adjustment.location,
            suggestion=adjustment.suggestion,
            expected_available=current,
            new_available=max(target, 0),
            reason=adjustment.reason,
            note=f"Re-proposed after a conflict on adjustment #{adjustment.pk}. {adjustment.note}".strip(),
        )
        adjustment.follow_up = follow_up
        audit.record(
            follow_up,
            AuditAction.CREATE,
            None,
            AuditSource.SYSTEM,
            after={"expected_available": current, "new_available": follow_up.new_available},
            note=f"re-proposed from the store's quantity after a conflict on #{adjustment.pk}",
        )
    adjustment.save()
    audit.record(
        adjustment,
        AuditAction.PUSH,
        None,
        AuditSource.SYSTEM,
        before={"expected_available": adjustment.expected_available},
        after={"status": adjustment.status, "store_quantity": current},
        note="not applied: the store's quantity had changed",
    )


def _failed(adjustment: StockAdjustment, error: str) -> None:
    adjustment.status = AdjustmentStatus.FAILED
    adjustment.error = error[:2000]
    adjustment.next_push_at = None
    adjustment.save()
    logger.warning("push of adjustment %s failed: %s", adjustment.pk, error)


def _transient_or_failed(adjustment: StockAdjustment, attempt: PushAttempt, exc: StoreAPIError) -> float | None:
    """Record a failed write; returns the seconds to wait before retrying, or None when it is parked as failed."""
    if not exc.transient:
        _finish_attempt(attempt, _Outcome(PushAttempt.Outcome.FAILED, error=str(exc)))
        _failed(adjustment, str(exc))
        return None
    # Throttling is the store pacing us, not a failure: it is retried for as long as it lasts. Other transient errors
    # (timeouts, 5xx) count towards the limit.
    throttled = isinstance(exc, ShopifyThrottled) or exc.status == 429
    outcome = PushAttempt.Outcome.THROTTLED if throttled else PushAttempt.Outcome.RETRY
    _finish_attempt(attempt, _Outcome(outcome, error=str(exc)))
    failures = adjustment.push_failures = adjustment.push_failures + (0 if throttled else 1)
    if failures >= MAX_ATTEMPTS:
        _failed(adjustment, f"gave up after {failures} failed attempts; last error: {exc}")
        return None
    countdown = exc.retry_after if isinstance(exc, ShopifyThrottled) else backoff(failures)
    adjustment.next_push_at = timezone.now() + timedelta(seconds=countdown)
    adjustment.error = str(exc)[:2000]
    adjustment.save(update_fields=["next_push_at", "error", "push_failures"])
    return countdown


def retry_push(adjustment: StockAdjustment, user) -> bool:
    """Send a failed adjustment again (staff action). The key stays unless the store refused the last attempt (it
    answers a reused key with that refusal): a retry must never apply a change twice."""
    with transaction.atomic():
        current = StockAdjustment.objects.select_for_update().get(pk=adjustment.pk)
        if current.status != AdjustmentStatus.FAILED:
            return False
        last = current.push_log.order_by("-number").first()
        if last is not None and last.outcome == PushAttempt.Outcome.REJECTED:
            current.push_key = uuid.uuid4().hex
        current.status = AdjustmentStatus.APPROVED
        current.push_failures = 0
        current.error = ""
        current.save()
        audit.record(current, AuditAction.PUSH, user, AuditSource.ADMIN, after={"status": "approved"}, note="retry")
        enqueue_push(current.pk)
    return True


def requeue_stalled_pushes(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Beat: re-enqueue approved or pushing adjustments whose task was lost (broker down at approval, or the retry
    message was lost); the push itself is idempotent."""
    cutoff = timezone.now() - older_than
    stalled = StockAdjustment.objects.filter(status__in=PUSHABLE, decided_at__lt=cutoff).exclude(
        next_push_at__gt=timezone.now()
    )
    ids = list(stalled.values_list("pk", flat=True))
    from inventory_ai import tasks

    for adjustment_id in ids:
        tasks.push_adjustment_task.delay(adjustment_id)
    return len(ids)
