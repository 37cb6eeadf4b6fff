"""Retraining a store's forecasts as a distributed run of Celery tasks.

A run is a `ForecastRun` row and a state machine over its `ForecastRunChunk` rows:

1. plan (`retrain_store_task`): fix the history's last day, list the SKUs, split them into chunks;
2. backtest: every chunk backtests its local candidate models (`backtest_chunk_task`, `training` queue) while the
   global network trains once across all SKUs (`train_global_model_task`, `ml` queue);
3. choose: when the last of those lands, the model of each demand class is chosen from all chunks' evidence;
4. forecast: every chunk fits its chosen models and writes its forecasts (`forecast_chunk_task`);
5. finish: when the last chunk lands, the run's summary is written and it becomes the store's current forecast.

Each step commits its results together with its "done" mark, under a lock on the run row, and the step that
completes a phase starts the next one. A task delivered twice (its worker was killed after taking it) finds its
step done and only makes sure the run moves on, so a killed worker costs a redo of one chunk, never a lost or
doubled SKU. A refresh run skips model choice: it re-fits each SKU's current model on the new data and reuses the
current network without training it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField, Max, Min, Q, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from forecasting import catalog, network, pipeline, selection
from forecasting.data import (
    future_periods,
    history_start,
    period_alias,
    periods_ending,
    periods_per_year,
)
from inventory_ai.choices import RunKind, RunPhase, RunStatus, StepStatus
from inventory_ai.conf import get_option
from inventory_ai.models import (
    DailyDemand,
    Forecast,
    ForecastResult,
    ForecastRun,
    ForecastRunChunk,
    Order,
    Store,
)
from inventory_ai.models.forecasts import ACTIVE_STATUSES
from inventory_ai.services import registry

logger = logging.getLogger(__name__)

NETWORK_FILES = ("config.json", "model.weights.h5")
# A SKU's forecast "changed" when its total over the horizon moved by more than this share (and at least a unit).
CHANGE_TOLERANCE = 0.05


class RetrainAlreadyRunning(Exception):
    """The store already has a queued or running retrain."""

    def __init__(self, run: ForecastRun) -> None:
        super().__init__(f"Run #{run.pk} of {run.store} is already {run.status}")
        self.run = run


# --- Starting ----------------------------------------------------------------------------------------------------


def current_run(store: Store) -> ForecastRun | None:
    """The store's current forecast: its newest succeeded run."""
    return ForecastRun.objects.filter(store=store, status=RunStatus.SUCCEEDED).order_by("-finished_at", "-pk").first()


def last_complete_day(store: Store, freq: str, now: datetime | None = None) -> date:
    """The last day of the last complete period in the store's time zone: a run never reads a half-finished week."""
    today = (now or timezone.now()).astimezone(store.tzinfo).date()
    period = pd.Period(today, freq=period_alias(freq))
    return (period.start_time - pd.Timedelta(days=1)).date()


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
    transaction.on_commit(lambda: _send("retrain_store_task", store.pk, run.pk))
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


def rerun(run: ForecastRun, requested_by: str = "") -> ForecastRun | None:
    """Start a new run like `run` (a failed one, typically)."""
    return start_retrain(run.store, run.kind, trigger="rerun", requested_by=requested_by)


# --- Reading the history -----------------------------------------------------------------------------------------


def load_history(
    store: Store, data_until: date, variant_ids: list[int] | None = None, since: date | None = None
) -> pd.DataFrame:
    """Daily demand per variant over all its locations from `since` (default: the beginning) up to `data_until`:
    `unique_id` (the variant id as text), `ds`, `y`, and `censored` (out of stock at every location with a row that
    day)."""
    rows = DailyDemand.objects.filter(variant__store=store, date__lte=data_until)
    if since is not None:
        rows = rows.filter(date__gte=since)
    if variant_ids is not None:
        rows = rows.filter(variant_id__in=variant_ids)
    values = (
        rows.values("variant_id", "date")
        .annotate(units=Sum("units"), in_stock=Min(Cast("out_of_stock", IntegerField())))
        .values_list("variant_id", "date", "units", "in_stock")
    )
    frame = pd.DataFrame(list(values), columns=["unique_id", "ds", "y", "censored"])
    frame["unique_id"] = frame["unique_id"].astype(str)
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame["y"] = frame["y"].clip(lower=0).astype(float)
    frame["censored"] = frame["censored"].astype(bool)
    return frame


