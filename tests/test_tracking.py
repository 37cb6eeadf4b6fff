"""Tracking a forecast run against the sales since it was made (`forecasting.tracking`)."""

import numpy as np
import pandas as pd
import pytest

from forecasting.tracking import DEFAULT_PRIOR_UNITS, track_forecasts, tracking_factors

WEEKS = pd.date_range("2026-03-01", periods=8, freq="W-SUN")


def run(**items):
    """A run forecasting a constant weekly mean per item, with an 80% interval of +-50%."""
    rows = []
    for unique_id, mean in items.items():
        for ds in WEEKS:
            rows.append({"unique_id": unique_id, "ds": ds, "mean": mean, "lo-80": 0.5 * mean, "hi-80": 1.5 * mean})
    return pd.DataFrame(rows)


def sold(**items):
    """Weekly sales per item over the run's first weeks: a list of units per week."""
    rows = [
        {"unique_id": unique_id, "ds": WEEKS[week], "y": units}
        for unique_id, weekly in items.items()
        for week, units in enumerate(weekly)
    ]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def test_before_any_period_has_ended_the_run_is_read_as_it_is():
    # given a run and no sales yet
    forecasts = run(fast=100.0, slow=1.0)

    # when it is tracked at its cutoff (the day before its first week ends)
    ahead = track_forecasts(forecasts, sold(), WEEKS[0] - pd.Timedelta(days=1))

    # then nothing changed
    pd.testing.assert_frame_equal(ahead, forecasts)


def test_a_fast_seller_follows_its_sales_and_a_slow_one_barely_moves():
    # given a fast item that sold twice its forecast in three weeks, and a slow one that sold 2 units against 1
    forecasts = run(fast=500.0, slow=1.0 / 3.0)
    sales = sold(fast=[1000, 1000, 1000], slow=[0, 2, 0])

    # when the run is tracked after those three weeks
    factors = tracking_factors(forecasts, sales, WEEKS[2])
    ahead = track_forecasts(forecasts, sales, WEEKS[2])

    # then the fast item's factor is nearly its sales ratio, the slow one's stays near 1 (the prior's 20 units)
    assert factors["fast"] == pytest.approx((DEFAULT_PRIOR_UNITS + 3000) / (DEFAULT_PRIOR_UNITS + 1500))
    assert factors["fast"] > 1.95
    assert 1.0 < factors["slow"] < 1.1
    # and only the weeks still ahead are returned, mean and bounds scaled alike
    assert set(ahead["ds"]) == set(WEEKS[3:])
    fast = ahead[ahead.unique_id == "fast"]
    assert fast["mean"].to_numpy() == pytest.approx(500.0 * factors["fast"])
    assert (fast["hi-80"] / fast["mean"]).to_numpy() == pytest.approx(1.5)
    assert (fast["lo-80"] / fast["mean"]).to_numpy() == pytest.approx(0.5)


def test_an_item_that_did_not_sell_is_scaled_down_and_a_single_wholesale_order_is_bounded():
    # given items forecast at 10 and 100 a week that sold nothing, and one forecast at 5 that got an order of 10,000
    forecasts = run(quiet=10.0, silent=100.0, lumpy=5.0)
    sales = sold(quiet=[0, 0], silent=[0, 0], lumpy=[10_000, 0])

    # when tracked after two weeks
    factors = tracking_factors(forecasts, sales, WEEKS[1])

    # then the quiet item is scaled down by the evidence, the silent one no lower than 1/4, the lumpy one capped at 4x
    assert factors["quiet"] == pytest.approx(DEFAULT_PRIOR_UNITS / (DEFAULT_PRIOR_UNITS + 20))
    assert factors["silent"] == pytest.approx(0.25)
    assert factors["lumpy"] == pytest.approx(4.0)
    ahead = track_forecasts(forecasts, sales, WEEKS[1])
    assert (ahead["mean"] >= 0).all()
    assert (ahead["lo-80"] <= ahead["mean"]).all()
    assert (ahead["mean"] <= ahead["hi-80"]).all()


def test_sales_outside_the_elapsed_periods_and_of_other_items_are_ignored():
    # given sales after the tracking date and of an item the run does not know
    forecasts = run(item=10.0)
    sales = pd.concat([sold(item=[10, 10]), sold(other=[999])])
    later = pd.DataFrame({"unique_id": ["item"], "ds": [WEEKS[5]], "y": [5_000]})

    # when tracked after two weeks with and without the later sale
    with_later = tracking_factors(forecasts, pd.concat([sales, later]), WEEKS[1])
    without = tracking_factors(forecasts, sales, WEEKS[1])

    # then the later sale changes nothing: sales matched the forecast
    assert list(with_later.index) == ["item"]
    assert with_later["item"] == pytest.approx(without["item"]) == pytest.approx(1.0)


def test_an_item_with_every_period_ended_is_dropped():
    forecasts = run(item=10.0)
    ahead = track_forecasts(forecasts, sold(item=[10] * 8), WEEKS[-1])
    assert ahead.empty
    assert list(ahead.columns) == list(forecasts.columns)


@pytest.mark.parametrize(
    ("prior", "bounds", "message"),
    [(0.0, (0.25, 4.0), "prior_units"), (-1.0, (0.25, 4.0), "prior_units"), (20.0, (1.5, 4.0), "bounds")],
)
def test_bad_settings_are_refused(prior, bounds, message):
    with pytest.raises(ValueError, match=message):
        tracking_factors(run(item=1.0), sold(), WEEKS[0], prior_units=prior, bounds=bounds)


def test_factors_are_deterministic_and_vectorised_over_many_items():
    # given 500 items with random forecasts and sales
    rng = np.random.default_rng(0)
    forecasts = run(**{f"item{i}": float(m) for i, m in enumerate(rng.gamma(1.0, 20.0, 500))})
    sales = sold(**{f"item{i}": list(rng.poisson(20.0, 3)) for i in range(500)})

    # when tracked twice
    first = tracking_factors(forecasts, sales, WEEKS[2])
    second = tracking_factors(forecasts, sales, WEEKS[2])

    # then the results agree, every item has a factor within the bounds
    pd.testing.assert_series_equal(first, second)
    assert len(first) == 500
    assert first.between(0.25, 4.0).all()
