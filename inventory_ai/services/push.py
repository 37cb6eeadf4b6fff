"""Pushing approved stock adjustments to the store, exactly once.

The sequence for one adjustment:

1. Approval commits, then `push_adjustment_task` is enqueued on the `push` queue (and a beat sweeper re-enqueues
   approved adjustments whose task was lost).
2. The attempt is recorded and committed first (`PushAttempt`), so every try is visible even if the worker dies.
3. The write runs while the adjustment's row is locked, so two deliveries of the same task never write at once.
   The store's gateway (`inventory_ai.gateways`) does the write, with the adjustment's `push_key` as its
   idempotency key: a retry after a timeout or a lost worker reuses the key, so the change applies once.
   - Where the platform has compare-and-set (`gateway.supports_compare_and_set`: Shopify's `changeFromQuantity`),
     the write applies only if the store still holds the quantity we read when proposing. A stale quantity (an
     order arrived meanwhile) makes the adjustment a conflict: the gateway reads the store's quantity again and we
     re-propose the change from it for a planner to approve — never overwrite.
   - Without it (WooCommerce), the gateway reads the stock immediately before writing, applies the approved delta
     to that fresh value, and we record both.
4. Transient failures (timeouts, 429, 5xx, throttling) retry with exponential backoff (or the store's own wait);
   after `MAX_ATTEMPTS` the adjustment is parked as failed, visibly, with a retry action in the admin.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, Q, When
from django.utils import timezone

from integrations.errors import StoreAPIError
from integrations.gateway import StockChange, StockItem, StockWriteResult
from inventory_ai import dispatch
from inventory_ai.choices import AdjustmentReason, AdjustmentStatus, AuditAction, AuditSource
from inventory_ai.gateways import gateway_class, store_gateway
from inventory_ai.models import PushAttempt, StockAdjustment
from inventory_ai.services import audit, inbound_transfers
from inventory_ai.services.inventory import apply_inventory_level

logger = logging.getLogger(__name__)

# This many adjustments of a store waiting, on a platform that writes stock in batches (`gateway.batch_size`): push
# them together.
BATCH_THRESHOLD = 5
WAITING_FOR_STORE = "waiting for the store to be connected again"
MAX_ATTEMPTS = 10  # failed attempts (timeouts, 5xx) before an adjustment is parked as failed
PUSHABLE = (AdjustmentStatus.APPROVED, AdjustmentStatus.PUSHING)


class RetryLater(Exception):
    """The push met a transient failure; retry it after `countdown` seconds."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


def enqueue_push(adjustment_id: int) -> None:
    """Send the push task once the surrounding transaction commits (the worker must see the approval)."""
    dispatch.send("push_adjustment_task", adjustment_id)


def reference_uri(adjustment: StockAdjustment) -> str:
    """The `referenceDocumentUri` naming our adjustment in the store's inventory history (not a Shopify GID)."""
    return f"inventory-ai://stock-adjustment/{adjustment.pk}"


