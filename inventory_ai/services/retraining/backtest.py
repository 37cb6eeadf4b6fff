"""The backtest phase: each chunk's local candidates, and the global network's two parts (its backtest and its
final fit)."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from forecasting import feature_models, network, pipeline, selection
from forecasting.data import season_cycles
from forecasting.drivers import known_ahead, laid_out
from forecasting.engine import network_available
from forecasting.model_catalog import FEATURE_MODELS
from inventory_ai.choices import RunKind, RunStatus, StepStatus
from inventory_ai.conf import get_option
from inventory_ai.models import (
    ForecastRun,
    ForecastRunChunk,
)
from inventory_ai.selectors.drivers import HISTORY_ONLY
from inventory_ai.services import model_registry
from inventory_ai.services.retraining.phases import advance, enqueue_outstanding, open_chunk_step
from inventory_ai.services.retraining.steps import (
    FEATURE_MODELS_FILE,
    GLOBAL_BACKTEST,
    GLOBAL_FILES,
    GLOBAL_FINAL,
    NETWORK_FILES,
    chunk_file,
    feature_file,
    forecast_variant_ids,
    read_drivers,
    read_series,
    run_plan,
    running_run,
    saved_states,
)
from inventory_ai.services.weather import weather_note

logger = logging.getLogger(__name__)

READ_CHUNK = 500  # SKUs read from the database at a time


def backtest_chunk(run_id: int, index: int) -> str:
    """Backtest the local candidates of one chunk's SKUs and keep the evidence for model choice."""
    run, chunk, refusal = open_chunk_step(run_id, index, "backtest")
    if refusal:
        return refusal
    series = read_series(run, chunk.variant_ids)
    starts = saved_states(run.warm_start_run)
    names, matrices = read_drivers(run, series)
    evidence = pipeline.backtest_chunk(
        run_plan(run),
        series,
        starts=[starts.get(str(uid)) for uid, _, _ in series],
        drivers=known_ahead(names, matrices, HISTORY_ONLY),
    )
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
            advance(run)
    return f"{len(series)} SKUs backtested"


def train_global_model(run_id: int, part: str = GLOBAL_FINAL) -> str:
    """One part of the store's global network, on the `ml` queue: its backtest (trained cold at each backtest origin)
    or its final fit (from the last run's network when there is one; in a refresh only run on the new data). Both
    parts run side by side. Their results go to the registry; a network that cannot be trained or used leaves the
    SKUs to local models."""
    field = "global_backtest_status" if part == GLOBAL_BACKTEST else "global_status"
    counter = "global_backtest_attempts" if part == GLOBAL_BACKTEST else "global_attempts"
    run = running_run(run_id)
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
        series, drivers, driver_names = network_inputs(run)
        reading = {"drivers": drivers, "driver_names": driver_names}
        levels = tuple(run.levels)
        learners = selection.network_learners((values for _, _, values in series), season_cycles(run.freq))
        if not network_available():
            note = f"global network ({part}): not trained: TensorFlow is not installed on this platform"
            return _finish_global_part(run_id, part, StepStatus.SKIPPED, note, started)
        if run.kind != RunKind.REFRESH and learners < selection.GLOBAL_MIN_SERIES:
            # the plan counts the SKUs that sold in the last year; of those, seasonal ones are not the network's
            note = (
                f"global network ({part}): not trained: {learners} SKUs could use it (seasonal SKUs are forecast by "
                f"models that read their year), fewer than {selection.GLOBAL_MIN_SERIES}"
            )
            return _finish_global_part(run_id, part, StepStatus.SKIPPED, note, started)
        with tempfile.TemporaryDirectory(prefix="inventory-ai-network-") as folder:
            if part == GLOBAL_BACKTEST:
                backtests, _ = network.backtest_global(
                    series,
                    run.horizon,
                    levels,
                    windows=get_option("FORECAST_BACKTEST_WINDOWS"),
                    seed=get_option("RETRAIN_SEED"),
                    history_only=HISTORY_ONLY,
                    **reading,
                )
                results = {
                    str(uid): {str(cutoff): mean for cutoff, mean in by_cutoff.items()}
                    for (uid, _, _), by_cutoff in zip(series, backtests, strict=True)
                }
            else:
                warm = None
                if run.warm_start_run is not None:
                    model_registry.download(run.warm_start_run.artifacts, Path(folder) / "warm", NETWORK_FILES)
                    warm = network.load_network(Path(folder) / "warm")
                if run.kind == RunKind.REFRESH:
                    forecasts = (
                        network.predict_global(warm, series, run.horizon, run.freq, levels, **reading) if warm else None
                    )
                    if forecasts is not None:
                        warm.save(Path(folder) / "out")  # the refresh run carries the network on to the next one
                else:
                    forecasts = network.fit_final_global(
                        series, run.horizon, run.freq, levels, get_option("RETRAIN_SEED"), warm, Path(folder) / "out",
                        history_only=HISTORY_ONLY, **reading,
                    )  # fmt: skip
                results = None
                if forecasts is not None:
                    model_registry.upload(run.artifacts, Path(folder) / "out")
                    results = {str(uid): f for (uid, _, _), f in zip(series, forecasts, strict=True)}
        if not results or not any(results.values()):
            status, note = StepStatus.FAILED, f"global network ({part}): not trained or not usable; local models only"
        else:
            model_registry.write_json(run.artifacts, GLOBAL_FILES[part], results)
            for index, ids in run.chunks.values_list("index", "variant_ids"):
                share = {str(v): results[str(v)] for v in ids if str(v) in results}
                model_registry.write_json(run.artifacts, chunk_file(part, index), share)
    except Exception as exc:  # the run goes on with local models; the error is kept on the run
        logger.exception("the global network (%s) of run %s failed", part, run_id)
        status, note = StepStatus.FAILED, f"global network ({part}): {type(exc).__name__}: {exc}"
    return _finish_global_part(run_id, part, status, note, started)


