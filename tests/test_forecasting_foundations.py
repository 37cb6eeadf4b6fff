"""Forecasting foundations: metrics, data preparation, baselines and intermittent-demand models on series with a
known structure, and the output guard that falls back when a model fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import metrics
from forecasting.data import classify_demand, impute_censored, infer_season_length, to_regular
from forecasting.models import (
    ADIDA,
    IMAPA,
    TSB,
    CrostonSBA,
    LocalForecaster,
    MovingAverage,
    Naive,
    SeasonalNaive,
    forecast_with_fallback,
)
from forecasting.models.mstl import Mstl

ALL_MODELS = [Naive(), SeasonalNaive(4), MovingAverage(8), CrostonSBA(), TSB(), ADIDA(), IMAPA(), Mstl((4, 12))]


def test_metrics_on_known_values():
    actual, forecast, train = [3, 5, 4], [4, 4, 4], [1, 2, 4, 8]
    assert metrics.mae(actual, forecast) == pytest.approx(2 / 3)
    assert metrics.rmse(actual, forecast) == pytest.approx(np.sqrt(2 / 3))
    assert metrics.bias(actual, forecast) == pytest.approx(0.0)
    assert metrics.mase(actual, forecast, train) == pytest.approx((2 / 3) / (7 / 3))
    assert metrics.rmsse(actual, forecast, train) == pytest.approx(np.sqrt(2 / 3) / np.sqrt(21 / 3))
    assert metrics.r2([1, 2, 3], [1, 2, 3]) == 1.0
    assert metrics.coverage([1, 5, 9], [0, 0, 0], [2, 6, 8]) == pytest.approx(2 / 3)
    # a constant history has no naive error: the scale falls back to 1 instead of dividing by zero
    assert metrics.mase([2], [3], [5, 5, 5]) == 1.0


def test_season_lengths():
    assert [infer_season_length(f) for f in ("D", "W-SUN", "MS", "Q", "h")] == [7, 52, 12, 4, 1]


def test_to_regular_fills_zeros_and_marks_censored_weeks():
    days = pd.date_range("2024-01-01", "2024-01-21", freq="D")  # three weeks ending Sundays 7, 14, 21 January
    history = pd.DataFrame({"unique_id": "A", "ds": days, "y": 1.0, "censored": False})
    history.loc[history.ds.between("2024-01-08", "2024-01-14"), "y"] = 0.0
    history.loc[history.ds.between("2024-01-15", "2024-01-18"), "censored"] = True  # 4 of 7 days out of stock
    later = pd.DataFrame({"unique_id": ["B"], "ds": [pd.Timestamp("2024-01-16")], "y": [5.0]})
    weekly = to_regular(pd.concat([history, later]), "W-SUN")
    a = weekly[weekly.unique_id == "A"]
    assert list(a.y) == [7.0, 0.0, 7.0]
    assert list(a.censored) == [False, False, True]
    b = weekly[weekly.unique_id == "B"]
    assert list(b.ds) == [pd.Timestamp("2024-01-21")]
    assert list(b.y) == [5.0]


def test_censored_periods_are_imputed_not_zero():
    y = np.array([10, 12, 0, 0, 11, 9], dtype=float)
    imputed = impute_censored(y, np.array([False, False, True, True, False, False]))
    assert imputed[2] == imputed[3] == pytest.approx(10.5)
    assert list(impute_censored(y, np.zeros(6, bool))) == list(y)


def test_demand_classes():
    assert classify_demand(np.array([5, 6, 5, 6, 5, 6])) == "smooth"
    assert classify_demand(np.array([1, 20, 2, 30, 1, 25])) == "erratic"
    assert classify_demand(np.array([0, 0, 3, 0, 0, 3, 0, 0, 3])) == "intermittent"
    assert classify_demand(np.array([0, 0, 1, 0, 0, 40, 0, 0, 2])) == "lumpy"
    assert classify_demand(np.zeros(5)) == "zero"


def test_baselines_on_structured_series():
    seasonal = np.tile([10.0, 20.0, 30.0, 40.0], 6)
    assert list(SeasonalNaive(4).fit(seasonal).predict(6)["mean"]) == [10, 20, 30, 40, 10, 20]
    assert list(Naive().fit(np.arange(10.0)).predict(3)["mean"]) == [9, 9, 9]
    assert MovingAverage(4).fit(np.array([0, 0, 4, 4, 4, 4.0])).predict(2)["mean"].tolist() == [4, 4]
    # seasonal naive on less than a season falls back to the last value
    assert list(SeasonalNaive(52).fit(np.array([3.0, 5.0])).predict(2)["mean"]) == [5, 5]


def test_intermittent_models_track_the_demand_rate():
    rng = np.random.default_rng(3)
    y = np.where(rng.random(400) < 0.25, 4.0, 0.0)  # one sale of 4 units every 4 periods on average: 1 unit/period
    for model in (CrostonSBA(), ADIDA(), IMAPA()):
        mean = model.fit(y).predict(4)["mean"]
        assert 0.7 < mean[0] < 1.3, model.alias
    # TSB reacts to the last few periods by design: right on average over many series
    levels = [TSB().fit(np.where(np.random.default_rng(s).random(400) < 0.25, 4.0, 0.0)).level_ for s in range(40)]
    assert 0.85 < float(np.mean(levels)) < 1.15
    # TSB decays after demand stops; Croston does not
    dead = np.concatenate([y, np.zeros(40)])
    assert TSB().fit(dead).predict(1)["mean"][0] < 0.1 < CrostonSBA().fit(dead).predict(1)["mean"][0]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.alias)
@pytest.mark.parametrize(
    "series",
    [np.zeros(20), np.array([7.0]), np.tile([0, 0, 5.0], 30), np.abs(np.random.default_rng(0).normal(50, 10, 3000))],
    ids=["all-zero", "single-point", "intermittent", "very-long"],
)
def test_every_model_gives_ordered_non_negative_bounds(model, series):
    prediction = model.fit(series).predict(5, level=(80, 95))
    assert set(prediction) == {"mean", "lo-80", "hi-80", "lo-95", "hi-95"}
    for values in prediction.values():
        assert len(values) == 5
        assert np.all(np.isfinite(values))
        assert np.all(values >= 0)
    assert np.all(prediction["lo-95"] <= prediction["lo-80"])
    assert np.all(prediction["lo-80"] <= prediction["mean"])
    assert np.all(prediction["mean"] <= prediction["hi-80"])
    assert np.all(prediction["hi-80"] <= prediction["hi-95"])
    # deterministic
    again = model.fit(series).predict(5, level=(80, 95))
    assert all(np.array_equal(prediction[key], again[key]) for key in prediction)


class Exploding(LocalForecaster):
    alias = "exploding"

    def fit(self, y, X=None):
        return self

    def predict(self, h, level=()):
        return {"mean": np.full(h, 1e17)}


class Broken(LocalForecaster):
    alias = "broken"

    def fit(self, y, X=None):
        raise np.linalg.LinAlgError("singular matrix")


@pytest.mark.parametrize("model", [Exploding(), Broken()], ids=["explodes", "raises"])
def test_a_failing_model_falls_back_cleanly(model):
    prediction, alias = forecast_with_fallback(model, Naive(), np.array([1.0, 2.0, 3.0]), 2, level=(80,))
    assert alias == "naive"
    assert list(prediction["mean"]) == [3, 3]


def test_sarima_on_a_seasonal_monthly_series():
    from forecasting.models.sarima import Sarima

    rng = np.random.default_rng(5)
    months = np.arange(96)
    y = 100 + 0.5 * months + 20 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 2, 96)
    prediction = Sarima(12).fit(y[:84]).predict(12, level=(80,))
    # it follows the seasonal shape of the held-out year closely (far better than the last value)
    assert metrics.mae(y[84:], prediction["mean"]) < 0.3 * metrics.mae(y[84:], np.full(12, y[83]))
    assert np.all(prediction["lo-80"] <= prediction["mean"])
    assert np.all(prediction["mean"] <= prediction["hi-80"])


def test_sarima_fitted_on_the_differenced_series_forecasts_as_the_whole_model_does():
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from forecasting.models.sarima import Sarima

    # given a trending seasonal monthly series with a promotion regressor, known ahead
    rng = np.random.default_rng(11)
    months = np.arange(132)
    promotion = (rng.random(132) < 0.15).astype(float)[:, None]
    y = 100 + 0.5 * months + 20 * np.sin(2 * np.pi * months / 12) + 30 * promotion[:, 0] + rng.normal(0, 4, 132)
    model = Sarima(12).fit(y[:120], X=promotion[:120])
    prediction = model.predict(12, level=(80,), X=promotion[120:])
    # the same parameters in the model that differences inside its state space (statsmodels' default)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = SARIMAX(
            y[:120],
            exog=promotion[:120],
            order=tuple(model.state_["order"]),
            seasonal_order=(0, 1, 1, 12),
            concentrate_scale=True,
        ).filter(model.result_.params)
    forecast = whole.get_forecast(12, exog=promotion[120:])
    # then the integrated forecasts are the whole model's ...
    np.testing.assert_allclose(prediction["mean"], forecast.predicted_mean, rtol=1e-6)
    # ... and so are the intervals, up to the scale each estimates from its own residuals (within 10%)
    bounds = forecast.conf_int(alpha=0.2)
    np.testing.assert_allclose(prediction["hi-80"] - prediction["lo-80"], bounds[:, 1] - bounds[:, 0], rtol=0.1)
    # and the intervals widen with the horizon, as integrated errors do
    width = prediction["hi-80"] - prediction["lo-80"]
    assert width[-1] > width[0]


def test_ets_forecasts_match_statsmodels_without_the_parameter_covariance():
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    from forecasting.models.ets import Ets

    rng = np.random.default_rng(4)
    months = np.arange(100)
    y = 50 + 10 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 3, 100)
    model = Ets(12).fit(y)
    error, trend, damped, season = model.form_
    reference = ETSModel(
        pd.Series(y), error=error, trend=trend, damped_trend=damped, seasonal=season, seasonal_periods=12
    ).fit(disp=False, maxiter=200)
    # the skipped covariance changes nothing the forecasts read
    np.testing.assert_allclose(model.result_.params, reference.params)
    prediction = model.predict(12, level=(80,))
    # (simulated intervals for multiplicative errors: the same seed)
    frame = reference.get_prediction(start=100, end=111, rng=np.random.default_rng(0)).summary_frame(alpha=0.2)
    np.testing.assert_allclose(prediction["mean"], frame["mean"].to_numpy())
    np.testing.assert_allclose(prediction["hi-80"], frame["pi_upper"].to_numpy())


def test_sarima_searches_its_order_and_warm_starts():
    from forecasting.models.sarima import Sarima

    # given an AR(1) series around a level: the stepwise search finds an autoregressive order
    rng = np.random.default_rng(2)
    y = np.empty(150)
    y[0] = 50.0
    for t in range(1, 150):
        y[t] = 50 + 0.8 * (y[t - 1] - 50) + rng.normal(0, 3)
    model = Sarima(1).fit(y)
    assert model.state_["order"][0] >= 1
    # when refitted from the saved state, it keeps the order and lands on (nearly) the same parameters
    again = Sarima(1, start=model.state_).fit(y)
    assert again.state_["order"] == model.state_["order"]
    np.testing.assert_allclose(again.state_["params"], model.state_["params"], rtol=1e-2, atol=1e-2)


def test_sarima_models_a_long_cycle_with_fourier_terms_and_holidays():
    from forecasting.models.sarima import Sarima

    # given three years of weekly demand with a yearly cycle and a holiday bump
    rng = np.random.default_rng(3)
    weeks = np.arange(130)
    holiday = (weeks % 52 == 15).astype(float)
    y = 200 + 60 * np.sin(2 * np.pi * weeks / 52) + 80 * holiday + rng.normal(0, 5, 130)
    model = Sarima(52, fourier_pairs=2).fit(y[:118], X=holiday[:118, None])
    prediction = model.predict(12, level=(80,), X=holiday[118:, None])
    # then the yearly shape comes from Fourier terms (no 52-lag polynomial) and the holiday week stands out
    assert model.fourier_ > 0
    assert model.state_["seasonal"] == [0, 0, 0, 0]
    assert metrics.mae(y[118:], prediction["mean"]) < 0.5 * metrics.mae(y[118:], np.full(12, y[117]))
    holiday_step = int(np.flatnonzero(holiday[118:])[0])
    assert prediction["mean"][holiday_step] > prediction["mean"][holiday_step - 1] + 40
    with pytest.raises(ValueError, match="regressors"):
        model.predict(4)
    # a saved state from a fit before the yearly terms applied (a shorter history) still warm-starts the order
    short = Sarima(52, fourier_pairs=2).fit(y[:60])
    assert short.fourier_ == 0
    longer = Sarima(52, fourier_pairs=2, start=short.state_).fit(y[:118], X=holiday[:118, None])
    assert longer.fourier_ > 0
    assert len(longer.state_["params"]) > len(short.state_["params"])


def test_a_one_off_giant_order_is_capped_and_ordinary_peaks_are_not():
    from forecasting.data import cap_outliers

    # given a series selling 15-25 a week with a Christmas high of 40 and one wholesale order of 5,000
    y = np.array([20, 15, 25, 18, 22, 0, 19, 21, 40, 5000, 23, 17], dtype=float)
    capped = cap_outliers(y)
    # then only the giant order is cut, to a bound well above the usual sizes
    assert capped[9] < 200
    assert capped[9] > 40
    np.testing.assert_array_equal(np.delete(capped, 9), np.delete(y, 9))
    # and a series with too few sales to know what is usual is left alone
    sparse = np.array([0, 0, 3, 0, 900, 0, 0, 2], dtype=float)
    np.testing.assert_array_equal(cap_outliers(sparse), sparse)


def test_a_windowed_fence_leaves_a_grown_series_recent_values_alone():
    from forecasting.data import cap_outliers

    # given eight years of about 100 a month, then two years of about 1,000 (a new use), with one spike of 20,000
    rng = np.random.default_rng(3)
    level = np.where(np.arange(120) < 96, 100.0, 1000.0)
    y = np.round(level * rng.uniform(0.9, 1.1, 120))
    y[110] = 20_000.0

    # when capped over the whole history, then the recent values, above the early years' fence, are all cut
    whole = cap_outliers(y)
    assert (whole[96:] < y[96:]).all()
    # when capped over 25-month windows, then only the spike is cut
    local = cap_outliers(y, window=25)
    assert local[110] < y[110] / 5
    np.testing.assert_array_equal(np.delete(local, 110), np.delete(y, 110))
    # and a window as long as the series is the whole-history fence
    np.testing.assert_array_equal(cap_outliers(y, window=120), whole)


def test_the_windowed_fence_is_each_window_s_own_fence():
    from forecasting.data import _fence, cap_outliers

    # given series of every kind (sparse, lumpy, with spikes) and windows of every width
    rng = np.random.default_rng(8)
    for _ in range(300):
        n = int(rng.integers(5, 300))
        y = rng.poisson(rng.random() * 20, n) * (rng.random(n) < rng.random()) + (rng.random(n) < 0.03) * 900.0
        window = int(rng.integers(3, 100))
        # then each period is capped at the fence of the `window` periods around it, shifted inside the series
        expected = np.array(
            [
                min(y[t], _fence(part[part > 0], 3.0, 8))
                for t in range(n)
                for start in [min(max(t - window // 2, 0), max(n - window, 0))]
                for part in [y[start : start + window] if window < n else y]
            ]
        )
        np.testing.assert_array_equal(cap_outliers(y, window=window), expected)


def test_ets_picks_a_multiplicative_season_for_a_growing_positive_series():
    from forecasting.models.ets import Ets

    # given ten years of monthly demand whose seasonal swing grows with its level
    rng = np.random.default_rng(7)
    months = np.arange(120)
    level = 100 * 1.01**months
    y = level * (1 + 0.4 * np.sin(2 * np.pi * months / 12)) * rng.lognormal(0, 0.03, 120)

    model = Ets(12).fit(y[:108])
    prediction = model.predict(12, level=(80, 95))

    # then a multiplicative seasonal form wins on AICc and the held-out year is followed closely
    assert model.form_[3] == "mul"
    assert metrics.mae(y[108:], prediction["mean"]) < 0.25 * metrics.mae(y[108:], np.full(12, y[107]))
    assert np.all(prediction["lo-95"] <= prediction["lo-80"])
    assert np.all(prediction["lo-80"] <= prediction["mean"])
    assert np.all(prediction["mean"] <= prediction["hi-80"])
    assert np.all(prediction["hi-80"] <= prediction["hi-95"])
    # the simulated intervals of a multiplicative model are seeded: the same fit gives the same bounds
    again = Ets(12).fit(y[:108]).predict(12, level=(80, 95))
    assert all(np.array_equal(prediction[key], again[key]) for key in prediction)
    # a refit from the saved state keeps the form without searching
    warm = Ets(12, start=model.state_).fit(y[:108])
    assert warm.form_ == model.form_


def test_ets_forms_follow_the_history():
    from forecasting.models.ets import Ets

    rng = np.random.default_rng(8)
    months = np.arange(60)
    # a history with zeros never gets a multiplicative form (they divide by the level)
    with_zeros = np.maximum(np.round(3 + 3 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 1, 60)), 0)
    assert np.min(with_zeros) == 0
    model = Ets(12).fit(with_zeros)
    assert model.form_[0] == "add"
    assert model.form_[3] in {"add", None}
    assert np.all(model.predict(6, level=(80,))["lo-80"] >= 0)
    # a long cycle (a year of weeks) is not modelled by 52 seasonal states
    assert Ets(52).fit(rng.poisson(30, 120).astype(float)).form_[3] is None


@pytest.mark.parametrize("name", ["sarima", "ets"])
def test_a_seasonal_model_refuses_a_constant_or_short_history_and_falls_back(name):
    from forecasting.model_catalog import MODELS

    with pytest.raises(ValueError, match="constant"):
        MODELS[name](12, (12,)).fit(np.ones(200))
    with pytest.raises(ValueError, match="not enough history"):
        MODELS[name](12, (12,)).fit(np.arange(5.0))
    # a series it cannot fit falls back to the naive forecast
    _, alias = forecast_with_fallback(MODELS[name](12, (12,)), Naive(), np.ones(10), 3)
    assert alias == "naive"
