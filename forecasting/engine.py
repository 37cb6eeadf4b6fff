"""Forecasting many series: model choice per series by rolling-origin backtest, and backtest reports.

`forecast_many` and `backtest` take a long frame `unique_id, ds, y` (optional `censored`) and return long frames.
Model families: the baselines, the intermittent-demand methods and their average, a guarded seasonal ARIMA,
exponential smoothing (on short cycles), and a global LSTM trained across all series ("lstm", `forecasting.network`).
"auto" backtests the candidates of each demand class (smooth, intermittent) on every series — the local models series
by series, the global network by training it at each backtest origin and warm-starting from one origin to the next —
and uses, for the whole class, the model or the equal-weight pair with the lowest mean RMSSE (a pair with the best
model when its lead is within one standard error, `forecasting.selection`).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import metrics
from forecasting.calibration import year_end_signature
from forecasting.catalog import (
    DEFAULT_WINDOWS,
    EXOG_MODELS,
    GLOBAL_MODELS,
    INTERMITTENT_CANDIDATES,
    MODELS,
    PAIR,
    SEASONAL_CANDIDATES,
    SMOOTH_CANDIDATES,
    Series,
)
from forecasting.data import (
    OUTLIER_IQRS,
    cap_outliers,
    future_periods,
    future_stamps,
    holiday_counts,
    impute_censored,
    infer_season_length,
    to_regular,
    useful_start,
)
from forecasting.models import Naive
from forecasting.models.base import forecast_with_fallback
from forecasting.models.sarima import MAX_SEASONAL_PERIOD
from forecasting.network import fit_global, global_backtest, load_network
from forecasting.selection import (
    CALIBRATION_WEIGHT_PERIODS,
    GLOBAL_MIN_SERIES,
    calibration_applies,
    calibration_factor,
    choose_models,
    demand_class,
    fit_calibration,
    merge_pair,
    model_for,
    model_for_class,
    rms_step,
)

logger = logging.getLogger(__name__)

OUTLIER_WINDOW_MIN = 25  # periods


def _validate(models: str | Sequence[str]) -> tuple[str, ...]:
    chosen = (models,) if isinstance(models, str) else tuple(models)
    known = (*MODELS, *GLOBAL_MODELS)
    unknown = [name for name in chosen for part in name.split(PAIR) if part not in known]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def _local_candidates(y: np.ndarray, season_length: int) -> tuple[str, ...]:
    kind = demand_class(y)
    if kind == "inactive":
        return ()  # nothing to choose: an inactive series is forecast as such
    names = INTERMITTENT_CANDIDATES if kind == "intermittent" else SMOOTH_CANDIDATES
    if 1 < season_length <= MAX_SEASONAL_PERIOD:
        names = tuple(dict.fromkeys((*names, *SEASONAL_CANDIDATES)))
    if len(y) < 2 * season_length:
        names = tuple(name for name in names if name != "seasonal_naive")
    if season_length > MAX_SEASONAL_PERIOD and len(y) < season_length + season_length // 4:
        # A long cycle (a year of weeks) is modelled by Fourier terms once a cycle and a bit is known; before
        # that an ARIMA adds nothing a moving average does not: don't spend fits on it.
        names = tuple(name for name in names if name != "sarima")
    return names


def _windows(length: int, horizon: int, windows: int) -> list[int]:
    """Backtest cutoffs (oldest first) that leave at least two periods to train on."""
    return [length - w * horizon for w in range(windows, 0, -1) if length - w * horizon >= 2]


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


def _regressors(extra: dict | None, name: str, start: int, stop: int, steps: int):
    """(X for periods [start, stop), X for the next `steps`) for a model that takes regressors, else (None, None)."""
    calendar = (extra or {}).get("calendar")
    if calendar is None or name not in EXOG_MODELS or np.ptp(calendar[start:stop]) == 0:
        return None, None  # a regressor that never varies in the history tells a model nothing
    return calendar[start:stop, None], calendar[stop : stop + steps, None]


def _local_backtest(chunk, extras, names, horizon, season_length, windows) -> list[dict[str, dict]]:
    """Per series: {model: {cutoff: predicted mean}} for every backtest cutoff, and under "_state" the fitted state
    of the last cutoff for models that warm-start (a seasonal ARIMA searches its order once, at the first cutoff, and
    later fits start from there). `names=None`: the series' own candidates."""
    out = []
    for (_, _, values), extra in zip(chunk, extras, strict=True):
        predictions: dict[str, dict] = {"_state": {}}
        for name in names or _local_candidates(values, season_length):
            predictions[name] = {}
            state = (extra or {}).get(f"{name}_start")
            for cutoff in _windows(len(values), horizon, windows):
                train = values[:cutoff]
                steps = min(horizon, len(values) - cutoff)
                X, X_future = _regressors(extra, name, 0, cutoff, steps)
                model = MODELS[name](season_length)
                if state and hasattr(model, "start"):
                    model.start = state
                prediction, alias = forecast_with_fallback(model, Naive(), train, steps, X=X, X_future=X_future)
                if alias == name and getattr(model, "state_", None):
                    state = model.state_
                predictions[name][cutoff] = prediction["mean"]
            if state:
                predictions["_state"][name] = state
        out.append(predictions)
    return out


