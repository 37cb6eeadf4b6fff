"""The fill-rate calibration of `reorder_levels`: the policy replayed over earlier forecast runs against what sold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecasting.fill_calibration import (
    MAX_FILL_SETTING,
    MIN_FILL_SETTING,
    FillRateCalibration,
    _item_levels_by_setting,
    fit_fill_calibration,
)
from forecasting.policy import allocate_fill_rate, reorder_levels

Z95 = stats.norm.ppf(0.975)
LEAD_TIME, REVIEW = 2, 1


def run_frame(means, relative_std, start):
    """One forecast run: `means` per item (rows) and week (columns) from `start`, 95% intervals of the given
    relative width."""
    means = np.atleast_2d(np.asarray(means, float))
    weeks = pd.date_range(start, periods=means.shape[1], freq="W-SUN")
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"item{i:03d}" for i in range(means.shape[0])], means.shape[1]),
            "ds": np.tile(weeks, means.shape[0]),
            "mean": means.ravel(),
        }
    )
    spread = Z95 * relative_std * frame["mean"]
    return frame.assign(**{"lo-95": frame["mean"] - spread, "hi-95": frame["mean"] + spread})


def lost_sales_fill(demand: np.ndarray, order_up_to: np.ndarray) -> float:
    """Weekly review up to fixed levels, orders arriving LEAD_TIME weeks later, lost sales: the share served."""
    on_hand = order_up_to.astype(float).copy()
    pipeline = np.zeros((len(on_hand), demand.shape[1] + LEAD_TIME + 1))
    served = 0.0
    for week in range(demand.shape[1]):
        on_hand += pipeline[:, week]
        position = on_hand + pipeline[:, week + 1 : week + LEAD_TIME + 1].sum(axis=1)
        pipeline[:, week + LEAD_TIME] += np.maximum(order_up_to - position, 0.0)
        sold = np.minimum(on_hand, demand[:, week])
        on_hand -= sold
        served += sold.sum()
    return served / demand.sum()


def test_a_fill_calibration_asks_more_of_a_target_and_never_less():
    # given no calibration learnt, then a target is asked as it stands
    assert FillRateCalibration().setting(0.95) == pytest.approx(0.95)
    # given forecasts that understated the shortage 2.5 times, then 95% is asked as 98%, for any target
    calibration = FillRateCalibration(shortage_factor=2.5, n_windows=20)
    assert calibration.setting(0.95) == pytest.approx(0.98)
    assert calibration.setting(np.array([0.9, 0.95])) == pytest.approx([0.96, 0.98])
    # given forecasts that served more than they promised, then less is asked
    assert FillRateCalibration(shortage_factor=0.5).setting(0.95) == pytest.approx(0.9)
    # and the setting stays within its range, or at a target beyond it
    assert FillRateCalibration(shortage_factor=500.0).setting(0.95) == pytest.approx(MAX_FILL_SETTING)
    assert FillRateCalibration(shortage_factor=0.01).setting(0.95) == pytest.approx(MIN_FILL_SETTING)
    assert FillRateCalibration(shortage_factor=500.0).setting(0.9995) == pytest.approx(0.9995)


def test_the_replay_reads_reorder_levels_at_every_setting_at_once():
    # given fast, slow, lumpy and idle items
    rng = np.random.default_rng(11)
    means = rng.gamma(0.6, 30.0, (30, 6)) * (rng.uniform(size=(30, 1)) > 0.1)
    frame = run_frame(means, rng.uniform(0.1, 1.5, (30, 6)).ravel(), "2026-01-04")
    settings = np.array([0.5, 0.8, 0.95, 0.99, 0.999])
    ids = pd.Index(sorted(frame["unique_id"].unique()))
    # when the replay's levels are read at every setting at once
    found_ids, levels = _item_levels_by_setting(
        frame, ids, np.tile(settings, (len(ids), 1)), LEAD_TIME, REVIEW, 0.3, 0.5
    )
    # then they are reorder_levels' order-up-to levels at each setting
    assert list(found_ids) == list(ids)
    for column, setting in enumerate(settings):
        table = reorder_levels(frame, LEAD_TIME, REVIEW, setting, "fill_rate", lead_time_std=0.3)
        assert (levels[:, column] == table.set_index("unique_id").order_up_to.reindex(ids).to_numpy()).all()


def test_the_uncalibrated_levels_stand_and_a_calibration_raises_them():
    frame = run_frame([[40.0] * 6, [3.0] * 6], 0.3, "2026-01-04")
    plain = reorder_levels(frame, LEAD_TIME, REVIEW, 0.95, "fill_rate")
    # given the identity calibration, then the levels are the uncalibrated ones
    identity = reorder_levels(frame, LEAD_TIME, REVIEW, 0.95, "fill_rate", calibration=FillRateCalibration())
    pd.testing.assert_frame_equal(identity, plain)
    # given forecasts that understated the shortage 3 times, then the levels are those of a 1 - 5%/3 target
    calibration = FillRateCalibration(shortage_factor=3.0, n_windows=20)
    calibrated = reorder_levels(frame, LEAD_TIME, REVIEW, 0.95, "fill_rate", calibration=calibration)
    asked = reorder_levels(frame, LEAD_TIME, REVIEW, 1 - 0.05 / 3, "fill_rate")
    pd.testing.assert_frame_equal(calibrated, asked)
    assert (calibrated.order_up_to >= plain.order_up_to).all()
    assert calibrated.order_up_to.sum() > plain.order_up_to.sum()
    # a fill calibration is refused where it does not apply: cycle service, and the store-wide allocation
    with pytest.raises(ValueError, match="fill_rate"):
        reorder_levels(frame, LEAD_TIME, REVIEW, 0.95, "cycle", calibration=calibration)
    with pytest.raises(ValueError, match="calibrate_fill_target"):
        allocate_fill_rate(frame, LEAD_TIME, REVIEW, 0.95, calibration=calibration)


@pytest.mark.parametrize(
    ("level", "relative_std"),
    [(0.8, 0.15), (1.0, 0.05), (1.2, 0.15)],
    ids=["low and narrow", "right level, too narrow", "high"],
)
def test_a_fill_calibration_serves_the_target_on_weeks_it_never_saw(level, relative_std):
    # given 150 items of steady but lumpy weekly demand (negative binomial, 0.3 of extra variance per squared unit of
    # mean), and forecast runs every 4 weeks that say `level` times it with intervals of `relative_std`
    rng = np.random.default_rng(2026)
    items, weeks = 150, 72
    rate = rng.lognormal(2.5, 1.0, items)
    variance = rate + 0.3 * rate**2
    size, probability = (rate**2 / (variance - rate))[:, None], (rate / variance)[:, None]
    demand = rng.negative_binomial(size, probability, (items, weeks)).astype(float)
    calendar = pd.date_range("2026-01-04", periods=weeks, freq="W-SUN")
    forecast_rate = np.tile(level * rate[:, None], (1, 8))
    runs = {c: run_frame(forecast_rate, relative_std, c + pd.Timedelta(weeks=1)) for c in calendar[3:24:4]}
    ids = [f"item{i:03d}" for i in range(items)]
    sold = pd.DataFrame({"unique_id": np.repeat(ids, weeks), "ds": np.tile(calendar, items), "y": demand.ravel()})
    as_of = calendar[23]

    # when the calibration is fitted on the runs and sales up to week 24 only
    calibration = fit_fill_calibration(runs, sold, LEAD_TIME, REVIEW, 0.95, as_of=as_of, runs=4)

    # then its replay served the target, on weeks 12..24 (weeks 9..11 are the replay's warm-up)
    assert calibration.backtest_fill == pytest.approx(0.95, abs=0.005)
    assert calibration.n_windows == 16 - LEAD_TIME - REVIEW
    assert (calibration.lead_time, calibration.review_period) == (LEAD_TIME, REVIEW)
    # and on the 48 weeks after it, which it never saw, the calibrated levels serve 95% within the sampling noise
    frame = run_frame(forecast_rate, relative_std, as_of + pd.Timedelta(weeks=1))
    plain = reorder_levels(frame, LEAD_TIME, REVIEW, 0.95, "fill_rate").order_up_to.to_numpy()
    calibrated = reorder_levels(frame, LEAD_TIME, REVIEW, 0.95, "fill_rate", calibration=calibration)
    future = demand[:, 24:]
    assert lost_sales_fill(future, calibrated.order_up_to.to_numpy()) == pytest.approx(0.95, abs=0.02)
    if level <= 1.0:  # where the forecasts promised too much, the uncalibrated levels fall well short
        assert calibration.uncalibrated_fill < 0.9
        assert lost_sales_fill(future, plain) < 0.9
    else:  # where they forecast too much, less stock serves the target
        assert calibrated.order_up_to.sum() < plain.sum()
    # and nothing sold after as_of was read
    later = sold.assign(y=np.where(sold.ds > as_of, 1e6, sold.y))
    assert fit_fill_calibration(runs, later, LEAD_TIME, REVIEW, 0.95, as_of=as_of, runs=4) == calibration


def test_a_fill_calibration_weighs_each_items_target_by_its_demand():
    # given a run that is right about one fast and one slow item, with intervals to match
    cutoff = pd.Timestamp("2026-01-04")
    runs = {cutoff: run_frame([[100.0] * 12, [4.0] * 12], 0.1, cutoff + pd.Timedelta(weeks=1))}
    weeks = pd.date_range("2026-01-11", periods=12, freq="W-SUN")
    sold = pd.DataFrame({"unique_id": np.repeat(["item000", "item001"], 12), "ds": np.tile(weeks, 2), "y": 100.0})
    sold.loc[sold.unique_id == "item001", "y"] = 4.0
    # when each item has its own target, then the one a calibration must reach is their demand-weighted mean
    targets = pd.Series({"item000": 0.9, "item001": 0.99})
    calibration = fit_fill_calibration(runs, sold, LEAD_TIME, REVIEW, targets, as_of=weeks[-1])
    assert calibration.n_windows == 12 - LEAD_TIME - REVIEW
    assert calibration.backtest_fill >= (0.9 * 100 + 0.99 * 4) / 104 - 1e-9
    # a Series must cover the runs' items, and with no run old enough the calibration is the identity
    with pytest.raises(ValueError, match="service_level"):
        fit_fill_calibration(runs, sold, LEAD_TIME, REVIEW, targets.head(1), as_of=weeks[-1])
    empty = fit_fill_calibration(runs, sold, LEAD_TIME, REVIEW, 0.95, as_of=cutoff)
    assert empty.n_windows == 0
    assert empty.setting(0.95) == pytest.approx(0.95)