def backoff(attempt: int, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: 2, 4, 8 ... seconds, at most `cap`."""
    return random.uniform(0.5, 1.0) * min(cap, 2.0**attempt)


def push_adjustment(adjustment_id: int) -> str:
    """Push one approved adjustment; returns its status. Raises RetryLater for a transient failure to retry.

    On a platform that writes stock in batches, when several adjustments of the store are waiting, they go together
    (up to the gateway's `batch_size` per request) instead.
    """
    waiting = StockAdjustment.objects.filter(pk=adjustment_id, status__in=PUSHABLE)
    found = waiting.values_list("store_id", "store__platform").first()
    if found is not None:
        store_id, batch_size = found[0], gateway_class(found[1]).batch_size
        if batch_size > 1 and _ready(store_id).count() >= BATCH_THRESHOLD:
            return push_batch(store_id, adjustment_id, batch_size)
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
            _finish_attempt(attempt, StockWriteResult(PushAttempt.Outcome.ALREADY_APPLIED, error=note))
            return adjustment.status
        try:
            result = store_gateway(adjustment.store).write_stock(_change(adjustment))
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


def push_batch(store_id: int, adjustment_id: int, limit: int) -> str:
    """Push up to `limit` waiting adjustments of a store (`adjustment_id`'s among them) through its gateway's batch
    write; returns `adjustment_id`'s status. Same guarantees as a single push: attempts on record first, rows locked
    while writing, the push key as each change's idempotency key against a double apply."""
    with transaction.atomic():
        # Approved ones and the task's own; others mid-push belong to a running delivery (a lost one is found again
        # by its own redelivered task or the sweeper).
        candidates = _ready(store_id).filter(Q(status=AdjustmentStatus.APPROVED) | Q(pk=adjustment_id))
        chosen = list(
            candidates.select_for_update(skip_locked=True).order_by(
                # the task's own adjustment first, then the oldest
                Case(When(pk=adjustment_id, then=0), default=1),
                "pk",
            )[:limit]
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
        locked = {adjustment.pk: adjustment for adjustment in locked}
        for pk in set(attempts) - set(locked):
            note = "another delivery ended it first"
            _finish_attempt(attempts[pk], StockWriteResult(PushAttempt.Outcome.ALREADY_APPLIED, error=note))
        results: dict[int, StockWriteResult | StoreAPIError] = {}
        if locked:
            changes = [_change(adjustment) for adjustment in locked.values()]
            try:
                results = store_gateway(next(iter(locked.values())).store).write_stock_batch(changes)
            except StoreAPIError as exc:  # the gateway refused the store's address: every change met it
                results = dict.fromkeys(locked, exc)
        # A result per change, in the order the gateway wrote them (one request per group of changes).
        for pk, result in results.items():
            adjustment = locked[pk]
            if isinstance(result, StoreAPIError):
                wait = _transient_or_failed(adjustment, attempts[pk], result)
                if pk == adjustment_id:
                    countdown, error = wait, str(result)
                elif wait is not None:
                    _retry_later(pk, wait)
                continue
            _finish_attempt(attempts[pk], result)
            if result.outcome in (PushAttempt.Outcome.APPLIED, PushAttempt.Outcome.ALREADY_APPLIED):
                _pushed(adjustment, result)
            else:
                _failed(adjustment, result.error)
    if countdown is not None:
        raise RetryLater(error, countdown)
    return StockAdjustment.objects.get(pk=adjustment_id).status


def _retry_later(adjustment_id: int, countdown: float) -> None:
    """A batch member whose own task may have finished already (the batch held it): its retry is scheduled here."""
    dispatch.send("push_adjustment_task", adjustment_id, countdown=countdown)


def _change(adjustment: StockAdjustment) -> StockChange:
    """The adjustment as the store's gateway writes it."""
    variant = adjustment.variant
    return StockChange(
        key=adjustment.pk,
        item=StockItem(
            product_id=variant.product.platform_id,
            variant_id=variant.platform_id,
            inventory_item_id=variant.inventory_item_id,
            location_id=adjustment.location.platform_id,
        ),
        delta=adjustment.delta,
        quantity=adjustment.new_available,
        expected=adjustment.expected_available,
        received=adjustment.reason == AdjustmentReason.RESTOCK,
        idempotency_key=adjustment.push_key,
        reference=reference_uri(adjustment),
        shipment_id=adjustment.shipment_id,
        shipment_line_id=adjustment.shipment_line_id,
    )


def _finish_attempt(attempt: PushAttempt, result: StockWriteResult) -> None:
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


def _pushed(adjustment: StockAdjustment, result: StockWriteResult) -> None:
    _remember_level(adjustment, result.after)
    if adjustment.shipment_line_id:
        inbound_transfers.accepted(adjustment.variant_id, adjustment.location_id, adjustment.delta)
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


def _conflict(adjustment: StockAdjustment, result: StockWriteResult) -> None:
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
        _finish_attempt(attempt, StockWriteResult(PushAttempt.Outcome.FAILED, error=str(exc)))
        # refused credentials: parked until the store is connected again, which sends it again (`resume_pushes`)
        _failed(adjustment, f"{WAITING_FOR_STORE}: {exc}" if exc.status == 401 else str(exc))
        return None
    # Throttling is the store pacing us, not a failure: it is retried for as long as it lasts. Other transient errors
    # (timeouts, 5xx) count towards the limit.
    throttled = exc.throttled
    outcome = PushAttempt.Outcome.THROTTLED if throttled else PushAttempt.Outcome.RETRY
    _finish_attempt(attempt, StockWriteResult(outcome, error=str(exc)))
    failures = adjustment.push_failures = adjustment.push_failures + (0 if throttled else 1)
    if failures >= MAX_ATTEMPTS:
        _failed(adjustment, f"gave up after {failures} failed attempts; last error: {exc}")
        return None
    countdown = exc.retry_after if exc.retry_after is not None else backoff(failures)
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


def resume_pushes(store) -> int:
    """Send again the store's adjustments parked on refused credentials, once it is connected again (the same key:
    the store never applied them). Returns how many."""
    waiting = StockAdjustment.objects.filter(
        variant__store=store, status=AdjustmentStatus.FAILED, error__startswith=WAITING_FOR_STORE
    )
    ids = list(waiting.values_list("pk", flat=True))
    for adjustment_id in ids:
        with transaction.atomic():
            current = StockAdjustment.objects.select_for_update().get(pk=adjustment_id)
            if current.status != AdjustmentStatus.FAILED:
                continue
            current.status, current.push_failures, current.error = AdjustmentStatus.APPROVED, 0, ""
            current.save()
            enqueue_push(current.pk)
    return len(ids)


def requeue_stalled_pushes(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Beat: re-enqueue approved or pushing adjustments whose task was lost (broker down at approval, or the retry
    message was lost); the push itself is idempotent."""
    cutoff = timezone.now() - older_than
    stalled = StockAdjustment.objects.filter(status__in=PUSHABLE, decided_at__lt=cutoff).exclude(
        next_push_at__gt=timezone.now()
    )
    ids = list(stalled.values_list("pk", flat=True))
    for adjustment_id in ids:
        dispatch.send_now("push_adjustment_task", adjustment_id)
    return len(ids)
