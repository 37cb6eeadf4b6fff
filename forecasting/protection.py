"""An empirical calibration of the demand distribution over a protection period, learnt from past forecasts.

The policy (`forecasting.policy`) turns a forecast into a distribution of the demand over the lead time plus the
review period, and stocks to a quantile or a fill rate of it. The fill rate it promises is only as good as that
distribution: if the forecasts fall short of demand on average (a store ramping up into its peak season, sales
capped as outliers when the models were fitted) or if their intervals are too narrow for the week-to-week lumpiness
of wholesale orders, the stock serves less than promised. The error shows in the store's own record: the forecasts
made at earlier cutoffs, next to what was then sold over the same protection windows.

`ProtectionCalibration` is three numbers learnt from those windows (all before the time the policy is computed):

- `mean_factor`: the ratio of the demand sold to the demand forecast over all the windows (a ratio of sums: the
  large sellers, which make most of a fill rate, weigh most);
- `spread_factor` and `dispersion`: the demand over a window is negative binomial with the corrected mean
  m = mean_factor * forecast mean and the variance

      (1 + dispersion) * m + (spread_factor * mean_factor * forecast std)^2,

  that is, the forecast's own uncertainty, rescaled, plus an over-dispersion proportional to the mean (an NB1 term:
  many customers, each buying a lumpy quantity, add up to a variance proportional to the mean). The two are fitted
  by maximum likelihood on the windows with the mean factor held.

Both terms stay consistent across window lengths (a sum of independent NB1 parts is NB1 with the same dispersion,
and the forecast's spread is rescaled whatever the window), so the same calibration applies to the lead-time window
and to the protection window.

A likelihood fit of the distribution does not by itself deliver a fill rate (the policy reads runs weeks old, sales
are lost, not backlogged): `calibrate_fill_target` calibrates the store-wide allocation's setting itself by replaying
the policy (`forecasting.replay`), and `forecasting.fill_calibration` does so for `reorder_levels`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import gammaln

from forecasting.distribution import DEFAULT_CORRELATION, per_sku, period_sigma, served_curves_per_sku, window_moments
from forecasting.replay import DEFAULT_RUNS, PolicyReplay, latest_complete_runs

# One odd season must not wreck every level: the mean factor stays within exp(+-MAX_LOG_MEAN_FACTOR).
MAX_LOG_MEAN_FACTOR = 0.7
SPREAD_BOUNDS = (0.1, 10.0)
MAX_DISPERSION = 1_000.0
# Fewer windows than this and the calibration is the identity (nothing learnt is better than noise learnt).
MIN_WINDOWS = 100


@dataclass(frozen=True)
class ProtectionCalibration:
    """How to turn a forecast's mean and standard deviation over a window into the demand's (see the module doc).

    The default is the identity: the forecast's own moments.
    """

    mean_factor: float = 1.0
    spread_factor: float = 1.0
    dispersion: float = 0.0
    n_windows: int = 0

    def moments(self, mean: float, std: float) -> tuple[float, float]:
        """The calibrated (mean, standard deviation) of the demand over a window whose forecast has `mean`, `std`."""
        if self.n_windows == 0:
            return float(mean), float(std)
        corrected = self.mean_factor * max(float(mean), 0.0)
        variance = (1.0 + self.dispersion) * corrected + (self.spread_factor * self.mean_factor * float(std)) ** 2
        return corrected, math.sqrt(max(variance, 0.0))

    def setting(self, target: np.ndarray, service_measure: str) -> np.ndarray:
        """The service level to ask of the corrected moments: the target itself."""
        return target


def protection_backtest(
    past_forecasts: Mapping[pd.Timestamp, pd.DataFrame],
    history: pd.DataFrame,
    length: int,
    as_of: pd.Timestamp,
    offsets: int = 5,
    runs: int = DEFAULT_RUNS,
    correlation: float = DEFAULT_CORRELATION,
) -> pd.DataFrame:
    """One row per SKU and backtest window: `unique_id, cutoff, offset, mean, std, actual`.

    `past_forecasts` maps each earlier forecast run's cutoff (its last period of history) to its output
    (`unique_id, ds, mean, lo-<L>, hi-<L>...`); `history` is the long frame `unique_id, ds, y` of actual demand.
    A window is `length` consecutive forecast periods starting `offset` periods into the forecast (0 to `offsets`-1,
    as the policy uses a run for some periods after its cutoff); only windows whose last period is at or before
    `as_of` count, from the `runs` latest runs that have any. A SKU with no sale recorded in a period sold 0 then.
    """
    if length < 1:
        raise ValueError("length must be at least 1")
    complete = latest_complete_runs(past_forecasts, length, as_of, runs)
    columns = ["unique_id", "cutoff", "offset", "mean", "std", "actual"]
    if not complete:
        return pd.DataFrame(columns=columns)
    sales = history[history["ds"] <= as_of].groupby(["unique_id", "ds"])["y"].sum()
    parts = []
    for cutoff in complete:
        frame = past_forecasts[cutoff].sort_values(["unique_id", "ds"]).reset_index(drop=True)
        frame = frame.assign(sigma=period_sigma(frame).to_numpy(float))
        actual = sales.reindex(pd.MultiIndex.from_arrays([frame["unique_id"], frame["ds"]])).fillna(0.0).to_numpy()
        frame = frame.assign(actual=actual)
        rows = []
        for unique_id, series in frame.groupby("unique_id", sort=False):
            dates = series["ds"].to_numpy()
            means = series["mean"].to_numpy(float).clip(min=0.0)
            sigmas, sold = series["sigma"].to_numpy(float), series["actual"].to_numpy(float)
            for offset in range(min(offsets, len(dates) - length + 1)):
                if dates[offset + length - 1] > np.datetime64(as_of):
                    break
                mean, std = window_moments(means[offset:], sigmas[offset:], length, correlation)
                rows.append((unique_id, cutoff, offset, mean, std, float(sold[offset : offset + length].sum())))
        parts.append(pd.DataFrame(rows, columns=columns))
    return pd.concat(parts, ignore_index=True)


def _negative_binomial_loglik(actual: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Log-likelihood of each count under a negative binomial with the given mean and variance (> mean)."""
    mean = np.maximum(mean, 1e-9)
    variance = np.maximum(variance, mean * (1.0 + 1e-6))
    size, prob = mean**2 / (variance - mean), mean / variance
    return (
        gammaln(actual + size) - gammaln(size) - gammaln(actual + 1.0) + size * np.log(prob) + actual * np.log1p(-prob)
    )