def prepare(
    history: pd.DataFrame, freq: str, end: pd.Timestamp | None = None, outlier_iqrs: float | None = OUTLIER_IQRS
) -> list[Series]:
    """`(unique_id, period ends, values)` per series, sorted by id: regular periods up to `end` (default: the last
    period of the whole history), cut to their useful history (`forecasting.data.useful_start`: at most a few years,
    from the end of the last year-long silence; a series with no sale in its last year is inactive and keeps that
    year of zeros), stock-out periods imputed, outlier sale sizes capped. Phases of one run that read the history
    separately must pass the same `end`."""
    regular = to_regular(history, freq, end=end)
    # "usual" sale sizes are read over two seasonal cycles around each period, and at least OUTLIER_WINDOW_MIN periods
    window = max(2 * infer_season_length(freq) + 1, OUTLIER_WINDOW_MIN)
    series = []
    for unique_id, frame in regular.groupby("unique_id", sort=True):
        start = useful_start(frame["y"].to_numpy(float), freq)
        frame = frame.iloc[start:]
        values = impute_censored(frame["y"].to_numpy(float), frame["censored"].to_numpy(bool))
        if outlier_iqrs is not None:
            values = cap_outliers(values, outlier_iqrs, window=window)
        series.append((unique_id, pd.DatetimeIndex(frame["ds"]), values))
    return series


def _extra(index: pd.DatetimeIndex, horizon: int, freq: str, country: str | None, starts: dict | None) -> dict:
    extra = {"calendar": _calendar(index, horizon, freq, country)}
    extra.update({f"{name}_start": state for name, state in (starts or {}).items()})
    return extra


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def backtest_local(
    series: Sequence[Series],
    horizon: int,
    freq: str,
    season_length: int,
    windows: int = DEFAULT_WINDOWS,
    country: str | None = None,
    starts: Sequence[dict | None] | None = None,
) -> list[dict]:
    """The evidence that model choice needs, per series, as plain JSON-ready data: the demand class, the backtest
    cutoffs with the actual values after each and the RMSSE scale before it, each local candidate's predicted means
    at each cutoff. `starts`: per series, the saved state of an
    earlier run per model (a warm start). A series whose backtest raises gets `{"error": ...}` instead; the others
    are unaffected."""
    out = []
    for item, start in zip(series, starts or [None] * len(series), strict=True):
        _, index, values = item
        try:
            extra = _extra(index, horizon, freq, country, start)
            [predictions] = _local_backtest([item], [extra], None, horizon, season_length, windows)
            cutoffs = _windows(len(values), horizon, windows)
            out.append(
                {
                    "class": demand_class(values),
                    "cutoffs": cutoffs,
                    "actual": [values[cutoff : cutoff + horizon].tolist() for cutoff in cutoffs],
                    "scale": [metrics.naive_scale(values[:cutoff], 1, 2) for cutoff in cutoffs],
                    "predictions": {
                        name: [np.asarray(by_cutoff[cutoff], float).tolist() for cutoff in cutoffs]
                        for name, by_cutoff in predictions.items()
                        if name != "_state"
                    },
                    # for the level calibration: the series' length and year-end signature, and per cutoff the
                    # signature as it read at that cutoff, the one-step naive RMSE before it (unfloored) and the
                    # units sold in the periods just before it
                    "length": len(values),
                    "signature": year_end_signature(values, index),
                    "signatures": [year_end_signature(values[:cutoff], index[:cutoff]) for cutoff in cutoffs],
                    "level_scale": [rms_step(values[:cutoff]) for cutoff in cutoffs],
                    "units": [float(values[:cutoff][-CALIBRATION_WEIGHT_PERIODS:].sum()) for cutoff in cutoffs],
                }
            )
        except Exception as exc:  # one series must not sink the others: reported per series
            logger.exception("backtest of series %s failed", item[0])
            out.append({"error": _error(exc)})
    return out


