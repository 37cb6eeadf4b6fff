"""Forecasting many series in one process: `forecast_many` and the `backtest` report.

Both take a long frame `unique_id, ds, y` (optional `censored`) and return long frames. They drive the steps of
`forecasting.pipeline` (the product's retraining drives the same steps as Celery tasks), spreading the per-series
steps over a pool of processes when `n_jobs` > 1.

Model families: the baselines, the intermittent-demand methods and their average, a guarded seasonal ARIMA,
exponential smoothing (on short cycles), and a global LSTM trained across all series ("lstm", `forecasting.network`).
"auto" backtests the candidates of each demand class (smooth, intermittent) on every series — the local models series
by series, the global network by training it at each backtest origin and warm-starting from one origin to the next —
and uses, for the whole class, the model or the equal-weight pair with the lowest mean RMSSE (a pair with the best
model when its lead is within one standard error, `forecasting.selection`); series with no sale in their last year
are inactive and forecast zero.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from importlib.util import find_spec

import numpy as np
import pandas as pd

from forecasting import metrics
from forecasting.data import OUTLIER_IQRS, infer_season_length, season_cycles
from forecasting.drivers import driver_matrices, known_ahead
from forecasting.feature_models import backtest_features, fit_final_features, with_holidays
from forecasting.model_catalog import DEFAULT_WINDOWS, FEATURE_MODELS, GLOBAL_MODELS, MODELS, PAIR
from forecasting.network import backtest_global, fit_global, load_network
from forecasting.pipeline import (
    Choice,
    Plan,
    _local_backtest,
    _windows,
    add_feature_evidence,
    backtest_chunk,
    choose,
    evidence_cutoffs,
    forecast_chunk,
    load_states,
    prepare,
    save_states,
    to_frame,
)
from forecasting.selection import GLOBAL_MIN_SERIES, merge_pair, network_learners

logger = logging.getLogger(__name__)


def _validate(models: str | Sequence[str]) -> tuple[str, ...]:
    chosen = (models,) if isinstance(models, str) else tuple(models)
    known = (*MODELS, *GLOBAL_MODELS, *FEATURE_MODELS)
    unknown = [name for name in chosen for part in name.split(PAIR) if part not in known]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def _scores(test: np.ndarray, mean: np.ndarray, train: np.ndarray, season_length: int) -> dict[str, float]:
    return {
        "mase": metrics.mase(test, mean, train, season_length),
        "rmsse": metrics.rmsse(test, mean, train),
        "mae": metrics.mae(test, mean),
        "rmse": metrics.rmse(test, mean),
        "mse": metrics.mse(test, mean),
        "bias": metrics.bias(test, mean),
        "r2": metrics.r2(test, mean) if len(test) > 1 else float("nan"),
    }


def _chunks(items: list, jobs: int) -> list[list]:
    size = math.ceil(len(items) / jobs) if items else 1
    return [items[start : start + size] for start in range(0, len(items), size)] or [[]]


class _Runner:
    """Maps a function over chunks of series, in worker processes when `n_jobs` > 1. Workers start by forkserver:
    forking a process that has TensorFlow loaded is unsafe."""

    def __init__(self, n_jobs: int | None, n_items: int) -> None:
        self.jobs = max(1, n_jobs or 1)
        self.pool = None
        if self.jobs > 1 and n_items >= 2 * self.jobs:
            # One process per core already fills the machine: BLAS threads inside each would only fight over the
            # cores (small SARIMAX fits ran several times slower that way). Children read this when numpy loads.
            for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(variable, "1")
            context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
            self.pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)

    def map(self, function, items: list, *aligned: list) -> list:
        """`function(chunk, *aligned chunks)` over chunks of `items`, results flattened back to one per item."""
        chunked = [_chunks(list(values), self.jobs) for values in (items, *aligned)]
        results = self.pool.map(function, *chunked) if self.pool else map(function, *chunked)
        return [row for part in results for row in part]

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown()


class ForecastError(RuntimeError):
    """Some series could not be forecast even by the fallback model."""


def network_available() -> bool:
    """Whether the global LSTM can run: TensorFlow is installed (its pinned version has no build for every platform;
    without it "auto" chooses among the other models)."""
    return find_spec("tensorflow") is not None


def forecast_many(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    season_length: int | None = None,
    level: Sequence[int] = (80, 95),
    models: str | Sequence[str] = "auto",
    exog: pd.DataFrame | None = None,
    n_jobs: int | None = None,
    windows: int = DEFAULT_WINDOWS,
    seed: int = 0,
    model_dir: str | os.PathLike | None = None,
    country: str | None = None,
    outlier_iqrs: float | None = OUTLIER_IQRS,
    calibrate: bool = True,
    explain: bool = False,
    history_only: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per series and future period: `unique_id, ds, mean, lo-<L>, hi-<L>..., model`.

    Every input series gets a forecast; values are non-negative with lo <= mean <= hi; the result is deterministic
    for a given `seed`. `models` is "auto", a model name, a pair "a+b" (their average) or a list (the first is used).
    `model_dir`, when given, is where this run's fitted state is saved (the global network, each series' ARIMA order
    and parameters); what an earlier run saved there is the warm start of this one (of the backtest's fits with
    "auto", of the forecast's with a named model). `country` (an ISO code) adds its public holidays as a regressor
    for the models that take regressors. Sale sizes above Q3 + `outlier_iqrs` IQRs of a series' sales are capped
    (None: no capping). With `calibrate`, "auto" scales the chosen forecasts by a level correction learnt across all
    series from the backtest (`forecasting.calibration`). `ds` is stamped as `freq` stamps its dates (a month's first
    day for "MS").

    `exog` is a long frame `unique_id, ds, <numeric drivers...>` covering each series' history and horizon periods
    (`forecasting.drivers`; NaN where unknown): the feature models (`lightgbm`, `ridge`), the seasonal ARIMA and the
    network read it, and "auto" weighs them against the others by backtest; a column with text or infinities is
    refused by name. Every driver is read as known ahead (its value at a forecast period is what the caller knows of
    it then) except those named in `history_only`, known only up to the origin (customers counted): the models read
    their recent values, never their value at the period forecast. With `explain`, each row also has `why-<group>`
    columns: what each driver group (level, season, calendar, each driver) adds to the forecast, in units, where a
    feature model is part of it.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    plan = Plan(horizon, freq, tuple(level), season_length, windows, country, calibrate)
    series = prepare(history, freq, outlier_iqrs=outlier_iqrs)
    count = len(series)
    driver_names, drivers = driver_matrices(exog, series, horizon, freq)
    unknown = sorted(set(history_only) - set(driver_names))
    if unknown:
        raise ValueError(f"history_only names driver(s) that exog lacks: {', '.join(unknown)}")
    local_drivers = known_ahead(driver_names, drivers, history_only)  # what the models with regressors read
    fixed = None if models == "auto" else _validate(models)[0]
    saved_states = load_states(model_dir)
    starts = [saved_states.get(str(unique_id)) for unique_id, _, _ in series]
    learners = network_learners((values for _, _, values in series), season_cycles(freq, season_length))
    use_global = (
        fixed is not None and any(part in GLOBAL_MODELS for part in fixed.split(PAIR))
    ) or (fixed is None and learners >= GLOBAL_MIN_SERIES and network_available())  # fmt: skip
    if use_global and not network_available():
        raise ValueError(
            f"model {fixed!r} needs TensorFlow, which is not installed on this platform (the pinned version has no "
            "build for macOS on Intel): choose another model, or 'auto', which goes without it"
        )
    if fixed is not None:
        features = [name for name in FEATURE_MODELS if name in fixed.split(PAIR)]
    else:
        # "auto" weighs the feature models where there are drivers to read; without them they are candidates only
        # by name (the product's retraining, which gives no drivers yet, makes the same choice as this engine)
        features = list(FEATURE_MODELS) if driver_names and any(values.any() for _, _, values in series) else []
    # the feature models read the holidays as one more driver; the local models with regressors take them apart
    feature_names, feature_drivers = driver_names, drivers
    if features:
        feature_names, feature_drivers = with_holidays(series, driver_names, drivers, horizon, freq, country)
    feature_run = partial(
        _features,
        series,
        feature_drivers,
        feature_names,
        plan,
        seed=seed,
        threads=max(1, n_jobs or 1),
        explain=explain,
        history_only=tuple(history_only),
    )
    # the network reads the drivers as given (every one over its lookback, those known ahead over the horizon)
    network_drivers = {
        "drivers": drivers if driver_names else None,
        "driver_names": driver_names,
        "history_only": tuple(history_only),
    }
    globals_ = [{} for _ in series]  # per series, each global model's forecast by name
    runner = _Runner(n_jobs, count)
    try:
        if fixed is None:
            evidence = runner.map(partial(_backtest_step, plan), series, starts, local_drivers)
            global_backtests = None
            if use_global:
                global_backtests, network_forecasts = fit_global(
                    series, horizon, freq, plan.level, windows, seed, load_network(model_dir), model_dir,
                    **network_drivers,
                )  # fmt: skip
                _gather(globals_, "lstm", network_forecasts)
            if features:
                for name, backtests in feature_run(features, cutoffs=evidence_cutoffs(plan, series)).items():
                    add_feature_evidence(evidence, name, backtests)
            choice = choose(plan, evidence, global_backtests)
            chosen = {part for model in choice.per_class.values() for part in model.split(PAIR)}
            if chosen & set(features):
                for name, forecasts in feature_run([name for name in features if name in chosen]).items():
                    _gather(globals_, name, forecasts)
            results = runner.map(
                partial(_forecast_step, plan, choice),
                series,
                [None] * count,
                evidence,
                global_backtests or [None] * count,
                globals_,
                [None] * count,
                local_drivers,
            )
        else:
            if use_global:
                _, network_forecasts = fit_global(
                    series, horizon, freq, plan.level, 0, seed, load_network(model_dir), model_dir, **network_drivers
                )
                _gather(globals_, "lstm", network_forecasts)
            if features:
                for name, forecasts in feature_run(features).items():
                    _gather(globals_, name, forecasts)
            results = runner.map(
                partial(_forecast_step, plan, Choice({})),
                series,
                [fixed] * count,
                [None] * count,
                [None] * count,
                globals_,
                starts,
                local_drivers,
            )
    finally:
        runner.close()
    failed = [str(unique_id) for (unique_id, _, _), result in zip(series, results, strict=True) if "error" in result]
    if failed:
        raise ForecastError(f"{len(failed)} series could not be forecast: {', '.join(failed[:10])}")
    if model_dir is not None:
        states = {str(uid): r["state"] for (uid, _, _), r in zip(series, results, strict=True) if r.get("state")}
        save_states(model_dir, states)
    return to_frame(series, results, horizon, freq, plan.level, explain)


def _features(
    series, drivers, driver_names, plan: Plan, names: list[str], cutoffs=None, seed=0, threads=1, explain=False,
    history_only=(),
):  # fmt: skip
    """The feature models' backtests at `cutoffs` (per series), or without them their final forecasts, by name."""
    if cutoffs is not None:
        return backtest_features(
            series, drivers, driver_names, cutoffs, names, plan.horizon, plan.freq, plan.season_length, seed, threads,
            history_only,
        )  # fmt: skip
    return fit_final_features(
        series, drivers, driver_names, names, plan.horizon, plan.freq, plan.level, plan.season_length, seed, threads,
        explain, history_only,
    )  # fmt: skip