def fit_protection_calibration(backtest: pd.DataFrame, min_windows: int = MIN_WINDOWS) -> ProtectionCalibration:
    """Fit a `ProtectionCalibration` on `protection_backtest` rows (`mean`, `std`, `actual`).

    Windows whose forecast is 0 carry no information on a multiplicative correction and are left out. With fewer
    than `min_windows` usable windows, or nothing sold, the identity comes back.
    """
    mean = backtest["mean"].to_numpy(float) if len(backtest) else np.zeros(0)
    usable = mean > 0
    if usable.sum() < min_windows:
        return ProtectionCalibration()
    mean = mean[usable]
    std = backtest["std"].to_numpy(float)[usable].clip(min=0.0)
    actual = backtest["actual"].to_numpy(float)[usable].clip(min=0.0)
    if actual.sum() <= 0:
        return ProtectionCalibration()
    log_factor = float(np.clip(math.log(actual.sum() / mean.sum()), -MAX_LOG_MEAN_FACTOR, MAX_LOG_MEAN_FACTOR))
    factor = math.exp(log_factor)
    corrected, spread = factor * mean, factor * std

    def negative_loglik(params: np.ndarray) -> float:
        scale, dispersion = np.exp(params)
        variance = (1.0 + dispersion) * corrected + (scale * spread) ** 2
        return -float(np.sum(_negative_binomial_loglik(actual, corrected, variance)))

    low = np.log([SPREAD_BOUNDS[0], 1e-6])
    high = np.log([SPREAD_BOUNDS[1], MAX_DISPERSION])
    result = optimize.minimize(
        negative_loglik, np.zeros(2), method="L-BFGS-B", bounds=list(zip(low, high, strict=True))
    )
    scale, dispersion = np.exp(result.x)
    return ProtectionCalibration(
        mean_factor=factor, spread_factor=float(scale), dispersion=float(dispersion), n_windows=int(usable.sum())
    )


@dataclass(frozen=True)
class FillTargetCalibration:
    """The setting of `allocate_fill_rate` that served `target` of the demand when the policy was replayed.

    `nominal_target` is what to ask the allocation for; `backtest_fill` is what that setting served in the replay
    (at least `target` unless the setting hit its ceiling); `n_windows` counts the reviews whose demand was measured.
    """

    target: float
    nominal_target: float
    backtest_fill: float
    n_windows: int


