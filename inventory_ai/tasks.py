"""Celery tasks: thin wrappers that take ids and call one service function."""

from __future__ import annotations

import socket
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError

from integrations.errors import StoreAPIError
from inventory_ai.services import inbound_transfers, push, replenishment, retraining, sync_runs, weather, webhooks
from inventory_ai.services.health import record_heartbeat
from inventory_ai.services.inventory import mark_current_stockouts
from inventory_ai.services.records import NotReadyYet


@shared_task(name="inventory_ai.tasks.ping_task")
def ping_task() -> dict:
    """Answer a health check: proves that a worker consumes tasks and reaches the database."""
    return {"pong": True, "host": socket.gethostname(), "heartbeat": record_heartbeat("worker").isoformat()}


@shared_task(name="inventory_ai.tasks.record_worker_heartbeat_task", ignore_result=True)
def record_worker_heartbeat_task() -> None:
    """Scheduled by beat every minute (and expiring within it): when it runs, both beat and a worker are alive."""
    record_heartbeat("beat")
    record_heartbeat("worker")


# Idempotent (the event's status is checked and changed in the same transaction as its effects), so it is acknowledged
# late and requeued when a worker dies mid-way. Only "not ready yet", transient store-API and database errors are
# retried, with exponential backoff; the service parks an event as failed after its own attempt limit.
@shared_task(
    name="inventory_ai.tasks.process_webhook_event_task",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(NotReadyYet, StoreAPIError, OperationalError),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=webhooks.MAX_ATTEMPTS,
    ignore_result=True,
)
def process_webhook_event_task(event_id: int) -> str:
    return webhooks.process_webhook_event(event_id)


@shared_task(name="inventory_ai.tasks.requeue_stale_webhook_events_task", ignore_result=True)
def requeue_stale_webhook_events_task(older_than_seconds: int = 300) -> int:
    """Beat: enqueue events left `received` (the broker was down when they arrived, or a worker was lost)."""
    return webhooks.requeue_stale_events(timedelta(seconds=older_than_seconds))


@shared_task(name="inventory_ai.tasks.mark_current_stockouts_task", ignore_result=True)
def mark_current_stockouts_task() -> int:
    """Beat: flag today as out of stock for every level at zero, so quiet stock-outs are censored too."""
    return mark_current_stockouts()


# Retraining. Every step is idempotent (it checks and records its state under a lock, with its results), so the
# steps are acknowledged late and requeued when their worker dies; only database hiccups are retried.
_RETRAIN_STEP = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "max_retries": 5,
    "ignore_result": True,
}


@shared_task(name="inventory_ai.tasks.retrain_store_task", **_RETRAIN_STEP)
def retrain_store_task(store_id: int, run_id: int | None = None, kind: str = "full") -> int | None:
    """Plan a store's retrain (creating the run unless `run_id` names one already queued) and fan out its work."""
    return retraining.start_or_plan(store_id, run_id, kind)


@shared_task(name="inventory_ai.tasks.backtest_chunk_task", **_RETRAIN_STEP)
def backtest_chunk_task(run_id: int, index: int) -> str:
    return retraining.backtest_chunk(run_id, index)


@shared_task(name="inventory_ai.tasks.train_global_model_task", **_RETRAIN_STEP)
def train_global_model_task(run_id: int, part: str = "final") -> str:
    return retraining.train_global_model(run_id, part)


@shared_task(name="inventory_ai.tasks.train_feature_models_task", **_RETRAIN_STEP)
def train_feature_models_task(run_id: int) -> str:
    return retraining.train_feature_models(run_id)


@shared_task(name="inventory_ai.tasks.forecast_chunk_task", **_RETRAIN_STEP)
def forecast_chunk_task(run_id: int, index: int) -> str:
    return retraining.forecast_chunk(run_id, index)


@shared_task(name="inventory_ai.tasks.retrain_all_stores_task", ignore_result=True)
def retrain_all_stores_task(kind: str = "full") -> list[int]:
    """Beat: a nightly full retrain, or an hourly refresh, of every active store."""
    return retraining.retrain_active_stores(kind)


