"""Drivers in the engine: the `exog` frame checked and laid out, the global feature models (LightGBM, ridge) on data
where a driver's effect is known, their backtest without leakage, and "auto" choosing them when drivers matter."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast_many
from forecasting.drivers import driver_matrices
from forecasting.feature_models import backtest_features
from forecasting.features import Layout, feature_names, feature_rows
from forecasting.models import trees
from forecasting.models.trees import FeatureData, GlobalLightGBM, GlobalRidge, conformal_bounds

HORIZON = 8


def promoted_stores(count: int = 120, weeks: int = 130, uplift: float = 0.5, seed: int = 3):
    """Weekly sales of `count` SKUs with a yearly season and promotions on random weeks that multiply sales by
    1 + `uplift`; no promotion in the horizon. Returns (series values, week ends, promotion per week + horizon)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-02", periods=weeks, freq="W-SUN")
    values, promotions = [], []
    for _ in range(count):
        promotion = (rng.random(weeks + HORIZON) < 0.15).astype(float)
        promotion[weeks:] = 0.0
        level = rng.uniform(10, 80)
        season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(weeks + HORIZON) / 52 + rng.uniform(0, 1))
        values.append(rng.poisson(level * season[:weeks] * (1 + uplift * promotion[:weeks])).astype(float))
        promotions.append(promotion[:, None])
    return values, [dates] * count, promotions


def as_frames(values, dates, promotions):
    pairs = enumerate(zip(values, dates, strict=True))
    frames = [pd.DataFrame({"unique_id": f"sku-{i}", "ds": d, "y": v}) for i, (v, d) in pairs]
    history = pd.concat(frames, ignore_index=True)
    future = pd.date_range(dates[0][-1], periods=HORIZON + 1, freq="W-SUN")
    exog = pd.concat(
        [
            pd.DataFrame({"unique_id": f"sku-{i}", "ds": d.append(future[1:]), "promo": p[:, 0]})
            for i, (d, p) in enumerate(zip(dates, promotions, strict=True))
        ],
        ignore_index=True,
    )
    return history, exog


# -- the exog frame ------------------------------------------------------------------------------------------------
def test_a_driver_column_with_text_or_infinities_is_refused_by_name():
    history = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-07", periods=20, freq="W-SUN"), "y": 5.0})
    exog = history[["unique_id", "ds"]].assign(promo=1.0, note="summer")
    with pytest.raises(ValueError, match="'note' is not numeric"):
        forecast_many(history, horizon=2, freq="W-SUN", exog=exog)
    exog = history[["unique_id", "ds"]].assign(price=np.inf)
    with pytest.raises(ValueError, match="'price' holds infinite values"):
        forecast_many(history, horizon=2, freq="W-SUN", exog=exog)
    with pytest.raises(ValueError, match="lacks the column"):
        forecast_many(history, horizon=2, freq="W-SUN", exog=history[["unique_id", "y"]])


def test_drivers_are_laid_out_per_period_of_history_and_horizon_with_gaps_as_nan():
    days = pd.date_range("2024-01-01", periods=14, freq="D")  # Monday to Sunday, twice
    exog = pd.DataFrame({"unique_id": "a", "ds": days, "promo": [1.0] * 3 + [0.0] * 11, "flag": True})
    series = [("a", pd.DatetimeIndex(["2024-01-07"]), np.array([4.0])), ("b", pd.DatetimeIndex(["2024-01-07"]), [1.0])]
    names, matrices = driver_matrices(exog, series, horizon=2, freq="W-SUN")
    assert names == ["promo", "flag"]
    # a promotion on 3 of a week's 7 days reads 3/7; the horizon's weeks come from the frame too, or NaN
    np.testing.assert_allclose(matrices[0][:, 0], [3 / 7, 0.0, np.nan])
    np.testing.assert_allclose(matrices[0][:, 1], [1.0, 1.0, np.nan])
    assert matrices[1] is None  # no driver values at all for this series


# -- the feature table ---------------------------------------------------------------------------------------------
def test_a_feature_row_reads_nothing_at_or_after_its_origin():
    rng = np.random.default_rng(0)
    values = rng.poisson(20, 400).astype(float)
    layout = Layout.of("D")
    calendar = np.zeros((420, 0))
    targets, steps = np.array([380, 390, 399]), np.array([1, 11, 20])  # every origin is 380
    before, _ = feature_rows(values, calendar, None, targets, steps, layout)
    changed = values.copy()
    changed[380:] = 1000.0  # what happens from the origin on is unknown to its rows
    after, _ = feature_rows(changed, calendar, None, targets, steps, layout)
    np.testing.assert_array_equal(np.nan_to_num(before, nan=-1), np.nan_to_num(after, nan=-1))


