"""Starting a run: creating it, and planning it (its history's last day, its SKUs and their chunks)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from forecasting import selection
from forecasting.data import (
    period_alias,
    periods_ending,
    periods_per_year,
)
from inventory_ai import dispatch
from inventory_ai.choices import RunKind, RunPhase, RunStatus, StepStatus
from inventory_ai.conf import get_option
from inventory_ai.models import (
    DailyDemand,
    DemandEvent,
    ForecastRun,
    ForecastRunChunk,
    Order,
    RemovedEvent,
    Store,
)
from inventory_ai.models.forecasts import ACTIVE_STATUSES
from inventory_ai.selectors.drivers import event_variants
from inventory_ai.selectors.forecasts import current_run, last_complete_day
from inventory_ai.services import model_registry
from inventory_ai.services.retraining.phases import advance, enqueue_outstanding
from inventory_ai.services.retraining.steps import NETWORK_FILES, forecast_variant_ids

logger = logging.getLogger(__name__)


class RetrainAlreadyRunning(Exception):
    """The store already has a queued or running retrain."""

    def __init__(self, run: ForecastRun) -> None:
        super().__init__(f"Run #{run.pk} of {run.store} is already {run.status}")
        self.run = run


def start_retrain(
    store: Store, kind: str = RunKind.FULL, trigger: str = "", requested_by: str = "", as_of: date | None = None
) -> ForecastRun | None:
    """Create a queued run and enqueue it after the commit. Raises `RetrainAlreadyRunning` when the store has an
    active run (the database refuses a second one, so concurrent callers cannot both succeed). A refresh with no new
    data since the current run returns None and creates nothing. `as_of` forecasts as if it were that day (the
    history ends with the last period complete before it): for historical data and what-if runs."""
    freq = get_option("FORECAST_FREQ")
    data_until = None
    if as_of is not None:
        data_until = last_complete_day(store, freq, datetime.combine(as_of, datetime.min.time(), tzinfo=store.tzinfo))
    if kind == RunKind.REFRESH and not _refresh_variant_ids(store, current_run(store), freq):
        return None
    try:
        with transaction.atomic():
            run = ForecastRun.objects.create(
                store=store,
                kind=kind,
                trigger=trigger,
                requested_by=requested_by,
                freq=freq,
                horizon=get_option("FORECAST_HORIZON"),
                levels=list(get_option("FORECAST_LEVELS")),
                data_until=data_until,
            )
    except IntegrityError:
        active = ForecastRun.objects.filter(store=store, status__in=ACTIVE_STATUSES).first()
        if active is None:  # it finished in between: the caller may simply try again
            raise
        raise RetrainAlreadyRunning(active) from None
    dispatch.send("retrain_store_task", store.pk, run.pk)
    return run


def retrain_active_stores(kind: str, trigger: str = "schedule") -> list[int]:
    """Start a run of `kind` for every active store that has none running; returns the new runs' ids."""
    started = []
    for store in Store.objects.filter(active=True).order_by("pk"):
        try:
            run = start_retrain(store, kind, trigger=trigger)
        except RetrainAlreadyRunning as exc:
            logger.info("%s: %s; not starting another", store, exc)
            continue
        if run is not None:
            started.append(run.pk)
    return started


def nightly_window(now: datetime | None = None) -> tuple[datetime, timedelta]:
    """When tonight's (or the current) nightly window began, and how long it lasts (RETRAIN_HOUR_UTC and
    RETRAIN_WINDOW_HOURS)."""
    now = now or timezone.now()
    hour, hours = int(settings.RETRAIN_HOUR_UTC), max(int(settings.RETRAIN_WINDOW_HOURS), 1)
    start = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    if start > now:
        start -= timedelta(days=1)
    return start, timedelta(hours=hours)


def start_nightly_retrains(now: datetime | None = None) -> list[int]:
    """The nightly full retrains, spread over the window: active store i of n (by id) is due at the window's start
    plus i/n of its length, so fifty stores do not all start at once and compete for the workers; each store's
    retrain starts once a night, at the first tick (every ten minutes) on or after its time. Returns the new runs'
    ids; outside the window, nothing."""
    now = now or timezone.now()
    start, length = nightly_window(now)
    if now >= start + length:
        return []
    stores = list(Store.objects.filter(active=True).order_by("pk"))
    done = set(
        ForecastRun.objects.filter(kind=RunKind.FULL, trigger="schedule", created_at__gte=start).values_list(
            "store_id", flat=True
        )
    )
    started = []
    for index, store in enumerate(stores):
        if store.pk in done or now < start + length * index / len(stores):
            continue
        try:
            run = start_retrain(store, RunKind.FULL, trigger="schedule")
        except RetrainAlreadyRunning as exc:
            logger.info("%s: %s; its nightly retrain waits for the next tick", store, exc)
            continue
        if run is not None:
            started.append(run.pk)
    return started


def rerun(run: ForecastRun, requested_by: str = "") -> ForecastRun | None:
    """Start a new run like `run` (a failed one, typically)."""
    return start_retrain(run.store, run.kind, trigger="rerun", requested_by=requested_by)


def _year_start(data_until: date, freq: str) -> date:
    """The first day of the year of whole periods that ends with `data_until`: a SKU with no sale since is inactive."""
    year = periods_ending(pd.Timestamp(data_until), periods_per_year(freq), freq)
    return pd.Period(year[0], freq=period_alias(freq)).start_time.date()