def _gather(globals_: list[dict], name: str, forecasts: list[dict] | None) -> None:
    for per_series, forecast in zip(globals_, forecasts or [None] * len(globals_), strict=True):
        if forecast is not None:
            per_series[name] = forecast


def _backtest_step(plan: Plan, series, starts, drivers) -> list[dict]:
    return backtest_chunk(plan, series, starts, drivers)


def _forecast_step(
    plan: Plan, choice: Choice, series, names, evidence, global_backtests, global_forecasts, states, drivers
):
    return forecast_chunk(plan, series, choice, names, evidence, global_backtests, global_forecasts, states, drivers)


def backtest(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    n_windows: int,
    season_length: int | None = None,
    models: Sequence[str] | None = None,
    seed: int = 0,
    exog: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Errors per series and model over `n_windows` rolling origins: MASE, RMSSE, MAE, RMSE, MSE, bias, R². `exog`:
    the drivers of the feature models and the network, as `forecast_many` takes them (all read as known ahead)."""
    m = season_length or infer_season_length(freq)
    names = _validate(tuple(models or MODELS))
    series = prepare(history, freq)
    parts = tuple(dict.fromkeys(part for name in names for part in name.split(PAIR)))
    local_names = tuple(name for name in parts if name in MODELS)
    local = _local_backtest(series, [None] * len(series), local_names, horizon, m, n_windows, season_cycles(freq, m))
    driver_names, drivers = driver_matrices(exog, series, horizon, freq)
    for name in [name for name in parts if name in GLOBAL_MODELS]:
        found, _ = backtest_global(
            series, horizon, (80,), n_windows, seed, name, drivers if driver_names else None, driver_names
        )
        for position, predictions in enumerate(found):
            local[position][name] = predictions
    for name in [name for name in parts if name in FEATURE_MODELS]:
        cutoffs = [_windows(len(values), horizon, n_windows) for _, _, values in series]
        found = backtest_features(series, drivers, driver_names, cutoffs, [name], horizon, freq, season_length, seed)
        for position, predictions in enumerate(found[name]):
            local[position][name] = predictions
    rows = []
    for (unique_id, _, values), predictions in zip(series, local, strict=True):
        predictions.pop("_state")
        for name in names:
            by_cutoff = merge_pair(name, predictions) if PAIR in name else predictions.get(name, {})
            per_cutoff = [
                _scores(values[cutoff : cutoff + len(mean)], mean, values[:cutoff], m)
                for cutoff, mean in by_cutoff.items()
            ]
            if per_cutoff:
                rows.append(
                    {"unique_id": unique_id, "model": name}
                    | {key: float(np.nanmean([score[key] for score in per_cutoff])) for key in per_cutoff[0]}
                )
    return pd.DataFrame(rows, columns=["unique_id", "model", "mase", "rmsse", "mae", "rmse", "mse", "bias", "r2"])