def network_inputs(run) -> tuple[list, list | None, list[str]]:
    """Every SKU's prepared series and drivers (float32: they live beside the whole store's panel), chunk by chunk,
    sorted by SKU; each chunk's drivers laid out in the first chunk's order of names."""
    series, drivers, names = [], [], None
    for ids in run.chunks.values_list("variant_ids", flat=True):
        chunk = read_series(run, ids)
        chunk_names, matrices = read_drivers(run, chunk)
        if names is None and chunk_names:
            names = list(chunk_names)
        laid = laid_out(chunk_names, matrices, names) if names is not None else [None] * len(chunk)
        for item, matrix in zip(chunk, laid, strict=True):
            series.append(item)
            drivers.append(None if matrix is None else matrix.astype(np.float32))
    order = sorted(range(len(series)), key=lambda position: str(series[position][0]))
    if names is None:
        return [series[p] for p in order], None, []
    return [series[p] for p in order], [drivers[p] for p in order], names


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
        advance(run)
    return f"global network ({part}) {status} in {time.monotonic() - started:.1f} s"


def train_feature_models(run_id: int) -> str:
    """The store's feature models (`forecasting.model_catalog.FEATURE_MODELS`: trees and regression on the drivers),
    trained across all its SKUs: in a full run their backtest at every SKU's backtest cutoffs, predicted here and
    written to the registry per chunk for model choice; then (in any run) their final fits, kept in the registry for
    the forecast chunks (`forecast.feature_forecasts`). Beside the chunks' backtests, before model choice. A failure
    leaves the SKUs to the other models."""
    run = running_run(run_id)
    if run is None:
        return "no such running run"
    if run.features_status != StepStatus.PENDING:
        enqueue_outstanding(run_id)
        return "already done"
    started = time.monotonic()
    ForecastRun.objects.filter(pk=run_id).update(features_attempts=F("features_attempts") + 1)
    if run.features_attempts >= max(1, int(get_option("RETRAIN_MAX_ATTEMPTS"))):
        note = (
            f"feature models: started {run.features_attempts} times and never finished: the worker process running "
            "them died each time; the other models only"
        )
        return _finish_features(run_id, StepStatus.FAILED, note, started)
    status, note = StepStatus.DONE, ""
    try:
        # a global model learns from every SKU of the store: a refresh, which forecasts a few, reads them all
        ids = [ids for ids in run.chunks.values_list("variant_ids", flat=True)]
        if run.kind == RunKind.REFRESH:
            every = forecast_variant_ids(run.store, run.data_until)
            ids = [every[start : start + READ_CHUNK] for start in range(0, len(every), READ_CHUNK)]
        series = sorted((item for part in ids for item in read_series(run, part)), key=lambda item: str(item[0]))
        # inactive SKUs (no sale in their last year) are forecast as such: the models neither learn from nor for them
        series = [item for item in series if item[2].any()]
        if not series:
            return _finish_features(
                run_id, StepStatus.SKIPPED, "feature models: not trained: no SKU sold in its last year", started
            )
        plan = run_plan(run)
        seed = get_option("RETRAIN_SEED")
        cutoffs = pipeline.evidence_cutoffs(plan, series) if run.kind == RunKind.FULL else None
        models = list(FEATURE_MODELS)
        # trained on a seeded sample of the SKUs beyond a size, with the sample's drivers only: a store's drivers
        # (a matrix per SKU) are read chunk by chunk below, so memory does not grow with the store's size
        sample = training_sample(len(series), int(get_option("FEATURE_MODEL_MAX_SERIES")), seed)
        taught = [series[p] for p in sample]
        names, matrices = _feature_drivers(run, plan, taught)
        fitted = None
        if cutoffs is not None:
            ends = zip(series, cutoffs, strict=True)
            distances = {len(values) - cut for (_, _, values), cuts in ends for cut in cuts}
            fitted = feature_models.train_backtests(
                taught, matrices, names, distances, models, run.horizon, run.freq, seed=seed, history_only=HISTORY_ONLY
            )
        final = feature_models.train_final(
            taught, matrices, names, models, run.horizon, run.freq, plan.level, seed=seed, history_only=HISTORY_ONLY
        )
        every = len(sample) == len(series)  # the sample is the whole store: its drivers are at hand
        by_position = dict(zip(sample, matrices, strict=True)) if every else {}
        del taught, matrices
        # the final fits are kept for the forecast chunks, which forecast (and explain) only the SKUs whose chosen
        # model reads them; the backtests are predicted here, for model choice, each chunk's SKUs in turn
        model_registry.write_bytes(run.artifacts, FEATURE_MODELS_FILE, feature_models.save_final(final))
        del final
        position = {str(uid): p for p, (uid, _, _) in enumerate(series)}
        for index, ids in run.chunks.values_list("index", "variant_ids"):
            members = [position[str(v)] for v in ids if str(v) in position]
            part = [series[p] for p in members]
            share: dict[str, dict] = {str(uid): {"backtest": {}} for uid, _, _ in part}
            if fitted is not None and part:
                if every:
                    drivers = [by_position[p] for p in members]
                else:
                    drivers = laid_out(*_feature_drivers(run, plan, part), names)
                found = feature_models.predict_backtests(
                    fitted, part, drivers, [cutoffs[p] for p in members], models, run.horizon
                )
                for name, per_series in found.items():
                    for (uid, _, _), by_cutoff in zip(part, per_series, strict=True):
                        share[str(uid)]["backtest"][name] = {
                            str(cutoff): [float(value) for value in mean] for cutoff, mean in by_cutoff.items()
                        }
            model_registry.write_json(run.artifacts, feature_file(index), share)
        note = weather_note(run.store, run.data_until)
    except Exception as exc:  # the run goes on with the other models; the error is kept on the run
        logger.exception("the feature models of run %s failed", run_id)
        status, note = StepStatus.FAILED, f"feature models: {type(exc).__name__}: {exc}"
    return _finish_features(run_id, status, note, started)


def _feature_drivers(run: ForecastRun, plan: pipeline.Plan, series: list) -> tuple[list[str], list[np.ndarray | None]]:
    """The drivers the feature models read for these series: the store's, and the country's holidays."""
    names, matrices = read_drivers(run, series)
    return feature_models.with_holidays(series, names, matrices, run.horizon, run.freq, plan.country)


def training_sample(count: int, most: int, seed: int) -> list[int]:
    """The positions of the series the feature models learn from: all of them up to `most`, else an even seeded
    sample of `most` (in their order)."""
    if count <= most:
        return list(range(count))
    return sorted(np.random.default_rng(seed).choice(count, size=most, replace=False).tolist())


def _finish_features(run_id: int, status: str, note: str, started: float) -> str:
    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING or run.features_status != StepStatus.PENDING:
            return "already done"
        run.features_status = status
        run.features_seconds = (run.features_seconds or 0.0) + time.monotonic() - started
        run.progress_at = timezone.now()
        if note:
            run.error_log = (run.error_log + "\n" + note).strip()
        run.save(update_fields=["features_status", "features_seconds", "progress_at", "error_log"])
        advance(run)
    return f"feature models {status} in {time.monotonic() - started:.1f} s"