def _inactive_note(store: Store, data_until: date, skus: int) -> str:
    """What a planner needs to know when none of the store's SKUs sold in the year before the run's last day."""
    last = DailyDemand.objects.filter(variant__store=store, units__gt=0).aggregate(last=Max("date"))["last"]
    note = f"None of the {skus:,} SKUs sold in the year up to {data_until}: all are forecast as inactive (zero)."
    if last is not None:
        note += (
            f" The store's last recorded sale is on {last}; to forecast from a history that ends then (an import),"
            f" retrain with --as-of {last + timedelta(days=1)}."
        )
    return note


def _refresh_variant_ids(store: Store, current: ForecastRun | None, freq: str) -> list[int]:
    """The SKUs a refresh re-forecasts: all of them once a new period has completed since the current run, else
    those with orders placed, changed or refunded since it started (late or edited orders in the history) and those
    of events created, edited or removed since."""
    if current is None or current.data_until is None:
        return []
    data_until = last_complete_day(store, freq)
    if data_until > current.data_until:
        return forecast_variant_ids(store, data_until)
    end_of_history = datetime.combine(data_until + timedelta(days=1), datetime.min.time(), tzinfo=store.tzinfo)
    # the SKUs of events created or edited since: their history and horizon read the event now
    moved: set[int] = set()
    for event in DemandEvent.objects.filter(store=store, updated_at__gte=current.started_at):
        moved.update(event_variants(event).values_list("pk", flat=True))
    for variant_ids in RemovedEvent.objects.filter(store=store, removed_at__gte=current.started_at).values_list(
        "variant_ids", flat=True
    ):
        moved.update(variant_ids)
    changed = Order.objects.filter(
        Q(recorded_at__gte=current.started_at) | Q(platform_updated_at__gte=current.started_at),
        store=store,
        created_at__lt=end_of_history,
    )
    ordered = set(changed.filter(lines__variant__deleted_at__isnull=True).values_list("lines__variant_id", flat=True))
    sold = set(forecast_variant_ids(store, data_until))  # a SKU that never sold has no forecast to move
    return sorted((ordered | (moved & sold)) - {None})


def plan_run(run_id: int) -> None:
    """Fix the run's history, list and chunk its SKUs, and start the backtest phase. Idempotent."""
    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().select_related("store").filter(pk=run_id).first()
        if run is None or run.status != RunStatus.QUEUED:
            if run is not None and run.status == RunStatus.RUNNING:
                transaction.on_commit(lambda: enqueue_outstanding(run_id))
            return
        store = run.store
        current = current_run(store)
        run.data_until = run.data_until or last_complete_day(store, run.freq)
        if run.kind == RunKind.REFRESH:
            variant_ids = _refresh_variant_ids(store, current, run.freq)
        else:
            variant_ids = forecast_variant_ids(store, run.data_until)
        run.status, run.started_at, run.progress_at = RunStatus.RUNNING, timezone.now(), timezone.now()
        run.artifacts = model_registry.run_folder(store.pk, run.pk)
        run.warm_start_run = _latest_with_network(store)
        run.skus_total = len(variant_ids)
        size = max(1, int(get_option("RETRAIN_CHUNK_SIZE")))
        refresh = run.kind == RunKind.REFRESH
        ForecastRunChunk.objects.bulk_create(
            ForecastRunChunk(
                run=run,
                index=index,
                variant_ids=variant_ids[start : start + size],
                backtest_status=StepStatus.SKIPPED if refresh else StepStatus.PENDING,
            )
            for index, start in enumerate(range(0, len(variant_ids), size))
        )
        if refresh:
            has_network = current is not None and run.warm_start_run is not None
            run.global_backtest_status = StepStatus.SKIPPED
            run.global_status = StepStatus.PENDING if has_network else StepStatus.SKIPPED
            run.choice = dict(current.choice) if current else {}
            run.calibration = list(current.calibration) if current else []
        else:
            active = len(forecast_variant_ids(store, run.data_until, since=_year_start(run.data_until, run.freq)))
            if variant_ids and not active:
                run.error_log = _inactive_note(store, run.data_until, len(variant_ids))
            # the network learns from the SKUs that sell; inactive ones are forecast as such
            if active >= selection.GLOBAL_MIN_SERIES:
                run.global_backtest_status = run.global_status = StepStatus.PENDING
            else:
                run.global_backtest_status = run.global_status = StepStatus.SKIPPED
        # the feature models learn from the SKUs that sell (a refresh refits them on the new data); a store that sold
        # nothing in its last year has none to learn from
        sells = refresh or active > 0
        run.features_status = StepStatus.PENDING if variant_ids and sells else StepStatus.SKIPPED
        run.phase = RunPhase.BACKTEST
        run.save()
        model_registry.delete(run.artifacts)  # nothing of an earlier attempt may be mistaken for this run's
        advance(run)
        transaction.on_commit(lambda: enqueue_outstanding(run_id))


def _latest_with_network(store: Store) -> ForecastRun | None:
    """The newest succeeded run whose artefacts hold a network (the warm start of the next one)."""
    for run in ForecastRun.objects.filter(store=store, status=RunStatus.SUCCEEDED).order_by("-finished_at", "-pk"):
        if run.artifacts and model_registry.storage().exists(f"{run.artifacts}/{NETWORK_FILES[0]}"):
            return run
    return None


def start_or_plan(store_id: int, run_id: int | None = None, kind: str = RunKind.FULL) -> int | None:
    """The retrain task's work: plan the queued run `run_id`, or (without one) create a run of the store, whose own
    task then plans it. Returns the run's id (the active one when the store already has one; None when a refresh
    finds nothing new)."""
    if run_id is None:
        try:
            run = start_retrain(Store.objects.get(pk=store_id), kind, trigger="task")
        except RetrainAlreadyRunning as exc:
            return exc.run.pk
        return run.pk if run else None
    plan_run(run_id)
    return run_id