def forecast_chosen(
    series: Sequence[Series],
    names: Sequence[str],
    horizon: int,
    freq: str,
    season_length: int,
    level: Sequence[int],
    country: str | None = None,
    starts: Sequence[dict | None] | None = None,
    global_forecasts: Sequence[dict | None] | None = None,
    factors: Sequence[float] | None = None,
) -> list[dict]:
    """Per series: `{"model": alias, "prediction": {"mean": [...], "lo-80": [...], ...}, "state": {...}}` from its
    named model or pair (a global part comes from `global_forecasts`; where the network has no forecast the local
    part stands alone) times its level factor (`factors`, see `fit_calibration`), or `{"error": ...}` when even the
    fallback failed."""
    out = []
    glob = global_forecasts or [None] * len(series)
    factors = factors or [1.0] * len(series)
    rows = zip(series, names, starts or [None] * len(series), glob, factors, strict=True)
    for item, name, start, global_prediction, factor in rows:
        _, index, values = item
        try:
            local_names = [part for part in name.split(PAIR) if part in MODELS]
            use_global = global_prediction is not None and any(part in GLOBAL_MODELS for part in name.split(PAIR))
            if not local_names and not use_global:
                local_names = [_default(values)]
            extra = _extra(index, horizon, freq, country, start)
            [forecasts] = _local_forecasts([item], [extra], [local_names], horizon, season_length, tuple(level))
            parts = [forecasts[part] for part in local_names]
            if use_global:
                parts.insert(0, (global_prediction, "lstm"))
            prediction = {
                key: (np.mean([np.asarray(p[key], float) for p, _ in parts], axis=0) * factor).tolist()
                for key in parts[0][0]
            }
            out.append(
                {
                    "model": PAIR.join(alias for _, alias in parts),
                    "prediction": prediction,
                    "state": forecasts["_state"],
                }
            )
        except Exception as exc:  # one series must not sink the others: reported per series
            logger.exception("forecast of series %s failed", item[0])
            out.append({"error": _error(exc)})
    return out


def to_frame(
    series: Sequence[Series], results: Sequence[dict], horizon: int, freq: str, level: Sequence[int]
) -> pd.DataFrame:
    """The long forecast frame of `forecast_chosen` results (series with an error are left out)."""
    rows = []
    for (unique_id, index, _), result in zip(series, results, strict=True):
        if "error" in result:
            continue
        for step, ds in enumerate(future_stamps(index[-1], horizon, freq)):
            row = {"unique_id": unique_id, "ds": ds, "model": result["model"]}
            row.update({key: float(values[step]) for key, values in result["prediction"].items()})
            rows.append(row)
    columns = ["unique_id", "ds", "mean"] + [f"{side}-{value}" for value in level for side in ("lo", "hi")] + ["model"]
    return pd.DataFrame(rows, columns=columns)


def _local_forecasts(chunk, extras, names_per_series, horizon, season_length, level) -> list[dict]:
    """Per series: {model: (prediction, alias)} for each of its models, and "_state": what a warm start reuses."""
    out = []
    for (_, _, values), extra, names in zip(chunk, extras, names_per_series, strict=True):
        forecasts: dict = {"_state": {}}
        for name in names:
            model = MODELS[name](season_length)
            if (extra or {}).get(f"{name}_start") and hasattr(model, "start"):
                model.start = extra[f"{name}_start"]
            X, X_future = _regressors(extra, name, 0, len(values), horizon)
            forecasts[name] = forecast_with_fallback(model, Naive(), values, horizon, level, X=X, X_future=X_future)
            if getattr(model, "state_", None) and forecasts[name][1] == name:
                forecasts["_state"][name] = model.state_
        out.append(forecasts)
    return out


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


def _backtest_chunk(series, starts, **options) -> list[dict]:
    return backtest_local(series, starts=starts, **options)


def _forecast_chunk(series, names, starts, global_forecasts, factors, **options) -> list[dict]:
    return forecast_chosen(series, names, starts=starts, global_forecasts=global_forecasts, factors=factors, **options)


