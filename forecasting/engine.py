"""Forecasting many series: model choice per series by rolling-origin backtest, and backtest reports.

`forecast_many` and `backtest` take a long frame `unique_id, ds, y` (optional `censored`) and return long frames.
Model families available so far: the baselines, the intermittent-demand methods and their average; "auto" backtests
the candidates of each demand class (smooth, intermittent) on every series and uses, for the whole class, the model
with the lowest mean RMSSE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
import pandas as pd

from forecasting import metrics
from forecasting.data import classify_demand, future_periods, impute_censored, infer_season_length, to_regular
from forecasting.models import ADIDA, IMAPA, TSB, CrostonSBA, Forecaster, MovingAverage, Naive, SeasonalNaive
from forecasting.models.base import Ensemble, forecast_with_fallback
from forecasting.models.sarima import MAX_SEASONAL_PERIOD, Sarima

Factory = Callable[[int], Forecaster]  # season length -> model

MODELS: dict[str, Factory] = {
    "naive": lambda m: Naive(),
    "seasonal_naive": lambda m: SeasonalNaive(m),
    "moving_average_8": lambda m: MovingAverage(8),
    "croston_sba": lambda m: CrostonSBA(),
    "tsb": lambda m: TSB(),
    "adida": lambda m: ADIDA(),
    "imapa": lambda m: IMAPA(),
    "ensemble": lambda m: Ensemble([MovingAverage(8), TSB(), ADIDA(), IMAPA()]),
    "sarima": lambda m: Sarima(m),
}
SMOOTH_CANDIDATES = ("naive", "seasonal_naive", "moving_average_8", "imapa", "sarima")
INTERMITTENT_CANDIDATES = ("moving_average_8", "croston_sba", "tsb", "adida", "imapa")
DEFAULT_WINDOWS = 2


def _candidates(y: np.ndarray, season_length: int, models: str | Sequence[str]) -> tuple[str, ...]:
    if models != "auto":
        chosen = (models,) if isinstance(models, str) else tuple(models)
        unknown = [name for name in chosen if name not in MODELS]
        if unknown:
            raise ValueError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
        return chosen
    kind = classify_demand(y)
    names = INTERMITTENT_CANDIDATES if kind in {"intermittent", "lumpy", "zero"} else SMOOTH_CANDIDATES
    if len(y) < 2 * season_length:
        names = tuple(name for name in names if name != "seasonal_naive")
    if season_length > MAX_SEASONAL_PERIOD:
        # A yearly cycle in weekly or daily data is not a seasonal ARIMA's job: don't spend fits on it.
        names = tuple(name for name in names if name != "sarima")
    return names


def _errors(y: np.ndarray, name: str, season_length: int, horizon: int, windows: int) -> dict[str, float] | None:
    """Mean errors of one model over rolling origins, or None when the history is too short for any origin."""
    scores: list[dict[str, float]] = []
    for window in range(windows, 0, -1):
        cutoff = len(y) - window * horizon
        if cutoff < 2:
            continue
        train, test = y[:cutoff], y[cutoff : cutoff + horizon]
        prediction, _ = forecast_with_fallback(MODELS[name](season_length), Naive(), train, len(test))
        mean = prediction["mean"]
        scores.append(
            {
                "mase": metrics.mase(test, mean, train, season_length),
                "rmsse": metrics.rmsse(test, mean, train),
                "mae": metrics.mae(test, mean),
                "rmse": metrics.rmse(test, mean),
                "mse": metrics.mse(test, mean),
                "bias": metrics.bias(test, mean),
                "r2": metrics.r2(test, mean) if len(test) > 1 else float("nan"),
            }
        )
    if not scores:
        return None
    return {key: float(np.nanmean([score[key] for score in scores])) for key in scores[0]}


def _demand_class(y: np.ndarray) -> str:
    kind = classify_demand(y)
    return "intermittent" if kind in {"intermittent", "lumpy", "zero"} else "smooth"


def _score_chunk(chunk, horizon, season_length, windows) -> list[tuple[str, dict[str, float]]]:
    """Per series: its demand class and the backtest RMSSE of every candidate of that class."""
    out = []
    for _, _, values in chunk:
        names = _candidates(values, season_length, "auto")
        scores = {name: _errors(values, name, season_length, horizon, windows) for name in names}
        out.append((_demand_class(values), {name: score["rmsse"] for name, score in scores.items() if score}))
    return out


def choose_per_class(scored: list[tuple[str, dict[str, float]]]) -> dict[str, str]:
    """The model with the lowest mean backtest RMSSE in each demand class, over the series every candidate scored.

    Choosing per series from a short backtest mostly picks noise (on OR-weekly it lost to any single good method);
    choosing per class keeps the evidence of thousands of series behind each choice.
    """
    chosen: dict[str, str] = {}
    for demand_class in {kind for kind, _ in scored}:
        rows = [scores for kind, scores in scored if kind == demand_class and scores]
        if not rows:
            continue
        common = set.intersection(*(set(scores) for scores in rows))
        if common:
            order = list(rows[0])
            chosen[demand_class] = min(common, key=lambda name: (np.mean([r[name] for r in rows]), order.index(name)))
    return chosen


def _prepared(history: pd.DataFrame, freq: str) -> list[tuple[object, pd.DatetimeIndex, np.ndarray]]:
    regular = to_regular(history, freq)
    series = []
    for unique_id, frame in regular.groupby("unique_id", sort=True):
        values = impute_censored(frame["y"].to_numpy(float), frame["censored"].to_numpy(bool))
        series.append((unique_id, pd.DatetimeIndex(frame["ds"]), values))
    return series


def _forecast_chunk(chunk, horizon, freq, season_length, level, models, per_class) -> list[dict]:
    rows = []
    for unique_id, index, values in chunk:
        if models == "auto":
            fallback_name = "imapa" if _demand_class(values) == "intermittent" else "moving_average_8"
            name = per_class.get(_demand_class(values), fallback_name)
        else:
            name = _candidates(values, season_length, models)[0]
        prediction, alias = forecast_with_fallback(MODELS[name](season_length), Naive(), values, horizon, level)
        future = future_periods(index[-1], horizon, freq)
        for step, ds in enumerate(future):
            row = {"unique_id": unique_id, "ds": ds, "model": alias}
            row.update({key: float(values_[step]) for key, values_ in prediction.items()})
            rows.append(row)
    return rows


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
) -> pd.DataFrame:
    """One row per series and future period: `unique_id, ds, mean, lo-<L>, hi-<L>..., model`.

    Every input series gets a forecast; values are non-negative with lo <= mean <= hi; the result is deterministic.
    `exog` is accepted for the interface and ignored by the current model families.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    m = season_length or infer_season_length(freq)
    series = _prepared(history, freq)
    if models != "auto":
        _candidates(np.zeros(1), m, models)  # validate the names before any work
    jobs = max(1, n_jobs or 1)
    size = math.ceil(len(series) / jobs) if series else 1
    chunks = [series[start : start + size] for start in range(0, len(series), size)] or [[]]
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 and len(series) >= 2 * jobs else None
    run = pool.map if pool else map
    try:
        per_class: dict[str, str] = {}
        if models == "auto":
            score = partial(_score_chunk, horizon=horizon, season_length=m, windows=windows)
            per_class = choose_per_class([row for part in run(score, chunks) for row in part])
        work = partial(
            _forecast_chunk, horizon=horizon, freq=freq, season_length=m, level=tuple(level), models=models,
            per_class=per_class,
        )  # fmt: skip
        # Series are independent: splitting them across processes does not change the result.
        rows = [row for part in run(work, chunks) for row in part]
    finally:
        if pool:
            pool.shutdown()
    columns = ["unique_id", "ds", "mean"] + [f"{side}-{value}" for value in level for side in ("lo", "hi")] + ["model"]
    return pd.DataFrame(rows, columns=columns)


def backtest(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    n_windows: int,
    season_length: int | None = None,
    models: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Errors per series and model over `n_windows` rolling origins: MASE, RMSSE, MAE, RMSE, MSE, bias, R²."""
    m = season_length or infer_season_length(freq)
    names = tuple(models or MODELS)
    rows = []
    for unique_id, _, values in _prepared(history, freq):
        for name in names:
            score = _errors(values, name, m, horizon, n_windows)
            if score is not None:
                rows.append({"unique_id": unique_id, "model": name, **score})
    return pd.DataFrame(rows, columns=["unique_id", "model", "mase", "rmsse", "mae", "rmse", "mse", "bias", "r2"])
