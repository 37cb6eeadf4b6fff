"""The fill rate of `reorder_levels`, calibrated on a store's own record.

`reorder_levels` reaches a fill-rate target only if the forecast's mean and intervals are right about the demand.
`fit_fill_calibration` replays the policy over the store's earlier forecast runs against what then sold
(`forecasting.replay`) and learns what a target must be asked of the forecasts to be served; the
`FillRateCalibration` it returns is passed to `reorder_levels(..., calibration=...)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.distribution import DEFAULT_CORRELATION, fill_rate, per_sku, period_sigma, sku_demand
from forecasting.protection import ProtectionCalibration, fit_protection_calibration
from forecasting.replay import DEFAULT_RUNS, PolicyReplay

# The range of fill rates a calibration asks of the forecasts (levels grow without bound as it nears 1).
MIN_FILL_SETTING, MAX_FILL_SETTING = 0.5, 0.999


@dataclass(frozen=True)
class FillRateCalibration:
    """What to ask of a store's forecasts so that `reorder_levels` serves a fill-rate target.

    Fitted by `fit_fill_calibration`, which replays `reorder_levels` over earlier forecast runs against what then
    sold. Two corrections, applied in turn:

    - `distribution` (a `forecasting.protection.ProtectionCalibration`; None, the forecasts as they are, unless no
      setting of them served the target): the demand's mean and spread over the lead time and the protection period,
      corrected by how the forecasts read at the reviews compared with what sold over those periods;
    - `shortage_factor`: the shortage per unit of demand ran `shortage_factor` times what the (corrected) forecasts
      promised, so a target t is asked of them as 1 - (1 - t) / shortage_factor (95% as 98% for a factor of 2.5;
      below 1 they served more than they promised and less is asked), within [`MIN_FILL_SETTING`,
      `MAX_FILL_SETTING`] (or at t beyond them).

    `backtest_fill` is the fill rate the replay served with both (short of the target only when the highest setting
    was), `uncalibrated_fill` the one it served with neither, `n_windows` the periods measured, `lead_time` and
    `review_period` those of the replay. The default is the identity (nothing learnt): the levels as they stand.
    """

    shortage_factor: float = 1.0
    backtest_fill: float = math.nan
    uncalibrated_fill: float = math.nan
    n_windows: int = 0
    lead_time: int = 0
    review_period: int = 1
    distribution: ProtectionCalibration | None = None

    def moments(self, mean: float, std: float) -> tuple[float, float]:
        """A window's demand moments: the forecast's, corrected by `distribution` when there is one."""
        return self.distribution.moments(mean, std) if self.distribution is not None else (float(mean), float(std))

    def setting(self, target: float | np.ndarray, service_measure: str = "fill_rate") -> float | np.ndarray:
        """The fill rate to ask of the (corrected) forecasts for a `target` (a scalar or an array of targets)."""
        if service_measure != "fill_rate":
            raise ValueError(
                "a FillRateCalibration calibrates reorder_levels' fill rate item by item (service_measure='fill_rate');"
                " the store-wide allocation's setting is calibrated by forecasting.protection.calibrate_fill_target"
            )
        target = np.asarray(target, dtype=float)
        asked = 1.0 - (1.0 - target) / self.shortage_factor
        low, high = np.minimum(target, MIN_FILL_SETTING), np.maximum(target, MAX_FILL_SETTING)
        setting = np.clip(asked, low, high)
        return float(setting) if setting.ndim == 0 else setting


# The shortage factors a fill calibration tries: log-spaced steps of 1% over the settings' range.
SHORTAGE_FACTOR_STEP = 1.01


def fit_fill_calibration(
    past_forecasts: Mapping[pd.Timestamp, pd.DataFrame],
    history: pd.DataFrame,
    lead_time: int,
    review_period: int,
    service_level: float | pd.Series,
    as_of: pd.Timestamp,
    runs: int = DEFAULT_RUNS,
    correlation: float = DEFAULT_CORRELATION,
    lead_time_std: float | pd.Series | None = None,
    tracking_prior: float | None = None,
) -> FillRateCalibration:
    """What `reorder_levels(..., service_measure="fill_rate")` must ask of a store's forecasts to serve its target.

    The policy is replayed (`forecasting.replay`) over the store's earlier forecast runs (`past_forecasts`: each run's
    cutoff, its last period of history, mapped to its `forecast_many` frame) against what then sold (`history`:
    `unique_id, ds, y` at the forecasts' frequency), with everything known by `as_of` and nothing after it. Every
    review orders up to `reorder_levels`' level for each item at each of a range of shortage factors at once (see
    `FillRateCalibration`); the factor kept is the smallest whose replay served the items' targets over all of them
    together (the demand-weighted mean of `service_level`, a probability or a Series by unique_id covering the runs'
    items). Only when no factor would have served them on the forecasts as they are (a level far below demand, or
    intervals far too narrow, are not made good by a higher setting) is the replay run again on their distribution
    corrected (`fit_protection_calibration`) on the replay's protection periods, the forecast each review read
    against what then sold, and the better of the two kept.

    The calibration is one for the store, not one per item: an item's few reviews would fit its noise, and a fill
    rate is made by the many items together. It holds for the lead time and review period replayed (whole periods)
    and for forecasts read as they were replayed: pass the same `correlation` and `lead_time_std` as to
    `reorder_levels` and, if it reads runs tracked against the sales since them (`forecasting.tracking`),
    `tracking_prior`. With no run old enough to replay, the identity comes back (`n_windows` 0).
    """
    replay = PolicyReplay.find(past_forecasts, history, lead_time, review_period, as_of, runs)
    fitted = {"lead_time": int(lead_time), "review_period": max(int(review_period), 1)}
    if replay is None:
        return FillRateCalibration(**fitted)
    targets = per_sku(service_level, replay.ids, "service_level").to_numpy(float)
    if ((targets <= 0) | (targets >= 1)).any():
        raise ValueError("service_level must lie strictly between 0 and 1")
    # the factors from one that asks MIN_FILL_SETTING of every item to one that asks MAX_FILL_SETTING, and 1
    lowest = min(float(np.min((1.0 - targets) / (1.0 - MIN_FILL_SETTING))), 1.0)
    highest = max(float(np.max((1.0 - targets) / (1.0 - MAX_FILL_SETTING))), 1.0)
    steps = np.arange(
        math.floor(math.log(lowest, SHORTAGE_FACTOR_STEP)), math.ceil(math.log(highest, SHORTAGE_FACTOR_STEP)) + 1
    )
    factors = SHORTAGE_FACTOR_STEP ** steps.astype(float)
    settings = np.stack([FillRateCalibration(shortage_factor=f).setting(targets) for f in factors], axis=1)

    def replayed(distribution: ProtectionCalibration | None) -> tuple[np.ndarray, int, bool, int]:
        """(the fill rate at each factor, the factor kept, whether it served the targets, the periods measured)"""

        def levels(ahead: pd.DataFrame) -> np.ndarray:
            out = np.zeros_like(settings)
            if ahead.empty:
                return out
            frame_ids, found = _item_levels_by_setting(
                ahead,
                replay.ids,
                settings,
                replay.lead_time,
                replay.review_period,
                lead_time_std,
                correlation,
                distribution,
            )
            rows = replay.ids.get_indexer(frame_ids)
            out[rows[rows >= 0]] = found[rows >= 0]
            return out

        served, demand, measured = replay.run(levels, tracking_prior)
        if measured == 0 or demand.sum() <= 0:
            return np.zeros(0), 0, False, 0
        reached = served >= float(targets @ demand) - 1e-9
        choice = int(np.argmax(reached)) if reached.any() else len(factors) - 1
        return served / demand.sum(), choice, bool(reached.any()), measured

    fill, choice, reached, measured = replayed(None)
    if not measured:
        return FillRateCalibration(**fitted)
    calibration = {"shortage_factor": float(factors[choice]), "backtest_fill": float(fill[choice])}
    if not reached:
        distribution = fit_protection_calibration(replay.protection_windows(tracking_prior, correlation))
        if distribution.n_windows:
            corrected_fill, corrected_choice, _, _ = replayed(distribution)
            if corrected_fill[corrected_choice] > fill[choice]:
                calibration = {
                    "shortage_factor": float(factors[corrected_choice]),
                    "backtest_fill": float(corrected_fill[corrected_choice]),
                    "distribution": distribution,
                }
    return FillRateCalibration(
        **calibration,
        uncalibrated_fill=float(fill[int(np.flatnonzero(steps == 0)[0])]),
        n_windows=measured,
        **fitted,
    )


def _item_levels_by_setting(
    forecasts: pd.DataFrame,
    ids: pd.Index,
    settings: np.ndarray,
    lead_time: float,
    review_period: float,
    lead_time_std: float | pd.Series | None,
    correlation: float,
    calibration: ProtectionCalibration | None = None,
) -> tuple[pd.Index, np.ndarray]:
    """`reorder_levels`' fill-rate order-up-to level of each item of a frame (rows, in id order) at each of its
    settings (columns: the rows of `settings` are those of `ids`), without the cost of a call per setting."""
    frame = forecasts.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    frame_ids = pd.Index(frame["unique_id"].unique(), name="unique_id")
    rows = ids.get_indexer(frame_ids)
    lead_std = per_sku(lead_time_std, frame_ids, "lead_time_std", 0.0).to_numpy(float)
    sigma = period_sigma(frame).to_numpy(float)
    all_means = frame["mean"].to_numpy(float).clip(min=0.0)
    codes = frame["unique_id"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[bounds[1:], len(frame)]
    levels = np.zeros((len(frame_ids), settings.shape[1]), dtype=float)
    for position, (first, last) in enumerate(zip(bounds, ends, strict=True)):
        if rows[position] < 0:  # an item the replay does not follow
            continue
        grid = settings[rows[position]]
        lead_dist, protect_dist, _ = sku_demand(
            all_means[first:last],
            sigma[first:last],
            lead_time,
            review_period,
            lead_std[position],
            correlation,
            calibration,
        )
        if protect_dist.family is None:
            continue
        candidates = np.arange(protect_dist.upper() + 1)
        review_demand = protect_dist.mean - lead_dist.mean
        # the first level whose fill reaches a setting is the first whose running maximum does
        fill = np.maximum.accumulate(fill_rate(protect_dist, lead_dist, review_demand, candidates))
        order_up_to = np.minimum(np.searchsorted(fill, grid, side="left"), len(candidates) - 1)
        if lead_dist.family is not None and lead_dist.mean > 0:
            covered = np.arange(lead_dist.upper() + 1)
            served = np.maximum.accumulate(1.0 - lead_dist.expected_shortage(covered) / lead_dist.mean)
            reorder_point = np.minimum(np.searchsorted(served, grid, side="left"), len(covered) - 1)
            order_up_to = np.maximum(order_up_to, reorder_point)
        levels[position] = order_up_to
    return frame_ids, levels
