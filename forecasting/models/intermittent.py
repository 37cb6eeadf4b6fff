"""Intermittent-demand models: Croston (SBA), TSB, ADIDA and IMAPA, with count-distribution intervals.

For items that sell in some periods and not others, a level forecast (the expected units per period) is what
replenishment needs; its interval comes from a Poisson or negative-binomial distribution of counts, never negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np

from forecasting.models.base import LocalForecaster, Prediction, as_series, count_bounds, dispersion_of

SES_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5)


def ses_level(values: np.ndarray, alpha: float | None = None) -> float:
    """Simple exponential smoothing's final level; alpha chosen by one-step squared error when not given."""
    if len(values) == 0:
        return 0.0
    candidates = (alpha,) if alpha is not None else SES_ALPHAS
    best_level, best_error = float(values[0]), float("inf")
    for candidate in candidates:
        level, error = float(values[0]), 0.0
        for value in values[1:]:
            error += (value - level) ** 2
            level += candidate * (value - level)
        if error < best_error:
            best_level, best_error = level, error
    return best_level


class CrostonSBA(LocalForecaster):
    """Croston's method with the Syntetos–Boylan bias correction: (1 - alpha/2) * size / interval."""

    alias = "croston_sba"

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        demand_at = np.flatnonzero(values > 0)
        self.dispersion_ = dispersion_of(values)
        if len(demand_at) == 0:
            self.level_ = 0.0
            return self
        sizes = values[demand_at]
        intervals = np.diff(np.concatenate([[-1], demand_at]))
        size, interval = float(sizes[0]), float(intervals[0])
        for next_size, next_interval in zip(sizes[1:], intervals[1:], strict=True):
            size += self.alpha * (next_size - size)
            interval += self.alpha * (next_interval - interval)
        self.level_ = (1.0 - self.alpha / 2.0) * size / interval
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        return count_bounds(np.full(h, self.level_), self.dispersion_, level)


class TSB(LocalForecaster):
    """Teunter–Syntetos–Babai: the probability of demand is updated every period, so a dying item's forecast decays
    (Croston's stays frozen until the next sale)."""

    alias = "tsb"

    def __init__(self, alpha_demand: float = 0.2, alpha_probability: float = 0.2) -> None:
        self.alpha_demand = alpha_demand
        self.alpha_probability = alpha_probability

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        self.dispersion_ = dispersion_of(values)
        nonzero = values[values > 0]
        if len(nonzero) == 0:
            self.level_ = 0.0
            return self
        probability, size = float(len(nonzero) / len(values)), float(nonzero[0])
        for value in values:
            occurred = value > 0
            probability += self.alpha_probability * (float(occurred) - probability)
            if occurred:
                size += self.alpha_demand * (value - size)
        self.level_ = probability * size
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        return count_bounds(np.full(h, self.level_), self.dispersion_, level)


def _aggregate_level(values: np.ndarray, k: int) -> float:
    """ADIDA's per-period level at aggregation k: SES over non-overlapping k-period sums (aligned to the end)."""
    usable = (len(values) // k) * k
    if usable == 0:
        return float(np.mean(values))
    buckets = values[len(values) - usable :].reshape(-1, k).sum(axis=1)
    return ses_level(buckets) / k


def _mean_interval(values: np.ndarray) -> int:
    sales = int(np.count_nonzero(values))
    return max(1, round(len(values) / sales)) if sales else 1


class ADIDA(LocalForecaster):
    """Aggregate-disaggregate: sum the series into buckets as long as the mean interval between sales, smooth the
    buckets, and spread the level back over the periods."""

    alias = "adida"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        self.dispersion_ = dispersion_of(values)
        self.level_ = _aggregate_level(values, _mean_interval(values)) if values.any() else 0.0
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        return count_bounds(np.full(h, self.level_), self.dispersion_, level)


class IMAPA(LocalForecaster):
    """ADIDA averaged over every aggregation level from 1 to the mean interval between sales."""

    alias = "imapa"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        self.dispersion_ = dispersion_of(values)
        if not values.any():
            self.level_ = 0.0
            return self
        levels = [_aggregate_level(values, k) for k in range(1, _mean_interval(values) + 1)]
        self.level_ = float(np.mean(levels))
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        return count_bounds(np.full(h, self.level_), self.dispersion_, level)
