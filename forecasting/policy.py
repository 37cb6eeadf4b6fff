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

import numpy as np
import pandas as pd

from forecasting.distribution import (
    DEFAULT_CORRELATION,
    Calibration,
    DemandDistribution,
    fill_rate,
    per_sku,
    period_sigma,
    protection_level,
    served_curves_per_sku,
    sku_demand,
)

SERVICE_MEASURES = ("cycle", "fill_rate")


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
    lead = per_sku(lead_time, ids, "lead_time")
    review = per_sku(review_period, ids, "review_period")
    service = per_sku(service_level, ids, "service_level")
    if ((service <= 0) | (service >= 1)).any():
        raise ValueError("service_level must lie strictly between 0 and 1")
    if (lead < 0).any() or (review <= 0).any():
        raise ValueError("lead_time must be >= 0 and review_period > 0")
    stock = per_sku(on_hand, ids, "on_hand", 0.0).clip(lower=0.0)
    incoming = per_sku(on_order, ids, "on_order", 0.0).clip(lower=0.0)
    min_order = per_sku(moq, ids, "moq", 1)
    pack = per_sku(case_pack, ids, "case_pack", 1)
    lead_std = per_sku(lead_time_std, ids, "lead_time_std", 0.0)
    order_cost = per_sku(ordering_cost, ids, "ordering_cost", 0.0)
    hold_cost = per_sku(holding_cost, ids, "holding_cost", 0.0)
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
        lead_dist, protect_dist, std_protect = sku_demand(
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
            fill = float(fill_rate(protect_dist, lead_dist, review_demand, np.array([order_up_to]))[0])
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
    values = per_sku(unit_value, ids, "unit_value", 1.0).to_numpy(float)
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
    fill_by_sku = [
        float(curve[level] / demand) if demand > 0 else 1.0
        for curve, level, demand in zip(served_curves, chosen, review_demand, strict=True)
    ]
    return pd.DataFrame({"unique_id": ids, "order_up_to": chosen, "expected_fill_rate": fill_by_sku})