class ForecastError(RuntimeError):
    """Some series could not be forecast even by the fallback model."""


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
) -> pd.DataFrame:
    """One row per series and future period: `unique_id, ds, mean, lo-<L>, hi-<L>..., model`.

    Every input series gets a forecast; values are non-negative with lo <= mean <= hi; the result is deterministic
    for a given `seed`. `models` is "auto", a model name, a pair "a+b" (their average) or a list (the first is used).
    `model_dir`, when given, is where this run's fitted state is saved (the global network, each series' ARIMA order
    and parameters); what an earlier run saved there is the warm start of this one. `country` (an ISO code) adds its
    public holidays as a regressor for the models that take regressors. Sale sizes above Q3 + `outlier_iqrs` IQRs of
    a series' sales are capped (None: no capping). With `calibrate`, "auto" scales the chosen forecasts by a level
    correction learnt across all series from the backtest (`forecasting.calibration`). `exog` is accepted for the
    interface and ignored by the current model families.

    The steps are public so that a distributed run can spread them over workers: `prepare`, `backtest_local` (per
    chunk of series) beside `forecasting.network.backtest_global` and `fit_final_global` (once each),
    `choose_models` and `fit_calibration`, then `forecast_chosen` (per chunk) and `to_frame`.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    m = season_length or infer_season_length(freq)
    series = _prepared(history, freq, outlier_iqrs)
    level = tuple(level)
    fixed = None if models == "auto" else _validate(models)[0]
    saved_states = load_states(model_dir)
    starts = [saved_states.get(str(unique_id)) for unique_id, _, _ in series]
    use_global = (
        fixed is not None and any(part in GLOBAL_MODELS for part in fixed.split(PAIR))
    ) or (fixed is None and len(series) >= GLOBAL_MIN_SERIES)  # fmt: skip
    runner = _Runner(n_jobs, len(series))
    factors = [1.0] * len(series)
    try:
        global_forecasts = None
        if fixed is None:
            evidence = runner.map(
                partial(_backtest_chunk, horizon=horizon, freq=freq, season_length=m, windows=windows, country=country),
                series,
                starts,
            )
            global_backtests = None
            if use_global:
                global_backtests, global_forecasts = fit_global(
                    series, horizon, freq, level, windows, seed, load_network(model_dir), model_dir
                )
            per_class = choose_models(evidence, global_backtests)
            names = [model_for(values, per_class) for _, _, values in series]
            if calibrate and calibration_applies(horizon, m):
                coefficients = fit_calibration(evidence, global_backtests, per_class)
                factors = [calibration_factor(coefficients, values, index) for _, index, values in series]
        else:
            names = [fixed] * len(series)
            if use_global:
                _, global_forecasts = fit_global(
                    series, horizon, freq, level, 0, seed, load_network(model_dir), model_dir
                )
        results = runner.map(
            partial(_forecast_chunk, horizon=horizon, freq=freq, season_length=m, level=level, country=country),
            series,
            names,
            starts,
            global_forecasts or [None] * len(series),
            factors,
        )
    finally:
        runner.close()
    failed = [str(unique_id) for (unique_id, _, _), result in zip(series, results, strict=True) if "error" in result]
    if failed:
        raise ForecastError(f"{len(failed)} series could not be forecast: {', '.join(failed[:10])}")
    if model_dir is not None:
        _save_states(model_dir, series, results)
    return to_frame(series, results, horizon, freq, level)


def _prepared(history: pd.DataFrame, freq: str, outlier_iqrs: float | None = OUTLIER_IQRS) -> list[Series]:
    return prepare(history, freq, outlier_iqrs=outlier_iqrs)


def _default(values: np.ndarray) -> str:
    return model_for_class(demand_class(values), {})


def _calendar(index: pd.DatetimeIndex, horizon: int, freq: str, country: str | None) -> np.ndarray | None:
    if not country:
        return None
    return holiday_counts(index.append(future_periods(index[-1], horizon, freq)), freq, country)


STATES_FILE = "local_states.json"


def load_states(model_dir) -> dict[str, dict]:
    path = Path(model_dir) / STATES_FILE if model_dir is not None else None
    if path is None or not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        logger.warning("the saved model states in %s cannot be read (%s); fitting from scratch", path, exc)
        return {}


def save_states(model_dir, states: dict[str, dict]) -> None:
    """Write the per-series fitted states (what the next run warm-starts from) into `model_dir`."""
    folder = Path(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATES_FILE).write_text(json.dumps(states))


def _save_states(model_dir, series, results) -> None:
    save_states(
        model_dir,
        {str(uid): result["state"] for (uid, _, _), result in zip(series, results, strict=True) if result.get("state")},
    )


def backtest(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    n_windows: int,
    season_length: int | None = None,
    models: Sequence[str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Errors per series and model over `n_windows` rolling origins: MASE, RMSSE, MAE, RMSE, MSE, bias, R²."""
    m = season_length or infer_season_length(freq)
    names = _validate(tuple(models or MODELS))
    series = _prepared(history, freq)
    parts = tuple(dict.fromkeys(part for name in names for part in name.split(PAIR)))
    local_names = tuple(name for name in parts if name in MODELS)
    local = _local_backtest(series, [None] * len(series), local_names, horizon, m, n_windows)
    for name in [name for name in parts if name in GLOBAL_MODELS]:
        for position, predictions in global_backtest(series, name, horizon, n_windows, (80,), seed)[0].items():
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
