"""Demand over a window of forecast periods: its moments, its distribution, and the service a stock level gives.

Used by the policy (`forecasting.policy`), its store-wide share-out and the calibrations learnt by replaying it
(`forecasting.protection`, `forecasting.fill_calibration`, `forecasting.replay`), which import this module rather
than each other. See `forecasting.policy` for how the periods' errors are combined and why the distribution is
discrete.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

# The periods' forecast errors are partly common (a wrong level): the correlation used to add up their variances.
DEFAULT_CORRELATION = 0.5


# Beyond this mean the discrete distribution is replaced by the normal one (its quantiles are the same to a unit).
NORMAL_ABOVE_MEAN = 50_000.0


class Calibration(Protocol):
    """A correction learnt from past forecasts and what then sold (`forecasting.protection.ProtectionCalibration`,
    `forecasting.fill_calibration.FillRateCalibration`): of a window's demand moments, and of the service level to
    ask of them for a target (refused where the correction does not hold)."""

    def moments(self, mean: float, std: float) -> tuple[float, float]: ...

    def setting(self, target: np.ndarray, service_measure: str) -> np.ndarray: ...


def per_sku(value, ids: pd.Index, name: str, default=None) -> pd.Series:
    """A scalar or a Series by unique_id, as a Series aligned on `ids` (missing ids take `default`)."""
    if value is None:
        value = default
    if isinstance(value, pd.Series):
        out = value.reindex(ids)
        if default is not None:
            out = out.fillna(default)
        if out.isna().any():
            missing = list(out[out.isna()].index[:5])
            raise ValueError(f"{name} is missing for {missing}")
        return out.astype(float)
    return pd.Series(float(value), index=ids)


def period_sigma(forecasts: pd.DataFrame) -> pd.Series:
    """Each forecast row's standard deviation, read from its widest interval as if it were normal."""
    levels = sorted({int(col.split("-")[1]) for col in forecasts.columns if col.startswith("hi-")})
    if not levels:
        raise ValueError("the forecasts carry no intervals (hi-<level> / lo-<level> columns)")
    level = levels[-1]
    z = stats.norm.ppf(0.5 + level / 200.0)
    width = (forecasts[f"hi-{level}"] - forecasts[f"lo-{level}"]).clip(lower=0.0)
    return width / (2.0 * z)


def window_moments(
    means: np.ndarray, sigmas: np.ndarray, length: float, correlation: float = DEFAULT_CORRELATION
) -> tuple[float, float]:
    """Mean and standard deviation of demand over the first `length` periods (fractional: the last one in part;
    beyond the forecast the last period repeats)."""
    if length <= 1e-9 or len(means) == 0:
        return 0.0, 0.0
    whole = math.ceil(length - 1e-9)
    if whole > len(means):
        means = np.concatenate([means, np.repeat(means[-1:], whole - len(means))])
        sigmas = np.concatenate([sigmas, np.repeat(sigmas[-1:], whole - len(sigmas))])
    weights = np.ones(whole)
    weights[-1] = length - (whole - 1)
    mean = float(np.sum(weights * means[:whole]))
    scaled = weights * sigmas[:whole]
    variance = (1.0 - correlation) * float(np.sum(scaled**2)) + correlation * float(np.sum(scaled)) ** 2
    return mean, math.sqrt(max(variance, 0.0))


class DemandDistribution:
    """Demand over a period: negative binomial when over-dispersed, Poisson when not, normal for very large means.

    scipy's distributions are called with their parameters rather than frozen: freezing one costs a millisecond,
    which is most of the time of a few thousand SKUs.
    """

    def __init__(self, mean: float, std: float) -> None:
        self.mean = max(float(mean), 0.0)
        variance = max(float(std), 0.0) ** 2
        if self.mean < 1e-9:  # nothing to stock for (and scipy's quantiles degenerate)
            self.kind, self.family, self.args = "zero", None, ()
        elif self.mean > NORMAL_ABOVE_MEAN:
            self.kind, self.family, self.args = "normal", stats.norm, (self.mean, max(math.sqrt(variance), 1e-9))
        elif variance > self.mean * 1.05:  # nearly Poisson: the negative binomial's n would explode
            p = self.mean / variance
            self.kind, self.family, self.args = "negative_binomial", stats.nbinom, (self.mean * p / (1.0 - p), p)
        else:
            self.kind, self.family, self.args = "poisson", stats.poisson, (self.mean,)

    @property
    def dist(self):
        """The frozen scipy distribution (None for no demand); for inspection, not for the hot path."""
        return self.family(*self.args) if self.family is not None else None

    def quantile(self, probability: float) -> int:
        value = float(self.family.ppf(probability, *self.args)) if self.family is not None else 0.0
        return max(0, math.ceil(value - 1e-9)) if math.isfinite(value) else 0

    def upper(self) -> int:
        if not hasattr(self, "_upper"):
            self._upper = self.quantile(1 - 1e-7) + 1
        return self._upper

    def expected_shortage(self, levels: np.ndarray) -> np.ndarray:
        """E[(D - s)^+] for each whole level s."""
        levels = np.asarray(levels, dtype=float)
        if self.family is None:
            return np.zeros_like(levels)
        if self.kind == "normal":
            sigma = self.args[1]
            z = (levels - self.mean) / sigma
            return sigma * (stats.norm.pdf(z) - z * stats.norm.sf(z))
        top = int(max(levels.max(initial=0), self.upper()))
        if getattr(self, "_curve_top", -1) < top:  # the cumulative sums, computed once per distribution
            support = np.arange(top + 1)
            pmf = self.family.pmf(support, *self.args)
            self._cdf, self._partial, self._curve_top = np.cumsum(pmf), np.cumsum(support * pmf), top
        cdf, partial = self._cdf, self._partial
        index = np.clip(levels.astype(int), 0, self._curve_top)
        # E[(D-s)^+] = mean - s + sum_{d<=s} (s - d) p(d)
        return np.maximum(self.mean - levels + levels * cdf[index] - partial[index], 0.0)