def test_a_small_store_reads_each_period_at_several_steps_and_a_large_one_within_the_row_budget(monkeypatch):
    """The training table fills its row budget: a store of two daily series reads each day as the target of every
    step of a 14-day horizon (distinct steps, from origins inside the history); a store whose periods exceed the
    budget reads each at one step and is sampled down to it (the latest horizon of every series kept)."""
    dates = pd.date_range("2024-01-01", periods=300, freq="D")
    rng = np.random.default_rng(1)
    values = [rng.poisson(20, 300).astype(float) for _ in range(2)]
    table = FeatureData(14, "D", Layout.of("D")).build(values, [dates] * 2, None)
    step = feature_names(Layout.of("D"), []).index("step")
    targets = 300 - table.gap  # each row's target period
    for series in range(2):
        rows = slice(series * len(table.y) // 2, (series + 1) * len(table.y) // 2)
        per_target = pd.DataFrame({"target": targets[rows], "step": table.X[rows, step]}).groupby("target").step
        assert (per_target.nunique() == np.minimum(per_target.max(), 14)).all()  # distinct steps, all it can have
        assert per_target.nunique().loc[20:].eq(14).all()
        assert (per_target.max() <= per_target.max().index).all()  # an origin never before the first period
    monkeypatch.setattr(trees, "MAX_ROWS", 300)
    values = [rng.poisson(20, 300).astype(float) for _ in range(4)]
    table = FeatureData(14, "D", Layout.of("D")).build(values, [dates] * 4, None)
    assert len(table.y) <= 300 + 4 * 14
    assert (table.gap <= 14).sum() == 4 * 14  # the latest horizon of every series, at one step each
    assert pd.Series(table.gap).value_counts().max() <= 4  # each period of each series at most once


def test_the_backtest_of_a_feature_model_never_sees_the_periods_after_its_cutoff():
    values, dates, promotions = promoted_stores(count=40, weeks=110)
    series = [(f"sku-{i}", d, v) for i, (v, d) in enumerate(zip(values, dates, strict=True))]
    cutoffs = [[len(v) - 2 * HORIZON, len(v) - HORIZON] for v in values]
    first = backtest_features(series, promotions, ["promo"], cutoffs, ["lightgbm"], HORIZON, "W-SUN")["lightgbm"]
    # the sales between the two cutoffs change completely: the earlier cutoff's forecasts must not move, the later
    # one's (whose history holds those weeks) must
    later = [(uid, d, np.concatenate([v[: -2 * HORIZON], v[-2 * HORIZON : -HORIZON] * 5, v[-HORIZON:]]))
             for uid, d, v in series]  # fmt: skip
    second = backtest_features(later, promotions, ["promo"], cutoffs, ["lightgbm"], HORIZON, "W-SUN")["lightgbm"]
    for a, b, v in zip(first, second, values, strict=True):
        np.testing.assert_allclose(a[len(v) - 2 * HORIZON], b[len(v) - 2 * HORIZON])
        assert not np.allclose(a[len(v) - HORIZON], b[len(v) - HORIZON])


# -- the models on known effects -----------------------------------------------------------------------------------
@pytest.mark.parametrize("model_class", [GlobalLightGBM, GlobalRidge])
def test_a_promotion_uplift_is_recovered_within_ten_percent(model_class):
    values, dates, promotions = promoted_stores(uplift=0.5)
    model = model_class(HORIZON, "W-SUN", levels=(80,), seed=0).fit(values, dates, promotions, ["promo"])
    plain = model.predict(values, dates, promotions, level=(80,))
    promoted = [p.copy() for p in promotions]
    for p in promoted:
        p[-HORIZON + 2, 0] = 1.0  # a promotion in the third week of the horizon
    with_promotion = model.predict(values, dates, promoted, level=(80,))
    uplift = np.sum([p["mean"][2] for p in with_promotion]) / np.sum([p["mean"][2] for p in plain]) - 1
    assert uplift == pytest.approx(0.5, rel=0.10)
    # the other weeks do not move, and the intervals hold the mean
    np.testing.assert_allclose([p["mean"][5] for p in with_promotion], [p["mean"][5] for p in plain], rtol=0.02)
    for p in with_promotion:
        assert np.all(p["lo-80"] <= p["mean"])
        assert np.all(p["mean"] <= p["hi-80"])


RENTAL_DAYS, RENTAL_HORIZON = 500, 14
RENTAL_DATES = pd.date_range("2023-01-01", periods=RENTAL_DAYS, freq="D")


def daily_rentals(rng, mean_temperature, swing, response, holidays=False):
    """30 series of daily rentals whose log-mean is `response(temperature)`, over a yearly temperature cycle with
    noise; the drivers per series: the temperature, and a holiday on 5% of days when `holidays`."""
    values, drivers = [], []
    for _ in range(30):
        season = np.sin(2 * np.pi * np.arange(RENTAL_DAYS + RENTAL_HORIZON) / 365.25)
        temperature = mean_temperature + swing * season + rng.normal(0, 4, RENTAL_DAYS + RENTAL_HORIZON)
        columns = [temperature]
        if holidays:
            columns.append((rng.random(RENTAL_DAYS + RENTAL_HORIZON) < 0.05).astype(float))
        mean = rng.uniform(50, 200) * np.exp(response(temperature))
        values.append(rng.poisson(mean[:RENTAL_DAYS]).astype(float))
        drivers.append(np.column_stack(columns))
    return values, drivers


def rentals_on_day_seven(model, values, drivers, degrees):
    """The forecasts' total on the horizon's eighth day when it is `degrees` warm and every other day 15 °C (and
    none a holiday)."""
    future = [d.copy() for d in drivers]
    for d in future:
        d[RENTAL_DAYS:] = 0.0
        d[RENTAL_DAYS:, 0] = 15.0
        d[RENTAL_DAYS + 7, 0] = degrees
    return np.sum([p["mean"][7] for p in model.predict(values, [RENTAL_DATES] * 30, future)])


@pytest.mark.parametrize("model_class", [GlobalLightGBM, GlobalRidge])
def test_a_temperature_response_is_recovered_within_ten_percent(model_class):
    """Daily rentals that rise 3% per degree: the forecast of a day 5 degrees warmer is 16% higher."""
    values, temperatures = daily_rentals(np.random.default_rng(5), 12, 10, lambda t: 0.03 * (t - 10))
    model = model_class(RENTAL_HORIZON, "D", levels=(80,), seed=0).fit(
        values, [RENTAL_DATES] * 30, temperatures, ["temperature"]
    )
    response = rentals_on_day_seven(model, values, temperatures, 20.0) / rentals_on_day_seven(
        model, values, temperatures, 15.0
    )
    true_response = np.exp(0.03 * 5)  # from 15 °C to 20 °C
    assert response - 1 == pytest.approx(true_response - 1, rel=0.10)


def test_the_ridge_reads_a_response_that_bends():
    """Rentals that peak at 18 °C and fall either side (log-demand quadratic in the temperature): the ridge's forecast
    of a 32 °C day is below that of a 22 °C day, as the data say, where a straight line in the temperature would put
    it above; a driver that only switches on and off (a holiday) gets no bend."""

    def bent(t):
        return 0.04 * (t - 10) - 0.0025 * (t - 10) ** 2

    values, drivers = daily_rentals(np.random.default_rng(7), 15, 12, bent, holidays=True)
    model = GlobalRidge(RENTAL_HORIZON, "D", levels=(80,), seed=0).fit(
        values, [RENTAL_DATES] * 30, drivers, ["temperature", "holiday"]
    )
    assert model.curved_.sum() == 1  # the temperature bends, the holiday does not
    at = {degrees: rentals_on_day_seven(model, values, drivers, degrees) for degrees in (15.0, 22.0, 32.0)}
    assert at[32.0] < at[22.0]
    for degrees in (22.0, 32.0):
        assert at[degrees] / at[15.0] == pytest.approx(np.exp(bent(degrees) - bent(15.0)), rel=0.10)


def test_the_feature_models_intervals_cover_their_level_from_few_holdout_errors():
    # given a small store's holdout: 56 errors (two series, 28 days), drawn again and again from one distribution
    rng = np.random.default_rng(5)
    normal_cdf = NormalDist().cdf
    conformal, plain = [], []
    for _ in range(3000):
        errors = rng.standard_normal(56)
        # when the 80% bounds are read from them, and a new error falls (the chance it lands between the bounds)
        low, high = conformal_bounds(errors, 80)
        conformal.append(normal_cdf(high) - normal_cdf(low))
        low, high = np.quantile(errors, [0.1, 0.9])
        plain.append(normal_cdf(high) - normal_cdf(low))
    # then the interval covers at least its level on average (rank 5 to 52 of 56: 47/57), where the plain
    # percentiles fell short
    assert np.mean(conformal) == pytest.approx(47 / 57, abs=0.005)
    assert np.mean(conformal) >= 0.8 > np.mean(plain)
    # and with many errors the bounds are the plain percentiles
    many = rng.standard_normal(100_000)
    assert conformal_bounds(many, 80) == pytest.approx(tuple(np.quantile(many, [0.1, 0.9])), abs=0.01)
    # and too few errors for the ranks take the extremes
    assert conformal_bounds(np.array([3.0, -1.0, 2.0]), 80) == (-1.0, 3.0)


def test_the_feature_models_are_deterministic_for_a_seed():
    values, dates, promotions = promoted_stores(count=30, weeks=80)
    first = GlobalLightGBM(HORIZON, "W-SUN", seed=4).fit(values, dates, promotions, ["promo"])
    second = GlobalLightGBM(HORIZON, "W-SUN", seed=4).fit(values, dates, promotions, ["promo"])
    a, b = first.predict(values, dates, promotions, (80,)), second.predict(values, dates, promotions, (80,))
    for x, y in zip(a, b, strict=True):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])


