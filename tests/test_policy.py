"""Inventory policy maths (pure): textbook cases, aggregation over periods, rounding, and properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from forecasting.distribution import DemandDistribution, window_moments
from forecasting.policy import (
    abc_classes,
    economic_order_quantity,
    reorder_levels,
    round_order,
    stock_flags,
    xyz_classes,
)

Z95 = stats.norm.ppf(0.975)


def forecast(means, sigmas, unique_id="sku", start="2026-01-04"):
    """A forecast frame whose 95% interval implies the given per-period standard deviations."""
    means, sigmas = np.asarray(means, float), np.asarray(sigmas, float)
    ds = pd.date_range(start, periods=len(means), freq="W-SUN")
    return pd.DataFrame(
        {
            "unique_id": unique_id,
            "ds": ds,
            "mean": means,
            "lo-95": means - Z95 * sigmas,
            "hi-95": means + Z95 * sigmas,
            "model": "test",
        }
    )


def test_normal_demand_matches_the_textbook_order_up_to_level():
    # given large normal demand: 30,000 a week with a standard deviation of 3,000, independent weeks
    frame = forecast([30_000] * 8, [3_000] * 8)
    # when lead time is 2 weeks and review 1 week at 95% cycle service
    row = reorder_levels(frame, lead_time=2, review_period=1, service_level=0.95, correlation=0.0).iloc[0]
    # then S = 3 * 30,000 + z(0.95) * 3,000 * sqrt(3), and the reorder point covers the lead time alone
    z = stats.norm.ppf(0.95)
    assert abs(row.order_up_to - (90_000 + z * 3_000 * math.sqrt(3))) <= 1
    assert abs(row.reorder_point - (60_000 + z * 3_000 * math.sqrt(2))) <= 1
    assert row.lead_time_demand == pytest.approx(60_000)
    assert row.safety_stock == pytest.approx(row.order_up_to - 90_000)
    # and the fill rate is the normal loss function's: 1 - sigma G(z) / review demand
    sigma = 3_000 * math.sqrt(3)
    k = (row.order_up_to - 90_000) / sigma
    loss = sigma * (stats.norm.pdf(k) - k * stats.norm.sf(k))
    assert row.expected_fill_rate == pytest.approx(1 - loss / 30_000, abs=1e-4)


def test_poisson_demand_gets_the_poisson_quantile():
    # given slow demand of 2 a week whose intervals are narrower than a Poisson's
    frame = forecast([2.0] * 6, [1.0] * 6)
    row = reorder_levels(frame, lead_time=2, review_period=1, service_level=0.95).iloc[0]
    # then the levels are the Poisson quantiles of 6 and 4 units
    assert row.order_up_to == stats.poisson(6).ppf(0.95)
    assert row.reorder_point == stats.poisson(4).ppf(0.95)


def test_fill_rate_level_is_the_smallest_meeting_the_target():
    # given normal-like demand and a 95% fill-rate target
    frame = forecast([200.0] * 6, [60.0] * 6)
    row = reorder_levels(frame, 2, 1, 0.95, service_measure="fill_rate", correlation=0.0).iloc[0]
    # then the expected fill rate reaches the target, and one unit less does not
    protection = DemandDistribution(600, 60 * math.sqrt(3))
    lead = DemandDistribution(400, 60 * math.sqrt(2))

    def fill(level):
        short = protection.expected_shortage(np.array([level]))[0] - lead.expected_shortage(np.array([level]))[0]
        return 1 - short / 200

    assert row.expected_fill_rate >= 0.95
    assert fill(row.order_up_to) == pytest.approx(row.expected_fill_rate)
    assert fill(row.order_up_to - 1) < 0.95
    # and a 95% fill rate needs less stock than 95% cycle service (most shortfalls are small)
    cycle = reorder_levels(frame, 2, 1, 0.95, service_measure="cycle", correlation=0.0).iloc[0]
    assert row.order_up_to < cycle.order_up_to


def test_demand_over_several_periods_is_not_the_sum_of_their_quantiles():
    frame = forecast([50.0] * 4, [20.0] * 4)
    summed_quantiles = 4 * DemandDistribution(50, 20).quantile(0.95)
    independent = reorder_levels(frame, 3, 1, 0.95, correlation=0.0).iloc[0].order_up_to
    partly = reorder_levels(frame, 3, 1, 0.95, correlation=0.5).iloc[0].order_up_to
    common = reorder_levels(frame, 3, 1, 0.95, correlation=1.0).iloc[0].order_up_to
    # the spread of a sum grows with the errors' correlation, and only a common error adds up like the quantiles
    assert independent < partly < common
    assert common == pytest.approx(summed_quantiles, rel=0.05)
    mean, std = window_moments(np.full(4, 50.0), np.full(4, 20.0), 2.5, correlation=0.0)
    assert mean == pytest.approx(125.0)
    assert std == pytest.approx(math.sqrt(2 * 400 + 0.25 * 400))


def test_lead_time_variability_raises_the_levels():
    frame = forecast([30.0] * 8, [8.0] * 8)
    steady = reorder_levels(frame, 2, 1, 0.95).iloc[0]
    variable = reorder_levels(frame, 2, 1, 0.95, lead_time_std=1.0).iloc[0]
    assert variable.order_up_to > steady.order_up_to
    assert variable.protection_std == pytest.approx(math.hypot(steady.protection_std, 30.0))


def test_orders_round_up_to_moq_and_case_packs_and_consider_stock_on_hand_and_on_order():
    frame = forecast([10.0] * 6, [4.0] * 6)
    level = reorder_levels(frame, 2, 1, 0.9).iloc[0].order_up_to
    ids = pd.Index(["sku"])
    # 8 short of the level (3 of the position on order): the MOQ of 24 is two cases of 12
    stock, incoming = pd.Series([level - 11], ids), pd.Series([3], ids)
    row = reorder_levels(frame, 2, 1, 0.9, on_hand=stock, on_order=incoming, moq=24, case_pack=12).iloc[0]
    assert row.suggested_qty == 24
    # 35 short: three cases
    row = reorder_levels(frame, 2, 1, 0.9, on_hand=stock - 27, on_order=incoming, moq=24, case_pack=12).iloc[0]
    assert row.suggested_qty == 36
    row = reorder_levels(frame, 2, 1, 0.9, on_hand=pd.Series([level], ids)).iloc[0]
    assert row.suggested_qty == 0
    assert round_order(0, 5, 6) == 0
    assert round_order(7.2, 1, 1) == 8
    assert round_order(13, 10, 6) == 18
    # with ordering and holding costs an order is at least the economic order quantity
    assert economic_order_quantity(1_000, 50, 2.5) == pytest.approx(math.sqrt(2 * 1_000 * 50 / 2.5))
    costly = reorder_levels(frame, 2, 1, 0.9, ordering_cost=200.0, holding_cost=1.0).iloc[0]
    assert costly.suggested_qty >= round(economic_order_quantity(10 * 365.25 / 7, 200, 1.0))


def test_cover_and_stockout_date():
    frame = forecast([7.0, 7.0, 14.0, 14.0], [2.0] * 4, start="2026-01-04")
    row = reorder_levels(frame, 1, 1, 0.9, on_hand=pd.Series([21.0], pd.Index(["sku"]))).iloc[0]
    # 21 units at an average of 10.5 a week last two weeks; they run out half way through the week ending Jan 18
    assert row.days_of_cover == pytest.approx(21 / (10.5 / 7))
    assert row.stockout_date == pd.Timestamp("2026-01-15")
    empty = reorder_levels(frame, 1, 1, 0.9).iloc[0]
    assert empty.stockout_date == pd.Timestamp("2025-12-29")
    assert empty.days_of_cover == 0


def test_zero_demand_needs_nothing():
    row = reorder_levels(forecast([0.0] * 4, [0.0] * 4), 2, 1, 0.99).iloc[0]
    assert (row.order_up_to, row.reorder_point, row.suggested_qty) == (0, 0, 0)
    assert row.expected_fill_rate == 1.0


def test_bad_arguments_are_refused_clearly():
    frame = forecast([5.0] * 4, [2.0] * 4)
    with pytest.raises(ValueError, match="service_measure"):
        reorder_levels(frame, 2, 1, 0.95, service_measure="vibes")
    with pytest.raises(ValueError, match="strictly between"):
        reorder_levels(frame, 2, 1, 1.0)
    with pytest.raises(ValueError, match="lead_time is missing"):
        reorder_levels(frame, pd.Series({"other": 2.0}), 1, 0.95)
    with pytest.raises(ValueError, match="no intervals"):
        reorder_levels(frame[["unique_id", "ds", "mean"]], 2, 1, 0.95)


def test_abc_xyz_and_stock_flags():
    revenue = pd.Series({"a": 800.0, "b": 120.0, "c": 50.0, "d": 30.0})
    # an item is classed by the share of revenue reached before it: 0%, 80%, 92%, 97%
    assert abc_classes(revenue).to_dict() == {"a": "A", "b": "B", "c": "B", "d": "C"}
    history = pd.DataFrame(
        {"unique_id": ["x"] * 4 + ["y"] * 4 + ["z"] * 4, "y": [10, 11, 9, 10, 2, 18, 5, 15, 0, 0, 30, 0]}
    )
    assert xyz_classes(history).to_dict() == {"x": "X", "y": "Y", "z": "Z"}
    flags = stock_flags(
        on_hand=pd.Series({"fast": 10.0, "slow": 500.0, "dead": 4.0}),
        daily_demand=pd.Series({"fast": 1.0, "slow": 1.0, "dead": 0.0}),
        days_since_sale=pd.Series({"fast": 1, "slow": 3, "dead": 200}),
    )
    assert flags.overstock.to_dict() == {"fast": False, "slow": True, "dead": True}
    assert flags.dead_stock.to_dict() == {"fast": False, "slow": False, "dead": True}


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(0.0, 500.0),
    periods=st.integers(1, 8),
    spread=st.floats(0.0, 2.0),
    lead=st.floats(0.0, 6.0),
    review=st.floats(0.5, 4.0),
    service=st.floats(0.5, 0.999),
    measure=st.sampled_from(["cycle", "fill_rate"]),
)
def test_levels_are_whole_non_negative_and_monotone(rate, periods, spread, lead, review, service, measure):
    # Steady demand: with a forecast that falls away, a longer lead time can rightly need less for the review period
    # that then lies in the quiet weeks.
    frame = forecast([rate] * periods, np.full(periods, rate * spread / 2 + 0.1))
    base = reorder_levels(frame, lead, review, service, service_measure=measure).iloc[0]
    for column in ("reorder_point", "order_up_to", "suggested_qty"):
        assert base[column] >= 0
        assert float(base[column]).is_integer()
    assert base.reorder_point <= base.order_up_to
    # more service or a longer lead time never needs less stock
    higher = reorder_levels(frame, lead, review, min(service + 0.0009, 0.9999), service_measure=measure).iloc[0]
    longer = reorder_levels(frame, lead + 1, review, service, service_measure=measure).iloc[0]
    assert higher.order_up_to >= base.order_up_to
    assert longer.order_up_to >= base.order_up_to
    assert longer.reorder_point >= base.reorder_point


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(0.01, 1.5),
    moq=st.integers(1, 50),
    pack=st.integers(1, 24),
    on_hand=st.integers(0, 30),
)
def test_an_intermittent_sku_gets_whole_orders_in_packs_of_at_least_the_moq(rate, moq, pack, on_hand):
    # given an item that sells a unit or two in a few weeks, with wide count intervals
    frame = forecast([rate] * 6, [math.sqrt(rate) * 2] * 6)
    row = reorder_levels(frame, 2, 1, 0.95, on_hand=pd.Series([on_hand], pd.Index(["sku"])), moq=moq, case_pack=pack)
    quantity = row.iloc[0].suggested_qty
    assert quantity >= 0
    assert float(quantity).is_integer()
    if quantity:
        assert quantity >= moq
        assert quantity % pack == 0
        assert on_hand < row.iloc[0].order_up_to


def test_a_store_wide_fill_rate_puts_stock_where_it_serves_most_demand():
    from forecasting.policy import allocate_fill_rate

    # given a steady fast seller and a lumpy slow one of the same unit value
    fast = forecast([100.0] * 6, [15.0] * 6, unique_id="fast")
    slow = forecast([2.0] * 6, [4.0] * 6, unique_id="slow")
    frame = pd.concat([fast, slow], ignore_index=True)

    # when the store as a whole must serve 95% of demand
    table = allocate_fill_rate(frame, 2, 1, 0.95, correlation=0.0).set_index("unique_id")

    # then the expected served share of all demand is at least 95%, with the fast seller served best
    demand = {"fast": 100.0, "slow": 2.0}
    served = sum(table.loc[sku, "expected_fill_rate"] * demand[sku] for sku in demand)
    assert served / sum(demand.values()) >= 0.95
    assert table.loc["fast", "expected_fill_rate"] > table.loc["slow", "expected_fill_rate"]
    # and it needs less stock than every SKU at 95% on its own
    each = reorder_levels(frame, 2, 1, 0.95, service_measure="fill_rate", correlation=0.0).set_index("unique_id")
    assert table["order_up_to"].sum() <= each["order_up_to"].sum()
    # a higher target never needs less
    higher = allocate_fill_rate(frame, 2, 1, 0.99, correlation=0.0).set_index("unique_id")
    assert (higher["order_up_to"] >= table["order_up_to"]).all()


def test_the_identity_calibration_keeps_the_forecast_moments():
    from forecasting.protection import ProtectionCalibration

    # given no calibration learnt, then a window's moments are the forecast's own
    assert ProtectionCalibration().moments(12.5, 3.0) == (12.5, 3.0)
    # and a learnt one scales the mean and adds the negative binomial's over-dispersion to the rescaled spread
    mean, std = ProtectionCalibration(mean_factor=1.5, spread_factor=2.0, dispersion=3.0, n_windows=500).moments(10, 2)
    assert mean == pytest.approx(15.0)
    assert std == pytest.approx(math.sqrt(4.0 * 15.0 + (2.0 * 1.5 * 2.0) ** 2))


def test_a_calibration_recovers_a_known_bias_and_over_dispersion():
    from forecasting.protection import fit_protection_calibration

    # given forecasts that fall short of demand by a third, whose own spread is 20% too narrow, and demand that is
    # negative binomial with an extra variance of 4 units per unit of mean
    rng = np.random.default_rng(7)
    forecast_mean = rng.uniform(2.0, 200.0, 6_000)
    forecast_std = 0.3 * forecast_mean
    mean = 1.5 * forecast_mean
    variance = 5.0 * mean + (1.2 * 1.5 * forecast_std) ** 2
    actual = rng.negative_binomial(mean**2 / (variance - mean), mean / variance)
    backtest = pd.DataFrame({"mean": forecast_mean, "std": forecast_std, "actual": actual})
    # when the calibration is fitted on those windows
    calibration = fit_protection_calibration(backtest)
    # then it finds the bias, the spread and the over-dispersion
    assert calibration.mean_factor == pytest.approx(1.5, rel=0.03)
    assert calibration.spread_factor == pytest.approx(1.2, rel=0.1)
    assert calibration.dispersion == pytest.approx(4.0, rel=0.25)
    # and too few windows teach nothing
    assert fit_protection_calibration(backtest.head(20)).n_windows == 0


def test_a_backtest_only_reads_windows_ended_by_its_date_from_the_latest_runs():
    from forecasting.protection import protection_backtest

    # given three weekly runs of 8 weeks, 4 weeks apart, and demand of 10 a week
    cutoffs = [pd.Timestamp(day) for day in ("2026-01-04", "2026-02-01", "2026-03-01")]
    runs = {cutoff: forecast([8.0] * 8, [2.0] * 8, start=cutoff + pd.Timedelta(weeks=1)) for cutoff in cutoffs}
    weeks = pd.date_range("2025-12-07", "2026-06-28", freq="W-SUN")
    history = pd.DataFrame({"unique_id": "sku", "ds": weeks, "y": 10.0})
    # when the 3-week windows ended by 2026-03-01 are read from the two latest runs
    windows = protection_backtest(runs, history, 3, as_of=pd.Timestamp("2026-03-01"), runs=2)
    # then the run made that day is not used (none of its windows has ended), nor any demand after that day
    assert set(windows["cutoff"]) == {cutoffs[0], cutoffs[1]}
    assert (windows[windows.cutoff == cutoffs[1]]["offset"].max()) == 1  # weeks 2026-02-08..03-01
    assert (windows["actual"] == 30.0).all()
    assert windows["mean"].to_numpy() == pytest.approx(24.0)


def test_a_fill_target_calibration_asks_more_of_forecasts_that_fell_short():
    from forecasting.policy import allocate_fill_rate
    from forecasting.protection import calibrate_fill_target

    # given runs that forecast 100 a week for a fast seller and 5 for a slow one
    cutoffs = [pd.Timestamp("2026-01-04"), pd.Timestamp("2026-02-01")]

    def run(cutoff):
        start = cutoff + pd.Timedelta(weeks=1)
        return pd.concat(
            [forecast([100.0] * 8, [20.0] * 8, "fast", start), forecast([5.0] * 8, [3.0] * 8, "slow", start)]
        )

    runs = {cutoff: run(cutoff) for cutoff in cutoffs}
    weeks = pd.date_range("2025-12-07", "2026-03-29", freq="W-SUN")
    as_of = pd.Timestamp("2026-03-01")

    def history(level):
        return pd.DataFrame({"unique_id": np.repeat(["fast", "slow"], len(weeks)), "ds": np.tile(weeks, 2), "y": level})

    # when demand was what they forecast, then the setting is the target itself
    right = calibrate_fill_target(runs, history(np.r_[[100.0] * len(weeks), [5.0] * len(weeks)]), 2, 1, 0.9, as_of)
    assert right.nominal_target == pytest.approx(0.9)
    assert right.backtest_fill >= 0.9
    # when demand was 60% above the forecasts, then the setting is higher, and it buys at least as much stock
    above = history(np.r_[[160.0] * len(weeks), [8.0] * len(weeks)])
    short = calibrate_fill_target(runs, above, 2, 1, 0.9, as_of)
    assert short.nominal_target > right.nominal_target
    assert short.n_windows == right.n_windows == 5  # 8 weeks replayed (2026-01-11..03-01), 3 of warm-up
    frame = run(as_of)
    levels = allocate_fill_rate(frame, 2, 1, right.nominal_target).order_up_to.sum()
    assert allocate_fill_rate(frame, 2, 1, short.nominal_target).order_up_to.sum() >= levels
    # when the policy tracks each run against the weeks sold since it, then it needs to ask for less
    tracked = calibrate_fill_target(runs, above, 2, 1, 0.9, as_of, tracking_prior=20.0)
    assert tracked.nominal_target < short.nominal_target
    assert tracked.backtest_fill >= 0.9
    # and demand after as_of is never read
    later = above.assign(y=np.where(above.ds > as_of, 1e6, above.y))
    assert calibrate_fill_target(runs, later, 2, 1, 0.9, as_of, tracking_prior=20.0) == tracked


def test_the_fill_target_replay_loses_what_stock_cannot_serve():
    from forecasting.protection import calibrate_fill_target

    # given one run forecasting 10 a week (sd 3) and demand of 10 a week, with one order of 1,000 in week 5
    cutoff = pd.Timestamp("2026-01-04")
    runs = {cutoff: forecast([10.0] * 12, [3.0] * 12, "item", cutoff + pd.Timedelta(weeks=1))}
    weeks = pd.date_range("2026-01-11", periods=10, freq="W-SUN")
    sales = np.full(len(weeks), 10.0)
    sales[4] = 1_000.0
    history = pd.DataFrame({"unique_id": "item", "ds": weeks, "y": sales})

    # when the setting is calibrated for 90% after 10 weeks
    found = calibrate_fill_target(runs, history, 2, 1, 0.9, weeks[-1])

    # then the big order cannot be served at any setting (the ceiling is returned with what it served), and the
    # weeks after it are served in full: a lost sale leaves no backlog
    assert found.nominal_target == pytest.approx(0.999)
    assert found.n_windows == 7
    measured = 1_000.0 + 6 * 10.0
    assert found.backtest_fill < 0.9
    assert found.backtest_fill * measured >= 6 * 10.0 - 1e-9


@settings(max_examples=30, deadline=None)
@given(
    rate=st.floats(0.5, 500.0),
    factor=st.floats(1.0, 2.0),
    dispersion=st.floats(0.0, 20.0),
    service=st.floats(0.6, 0.99),
)
def test_a_calibration_that_adds_demand_or_spread_never_lowers_the_levels(rate, factor, dispersion, service):
    from forecasting.protection import ProtectionCalibration

    frame = forecast([rate] * 6, [0.2 * rate] * 6)
    plain = reorder_levels(frame, 2, 1, service, service_measure="fill_rate").iloc[0]
    calibration = ProtectionCalibration(mean_factor=factor, dispersion=dispersion, n_windows=1_000)
    calibrated = reorder_levels(frame, 2, 1, service, service_measure="fill_rate", calibration=calibration).iloc[0]
    assert calibrated.order_up_to >= plain.order_up_to
    assert calibrated.protection_demand == pytest.approx(factor * plain.protection_demand)