@shared_task(name="inventory_ai.tasks.start_nightly_retrains_task", ignore_result=True)
def start_nightly_retrains_task() -> list[int]:
    """Beat, every ten minutes of the nightly window: start the full retrains whose time has come."""
    return retraining.start_nightly_retrains()


@shared_task(name="inventory_ai.tasks.fail_stalled_runs_task", ignore_result=True)
def fail_stalled_runs_task() -> list[int]:
    """Beat: mark failed the runs that stopped making progress."""
    return retraining.fail_stalled_runs()


@shared_task(
    name="inventory_ai.tasks.recompute_suggestions_task",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=5,
    ignore_result=True,
)
def recompute_suggestions_task(store_id: int, run_id: int | None = None, variant_ids: list[int] | None = None) -> dict:
    """After a retrain or a stock change: recompute restock suggestions (idempotent: equal numbers are kept)."""
    return replenishment.recompute_store_suggestions(store_id, run_id, variant_ids)


# Idempotent: the push key (Shopify's @idempotent key, a meta marker on WooCommerce) makes a repeated write a no-op,
# so the task is acknowledged late and redelivered when its worker dies. Transient store errors retry after the
# service's backoff (or the store's own throttle wait); the service parks the adjustment as failed after its limit.
@shared_task(
    name="inventory_ai.tasks.push_adjustment_task",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=None,
    ignore_result=True,
)
def push_adjustment_task(self, adjustment_id: int) -> str:
    try:
        return push.push_adjustment(adjustment_id)
    except push.RetryLater as exc:
        raise self.retry(countdown=exc.countdown, max_retries=None) from exc


# Idempotent: the store's idempotency keys make a repeated transfer request a no-op, and the order's row says when it
# is done. Transient store errors retry with backoff; a lasting refusal is kept on the order.
_TRANSFER_STEP = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (StoreAPIError, OperationalError),
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "max_retries": 12,
    "ignore_result": True,
}


@shared_task(name="inventory_ai.tasks.open_inbound_transfer_task", **_TRANSFER_STEP)
def open_inbound_transfer_task(order_id: int) -> str:
    return inbound_transfers.open_inbound_transfer(order_id)


@shared_task(name="inventory_ai.tasks.cancel_inbound_transfer_task", **_TRANSFER_STEP)
def cancel_inbound_transfer_task(order_id: int) -> str:
    return inbound_transfers.cancel_inbound_transfer(order_id)


@shared_task(name="inventory_ai.tasks.requeue_stalled_pushes_task", ignore_result=True)
def requeue_stalled_pushes_task(older_than_seconds: int = 600) -> int:
    """Beat: re-enqueue approved adjustments whose push task was lost."""
    return push.requeue_stalled_pushes(timedelta(seconds=older_than_seconds))


# Resumable and idempotent: each page is applied in one transaction with the run's cursor.
@shared_task(
    name="inventory_ai.tasks.sync_store_task",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=None,
    ignore_result=True,
)
def sync_store_task(self, run_id: int) -> str:
    try:
        return sync_runs.run_sync(run_id)
    except sync_runs.RetryLater as exc:
        raise self.retry(countdown=exc.countdown, max_retries=None) from exc


@shared_task(name="inventory_ai.tasks.reconcile_stores_task", ignore_result=True)
def reconcile_stores_task() -> list[int]:
    """Beat: reconcile every active store (stock levels, recently changed orders)."""
    return sync_runs.reconcile_active_stores()


@shared_task(name="inventory_ai.tasks.requeue_stalled_syncs_task", ignore_result=True)
def requeue_stalled_syncs_task(older_than_seconds: int = 1800) -> int:
    return sync_runs.requeue_stalled_syncs(timedelta(seconds=older_than_seconds))


@shared_task(name="inventory_ai.tasks.refresh_weather_task", ignore_result=True)
def refresh_weather_task() -> dict[str, list[str]]:
    """Beat: fetch the weather each located store lacks; a failed fetch is recorded and tried again next time."""
    return weather.refresh_all_weather()


@shared_task(name="inventory_ai.tasks.send_alert_digests_task", ignore_result=True)
def send_alert_digests_task() -> dict[str, int]:
    """Each subscribed planner's daily digest of what needs attention (once per store-local day)."""
    from inventory_ai.services import alerts

    return alerts.send_digests()
