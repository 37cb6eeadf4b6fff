"""Inventory policy: from a probabilistic forecast to reorder points, order-up-to levels and order quantities.

The policy is a periodic review, order-up-to policy (R, S): every review period R the planner orders enough to bring
the inventory position (on hand + on order) up to S, and what is ordered arrives a lead time L later. S must cover the
demand of the protection period L + R at the service target; the reorder point is the same protection over the lead
time alone: a position below it will probably stock out before any order placed now can arrive.

Demand over a protection period is the sum of several forecast periods. Its mean is the sum of their means; its
spread is not the sum of their quantiles (that overstates it) nor, in general, the root of the summed variances
(that understates it, because a forecast that has the level wrong has it wrong in every period): the periods' errors
are combined with a correlation `correlation` between 0 (independent) and 1 (one common error). Each period's
standard deviation comes from the forecast's own widest interval. Lead-time uncertainty adds the squared mean demand
per period times the lead time's variance. The demand is then modelled by a discrete distribution with that mean and
variance (negative binomial when it is over-dispersed, else Poisson), so slow and intermittent items get whole-unit
levels with the right skew, and the levels are its quantile (cycle service) or the smallest level whose expected
shortage per cycle is small enough (fill rate).

Those levels deliver their service level only if the forecast's mean and intervals are right about the demand. Past
forecasts next to what then sold say whether they were: `forecasting.fill_calibration` replays this policy over a
store's earlier forecast runs and learns what a fill-rate target must ask of the forecasts to be served;
`reorder_levels(..., calibration=...)` applies it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

SERVICE_MEASURES = ("cycle", "fill_rate")
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


COLUMNS = [
    "unique_id",
    "lead_time_demand",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "suggested_qty",
    "days_of_cover",
    "stockout_date",
    "expected_fill_rate",
    "protection_demand",
    "protection_std",
]


def _per_sku(value, ids: pd.Index, name: str, default=None) -> pd.Series:
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
        return level, _fill_rate(protection, lead_time, review_demand, np.array([level]))[0]
    candidates = np.arange(protection.upper() + 1)
    fill = _fill_rate(protection, lead_time, review_demand, candidates)
    reached = np.flatnonzero(fill >= service_level)
    index = int(reached[0]) if len(reached) else len(candidates) - 1
    return int(candidates[index]), float(fill[index])


def _fill_rate(protection, lead_time, review_demand, levels) -> np.ndarray:
    """Share of a review period's demand served from stock with an order-up-to level: the shortage per cycle is what
    the protection period's demand exceeds the level by, less what was already short before the cycle began."""
    if review_demand <= 0:
        return np.ones(len(levels))
    shortage = protection.expected_shortage(levels) - lead_time.expected_shortage(levels)
    return np.clip(1.0 - np.maximum(shortage, 0.0) / review_demand, 0.0, 1.0)


def round_order(quantity: float, moq: int, case_pack: int) -> int:
    """A whole order of at least the MOQ, in whole cases (0 stays 0)."""
    if quantity <= 0:
        return 0
    quantity = max(math.ceil(quantity - 1e-9), int(moq))
    pack = max(int(case_pack), 1)
    return int(math.ceil(quantity / pack) * pack)


def economic_order_quantity(annual_demand: float, ordering_cost: float, holding_cost: float) -> float:
    """Wilson's EOQ: sqrt(2 D K / h), with h the holding cost of a unit for a year."""
    if annual_demand <= 0 or ordering_cost <= 0 or holding_cost <= 0:
        return 0.0
    return math.sqrt(2.0 * annual_demand * ordering_cost / holding_cost)


