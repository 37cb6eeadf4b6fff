"""The forecast phase: each chunk's SKUs forecast by their chosen models, written with their outcomes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from forecasting import feature_models, model_catalog, pipeline, selection
from forecasting.data import future_periods, period_alias
from forecasting.drivers import known_ahead, laid_out
from inventory_ai.choices import RunKind, RunStatus, StepStatus
from inventory_ai.models import Forecast, ForecastResult, ForecastRun, ForecastRunChunk
from inventory_ai.selectors.drivers import HISTORY_ONLY
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.services.retraining.phases import advance, open_chunk_step
from inventory_ai.services.retraining.steps import (
    feature_results,
    global_results,
    read_drivers,
    read_series,
    run_plan,
    saved_states,
    trained_features,
    with_features,
)

logger = logging.getLogger(__name__)


# A SKU's forecast "changed" when its total over the horizon moved by more than this share (and at least a unit).
CHANGE_TOLERANCE = 0.05


def forecast_chunk(run_id: int, index: int) -> str:
    """Fit the chosen model of each SKU in one chunk and write its forecasts and outcome, all in one transaction."""
    run, chunk, refusal = open_chunk_step(run_id, index, "forecast")
    if refusal:
        return refusal
    previous = current_run(run.store)
    series = read_series(run, chunk.variant_ids)
    results = _forecast_series(run, chunk, series, previous)
    forecasts, outcomes, fitted_states = _rows(run, series, results, _totals(previous, chunk.variant_ids))
    missing = set(chunk.variant_ids) - {int(uid) for uid, _, _ in series}
    outcomes += [
        ForecastResult(run=run, variant_id=variant_id, ok=False, error="no demand history up to the run's last day")
        for variant_id in sorted(missing)
    ]
    if not _commit(run_id, chunk, forecasts, outcomes, fitted_states):
        return "already done"
    return f"{len(forecasts)} forecasts of {len(outcomes)} SKUs"


def _forecast_series(run: ForecastRun, chunk: ForecastRunChunk, series, previous: ForecastRun | None) -> list[dict]:
    """The pipeline's forecast step on the chunk's series: in a full run each SKU gets its class's chosen model,
    scored on its backtest evidence; in a refresh each keeps its current model (an inactive one is forecast as such),
    starting from its saved state."""
    glob = global_results(run, chunk.index)
    features = feature_results(run, chunk.index)
    uids = [str(uid) for uid, _, _ in series]
    names, states, evidence = None, None, None
    if run.kind == RunKind.REFRESH:
        current = dict(
            ForecastResult.objects.filter(run=previous, variant_id__in=chunk.variant_ids, ok=True).values_list(
                "variant_id", "model"
            )
        )
        names = [
            None if selection.demand_class(values) == "inactive" else _known_model(current.get(int(uid)))
            for uid, _, values in series
        ]
        saved = saved_states(previous)
        states = [saved.get(uid) for uid in uids]
    else:
        evidence = [with_features(chunk.evidence.get(uid), features.get(uid)) for uid in uids]
    plan, choice = run_plan(run), pipeline.Choice(run.choice, run.calibration)
    names = pipeline.chosen_models(plan, series, choice, names)
    driver_names, matrices = read_drivers(run, series)
    predicted = feature_forecasts(run, plan, series, names, driver_names, matrices)
    return pipeline.forecast_chunk(
        plan,
        series,
        choice,
        names=names,
        evidence=evidence,
        global_backtests=[glob.get(uid, {}).get("backtest") for uid in uids],
        global_forecasts=[
            {"lstm": glob.get(uid, {}).get("forecast"), **features_of}
            for uid, features_of in zip(uids, predicted, strict=True)
        ],
        states=states,
        drivers=known_ahead(driver_names, matrices, HISTORY_ONLY),
    )


def feature_forecasts(
    run: ForecastRun,
    plan: pipeline.Plan,
    series: list[model_catalog.Series],
    models: list[str],
    driver_names: list[str],
    matrices: list[np.ndarray | None],
) -> list[dict]:
    """Per series, `{model: prediction}` of the feature models its model (`models[i]`, alone or in a pair) reads,
    with their explanation: the run's final fits forecast only those series, so that a store's SKUs are not all
    forecast and explained by models few of them use. Empty where none, or when the feature models did not run or
    cannot be read (their pair's other part then stands alone)."""
    wanted = [
        {part for part in model.split(model_catalog.PAIR) if part in model_catalog.FEATURE_MODELS} for model in models
    ]
    members = [position for position, parts in enumerate(wanted) if parts and series[position][2].any()]
    out: list[dict] = [{} for _ in series]
    trained = trained_features(run) if members else None
    if trained is None:
        return out
    part = [series[p] for p in members]
    # the drivers as the training read them: its holiday column added, its order of names
    names, drivers = feature_models.with_holidays(
        part, list(driver_names), [matrices[p] for p in members], run.horizon, run.freq, plan.country
    )
    drivers = laid_out(names, drivers, feature_models.final_driver_names(trained))
    needed = sorted(set().union(*(wanted[p] for p in members)))
    for name, predictions in feature_models.predict_final(trained, part, drivers, plan.level, names=needed).items():
        for p, prediction in zip(members, predictions or [None] * len(members), strict=True):
            if prediction is not None and name in wanted[p]:
                out[p][name] = prediction
    return out


def _rows(run: ForecastRun, series, results: list[dict], before: dict[int, float]):
    """The `Forecast` rows (one per SKU and period), the `ForecastResult` per SKU (with whether its forecast moved
    against `before`, the previous run's totals) and the fitted states to save."""
    forecasts, outcomes, fitted_states = [], [], {}
    alias = period_alias(run.freq)
    for (uid, index, _), result in zip(series, results, strict=True):
        variant_id = int(uid)
        if "error" in result:
            outcomes.append(
                ForecastResult(
                    run=run, variant_id=variant_id, ok=False, demand_class=result["class"], error=result["error"]
                )
            )
            continue
        prediction = result["prediction"]
        for step, end in enumerate(future_periods(index[-1], run.horizon, run.freq)):
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
        outcomes.append(
            ForecastResult(
                run=run,
                variant_id=variant_id,
                model=result["model"],
                demand_class=result["class"],
                backtest=result["scores"],
                accuracy=_finite(result.get("accuracy") or {}),
                explanation=result.get("explanation") or {},
                changed=old is None or abs(total - old) > max(1.0, CHANGE_TOLERANCE * max(old, total)),
            )
        )
        if result.get("state"):
            fitted_states[str(uid)] = result["state"]
    return forecasts, outcomes, fitted_states


def _commit(run_id: int, chunk: ForecastRunChunk, forecasts, outcomes, fitted_states) -> bool:
    """Write the chunk's rows with its "done" mark and the run's progress in one transaction, and move the run on;
    False when another delivery of the step got there first."""
    with transaction.atomic():
        chunk = ForecastRunChunk.objects.select_for_update().get(pk=chunk.pk)
        if chunk.forecast_status != StepStatus.PENDING:
            return False
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
            advance(run)
    return True


def _known_model(name: str | None) -> str | None:
    """A model name the engine can fit (a stored alias may be a fallback's name, which is a model too)."""
    if not name:
        return None
    parts = name.split(model_catalog.PAIR)
    known = {*model_catalog.MODELS, *model_catalog.GLOBAL_MODELS, *model_catalog.FEATURE_MODELS}
    return name if all(part in known for part in parts) else None


def _totals(run: ForecastRun | None, variant_ids: list[int]) -> dict[int, float]:
    if run is None:
        return {}
    rows = Forecast.objects.filter(run=run, variant_id__in=variant_ids).values("variant_id").annotate(total=Sum("mean"))
    return {row["variant_id"]: row["total"] for row in rows}


def _finite(accuracy: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """JSON has no NaN or infinity: an undefined figure (R² of one point, of constant actuals) is kept as null."""
    return {
        name: {key: (value if np.isfinite(value) else None) for key, value in figures.items()}
        for name, figures in accuracy.items()
    }
