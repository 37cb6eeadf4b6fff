"""Moving a run on: sending the tasks of its current phase, choosing the models when the backtests are in, and
finishing it when the last chunk is forecast."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
from django.db import transaction
from django.utils import timezone

from forecasting import pipeline
from inventory_ai import dispatch
from inventory_ai.choices import RunKind, RunPhase, RunStatus, StepStatus
from inventory_ai.models import (
    Forecast,
    ForecastResult,
    ForecastRun,
    ForecastRunChunk,
)
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.services import model_registry
from inventory_ai.services.retraining.steps import (
    GLOBAL_BACKTEST,
    GLOBAL_FINAL,
    feature_results,
    global_results,
    run_plan,
    running_run,
    saved_states,
    start_chunk_step,
    with_features,
)
from inventory_ai.services.retraining.upkeep import prune_runs

logger = logging.getLogger(__name__)


def enqueue_outstanding(run_id: int) -> int:
    """Send a task for every step of the run's current phase that is not done; returns how many were sent.

    Called when a phase starts, and again by a task that finds its own step already done (a redelivery after a
    worker was lost between its commit and the start of the next phase). Extra deliveries are harmless: each step
    checks its state under a lock before doing anything.
    """
    run = ForecastRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).first()
    if run is None:
        return 0
    calls = []
    if run.phase == RunPhase.BACKTEST:
        # the network's two parts first: they are the longest steps, and run side by side on two workers
        if run.global_backtest_status == StepStatus.PENDING:
            calls.append(("train_global_model_task", (run.pk, GLOBAL_BACKTEST)))
        if run.global_status == StepStatus.PENDING:
            calls.append(("train_global_model_task", (run.pk, GLOBAL_FINAL)))
        if run.features_status == StepStatus.PENDING:
            calls.append(("train_feature_models_task", (run.pk,)))
        pending = run.chunks.filter(backtest_status=StepStatus.PENDING).values_list("index", flat=True)
        calls += [("backtest_chunk_task", (run.pk, index)) for index in pending]
    elif run.phase == RunPhase.FORECAST:
        pending = run.chunks.filter(forecast_status=StepStatus.PENDING).values_list("index", flat=True)
        calls += [("forecast_chunk_task", (run.pk, index)) for index in pending]
    return dispatch.send_group(calls)


def open_chunk_step(run_id: int, index: int, step: str) -> tuple[ForecastRun | None, ForecastRunChunk | None, str]:
    """The running run and its chunk `index` when the chunk's `step` ("backtest" or "forecast") is pending and may
    start (its start counted), else (None, None, why not): no such running run, the step already done (the run is
    made sure to move on), or the run failed because the step kept killing its process."""
    run = running_run(run_id)
    chunk = ForecastRunChunk.objects.filter(run_id=run_id, index=index).first()
    if run is None or chunk is None:
        return None, None, "no such running run"
    if getattr(chunk, f"{step}_status") != StepStatus.PENDING:
        enqueue_outstanding(run_id)
        return None, None, "already done"
    if not start_chunk_step(run, chunk, step):
        return None, None, "run failed: the chunk's worker process kept dying"
    return run, chunk, ""


def advance(run: ForecastRun) -> None:
    """Move a locked, running run to its next phase when its current one is complete."""
    if run.phase == RunPhase.BACKTEST:
        steps = (run.global_backtest_status, run.global_status, run.features_status)
        if StepStatus.PENDING in steps or run.chunks.filter(backtest_status=StepStatus.PENDING).exists():
            return
        if run.kind == RunKind.FULL:
            evidence, global_backtests = [], []
            for index, chunk_evidence in run.chunks.values_list("index", "evidence"):
                features, glob = feature_results(run, index), global_results(run, index)
                for variant_id, item in chunk_evidence.items():
                    if variant_id.startswith("_"):
                        continue
                    with_features(item, features.get(variant_id))
                    evidence.append(item)
                    global_backtests.append(glob.get(variant_id, {}).get("backtest"))
            choice = pipeline.choose(run_plan(run), evidence, global_backtests)
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
    states = saved_states(previous) if run.kind == RunKind.REFRESH else {}
    for chunk_evidence in run.chunks.values_list("evidence", flat=True):
        states.update(chunk_evidence.get("_states", {}))
    model_registry.write_json(run.artifacts, pipeline.STATES_FILE, states)
    run.status, run.phase, run.finished_at = RunStatus.SUCCEEDED, RunPhase.DONE, timezone.now()
    run.progress_at = run.finished_at
    run.save()
    transaction.on_commit(lambda: prune_runs(run.store_id))
    # the new forecast moves reorder levels: all of them after a full run (classes are refreshed too), the changed
    # ones after a refresh (none when nothing changed); the stock-health report is recomputed after every run
    changed = None
    if run.kind == RunKind.REFRESH:
        changed = list(ForecastResult.objects.filter(run=run, changed=True).values_list("variant_id", flat=True))
    dispatch.send("recompute_suggestions_task", run.store_id, run.pk, changed)


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