# -- the engine ----------------------------------------------------------------------------------------------------
def test_auto_chooses_a_feature_model_when_drivers_matter_and_explains_the_promotion():
    values, dates, promotions = promoted_stores(uplift=1.0)
    for p in promotions:
        p[-HORIZON + 3, 0] = 1.0  # a planned promotion, the fourth week ahead
    history, exog = as_frames(values, dates, promotions)
    result = forecast_many(history, horizon=HORIZON, freq="W-SUN", level=(80,), exog=exog, explain=True)
    assert result.model.str.contains("lightgbm|ridge").all()
    assert {"why-level", "why-promo"} <= set(result.columns)
    week = result.groupby("unique_id").nth(3)
    others = result.groupby("unique_id").nth([2, 4])
    # the promotion lifts its week, and the explanation names it as the reason
    assert week["mean"].sum() > 1.5 * others["mean"].sum() / 2
    assert (week["why-promo"] > 0).mean() > 0.9
    assert (others["why-promo"] <= 0).mean() > 0.9
    # without the drivers the same history gets no promotion in that week
    plain = forecast_many(history, horizon=HORIZON, freq="W-SUN", level=(80,))
    assert plain.groupby("unique_id").nth(3)["mean"].sum() < 0.8 * week["mean"].sum()


def test_a_named_feature_model_forecasts_one_series_with_its_drivers():
    values, dates, promotions = promoted_stores(count=1, weeks=150, uplift=1.0)
    promotions[0][-HORIZON + 1, 0] = 1.0
    history, exog = as_frames(values, dates, promotions)
    result = forecast_many(history, horizon=HORIZON, freq="W-SUN", models="lightgbm", exog=exog)
    assert set(result.model) == {"lightgbm"}
    assert result["mean"].iloc[1] > 1.3 * result["mean"].drop(index=1).mean()


