"""The estimator shape shared by every model, interval helpers, and the output guard with its fallback."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Self

import numpy as np
from scipy import stats

logger = logging.getLogger(__name__)

Prediction = dict[str, np.ndarray]  # "mean", "lo-80", "hi-80", ...
# A forecast above this multiple of the largest value in the history is treated as a failed fit.
PLAUSIBLE_MULTIPLE = 10.0


class LocalForecaster:
    """A model of one series: hyperparameters in `__init__`, `fit(y) -> self`, fitted state in attributes ending in
    `_`, `predict(h, level)`. One instance is fitted per series."""

    alias = "forecaster"
    uses_exog = False  # True: fit takes regressors X for the history and predict takes their future values

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        raise NotImplementedError

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        raise NotImplementedError


class GlobalForecaster:
    """A model of all the series of a store at once (`forecasting.network` runs it): hyperparameters in `__init__`
    (the horizon it forecasts, its interval levels, a seed), `fit(series, dates, warm_start, epochs) -> self` on
    every series, `predict(series, dates, future_dates, level)` with one prediction per series, and `save`/`load`
    of its fitted state, which the next run continues from (`warm_start`)."""

    alias = "global"
    horizon: int
    levels: tuple[int, ...]

    def fit(
        self,
        series: Sequence[np.ndarray],
        dates: Sequence,
        warm_start: GlobalForecaster | None = None,
        epochs: int | None = None,
    ) -> Self:
        raise NotImplementedError

    def predict(
        self, series: Sequence[np.ndarray], dates: Sequence, future_dates: Sequence, level: Sequence[int] = ()
    ) -> list[Prediction]:
        raise NotImplementedError

    def save(self, directory) -> object:
        raise NotImplementedError

    @classmethod
    def load(cls, directory) -> GlobalForecaster:
        raise NotImplementedError


def as_series(y: np.ndarray) -> np.ndarray:
    values = np.asarray(y, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("a forecaster needs a non-empty one-dimensional history")
    if not np.all(np.isfinite(values)):
        raise ValueError("the history contains missing or infinite values")
    return values


def normal_bounds(mean: np.ndarray, sigma: np.ndarray, level: Sequence[int]) -> Prediction:
    """Symmetric normal intervals, cut at zero (demand is never negative)."""
    out: Prediction = {"mean": np.maximum(mean, 0.0)}
    for value in level:
        z = stats.norm.ppf(0.5 + value / 200.0)
        out[f"lo-{value}"] = np.clip(mean - z * sigma, 0.0, out["mean"])
        out[f"hi-{value}"] = np.maximum(mean + z * sigma, out["mean"])
    return out


def count_bounds(mean: np.ndarray, dispersion: float, level: Sequence[int]) -> Prediction:
    """Intervals from a count distribution with the given mean per period: Poisson when the history's variance is
    at most its mean, else a negative binomial with the history's variance-to-mean ratio."""
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    out: Prediction = {"mean": mean}
    safe = np.maximum(mean, 1e-9)
    for value in level:
        tail = (1.0 - value / 100.0) / 2.0
        if dispersion <= 1.0 + 1e-9:
            low, high = stats.poisson.ppf(tail, safe), stats.poisson.ppf(1.0 - tail, safe)
        else:
            n, p = safe / (dispersion - 1.0), 1.0 / dispersion
            low, high = stats.nbinom.ppf(tail, n, p), stats.nbinom.ppf(1.0 - tail, n, p)
        out[f"lo-{value}"] = np.minimum(np.nan_to_num(low), mean)
        out[f"hi-{value}"] = np.maximum(np.nan_to_num(high), mean)
    return out


def dispersion_of(y: np.ndarray) -> float:
    mean = float(np.mean(y))
    return float(np.var(y) / mean) if mean > 0 else 1.0


def is_plausible(prediction: Prediction, history: np.ndarray) -> bool:
    """Finite, non-negative and not an explosion (a forecast far above anything the series ever did)."""
    ceiling = PLAUSIBLE_MULTIPLE * max(float(np.max(history)), 1.0)
    return all(np.all(np.isfinite(values)) and np.all(values >= 0) for values in prediction.values()) and bool(
        np.max(prediction["mean"]) <= ceiling
    )


def forecast_with_fallback(
    model: LocalForecaster,
    fallback: LocalForecaster,
    y: np.ndarray,
    h: int,
    level: Sequence[int] = (),
    X: np.ndarray | None = None,
    X_future: np.ndarray | None = None,
) -> tuple[Prediction, str]:
    """Fit and predict with `model`; on an error or an implausible output use `fallback`. Returns (values, alias).
    Regressors (`X` for the history, `X_future` for the horizon) go to models that use them."""
    history = as_series(y)
    try:
        if model.uses_exog and X is not None:
            prediction = model.fit(history, X).predict(h, level, X=X_future)
        else:
            prediction = model.fit(history).predict(h, level)
        if is_plausible(prediction, history):
            return prediction, model.alias
        logger.info("%s gave an implausible forecast; using %s", model.alias, fallback.alias)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        logger.info("%s failed (%s); using %s", model.alias, exc, fallback.alias)
    return fallback.fit(history).predict(h, level), fallback.alias


class Ensemble(LocalForecaster):
    """The average of several models' forecasts and bounds: combining simple methods is a robust winner on retail
    demand, where picking one per series from a short backtest mostly picks noise."""

    def __init__(self, members: Sequence[LocalForecaster], alias: str = "ensemble") -> None:
        self.members = list(members)
        self.alias = alias

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.fitted_ = [member.fit(y, X) for member in self.members]
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        predictions = [member.predict(h, level) for member in self.fitted_]
        return {key: np.mean([p[key] for p in predictions], axis=0) for key in predictions[0]}
