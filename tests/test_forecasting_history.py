"""What the engine reads of a history and how it stamps its answer: the useful history of each series (a bounded
length, long silences, inactive items) and forecasts dated in the frequency and anchor that were asked for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data import (
    history_periods,
    history_start,
    periods_per_year,
    useful_start,
)
from forecasting.engine import forecast_many
from forecasting.models.lstm import GlobalLSTM
from forecasting.pipeline import prepare

# The frequencies the README lists, each with history stamped as pandas stamps it.
FREQUENCIES = ["D", "W-SUN", "W-WED", "MS", "ME", "QS", "QE", "YS", "YE"]


@pytest.mark.parametrize("freq", FREQUENCIES)
def test_forecasts_continue_the_history_in_its_own_frequency_and_anchor(freq):
    # given two series on the grid of `freq` (month starts for "MS", quarter ends for "QE", Wednesdays for "W-WED"...)
    # one of them a period shorter
    stamps = pd.date_range("2016-10-01", periods=30, freq=freq)
    history = pd.concat(
        [
            pd.DataFrame({"unique_id": "a", "ds": stamps, "y": np.arange(30.0) + 1}),
            pd.DataFrame({"unique_id": "b", "ds": stamps[:-1], "y": 5.0}),
        ]
    )

    # when forecast three periods ahead
    forecast = forecast_many(history, horizon=3, freq=freq, models="naive")

    # then the forecasts are stamped on the same grid, right after each series' last period, so that they join the
    # actuals on `ds`
    for unique_id, last in (("a", stamps[-1]), ("b", stamps[-1])):  # "b" runs to the common last period with a zero
        expected = pd.date_range(last, periods=4, freq=freq)[1:]
        assert list(forecast[forecast.unique_id == unique_id].ds) == list(expected)
    actuals = pd.DataFrame({"ds": pd.date_range(stamps[-1], periods=4, freq=freq)[1:], "y": 1.0})
    assert len(forecast.merge(actuals, on="ds")) == 6


def test_the_monthly_example_of_the_report_joins_its_actuals():
    # given month-start history from October 2016 with a yearly cycle, and the next year's actuals
    months = pd.date_range("2012-10-01", periods=60, freq="MS")
    y = 100 + 20 * np.sin(np.arange(60) * 2 * np.pi / 12)
    history = pd.DataFrame({"unique_id": "s", "ds": months[:48], "y": y[:48]})
    actuals = pd.DataFrame({"unique_id": "s", "ds": months[48:], "y": y[48:]})

    # when forecast 12 months ahead with a season of 12
    forecast = forecast_many(history, horizon=12, freq="MS", season_length=12, models="seasonal_naive")

    # then every forecast finds its actual
    joined = forecast.merge(actuals, on=["unique_id", "ds"])
    assert len(joined) == 12
    assert joined["ds"].dt.is_month_start.all()


@pytest.mark.parametrize(
    ("freq", "per_year", "kept"),
    [("D", 365, 1095), ("W-SUN", 52, 240), ("MS", 12, 240), ("QE", 4, 240)],
)
def test_the_useful_history_covers_three_years_and_at_least_240_periods(freq, per_year, kept):
    assert periods_per_year(freq) == per_year
    assert history_periods(freq) == kept


def test_a_long_history_is_cut_to_its_useful_length():
    # given fifteen years of weekly sales of an item that sells every week
    values = np.ones(52 * 15)

    # then only the last 240 weeks are read
    assert useful_start(values, "W-SUN") == len(values) - 240


def test_a_year_long_silence_ends_the_history_before_it():
    # given an item that sold for a while, was off sale for more than a year, and sells again
    values = np.r_[np.full(20, 5.0), np.zeros(60), np.full(8, 3.0)]

    # then its useful history starts with its return
    assert useful_start(values, "W-SUN") == 80
    # while a seasonal item's gap between two seasons (less than a year) keeps its history
    seasonal = np.r_[np.full(8, 9.0), np.zeros(44), np.full(8, 9.0), np.zeros(10)]
    assert useful_start(seasonal, "W-SUN") == 0


def test_an_item_dead_for_years_keeps_only_its_last_year_of_zeros():
    # given an item that sold in its first year and never since (ten years of zeros up to today)
    values = np.r_[np.full(52, 4.0), np.zeros(520)]

    # then it is cut to one year of zeros: inactive, not a history padded to today
    assert useful_start(values, "W-SUN") == len(values) - 52


def test_long_dead_and_silent_series_are_prepared_and_forecast_on_purpose():
    # given weekly history to today: an item alive for fifteen years, one dead for ten, one back after a silence
    weeks = pd.date_range("2011-12-04", "2026-11-29", freq="W-SUN")
    alive = pd.DataFrame({"unique_id": "alive", "ds": weeks, "y": 10.0})
    dead = pd.DataFrame({"unique_id": "dead", "ds": weeks[:200], "y": 3.0})
    back = pd.DataFrame({"unique_id": "back", "ds": weeks[-10:], "y": 6.0})
    early = pd.DataFrame({"unique_id": "back", "ds": weeks[:30], "y": 50.0})
    history = pd.concat([alive, dead, back, early], ignore_index=True)

    # when prepared to the last week
    series = {uid: (index, values) for uid, index, values in prepare(history, "W-SUN")}

    # then the live item keeps 240 weeks, the dead one its last year of zeros, the returning one its new life only
    assert len(series["alive"][1]) == 240
    assert len(series["dead"][1]) == 52
    assert not series["dead"][1].any()
    assert series["back"][1].tolist() == [6.0] * 10
    assert {index[-1] for index, _ in series.values()} == {weeks[-1]}

    # and the forecast calls the dead item inactive (zero, zero-width intervals) and forecasts the others
    forecast = forecast_many(history, horizon=4, freq="W-SUN")
    by_id = forecast.groupby("unique_id")
    assert set(by_id.get_group("dead").model) == {"inactive"}
    assert by_id.get_group("dead")[["mean", "lo-95", "hi-95"]].eq(0).all().all()
    assert by_id.get_group("alive")["mean"].between(9, 11).all()
    assert by_id.get_group("back")["mean"].between(4, 8).all()


def test_the_first_day_to_read_from_a_store_is_a_whole_period():
    # the history read for a run ending Sunday 2026-11-29 starts on the Monday that opens its 240th week back
    start = history_start(pd.Timestamp("2026-11-29"), "W-SUN")
    assert start.day_name() == "Monday"
    assert (pd.Timestamp("2026-11-29") - start).days + 1 == 240 * 7


def test_the_network_trains_on_a_bounded_sample_of_windows():
    # given 300 series of 200 weeks: about 55,000 training windows
    rng = np.random.default_rng(3)
    weeks = pd.date_range("2020-01-05", periods=200, freq="W-SUN")
    values = [rng.poisson(5, 200).astype(float) for _ in range(300)]
    dates = [weeks] * 300
    network = GlobalLSTM(horizon=4, max_windows=5_000, seed=1)

    # when its training set is built
    inputs, targets, weights = network._training_set(values, dates)

    # then it holds about `max_windows` windows, spread over every period, the same ones for the same seed
    assert network.n_windows_available_ == 300 * (200 - 4 - 3)
    assert 4_900 <= len(targets) <= 5_100
    assert inputs["sequence"].shape == (len(targets), network.lookback, 5)
    again = GlobalLSTM(horizon=4, max_windows=5_000, seed=1)._training_set(values, dates)
    np.testing.assert_array_equal(again[1], targets)
    # and below the cap every window is used, as before
    small = GlobalLSTM(horizon=4, max_windows=100_000, seed=1)
    small._training_set(values, dates)
    assert small.n_windows_available_ == len(small._training_set(values, dates)[1])