# Prices of a unit of served demand per unit of stock value swept by the replay (log-spaced, as in the allocation).
PRICE_GRID = np.geomspace(1e-9, 1e3, 400)
MAX_NOMINAL_TARGET = 0.999
SETTING_STEP = 0.0005


def calibrate_fill_target(
    past_forecasts: Mapping[pd.Timestamp, pd.DataFrame],
    history: pd.DataFrame,
    lead_time: int,
    review_period: int,
    target: float,
    as_of: pd.Timestamp,
    unit_value: pd.Series | None = None,
    runs: int = DEFAULT_RUNS,
    correlation: float = DEFAULT_CORRELATION,
    calibration: ProtectionCalibration | None = None,
    max_nominal_target: float = MAX_NOMINAL_TARGET,
    tracking_prior: float | None = None,
) -> FillTargetCalibration:
    """The smallest setting of `allocate_fill_rate` that would have served `target` of the demand lately.

    The fill rate the allocation expects is only as right as the forecast's distribution; where it is biased or too
    narrow, the stock serves less than promised, and the allocation (which buys each unit where the model says it
    serves most) is where a model's errors hurt most. Instead of correcting the distribution, this corrects the
    setting, as a conformal calibration corrects an interval's level, by replaying the policy as it would have run
    at every setting at once (see `PolicyReplay`).

    The setting chosen is the smallest in [target, `max_nominal_target`] whose replay served `target` of the measured
    demand (the ceiling when none did). Whole periods only (`lead_time`, `review_period`).
    """
    if not 0 < target < 1:
        raise ValueError("target must lie strictly between 0 and 1")
    settings = np.round(np.arange(target, max_nominal_target + 1e-9, SETTING_STEP), 6)
    replay = PolicyReplay.find(past_forecasts, history, lead_time, review_period, as_of, runs)
    if replay is None:
        return FillTargetCalibration(target, target, float("nan"), 0)
    values = per_sku(unit_value, replay.ids, "unit_value", 1.0).to_numpy(float)
    values = np.where(values > 0, values, np.nanmedian(values[values > 0]) if (values > 0).any() else 1.0)

    def levels(ahead: pd.DataFrame) -> np.ndarray:
        return _levels_by_setting(
            ahead, replay.ids, values, settings, replay.lead_time, replay.review_period, correlation, calibration
        )

    served, demand, measured = replay.run(levels, tracking_prior)
    if measured == 0 or demand.sum() <= 0:
        return FillTargetCalibration(target, target, float("nan"), 0)
    fill = served / demand.sum()
    enough = np.flatnonzero(fill >= target)
    choice = int(enough[0]) if len(enough) else len(settings) - 1
    return FillTargetCalibration(target, float(settings[choice]), float(fill[choice]), measured)


def _levels_by_setting(
    frame: pd.DataFrame,
    ids: pd.Index,
    values: np.ndarray,
    settings: np.ndarray,
    lead_time: int,
    review_period: int,
    correlation: float,
    calibration: ProtectionCalibration | None,
) -> np.ndarray:
    """The allocation's order-up-to level of each item of `ids` (rows) at each setting (columns), from a frame read
    at a review. An item the frame lacks gets no stock. The allocation finds one price of a served unit per unit
    of value for all items; its level for each item at a price is the count of units whose best gain from there on
    beats it, and its setting's price is the highest price whose expected fill reaches the setting."""
    levels_by_price = np.zeros((len(ids), len(PRICE_GRID)))
    expected = np.zeros(len(PRICE_GRID))
    if frame.empty:
        return np.zeros((len(ids), len(settings)))
    frame_ids, curves, review_demand = served_curves_per_sku(frame, lead_time, review_period, correlation, calibration)
    rows = ids.get_indexer(frame_ids)
    for row, curve in zip(rows, curves, strict=True):
        if len(curve) < 2:
            expected += curve[0]
            continue
        value = values[row] if row >= 0 else float(np.median(values))
        best_after = np.maximum.accumulate((np.diff(curve) / value)[::-1])[::-1]
        levels = len(best_after) - np.searchsorted(best_after[::-1], PRICE_GRID, side="right")
        expected += curve[levels]
        if row >= 0:
            levels_by_price[row] = levels
    total = review_demand.sum()
    if total <= 0:
        return np.zeros((len(ids), len(settings)))
    expected_fill = expected / total
    index = np.maximum((expected_fill[None, :] >= settings[:, None]).sum(axis=1) - 1, 0)
    return levels_by_price[:, index]
