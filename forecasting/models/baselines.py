"""Baselines: naive, seasonal naive and moving average, with normal intervals from their own one-step errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np

from forecasting.models.base import LocalForecaster, Prediction, as_series, normal_bounds


def _sd(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors**2))) if len(errors) else 0.0


class Naive(LocalForecaster):
    """The last value, with a random-walk interval that widens with the square root of the horizon."""

    alias = "naive"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        self.last_ = values[-1]
        self.sigma_ = _sd(np.diff(values))
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        steps = np.arange(1, h + 1)
        return normal_bounds(np.full(h, self.last_), self.sigma_ * np.sqrt(steps), level)


class SeasonalNaive(LocalForecaster):
    """The same period one season ago; a plain naive forecast when the history is shorter than a season."""

    alias = "seasonal_naive"

    def __init__(self, season_length: int) -> None:
        self.season_length = season_length

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        m = self.season_length if len(values) >= self.season_length > 1 else 1
        self.m_ = m
        self.last_season_ = values[-m:]
        self.sigma_ = _sd(values[m:] - values[:-m])
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        mean = np.resize(self.last_season_, h)
        cycles = np.ceil(np.arange(1, h + 1) / self.m_)
        return normal_bounds(mean, self.sigma_ * np.sqrt(cycles), level)


class MovingAverage(LocalForecaster):
    """The mean of the last `window` periods (fewer when the history is shorter)."""

    def __init__(self, window: int = 8) -> None:
        self.window = window

    @property
    def alias(self) -> str:
        return f"moving_average_{self.window}"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        w = min(self.window, len(values))
        self.level_ = float(np.mean(values[-w:]))
        # one-step errors of the rolling mean over the history
        cumulative = np.concatenate([[0.0], np.cumsum(values)])
        starts = np.arange(1, len(values))
        widths = np.minimum(starts, w)
        rolling = (cumulative[starts] - cumulative[starts - widths]) / widths
        self.sigma_ = _sd(values[1:] - rolling)
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        return normal_bounds(np.full(h, self.level_), np.full(h, self.sigma_), level)


class Inactive(LocalForecaster):
    """Zero demand, with zero-width intervals: the forecast of an item with no sale in its last year
    (`forecasting.data.useful_start`). Not a candidate of any demand class; such items get it without a backtest."""

    alias = "inactive"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        as_series(y)
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        return normal_bounds(np.zeros(h), np.zeros(h), level)
