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
        if not network_available():
            note = f"global network ({part}): not trained: TensorFlow is not installed on this platform"
            return _finish_global_part(run_id, part, StepStatus.SKIPPED, note, started)
        chunks = list(run.chunks.order_by("index").values_list("index", "variant_ids"))
        with tempfile.TemporaryDirectory(prefix="inventory-ai-network-") as folder:
            predict, names, skipped = _network_predictor(run, part, chunks, Path(folder))
            if predict is None:
                status = StepStatus.SKIPPED if skipped else StepStatus.FAILED
                return _finish_global_part(run_id, part, status, skipped or _unusable(part), started)
            # every SKU predicted a chunk at a time, so memory does not grow with the store's size
            usable = False
            for index, chunk_ids in chunks:
                series, drivers, _ = network_inputs(run, chunk_ids, names)
                found = predict(series, drivers)
                share = {str(uid): result for (uid, _, _), result in zip(series, found, strict=True)}
                usable = usable or any(share.values())
                model_registry.write_json(run.artifacts, chunk_file(part, index), share)
        if not usable:
            status, note = StepStatus.FAILED, _unusable(part)
    except Exception as exc:  # the run goes on with local models; the error is kept on the run
        logger.exception("the global network (%s) of run %s failed", part, run_id)
        status, note = StepStatus.FAILED, f"global network ({part}): {type(exc).__name__}: {exc}"
    return _finish_global_part(run_id, part, status, note, started)


def _network_predictor(run: ForecastRun, part: str, chunks: list, folder: Path):
    """(predict, driver names, why skipped) for one part of the network: `predict(series, drivers)` gives a chunk's
    results. A full run trains it on a seeded sample of at most NETWORK_MAX_SERIES SKUs (read chunk by chunk); a
    refresh reuses the last full run's network. `predict` is None when the part was skipped (the reason given) or
    could not be trained or used (no reason). The trained network is saved in the run's artefacts."""
    levels, seed = tuple(run.levels), get_option("RETRAIN_SEED")
    if run.kind == RunKind.REFRESH:
        warm = _warm_network(run, folder)
        if warm is None or warm.horizon != run.horizon or not set(levels) <= set(warm.levels):
            return None, [], ""
        warm.save(folder / "out")  # the refresh run carries the network on to the next one
        model_registry.upload(run.artifacts, folder / "out")
        names = list(warm.driver_names_)
        return _final_predictor(run, warm, levels, names), names, ""
    ids = sorted((variant_id for _, chunk_ids in chunks for variant_id in chunk_ids), key=str)
    sample = training_sample(len(ids), int(get_option("NETWORK_MAX_SERIES")), seed)
    taught, drivers, names = network_inputs(run, [ids[p] for p in sample])
    learners = _learners(run, taught, ids, sample)
    if learners < selection.GLOBAL_MIN_SERIES:
        # the plan counts the SKUs that sold in the last year; of those, seasonal ones are not the network's
        return (
            None,
            names,
            (
                f"global network ({part}): not trained: {learners} SKUs could use it (seasonal SKUs are forecast by "
                f"models that read their year), fewer than {selection.GLOBAL_MIN_SERIES}"
            ),
        )
    reading = {"drivers": drivers, "driver_names": names, "history_only": HISTORY_ONLY}
    if part == GLOBAL_BACKTEST:
        windows = get_option("FORECAST_BACKTEST_WINDOWS")
        networks = network.backtest_networks(taught, "lstm", run.horizon, windows, levels, seed, **reading)
        return (_backtest_predictor(run, networks, names) if networks else None), names, ""
    final = network.train_final_network(
        taught, run.horizon, levels, seed, _warm_network(run, folder), folder / "out", **reading
    )
    if final is None:
        return None, names, ""
    model_registry.upload(run.artifacts, folder / "out")
    return _final_predictor(run, final, levels, names), names, ""


def _warm_network(run: ForecastRun, folder: Path):
    """The network of the run this one warm-starts from, or None."""
    if run.warm_start_run is None:
        return None
    model_registry.download(run.warm_start_run.artifacts, folder / "warm", NETWORK_FILES)
    return network.load_network(folder / "warm")


def _unusable(part: str) -> str:
    return f"global network ({part}): not trained or not usable; local models only"


def _learners(run: ForecastRun, taught: list, ids: list, sample: list[int]) -> int:
    """How many of the run's SKUs the network could be given (`selection.network_learners`): counted on the training
    sample, and over the rest of the SKUs (read a chunk at a time) only when the sample alone holds too few."""
    cycles = season_cycles(run.freq)
    learners = selection.network_learners((values for _, _, values in taught), cycles)
    if learners >= selection.GLOBAL_MIN_SERIES or len(sample) == len(ids):
        return learners
    taken = set(sample)
    rest = [variant_id for position, variant_id in enumerate(ids) if position not in taken]
    for start in range(0, len(rest), READ_CHUNK):
        part = read_series(run, rest[start : start + READ_CHUNK])
        learners += selection.network_learners((values for _, _, values in part), cycles)
    return learners


def _backtest_predictor(run: ForecastRun, networks, names: list[str]):
    """Per series of a chunk, the backtest networks' predicted means by cutoff (JSON keys)."""

    def predict(series, drivers):
        found = network.predict_backtests(networks, series, run.horizon, drivers, names)
        return [{str(cutoff): mean for cutoff, mean in by_cutoff.items()} for by_cutoff in found]

    return predict


def _final_predictor(run: ForecastRun, model, levels: tuple[int, ...], names: list[str]):
    """Per series of a chunk, the network's forecast (`{"mean": [...], "lo-80": [...], ...}`)."""

    def predict(series, drivers):
        return network.predict_global(model, series, run.horizon, run.freq, levels, drivers, names) or [{}] * len(
            series
        )

    return predict


def network_inputs(run, variant_ids: list, names: list[str] | None = None) -> tuple[list, list | None, list[str]]:
    """The prepared series and drivers (float32) of these SKUs, read `READ_CHUNK` at a time, sorted by SKU; the
    drivers laid out in the order of `names`, or else of the first part's names. Drivers are None when none are
    read (or `names` is empty: a network trained without them)."""
    series, drivers = [], []
    for start in range(0, len(variant_ids), READ_CHUNK):
        chunk = read_series(run, variant_ids[start : start + READ_CHUNK])
        chunk_names, matrices = read_drivers(run, chunk)
        if names is None and chunk_names:
            names = list(chunk_names)
        laid = laid_out(chunk_names, matrices, names) if names else [None] * len(chunk)
        for item, matrix in zip(chunk, laid, strict=True):
            series.append(item)
            drivers.append(None if matrix is None else matrix.astype(np.float32))
    order = sorted(range(len(series)), key=lambda position: str(series[position][0]))
    if not names:
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
    """The positions of the series a store-wide model (the feature models, the network) learns from: all of them up
    to `most`, else an even seeded sample of `most` (in their order)."""
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
