"""A replenishment policy replayed over a store's earlier forecast runs against what then sold.

A fill rate computed from a forecast is only as right as the forecast's distribution: forecasts that run below demand
(a store ramping up into its peak season) or intervals too narrow for the lumps of wholesale orders serve less than
they promise. The store's own record says by how much: the policy is replayed period by period as it would have run
(each review reads the latest run made before it, an order arrives a lead time later, what the shelf cannot serve is
lost), at many settings at once. The calibrations built on it keep the setting that served the target, as a
conformal calibration keeps the level of an interval that covered: `forecasting.protection.calibrate_fill_target`
for the store-wide allocation, `forecasting.fill_calibration.fit_fill_calibration` for `reorder_levels`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.distribution import period_sigma, window_moments
from forecasting.tracking import track_forecasts

# The forecast runs used: the latest ones with complete windows, as the store's phase changes over the year.
DEFAULT_RUNS = 2


def latest_complete_runs(
    past_forecasts: Mapping[pd.Timestamp, pd.DataFrame], length: int, as_of: pd.Timestamp, runs: int
) -> list[pd.Timestamp]:
    """The cutoffs of the `runs` latest runs with at least one window of `length` periods ended by `as_of`."""
    complete = []
    for cutoff in sorted(past_forecasts, reverse=True):
        periods = pd.DatetimeIndex(past_forecasts[cutoff]["ds"]).unique().sort_values()
        if len(periods) >= length and periods[length - 1] <= as_of:
            complete.append(cutoff)
        if len(complete) == runs:
            break
    return complete


@dataclass(frozen=True)
class PolicyReplay:
    """A replay of the policy against what sold: the periods from the first period of the earliest of the `runs`
    latest runs with a protection period ended by `as_of`, up to `as_of`; the runs read (those made from then on);
    the items (the latest run's) and their demand per period."""

    past_forecasts: Mapping[pd.Timestamp, pd.DataFrame]
    sales: pd.DataFrame
    usable: list[pd.Timestamp]
    periods: pd.DatetimeIndex
    ids: pd.Index
    demand: np.ndarray
    lead_time: int
    review_period: int

    @classmethod
    def find(
        cls,
        past_forecasts: Mapping[pd.Timestamp, pd.DataFrame],
        history: pd.DataFrame,
        lead_time: int,
        review_period: int,
        as_of: pd.Timestamp,
        runs: int,
    ) -> PolicyReplay | None:
        """The replay ended by `as_of` (None: no run has a protection period ended by then)."""
        lead_time, review_period = int(lead_time), max(int(review_period), 1)
        if lead_time < 0:
            raise ValueError("lead_time must be >= 0")
        cutoffs = sorted(latest_complete_runs(past_forecasts, lead_time + review_period, as_of, runs))
        if not cutoffs:
            return None
        usable = sorted(cutoff for cutoff in past_forecasts if cutoffs[0] <= cutoff < as_of)
        # the periods: every period of the runs used, up to as_of (the runs' own labels, whatever the frequency)
        first = pd.Timestamp(past_forecasts[cutoffs[0]]["ds"].min())
        labels = pd.DatetimeIndex(np.concatenate([past_forecasts[cutoff]["ds"].to_numpy() for cutoff in usable]))
        periods = labels[(labels >= first) & (labels <= as_of)].unique().sort_values()
        ids = pd.Index(past_forecasts[usable[-1]]["unique_id"].unique(), name="unique_id")
        sales = history[history["ds"] <= as_of]
        demand = (
            sales[sales["unique_id"].isin(ids) & sales["ds"].isin(periods)]
            .pivot_table(index="unique_id", columns="ds", values="y", aggfunc="sum")
            .reindex(index=ids, columns=periods)
            .fillna(0.0)
            .clip(lower=0.0)
            .to_numpy()
        )
        return cls(past_forecasts, sales, usable, periods, ids, demand, lead_time, review_period)

    def ahead(self, period: pd.Timestamp, tracking_prior: float | None) -> pd.DataFrame:
        """The forecast a review at `period` reads: the latest run made before it, from `period` on, tracked against
        the periods sold since the run when `tracking_prior` is given (`forecasting.tracking`)."""
        frame = self.past_forecasts[max(c for c in self.usable if c < period)]
        if tracking_prior is None:
            return frame[frame["ds"] >= period]
        # the periods labelled before this one have been sold
        return track_forecasts(frame, self.sales, period - pd.Timedelta(days=1), prior_units=tracking_prior)

    def protection_windows(self, tracking_prior: float | None, correlation: float) -> pd.DataFrame:
        """One row per item and review whose protection period has ended: `mean, std` of the demand over it as the
        forecast read at the review says, and the `actual` demand (`fit_protection_calibration`'s input)."""
        length = self.lead_time + self.review_period
        parts = []
        for index in range(0, len(self.periods) - length + 1, self.review_period):
            frame = self.ahead(self.periods[index], tracking_prior).sort_values(["unique_id", "ds"])
            if frame.empty:
                continue
            sigma = period_sigma(frame).to_numpy(float)
            means = frame["mean"].to_numpy(float).clip(min=0.0)
            codes = frame["unique_id"].to_numpy()
            bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
            rows = self.ids.get_indexer(codes[bounds])
            moments = [
                window_moments(means[first:last], sigma[first:last], length, correlation)
                for first, last in zip(bounds, np.r_[bounds[1:], len(frame)], strict=True)
            ]
            actual = self.demand[:, index : index + length].sum(axis=1)
            parts.append(
                pd.DataFrame(
                    {
                        "mean": [mean for mean, _ in moments],
                        "std": [std for _, std in moments],
                        "actual": np.where(rows >= 0, actual[rows], 0.0),
                    }
                )[rows >= 0]
            )
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["mean", "std", "actual"])

    def run(
        self, levels_of: Callable[[pd.DataFrame], np.ndarray], tracking_prior: float | None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Replay a policy whose order-up-to levels at a review, one column per variant of it, `levels_of` reads from
        the forecast frame of the periods ahead (`ahead`). Returns the units served by each variant and each item's
        demand, over the measured periods, and the count of those periods.

        - at each review (every `review_period` periods) the policy orders up to its levels; an order arrives
          `lead_time` periods later;
        - demand is what was sold; what the stock cannot serve is lost, as in a shop;
        - stock starts at the first levels, so the first protection period (lead time plus review) is a warm-up
          whose demand is not measured.
        """
        on_hand = None
        # orders on their way, oldest first: the one placed `lead_time` periods ago arrives at the start of this one
        in_transit: deque = deque()
        served, demanded, measured = None, np.zeros(len(self.ids)), 0
        for index, period in enumerate(self.periods):
            if index % self.review_period == 0:
                levels = np.asarray(levels_of(self.ahead(period, tracking_prior)), dtype=float)
                if on_hand is None:
                    on_hand = levels.copy()
                    in_transit.extend(np.zeros_like(on_hand) for _ in range(self.lead_time))
                    served = np.zeros(on_hand.shape[1])
            if self.lead_time:
                on_hand += in_transit.popleft()
            order = np.zeros_like(on_hand)
            if index % self.review_period == 0:
                order = np.maximum(levels - on_hand - sum(in_transit, np.zeros_like(on_hand)), 0.0)
            if self.lead_time:
                in_transit.append(order)
            else:  # on the shelf for this period's demand
                on_hand += order
            sold_now = np.minimum(on_hand, self.demand[:, index, None])
            on_hand -= sold_now
            if index >= self.lead_time + self.review_period:
                served += sold_now.sum(axis=0)
                demanded += self.demand[:, index]
                measured += 1
        return (served if served is not None else np.zeros(0)), demanded, measured
