"""A pooled correction of the level of every series' forecast, learnt from the latest backtest windows.

A local model estimates each series' level from that series' past alone. What it cannot see is what moves many items
at once: the whole store ramping up into its peak season, and within it the seasonal items ramping fastest. Both show
in the backtest: across thousands of series, how far the chosen forecasts fell short (or overshot) in the latest
windows, and how the shortfall grew with an item's year-end signature (how much more it sold in the last December
than on average). `LevelCalibration` fits those two numbers on the backtest windows and scales every forecast by

    factor = exp(coef_[0] + coef_[1] * signature)

Fitting them on the latest windows, not on the whole history, is the point: the model reads the store's current
phase (a December signature means little in spring and a lot in October) instead of assuming one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

YEAR_END_MONTH = 12
# The December used must lie this far before the last period: a December still under way is today's momentum, which
# the local models already see, not a signature of the item.
SIGNATURE_GAP = pd.Timedelta(days=91)
MAX_SIGNATURE = 3.0  # |log ratio|: an item that sold 20 times its mean in December is not 20 times more seasonal
# The share of the series' mean added to the December mean: an item that sold nothing then gets a finite signature.
SIGNATURE_FLOOR = 0.05


def year_end_signature(values: np.ndarray, dates: pd.DatetimeIndex) -> float:
    """The log ratio of a series' mean in its latest complete December periods (at least a quarter before its last
    period) to its mean over the whole history; 0.0 (no signature) when it has fewer than two such periods or never
    sold."""
    values = np.asarray(values, dtype=float)
    dates = pd.DatetimeIndex(dates)
    if len(dates) == 0:
        return 0.0
    december = np.asarray((dates.month == YEAR_END_MONTH) & (dates <= dates[-1] - SIGNATURE_GAP))
    if december.sum() < 2:
        return 0.0
    december &= np.asarray(dates.year == dates.year[december].max())
    mean = float(values.mean())
    if december.sum() < 2 or mean <= 0:
        return 0.0
    ratio = (float(values[december].mean()) + SIGNATURE_FLOOR * mean) / mean
    return float(np.clip(np.log(ratio), -MAX_SIGNATURE, MAX_SIGNATURE))


class LevelCalibration:
    """Two coefficients shared by all series: a store-wide log factor and a log factor per unit of signature.

    `fit` takes one row per series and backtest window: the forecast's mean level, the actual mean over the window,
    the series' signature, its scale (one-step naive RMSE before the window) and its weight. It minimises the weighted
    squared scaled error, sum(weight * ((actual - level * factor) / scale)^2): the scale makes a 5-unit and a
    500-unit item comparable, the weight (units sold just before the window) makes the items that matter count
    more. The factor is bounded to exp(±`max_log_factor`) so that one odd window cannot wreck every forecast.
    """

    def __init__(self, max_log_factor: float = 0.7, min_rows: int = 100) -> None:
        self.max_log_factor = max_log_factor
        self.min_rows = min_rows

    def fit(
        self,
        level: Sequence[float],
        actual: Sequence[float],
        signature: Sequence[float],
        scale: Sequence[float],
        weight: Sequence[float],
    ) -> Self:
        level, actual, signature, scale, weight = (
            np.asarray(values, dtype=float) for values in (level, actual, signature, scale, weight)
        )
        usable = np.isfinite(level) & np.isfinite(actual) & (scale > 0) & (weight > 0)
        if usable.sum() < self.min_rows:
            raise ValueError(f"a calibration needs at least {self.min_rows} backtest rows, got {int(usable.sum())}")
        level, actual, signature = level[usable], actual[usable], signature[usable]
        root_weight = np.sqrt(weight[usable] / weight[usable].sum()) / scale[usable]
        design = np.column_stack([np.ones_like(signature), signature])

        def residuals(coef: np.ndarray) -> np.ndarray:
            return root_weight * (actual - level * np.exp(np.clip(design @ coef, -50.0, 50.0)))

        result = least_squares(residuals, np.zeros(2))
        if not (result.success and np.all(np.isfinite(result.x))):
            raise ValueError("the calibration did not converge")
        self.coef_ = result.x
        self.n_rows_ = int(usable.sum())
        return self

    def factor(self, signature: Sequence[float]) -> np.ndarray:
        """The multiplier of each series' forecast (its mean and its bounds)."""
        log_factor = self.coef_[0] + self.coef_[1] * np.asarray(signature, dtype=float)
        return np.exp(np.clip(log_factor, -self.max_log_factor, self.max_log_factor))