def test_the_seasonal_arima_takes_the_drivers_as_regressors():
    values, dates, promotions = promoted_stores(count=1, weeks=150, uplift=1.0)
    promotions[0][-HORIZON + 1, 0] = 1.0
    history, exog = as_frames(values, dates, promotions)
    with_drivers = forecast_many(history, horizon=HORIZON, freq="W-SUN", models="sarima", exog=exog, level=(80,))
    without = forecast_many(history, horizon=HORIZON, freq="W-SUN", models="sarima", level=(80,))
    assert set(with_drivers.model) == {"sarima"}
    lift = with_drivers["mean"].iloc[1] / with_drivers["mean"].drop(index=1).mean()
    assert lift > 1.5  # the promotion doubles sales
    assert without["mean"].iloc[1] / without["mean"].drop(index=1).mean() < 1.2


def test_a_history_only_driver_is_never_read_at_the_period_forecast():
    """Customers counted are known only with the sales: a model may read their recent values at the origin, but a
    value supplied for the horizon must change nothing."""
    values, dates, promotions = promoted_stores(count=60, weeks=100)
    history, exog = as_frames(values, dates, promotions)
    exog["customers"] = np.where(exog.ds <= dates[0][-1], exog.promo * 10 + 5, np.nan)
    first = forecast_many(history, horizon=HORIZON, freq="W-SUN", models="lightgbm", exog=exog,
                          history_only=["customers"])  # fmt: skip
    exog.loc[exog.ds > dates[0][-1], "customers"] = 1000.0
    second = forecast_many(history, horizon=HORIZON, freq="W-SUN", models="lightgbm", exog=exog,
                           history_only=["customers"])  # fmt: skip
    pd.testing.assert_frame_equal(first, second)
    with pytest.raises(ValueError, match="exog lacks: visits"):
        forecast_many(history, horizon=HORIZON, freq="W-SUN", exog=exog, history_only=["visits"])