def protection_level(
    protection: DemandDistribution,
    lead_time: DemandDistribution,
    review_demand: float,
    service_level: float,
    service_measure: str,
) -> tuple[int, float]:
    """(the order-up-to level, its expected fill rate) for a cycle-service or fill-rate target."""
    if protection.family is None:
        return 0, 1.0
    if service_measure == "cycle":
        level = protection.quantile(service_level)
        return level, fill_rate(protection, lead_time, review_demand, np.array([level]))[0]
    candidates = np.arange(protection.upper() + 1)
    fill = fill_rate(protection, lead_time, review_demand, candidates)
    reached = np.flatnonzero(fill >= service_level)
    index = int(reached[0]) if len(reached) else len(candidates) - 1
    return int(candidates[index]), float(fill[index])


def fill_rate(protection, lead_time, review_demand, levels) -> np.ndarray:
    """Share of a review period's demand served from stock with an order-up-to level: the shortage per cycle is what
    the protection period's demand exceeds the level by, less what was already short before the cycle began."""
    if review_demand <= 0:
        return np.ones(len(levels))
    shortage = protection.expected_shortage(levels) - lead_time.expected_shortage(levels)
    return np.clip(1.0 - np.maximum(shortage, 0.0) / review_demand, 0.0, 1.0)


def sku_demand(
    means: np.ndarray,
    sigmas: np.ndarray,
    lead_time: float,
    review_period: float,
    lead_time_std: float,
    correlation: float,
    calibration: Calibration | None = None,
) -> tuple[DemandDistribution, DemandDistribution, float]:
    """One SKU's demand over the lead time and over the protection period (with the lead time's variability), and
    the latter's standard deviation."""
    mean_lead, std_lead = calibrated_moments(means, sigmas, lead_time, correlation, calibration)
    mean_protect, std_protect = calibrated_moments(means, sigmas, lead_time + review_period, correlation, calibration)
    per_period = mean_protect / (lead_time + review_period)
    extra = (per_period * lead_time_std) ** 2
    if extra > 0:
        std_lead = math.sqrt(std_lead**2 + extra)
        std_protect = math.sqrt(std_protect**2 + extra)
    return DemandDistribution(mean_lead, std_lead), DemandDistribution(mean_protect, std_protect), std_protect


def calibrated_moments(
    means: np.ndarray,
    sigmas: np.ndarray,
    length: float,
    correlation: float,
    calibration: Calibration | None,
) -> tuple[float, float]:
    """A window's demand mean and standard deviation, calibrated when a calibration is given."""
    mean, std = window_moments(means, sigmas, length, correlation)
    return calibration.moments(mean, std) if calibration is not None else (mean, std)


def served_curves_per_sku(
    frame: pd.DataFrame,
    lead_time: float | pd.Series,
    review_period: float | pd.Series,
    correlation: float = DEFAULT_CORRELATION,
    calibration: Calibration | None = None,
) -> tuple[pd.Index, list[np.ndarray], np.ndarray]:
    """Per SKU of a forecast frame: the expected units served per review period at each order-up-to level 0, 1, ...
    (non-decreasing) and the expected review-period demand. Returns (ids, curves, review demand), in id order."""
    frame = frame.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    ids = pd.Index(frame["unique_id"].unique(), name="unique_id")
    lead = per_sku(lead_time, ids, "lead_time").to_numpy(float)
    review = per_sku(review_period, ids, "review_period").to_numpy(float)
    sigma = period_sigma(frame).to_numpy(float)
    means_all = frame["mean"].to_numpy(float).clip(min=0.0)
    codes = frame["unique_id"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[bounds[1:], len(frame)]
    curves, review_demand = [], np.zeros(len(ids))
    for position, (first, last) in enumerate(zip(bounds, ends, strict=True)):
        means, sigmas = means_all[first:last], sigma[first:last]
        L, R = lead[position], review[position]
        lead_dist, protect, _ = sku_demand(means, sigmas, L, R, 0.0, correlation, calibration)
        review_demand[position] = max(protect.mean - lead_dist.mean, 0.0)
        if protect.family is None or review_demand[position] <= 0:
            curves.append(np.array([review_demand[position]]))
            continue
        levels = np.arange(protect.upper() + 1)
        short = np.maximum(protect.expected_shortage(levels) - lead_dist.expected_shortage(levels), 0.0)
        # served units per cycle at each level, made non-decreasing (a level never serves less than a lower one)
        curves.append(np.maximum.accumulate(review_demand[position] - short))
    return ids, curves, review_demand