def _plan(run: ForecastRun) -> pipeline.Plan:
    """The forecasting pipeline's settings for a run (the same for every task of it)."""
    return pipeline.Plan(
        run.horizon,
        run.freq,
        tuple(run.levels),
        windows=get_option("FORECAST_BACKTEST_WINDOWS"),
        country=run.store.country_code or None,
    )


def _series(run: ForecastRun, variant_ids: list[int]) -> list[catalog.Series]:
    """The prepared series of `variant_ids`, read from the database over their useful history only
    (`forecasting.data.history_start`), so that a run's memory does not grow with the age of the store. A variant with
    no sale in that window is inactive: it gets its last year of zeros, which the engine forecasts as inactive."""
    end = pd.Timestamp(run.data_until)
    history = load_history(run.store, run.data_until, variant_ids, since=history_start(end, run.freq).date())
    series = pipeline.prepare(history, run.freq, end=end)
    found = {str(uid) for uid, _, _ in series}
    year = periods_ending(end, periods_per_year(run.freq), run.freq)
    series += [(str(v), year, np.zeros(len(year))) for v in variant_ids if str(v) not in found]
    return sorted(series, key=lambda item: str(item[0]))


def _forecast_variant_ids(store: Store, data_until: date, since: date | None = None) -> list[int]:
    """The SKUs a full run forecasts: every live variant that has sold something up to `data_until` (and since
    `since`, when given)."""
    sold = DailyDemand.objects.filter(
        variant__store=store, variant__deleted_at__isnull=True, date__lte=data_until, units__gt=0
    )
    if since is not None:
        sold = sold.filter(date__gte=since)
    return sorted(sold.values_list("variant_id", flat=True).distinct())


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
    those with orders placed, changed or refunded since it started (late or edited orders in the history)."""
    if current is None or current.data_until is None:
        return []
    data_until = last_complete_day(store, freq)
    if data_until > current.data_until:
        return _forecast_variant_ids(store, data_until)
    end_of_history = datetime.combine(data_until + timedelta(days=1), datetime.min.time(), tzinfo=store.tzinfo)
    changed = Order.objects.filter(
        Q(recorded_at__gte=current.started_at) | Q(platform_updated_at__gte=current.started_at),
        store=store,
        created_at__lt=end_of_history,
    )
    return sorted(
        set(changed.filter(lines__variant__deleted_at__isnull=True).values_list("lines__variant_id", flat=True))
        - {None}
    )


# --- Phase 1: plan -----------------------------------------------------------------------------------------------


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
            variant_ids = _forecast_variant_ids(store, run.data_until)
        run.status, run.started_at, run.progress_at = RunStatus.RUNNING, timezone.now(), timezone.now()
        run.artifacts = registry.run_folder(store.pk, run.pk)
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
            active = len(_forecast_variant_ids(store, run.data_until, since=_year_start(run.data_until, run.freq)))
            if variant_ids and not active:
                run.error_log = _inactive_note(store, run.data_until, len(variant_ids))
            # the network learns from the SKUs that sell; inactive ones are forecast as such
            if active >= selection.GLOBAL_MIN_SERIES:
                run.global_backtest_status = run.global_status = StepStatus.PENDING
            else:
                run.global_backtest_status = run.global_status = StepStatus.SKIPPED
        run.phase = RunPhase.BACKTEST
        run.save()
        registry.delete(run.artifacts)  # nothing of an earlier attempt may be mistaken for this run's
        _advance(run)
        transaction.on_commit(lambda: enqueue_outstanding(run_id))


def _latest_with_network(store: Store) -> ForecastRun | None:
    """The newest succeeded run whose artefacts hold a network (the warm start of the next one)."""
    for run in ForecastRun.objects.filter(store=store, status=RunStatus.SUCCEEDED).order_by("-finished_at", "-pk"):
        if run.artifacts and registry.storage().exists(f"{run.artifacts}/{NETWORK_FILES[0]}"):
            return run
    return None


def enqueue_outstanding(run_id: int) -> int:
    """Send a task for every step of the run's current phase that is not done; returns how many were sent.

    Called when a phase starts, and again by a task that finds its own step already done (a redelivery after a
    worker was lost between its commit and the start of the next phase). Extra deliveries are harmless: each step
    checks its state under a lock before doing anything.
    """
    from celery import group

    from inventory_ai import tasks

    run = ForecastRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).first()
    if run is None:
        return 0
    signatures = []
    if run.phase == RunPhase.BACKTEST:
        # the network's two parts first: they are the longest steps, and run side by side on two workers
        if run.global_backtest_status == StepStatus.PENDING:
            signatures.append(tasks.train_global_model_task.si(run.pk, GLOBAL_BACKTEST))
        if run.global_status == StepStatus.PENDING:
            signatures.append(tasks.train_global_model_task.si(run.pk, GLOBAL_FINAL))
        pending = run.chunks.filter(backtest_status=StepStatus.PENDING).values_list("index", flat=True)
        signatures += [tasks.backtest_chunk_task.si(run.pk, index) for index in pending]
    elif run.phase == RunPhase.FORECAST:
        pending = run.chunks.filter(forecast_status=StepStatus.PENDING).values_list("index", flat=True)
        signatures += [tasks.forecast_chunk_task.si(run.pk, index) for index in pending]
    if signatures:
        group(signatures).apply_async()
    return len(signatures)


def _send(task_name: str, *args) -> None:
    from inventory_ai import tasks

    getattr(tasks, task_name).delay(*args)


# --- Phase 2: backtest chunks and the global network ---------------------------------------------------------------


def _running(run_id: int) -> ForecastRun | None:
    return ForecastRun.objects.select_related("store").filter(pk=run_id, status=RunStatus.RUNNING).first()


def _start_chunk_step(run: ForecastRun, chunk: ForecastRunChunk, step: str) -> bool:
    """Count a start of the chunk's current step; False (and the run failed, with the reason) when the step was
    already started `RETRAIN_MAX_ATTEMPTS` times without finishing.

    A step that never finishes while its task keeps being delivered is one whose worker process dies under it (the
    kernel's OOM killer, a crash in native code): the task is redelivered each time, and would be forever. The count
    is committed before the work starts, so it survives the process."""
    limit = max(1, int(get_option("RETRAIN_MAX_ATTEMPTS")))
    with transaction.atomic():
        locked = ForecastRunChunk.objects.select_for_update().get(pk=chunk.pk)
        if locked.step_attempts < limit:
            locked.attempts += 1
            locked.step_attempts += 1
            locked.save(update_fields=["attempts", "step_attempts", "updated_at"])
            return True
    _fail_run(
        run.pk,
        f"Stopped: the {step} of chunk {chunk.index} ({len(chunk.variant_ids):,} SKUs) was started "
        f"{locked.step_attempts} times and never finished: the worker process running it died each time (killed for "
        "memory, or crashed). "
        f"The worker's log says which; CELERY_WORKER_MAX_MEMORY_PER_CHILD bounds a process's memory.",
    )
    return False


def _fail_run(run_id: int, reason: str) -> None:
    """Mark a running run failed with `reason` (its tasks still in flight find it failed and stop)."""
    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().get(pk=run_id)
        if run.status not in ACTIVE_STATUSES:
            return
        run.status, run.finished_at, run.progress_at = RunStatus.FAILED, timezone.now(), timezone.now()
        run.error_log = (run.error_log + "\n" + reason).strip()
        run.save(update_fields=["status", "finished_at", "progress_at", "error_log"])
    logger.error("run %s failed: %s", run_id, reason)


def backtest_chunk(run_id: int, index: int) -> str:
    """Backtest the local candidates of one chunk's SKUs and keep the evidence for model choice."""
    run = _running(run_id)
    chunk = ForecastRunChunk.objects.filter(run_id=run_id, index=index).first()
    if run is None or chunk is None:
        return "no such running run"
    if chunk.backtest_status != StepStatus.PENDING:
        enqueue_outstanding(run_id)
        return "already done"
    if not _start_chunk_step(run, chunk, "backtest"):
        return "run failed: the chunk's worker process kept dying"
    series = _series(run, chunk.variant_ids)
    starts = _saved_states(run.warm_start_run)
    evidence = pipeline.backtest_chunk(_plan(run), series, starts=[starts.get(str(uid)) for uid, _, _ in series])
    with transaction.atomic():
        chunk = ForecastRunChunk.objects.select_for_update().get(pk=chunk.pk)
        if chunk.backtest_status != StepStatus.PENDING:
            return "already done"
        chunk.evidence = {str(uid): item for (uid, _, _), item in zip(series, evidence, strict=True)}
        chunk.backtest_status = StepStatus.DONE
        chunk.step_attempts = 0  # the forecast step counts its own starts
        chunk.save(update_fields=["evidence", "backtest_status", "step_attempts", "updated_at"])
        run = ForecastRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.RUNNING:
            run.progress_at = timezone.now()
            run.save(update_fields=["progress_at"])
            _advance(run)
    return f"{len(series)} SKUs backtested"


GLOBAL_BACKTEST, GLOBAL_FINAL = "backtest", "final"
# The network's results in the registry: all series in one file (model choice reads it), and each chunk's share.
GLOBAL_FILES = {GLOBAL_BACKTEST: "global-backtest.json", GLOBAL_FINAL: "global-forecast.json"}


def _chunk_file(part: str, index: int) -> str:
    return f"global-chunks/{part}-{index}.json"


def train_global_model(run_id: int, part: str = GLOBAL_FINAL) -> str:
    """One part of the store's global network, on the `ml` queue: its backtest (trained cold at each backtest origin)
    or its final fit (from the last run's network when there is one; in a refresh only run on the new data). Both
    parts run side by side. Their results go to the registry; a network that cannot be trained or used leaves the
    SKUs to local models."""
    field = "global_backtest_status" if part == GLOBAL_BACKTEST else "global_status"
    counter = "global_backtest_attempts" if part == GLOBAL_BACKTEST else "global_attempts"
    run = _running(run_id)
    if run is None:
        return "no such running run"
    if getattr(run, field) != StepStatus.PENDING:
        enqueue_outstanding(run_id)
        return "already done"
    started = time.monotonic()
    # Counted before the work, as for chunks: a part whose process keeps dying under it is given up after
    # RETRAIN_MAX_ATTEMPTS starts, and the run goes on with local models.
    ForecastRun.objects.filter(pk=run_id).update(**{counter: F(counter) + 1})
    if getattr(run, counter) >= max(1, int(get_option("RETRAIN_MAX_ATTEMPTS"))):
        return _finish_global_part(
            run_id,
            part,
            StepStatus.FAILED,
            f"global network ({part}): started {getattr(run, counter)} times and never finished: the worker process "
            "running it died each time (killed for memory, or crashed); local models only",
            started,
        )
    status, note = StepStatus.DONE, ""
    try:
        # read chunk by chunk: the store's whole daily history never sits in one frame, only its prepared series
        series = sorted(
            (item for ids in run.chunks.values_list("variant_ids", flat=True) for item in _series(run, ids)),
            key=lambda item: str(item[0]),
        )
        levels = tuple(run.levels)
        with tempfile.TemporaryDirectory(prefix="inventory-ai-network-") as folder:
            if part == GLOBAL_BACKTEST:
                backtests, _ = network.backtest_global(
                    series,
                    run.horizon,
                    levels,
                    windows=get_option("FORECAST_BACKTEST_WINDOWS"),
                    seed=get_option("RETRAIN_SEED"),
                )
                results = {
                    str(uid): {str(cutoff): mean for cutoff, mean in by_cutoff.items()}
                    for (uid, _, _), by_cutoff in zip(series, backtests, strict=True)
                }
            else:
                warm = None
                if run.warm_start_run is not None:
                    registry.download(run.warm_start_run.artifacts, Path(folder) / "warm", NETWORK_FILES)
                    warm = network.load_network(Path(folder) / "warm")
                if run.kind == RunKind.REFRESH:
                    forecasts = network.predict_global(warm, series, run.horizon, run.freq, levels) if warm else None
                    if forecasts is not None:
                        warm.save(Path(folder) / "out")  # the refresh run carries the network on to the next one
                else:
                    forecasts = network.fit_final_global(
                        series, run.horizon, run.freq, levels, get_option("RETRAIN_SEED"), warm, Path(folder) / "out"
                    )
                results = None
                if forecasts is not None:
                    registry.upload(run.artifacts, Path(folder) / "out")
                    results = {str(uid): f for (uid, _, _), f in zip(series, forecasts, strict=True)}
        if not results or not any(results.values()):
            status, note = StepStatus.FAILED, f"global network ({part}): not trained or not usable; local models only"
        else:
            registry.write_json(run.artifacts, GLOBAL_FILES[part], results)
            for index, ids in run.chunks.values_list("index", "variant_ids"):
                share = {str(v): results[str(v)] for v in ids if str(v) in results}
                registry.write_json(run.artifacts, _chunk_file(part, index), share)
    except Exception as exc:  # the run goes on with local models; the error is kept on the run
        logger.exception("the global network (%s) of run %s failed", part, run_id)
        status, note = StepStatus.FAILED, f"global network ({part}): {type(exc).__name__}: {exc}"
    return _finish_global_part(run_id, part, status, note, started)


def _finish_global_part(run_id: int, part: str, status: str, note: str, started: float) -> str:
    field = "global_backtest_status" if part == GLOBAL_BACKTEST else "global_status"
    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING or getattr(run, field) != StepStatus.PENDING:
            return "already done"
        setattr(run, field, status)
        run.global_seconds = (run.global_seconds or 0.0) + time.monotonic() - started
        run.progress_at = timezone.now()
        if note:
            run.error_log = (run.error_log + "\n" + note).strip()
        run.save(update_fields=[field, "global_seconds", "progress_at", "error_log"])
        _advance(run)
    return f"global network ({part}) {status} in {time.monotonic() - started:.1f} s"


def _saved_states(run: ForecastRun | None) -> dict[str, dict]:
    if run is None or not run.artifacts:
        return {}
    return registry.read_json(run.artifacts, pipeline.STATES_FILE) or {}


def _global_results(run: ForecastRun, index: int | None = None) -> dict[str, dict]:
    """The network's results by variant id, `{"backtest": {cutoff: means}, "forecast": {...}}` (a part missing when
    it failed or was skipped): all series, or those of one chunk."""
    out: dict[str, dict] = {}
    for part, status, key in (
        (GLOBAL_BACKTEST, run.global_backtest_status, "backtest"),
        (GLOBAL_FINAL, run.global_status, "forecast"),
    ):
        if status != StepStatus.DONE:
            continue
        name = GLOBAL_FILES[part] if index is None else _chunk_file(part, index)
        for variant_id, value in (registry.read_json(run.artifacts, name) or {}).items():
            out.setdefault(variant_id, {})[key] = value
    return out


# --- Phase 3: choose; phase 5: finish ------------------------------------------------------------------------------


def _advance(run: ForecastRun) -> None:
    """Move a locked, running run to its next phase when its current one is complete."""
    if run.phase == RunPhase.BACKTEST:
        networks = (run.global_backtest_status, run.global_status)
        if StepStatus.PENDING in networks or run.chunks.filter(backtest_status=StepStatus.PENDING).exists():
            return
        if run.kind == RunKind.FULL:
            glob = _global_results(run)
            evidence, global_backtests = [], []
            for chunk_evidence in run.chunks.values_list("evidence", flat=True):
                for variant_id, item in chunk_evidence.items():
                    evidence.append(item)
                    global_backtests.append(glob.get(variant_id, {}).get("backtest"))
            choice = pipeline.choose(_plan(run), evidence, global_backtests)
            run.choice, run.calibration = choice.per_class, choice.calibration
        run.phase = RunPhase.FORECAST
        run.save(update_fields=["choice", "calibration", "phase"])
        transaction.on_commit(lambda: enqueue_outstanding(run.pk))
    elif run.phase == RunPhase.FORECAST:
        if run.chunks.filter(forecast_status=StepStatus.PENDING).exists():
            return
        _finish(run)


def _finish(run: ForecastRun) -> None:
    previous = current_run(run.store)
    if run.kind == RunKind.REFRESH and previous is not None:
        _carry_over(previous, run)
    results = ForecastResult.objects.filter(run=run, ok=True)
    run.model_counts = dict(Counter(results.values_list("model", flat=True)).most_common())
    run.accuracy = _accuracy(results.values_list("model", "demand_class", "backtest"))
    run.skus_changed = ForecastResult.objects.filter(run=run, changed=True).count()
    states = _saved_states(previous) if run.kind == RunKind.REFRESH else {}
    for chunk_evidence in run.chunks.values_list("evidence", flat=True):
        states.update(chunk_evidence.get("_states", {}))
    registry.write_json(run.artifacts, pipeline.STATES_FILE, states)
    run.status, run.phase, run.finished_at = RunStatus.SUCCEEDED, RunPhase.DONE, timezone.now()
    run.progress_at = run.finished_at
    run.save()
    transaction.on_commit(lambda: prune_runs(run.store_id))
    # the new forecast moves reorder levels: all of them after a full run (classes are refreshed too), the changed
    # ones after a refresh
    changed = None
    if run.kind == RunKind.REFRESH:
        changed = list(ForecastResult.objects.filter(run=run, changed=True).values_list("variant_id", flat=True))
    if changed != []:
        transaction.on_commit(lambda: _send("recompute_suggestions_task", run.store_id, run.pk, changed))


def _accuracy(rows) -> dict:
    """Backtest RMSSE of the chosen models (mean over SKUs), overall, per demand class and per model."""
    chosen: dict[str, list[float]] = {}
    for model, demand_class, scores in rows:
        if scores and model in scores:
            chosen.setdefault("all", []).append(scores[model])
            chosen.setdefault(f"class:{demand_class}", []).append(scores[model])
            chosen.setdefault(f"model:{model}", []).append(scores[model])
    return {key: {"rmsse": round(float(np.mean(values)), 4), "skus": len(values)} for key, values in chosen.items()}


def _carry_over(previous: ForecastRun, run: ForecastRun) -> None:
    """A refresh re-forecasts some SKUs; the others keep the previous run's forecasts, so that the newest run is
    always a complete forecast of the store."""
    refreshed = list(ForecastResult.objects.filter(run=run).values_list("variant_id", flat=True))
    ForecastResult.objects.bulk_create(
        ForecastResult(
            run=run,
            variant_id=result.variant_id,
            ok=result.ok,
            model=result.model,
            demand_class=result.demand_class,
            backtest=result.backtest,
            error=result.error,
        )
        for result in ForecastResult.objects.filter(run=previous).exclude(variant_id__in=refreshed).iterator()
    )
    Forecast.objects.bulk_create(
        (
            Forecast(
                run=run,
                variant_id=row.variant_id,
                period_start=row.period_start,
                period_end=row.period_end,
                mean=row.mean,
                bounds=row.bounds,
                model=row.model,
            )
            for row in Forecast.objects.filter(run=previous).exclude(variant_id__in=refreshed).iterator()
        ),
        batch_size=2000,
    )


def prune_runs(store_id: int) -> int:
    """Delete the store's runs beyond the newest `RETRAIN_KEEP_RUNS` (never an active or the current one, nor the
    calibration snapshots: the newest succeeded run of every four weeks of history over `CALIBRATION_HISTORY_DAYS`
    before the current run's) and their artefacts; returns how many were deleted."""
    keep = max(1, int(get_option("RETRAIN_KEEP_RUNS")))
    store = Store.objects.get(pk=store_id)
    current = current_run(store)
    snapshots = set()
    if current is not None and current.data_until is not None:
        oldest = current.data_until - timedelta(days=int(get_option("CALIBRATION_HISTORY_DAYS")))
        blocks = set()
        earlier = ForecastRun.objects.filter(
            store_id=store_id, status=RunStatus.SUCCEEDED, data_until__gte=oldest, data_until__lt=current.data_until
        ).order_by("-data_until", "-finished_at", "-pk")
        for run in earlier:
            block = (current.data_until - run.data_until).days // 28
            if block not in blocks:
                blocks.add(block)
                snapshots.add(run.pk)
    old = ForecastRun.objects.filter(store_id=store_id).exclude(status__in=ACTIVE_STATUSES).order_by("-created_at")
    doomed = [run for run in old[keep:] if (current is None or run.pk != current.pk) and run.pk not in snapshots]
    for run in doomed:
        if run.artifacts:
            registry.delete(run.artifacts)
        run.delete()
    return len(doomed)


# --- Phase 4: forecast chunks --------------------------------------------------------------------------------------


def forecast_chunk(run_id: int, index: int) -> str:
    """Fit the chosen model of each SKU in one chunk and write its forecasts and outcome, all in one transaction."""
    run = _running(run_id)
    chunk = ForecastRunChunk.objects.filter(run_id=run_id, index=index).first()
    if run is None or chunk is None:
        return "no such running run"
    if chunk.forecast_status != StepStatus.PENDING:
        enqueue_outstanding(run_id)
        return "already done"
    if not _start_chunk_step(run, chunk, "forecast"):
        return "run failed: the chunk's worker process kept dying"
    series = _series(run, chunk.variant_ids)
    glob = _global_results(run, index)
    previous = current_run(run.store)
    uids = [str(uid) for uid, _, _ in series]
    names, states, evidence = None, None, None
    if run.kind == RunKind.REFRESH:
        # each SKU keeps its current model (an inactive one is forecast as such), starting from its saved state
        current = dict(
            ForecastResult.objects.filter(run=previous, variant_id__in=chunk.variant_ids, ok=True).values_list(
                "variant_id", "model"
            )
        )
        names = [
            None if selection.demand_class(values) == "inactive" else _known_model(current.get(int(uid)))
            for uid, _, values in series
        ]
        saved = _saved_states(previous)
        states = [saved.get(uid) for uid in uids]
    else:
        evidence = [chunk.evidence.get(uid) for uid in uids]
    results = pipeline.forecast_chunk(
        _plan(run),
        series,
        pipeline.Choice(run.choice, run.calibration),
        names=names,
        evidence=evidence,
        global_backtests=[glob.get(uid, {}).get("backtest") for uid in uids],
        global_forecasts=[glob.get(uid, {}).get("forecast") for uid in uids],
        states=states,
    )
    before = _totals(previous, chunk.variant_ids)
    forecasts, outcomes, fitted_states = [], [], {}
    alias = period_alias(run.freq)
    for (uid, index_, _), result in zip(series, results, strict=True):
        variant_id = int(uid)
        if "error" in result:
            outcomes.append(
                ForecastResult(
                    run=run, variant_id=variant_id, ok=False, demand_class=result["class"], error=result["error"]
                )
            )
            continue
        prediction = result["prediction"]
        ends = future_periods(index_[-1], run.horizon, run.freq)
        for step, end in enumerate(ends):
            forecasts.append(
                Forecast(
                    run=run,
                    variant_id=variant_id,
                    period_start=pd.Period(end, freq=alias).start_time.date(),
                    period_end=end.date(),
                    mean=prediction["mean"][step],
                    bounds={key: values[step] for key, values in prediction.items() if key != "mean"},
                    model=result["model"],
                )
            )
        total = float(np.sum(prediction["mean"]))
        old = before.get(variant_id)
        changed = old is None or abs(total - old) > max(1.0, CHANGE_TOLERANCE * max(old, total))
        outcomes.append(
            ForecastResult(
                run=run,
                variant_id=variant_id,
                model=result["model"],
                demand_class=result["class"],
                backtest=result["scores"],
                changed=changed,
            )
        )
        if result.get("state"):
            fitted_states[str(uid)] = result["state"]
    missing = set(chunk.variant_ids) - {int(uid) for uid, _, _ in series}
    outcomes += [
        ForecastResult(run=run, variant_id=variant_id, ok=False, error="no demand history up to the run's last day")
        for variant_id in sorted(missing)
    ]
    with transaction.atomic():
        chunk = ForecastRunChunk.objects.select_for_update().get(pk=chunk.pk)
        if chunk.forecast_status != StepStatus.PENDING:
            return "already done"
        Forecast.objects.bulk_create(forecasts, batch_size=2000)
        ForecastResult.objects.bulk_create(outcomes, batch_size=2000)
        chunk.forecast_status = StepStatus.DONE
        chunk.evidence = {"_states": fitted_states}  # the backtest evidence now lives in the results' scores
        chunk.save(update_fields=["forecast_status", "evidence", "updated_at"])
        run = ForecastRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.RUNNING:
            failed = sum(1 for outcome in outcomes if not outcome.ok)
            run.skus_done += len(outcomes) - failed
            run.skus_failed += failed
            run.progress_at = timezone.now()
            errors = [f"variant {o.variant_id}: {o.error}" for o in outcomes if not o.ok][:20]
            if errors:
                run.error_log = "\n".join([run.error_log, *errors]).strip()[-20000:]
            run.save(update_fields=["skus_done", "skus_failed", "progress_at", "error_log"])
            _advance(run)
    return f"{len(forecasts)} forecasts of {len(outcomes)} SKUs"


def _known_model(name: str | None) -> str | None:
    """A model name the engine can fit (a stored alias may be a fallback's name, which is a model too)."""
    if not name:
        return None
    parts = name.split(catalog.PAIR)
    return name if all(part in catalog.MODELS or part in catalog.GLOBAL_MODELS for part in parts) else None


def _totals(run: ForecastRun | None, variant_ids: list[int]) -> dict[int, float]:
    if run is None:
        return {}
    rows = Forecast.objects.filter(run=run, variant_id__in=variant_ids).values("variant_id").annotate(total=Sum("mean"))
    return {row["variant_id"]: row["total"] for row in rows}


# --- Faults --------------------------------------------------------------------------------------------------------


def fail_stalled_runs(older_than: timedelta | None = None) -> list[int]:
    """Mark failed every active run that has not moved on for `older_than` (default: the RETRAIN_STALL_SECONDS
    option); returns their ids. Work of theirs still in flight finds them failed and is discarded."""
    limit = older_than or timedelta(seconds=get_option("RETRAIN_STALL_SECONDS"))
    cutoff = timezone.now() - limit
    failed = []
    stalled = ForecastRun.objects.filter(status__in=ACTIVE_STATUSES).annotate(
        last_move=Coalesce("progress_at", "created_at")
    )
    for run_id in stalled.filter(last_move__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            run = ForecastRun.objects.select_for_update().get(pk=run_id)
            last = run.progress_at or run.created_at
            if run.status not in ACTIVE_STATUSES or last >= cutoff:
                continue
            run.status, run.finished_at = RunStatus.FAILED, timezone.now()
            note = f"No progress since {last:%Y-%m-%d %H:%M:%S %Z} (limit {int(limit.total_seconds())} s); re-run it."
            run.error_log = (run.error_log + "\n" + note).strip()
            run.save(update_fields=["status", "finished_at", "error_log"])
            failed.append(run_id)
    return failed