def reorder_levels(
    forecasts: pd.DataFrame,
    lead_time: float | pd.Series,
    review_period: float | pd.Series,
    service_level: float | pd.Series,
    service_measure: str = "cycle",
    on_hand: pd.Series | None = None,
    on_order: pd.Series | None = None,
    moq: int | pd.Series = 1,
    case_pack: int | pd.Series = 1,
    lead_time_std: float | pd.Series | None = None,
    correlation: float = DEFAULT_CORRELATION,
    ordering_cost: float | pd.Series | None = None,
    holding_cost: float | pd.Series | None = None,
    periods_per_year: float | None = None,
    calibration: Calibration | None = None,
) -> pd.DataFrame:
    """Reorder point, order-up-to level and suggested order per SKU from `forecast_many`'s output.

    `lead_time`, `review_period` and `lead_time_std` are in forecast periods (scalars, or Series by unique_id);
    `service_level` is a probability (0.5..0.9999) read as cycle service (no stock-out in a replenishment cycle) or,
    with `service_measure="fill_rate"`, as the share of demand served from stock. `on_hand` and `on_order` default to 0.
    With `ordering_cost` (per order) and `holding_cost` (per unit and year) an order is at least the EOQ.
    Quantities are whole and never negative, orders rounded up to the MOQ and to whole case packs.

    Without `calibration` the levels are uncalibrated: they reach the service level only if the forecast's mean and
    intervals are right about the demand (`expected_fill_rate` is what the forecast itself expects); forecasts that
    run below demand, or intervals too narrow for its lumps, serve less. A `FillRateCalibration` (`fit_fill_calibration`
    in `forecasting.fill_calibration`, from earlier runs and what then sold) asks a fill-rate target of the forecasts
    as the setting that served it when this policy was replayed on them. A `ProtectionCalibration`
    (`forecasting.protection`) corrects the forecast's moments over the lead time and the protection period.
    """
    if service_measure not in SERVICE_MEASURES:
        raise ValueError(f"service_measure must be one of {SERVICE_MEASURES}, not {service_measure!r}")
    frame = forecasts.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    ids = pd.Index(frame["unique_id"].unique(), name="unique_id")
    lead = _per_sku(lead_time, ids, "lead_time")
    review = _per_sku(review_period, ids, "review_period")
    service = _per_sku(service_level, ids, "service_level")
    if ((service <= 0) | (service >= 1)).any():
        raise ValueError("service_level must lie strictly between 0 and 1")
    if (lead < 0).any() or (review <= 0).any():
        raise ValueError("lead_time must be >= 0 and review_period > 0")
    stock = _per_sku(on_hand, ids, "on_hand", 0.0).clip(lower=0.0)
    incoming = _per_sku(on_order, ids, "on_order", 0.0).clip(lower=0.0)
    min_order = _per_sku(moq, ids, "moq", 1)
    pack = _per_sku(case_pack, ids, "case_pack", 1)
    lead_std = _per_sku(lead_time_std, ids, "lead_time_std", 0.0)
    order_cost = _per_sku(ordering_cost, ids, "ordering_cost", 0.0)
    hold_cost = _per_sku(holding_cost, ids, "holding_cost", 0.0)
    stamps = pd.DatetimeIndex(frame["ds"]).unique().sort_values()
    steps = np.diff(stamps.to_numpy()).astype("timedelta64[s]").astype(float) / 86400.0
    period_days = float(np.median(steps)) if len(steps) else 7.0
    per_year = periods_per_year or 365.25 / period_days
    sigma = period_sigma(frame).to_numpy(float)
    all_means = frame["mean"].to_numpy(float).clip(min=0.0)
    lead, review, service, lead_std = (x.to_numpy(float) for x in (lead, review, service, lead_std))
    if calibration is not None:
        service = np.asarray(calibration.setting(service, service_measure), dtype=float)
    stock, incoming, min_order, pack = (x.to_numpy(float) for x in (stock, incoming, min_order, pack))
    order_cost, hold_cost = order_cost.to_numpy(float), hold_cost.to_numpy(float)
    bounds = np.flatnonzero(np.r_[True, frame["unique_id"].to_numpy()[1:] != frame["unique_id"].to_numpy()[:-1]])
    ends = np.r_[bounds[1:], len(frame)]
    rows = []
    for position, (first, last) in enumerate(zip(bounds, ends, strict=True)):
        unique_id = frame["unique_id"].iat[first]
        means, sigmas = all_means[first:last], sigma[first:last]
        dates = frame["ds"].iloc[first:last]
        L, R = lead[position], review[position]
        lead_dist, protect_dist, std_protect = _sku_demand(
            means, sigmas, L, R, lead_std[position], correlation, calibration
        )
        mean_lead, mean_protect = lead_dist.mean, protect_dist.mean
        review_demand = mean_protect - mean_lead
        target = service[position]
        order_up_to, fill = protection_level(protect_dist, lead_dist, review_demand, target, service_measure)
        if service_measure == "cycle":
            reorder_point = lead_dist.quantile(target)
        else:
            reorder_point = _lead_time_fill_level(lead_dist, mean_lead, target)
        # whatever the review period's share, the target position covers at least the lead time
        if reorder_point > order_up_to:
            order_up_to = reorder_point
            fill = float(_fill_rate(protect_dist, lead_dist, review_demand, np.array([order_up_to]))[0])
        position_now = stock[position] + incoming[position]
        need = order_up_to - position_now
        eoq = economic_order_quantity(mean_protect / (L + R) * per_year, order_cost[position], hold_cost[position])
        quantity = round_order(max(need, eoq) if need > 0 else 0.0, min_order[position], pack[position])
        rows.append(
            {
                "unique_id": unique_id,
                "lead_time_demand": mean_lead,
                "safety_stock": max(order_up_to - mean_protect, 0.0),
                "reorder_point": int(reorder_point),
                "order_up_to": int(order_up_to),
                "suggested_qty": int(quantity),
                **_cover(stock[position], means, dates, period_days),
                "expected_fill_rate": fill,
                "protection_demand": mean_protect,
                "protection_std": std_protect,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _sku_demand(
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
    mean_lead, std_lead = _moments(means, sigmas, lead_time, correlation, calibration)
    mean_protect, std_protect = _moments(means, sigmas, lead_time + review_period, correlation, calibration)
    per_period = mean_protect / (lead_time + review_period)
    extra = (per_period * lead_time_std) ** 2
    if extra > 0:
        std_lead = math.sqrt(std_lead**2 + extra)
        std_protect = math.sqrt(std_protect**2 + extra)
    return DemandDistribution(mean_lead, std_lead), DemandDistribution(mean_protect, std_protect), std_protect


def _moments(
    means: np.ndarray,
    sigmas: np.ndarray,
    length: float,
    correlation: float,
    calibration: Calibration | None,
) -> tuple[float, float]:
    """A window's demand mean and standard deviation, calibrated when a calibration is given."""
    mean, std = window_moments(means, sigmas, length, correlation)
    return calibration.moments(mean, std) if calibration is not None else (mean, std)


def _lead_time_fill_level(lead_dist: DemandDistribution, mean_lead: float, target: float) -> int:
    """The smallest stock that serves the target share of the lead time's demand."""
    if lead_dist.family is None or mean_lead <= 0:
        return 0
    levels = np.arange(lead_dist.upper() + 1)
    served = 1.0 - lead_dist.expected_shortage(levels) / mean_lead
    reached = np.flatnonzero(served >= target)
    return int(levels[reached[0]]) if len(reached) else int(levels[-1])


def _cover(on_hand: float, means: np.ndarray, dates: pd.Series, period_days: float) -> dict:
    """Days the stock on hand lasts at the forecast rate, and the day it runs out (None: not within the forecast)."""
    daily = float(np.mean(means)) / period_days if len(means) else 0.0
    days = on_hand / daily if daily > 0 else math.inf
    cumulative = np.cumsum(means)
    stockout = None
    if on_hand <= 0:
        stockout = pd.Timestamp(dates.iloc[0]) - pd.Timedelta(days=period_days - 1)
    elif len(cumulative) and cumulative[-1] >= on_hand:
        step = int(np.argmax(cumulative >= on_hand))
        before = cumulative[step - 1] if step else 0.0
        share = (on_hand - before) / means[step] if means[step] > 0 else 0.0
        start = pd.Timestamp(dates.iloc[step]) - pd.Timedelta(days=period_days - 1)
        stockout = start + pd.Timedelta(days=math.floor(share * period_days))
    return {"days_of_cover": days, "stockout_date": stockout}


def abc_classes(revenue: pd.Series, shares: Sequence[float] = (0.8, 0.95)) -> pd.Series:
    """A for the items making the first 80% of revenue, B the next 15%, C the rest (cumulative, largest first)."""
    ordered = revenue.clip(lower=0).sort_values(ascending=False)
    total = ordered.sum()
    if total <= 0:
        return pd.Series("C", index=revenue.index)
    before = (ordered.cumsum() - ordered) / total  # the share reached before each item
    labels = np.where(before < shares[0], "A", np.where(before < shares[1], "B", "C"))
    return pd.Series(labels, index=ordered.index).reindex(revenue.index)


def xyz_classes(history: pd.DataFrame, cutoffs: Sequence[float] = (0.5, 1.0)) -> pd.Series:
    """X (steady), Y (variable) or Z (erratic) by the coefficient of variation of each series' period demand."""
    grouped = history.groupby("unique_id")["y"]
    mean = grouped.mean()
    cv = grouped.std(ddof=0) / mean.where(mean > 0)
    labels = np.where(cv.isna(), "Z", np.where(cv <= cutoffs[0], "X", np.where(cv <= cutoffs[1], "Y", "Z")))
    return pd.Series(labels, index=cv.index)


def stock_flags(
    on_hand: pd.Series,
    daily_demand: pd.Series,
    days_since_sale: pd.Series,
    overstock_days: float = 180,
    dead_days: float = 90,
) -> pd.DataFrame:
    """Overstock (stock covering more than `overstock_days` at the forecast rate) and dead stock (stock on hand and
    nothing sold for `dead_days`), per SKU."""
    ids = on_hand.index
    rate = daily_demand.reindex(ids).fillna(0.0)
    cover = on_hand / rate.where(rate > 0)
    overstock = (on_hand > 0) & (cover.isna() | (cover > overstock_days))
    dead = (on_hand > 0) & (days_since_sale.reindex(ids).fillna(math.inf) >= dead_days)
    return pd.DataFrame({"overstock": overstock, "dead_stock": dead}, index=ids)


def allocate_fill_rate(
    frame: pd.DataFrame,
    lead_time: float | pd.Series,
    review_period: float | pd.Series,
    target: float,
    unit_value: pd.Series | None = None,
    correlation: float = DEFAULT_CORRELATION,
    calibration: Calibration | None = None,
) -> pd.DataFrame:
    """Order-up-to levels that reach a fill rate `target` over all SKUs together at the least stock value.

    Store owners mean "95% of what customers ask for is in stock", not "every SKU at 95%": a unit of stock on a fast
    seller serves far more demand than one on a slow, lumpy one. Each SKU's level is raised while the demand one
    more unit serves (per cycle, from its demand distribution), divided by its value, is above a price lambda that is
    the same for all; lambda is searched so that the expected served share of all review-period demand is `target`.
    `calibration` (`forecasting.protection`) corrects each SKU's demand distribution by what past forecasts got wrong:
    without it the expected fill rate is only as right as the forecast's mean and intervals.
    Returns `unique_id, order_up_to, expected_fill_rate` (per SKU).
    """
    if calibration is not None:
        target = float(calibration.setting(np.asarray(target, dtype=float), "store_fill_rate"))
    ids, served_curves, review_demand = served_curves_per_sku(frame, lead_time, review_period, correlation, calibration)
    values = _per_sku(unit_value, ids, "unit_value", 1.0).to_numpy(float)
    values = np.where(values > 0, values, np.nanmedian(values[values > 0]) if (values > 0).any() else 1.0)
    total = review_demand.sum()

    def levels_at(price: float) -> tuple[np.ndarray, float]:
        chosen = np.zeros(len(ids), dtype=int)
        served = 0.0
        for position, curve in enumerate(served_curves):
            # the gain of a unit rises, then falls (a lumpy item's first units rarely serve a whole order): stop
            # after the last unit still worth its price
            gains = np.diff(curve) / values[position]
            worth = np.flatnonzero(gains > price)
            chosen[position] = int(worth[-1]) + 1 if len(worth) else 0
            served += curve[chosen[position]]
        return chosen, served / total if total > 0 else 1.0

    low, high = 1e-12, 1e3
    chosen, fill = levels_at(low)
    if fill >= target:
        for _ in range(60):
            middle = math.sqrt(low * high)
            trial, reached = levels_at(middle)
            if reached >= target:
                low, chosen, fill = middle, trial, reached
            else:
                high = middle
    per_sku = [
        float(curve[level] / demand) if demand > 0 else 1.0
        for curve, level, demand in zip(served_curves, chosen, review_demand, strict=True)
    ]
    return pd.DataFrame({"unique_id": ids, "order_up_to": chosen, "expected_fill_rate": per_sku})


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
    lead = _per_sku(lead_time, ids, "lead_time").to_numpy(float)
    review = _per_sku(review_period, ids, "review_period").to_numpy(float)
    sigma = period_sigma(frame).to_numpy(float)
    means_all = frame["mean"].to_numpy(float).clip(min=0.0)
    codes = frame["unique_id"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[bounds[1:], len(frame)]
    curves, review_demand = [], np.zeros(len(ids))
    for position, (first, last) in enumerate(zip(bounds, ends, strict=True)):
        means, sigmas = means_all[first:last], sigma[first:last]
        L, R = lead[position], review[position]
        lead_dist, protect, _ = _sku_demand(means, sigmas, L, R, 0.0, correlation, calibration)
        review_demand[position] = max(protect.mean - lead_dist.mean, 0.0)
        if protect.family is None or review_demand[position] <= 0:
            curves.append(np.array([review_demand[position]]))
            continue
        levels = np.arange(protect.upper() + 1)
        short = np.maximum(protect.expected_shortage(levels) - lead_dist.expected_shortage(levels), 0.0)
        # served units per cycle at each level, made non-decreasing (a level never serves less than a lower one)
        curves.append(np.maximum.accumulate(review_demand[position] - short))
    return ids, curves, review_demand
