"""forecast_many and backtest: the API contract on a mix of series."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecasting.engine import backtest, forecast_many


def weekly_history() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    weeks = pd.date_range("2023-01-01", periods=120, freq="W-SUN")
    seasonal = 20 + 10 * np.sin(np.arange(120) * 2 * np.pi / 52)
    frames = [
        pd.DataFrame({"unique_id": "smooth", "ds": weeks, "y": np.round(seasonal + rng.normal(0, 1, 120))}),
        pd.DataFrame({"unique_id": "intermittent", "ds": weeks, "y": np.where(rng.random(120) < 0.2, 3.0, 0.0)}),
        pd.DataFrame({"unique_id": "zero", "ds": weeks, "y": 0.0}),
        pd.DataFrame({"unique_id": "new", "ds": weeks[-1:], "y": [4.0]}),
    ]
    return pd.concat(frames, ignore_index=True)


def test_every_series_gets_ordered_non_negative_forecasts():
    result = forecast_many(weekly_history(), horizon=4, freq="W-SUN")
    assert list(result.columns) == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95", "model"]
    assert sorted(result.unique_id.unique()) == ["intermittent", "new", "smooth", "zero"]
    assert (result.groupby("unique_id").size() == 4).all()
    values = result[["mean", "lo-80", "hi-80", "lo-95", "hi-95"]]
    assert (values >= 0).all().all()
    assert (result["lo-95"] <= result["lo-80"]).all()
    assert (result["lo-80"] <= result["mean"]).all()
    assert (result["mean"] <= result["hi-80"]).all()
    assert (result["hi-80"] <= result["hi-95"]).all()
    # the future starts the week after the last one, for every series
    last_week = pd.date_range("2023-01-01", periods=120, freq="W-SUN")[-1]
    assert {group.ds.min() for _, group in result.groupby("unique_id")} == {last_week + pd.Timedelta(weeks=1)}
    # intermittent demand gets an intermittent-demand method; an all-zero series forecasts zero
    chosen = result.groupby("unique_id").model.first()
    assert chosen["intermittent"] in {"croston_sba", "tsb", "adida", "imapa", "moving_average_8"}
    assert result[result.unique_id == "zero"]["mean"].eq(0).all()


def test_deterministic_and_independent_of_parallelism():
    history = weekly_history()
    once = forecast_many(history, horizon=3, freq="W-SUN")
    again = forecast_many(history, horizon=3, freq="W-SUN", n_jobs=2)
    pd.testing.assert_frame_equal(once, again)


def test_a_named_model_and_censored_weeks():
    weeks = pd.date_range("2024-01-07", periods=12, freq="W-SUN")
    history = pd.DataFrame({"unique_id": "a", "ds": weeks, "y": 10.0, "censored": False})
    history.loc[10:, ["y", "censored"]] = [0.0, True]  # the last two weeks out of stock, not zero demand
    result = forecast_many(history, horizon=2, freq="W-SUN", models="moving_average_8")
    assert result["mean"].tolist() == [10.0, 10.0]
    assert set(result.model) == {"moving_average_8"}
    with pytest.raises(ValueError, match="unknown model"):
        forecast_many(history, horizon=2, freq="W-SUN", models="prophet")


def test_backtest_reports_errors_per_series_and_model():
    report = backtest(weekly_history(), horizon=4, freq="W-SUN", n_windows=3, models=["naive", "seasonal_naive"])
    assert set(report.columns) >= {"unique_id", "model", "mase", "rmsse", "mae", "rmse", "mse", "bias", "r2"}
    smooth = report[report.unique_id == "smooth"].set_index("model")
    # on a yearly sine, last year's same week beats the last value
    assert smooth.loc["seasonal_naive", "rmse"] < smooth.loc["naive", "rmse"]
    assert "new" not in set(report.unique_id)  # one week of history: no origin to test from


def test_evaluate_cli_prints_the_table(tmp_path, capsys):
    from forecasting.__main__ import main

    path = tmp_path / "history.csv"
    weekly_history().to_csv(path, index=False)
    assert main(["evaluate", "--data", str(path), "--horizon", "4", "--windows", "2", "--models", "naive,imapa"]) == 0
    out = capsys.readouterr().out
    assert "horizon 4, 2 windows" in out
    assert "naive" in out
    assert "imapa" in out
    assert "rmsse" in out


def test_sarima_state_is_saved_and_reused_with_holiday_regressors(tmp_path):
    # given two monthly seasonal series and a store in Australia
    rng = np.random.default_rng(8)
    months = pd.date_range("2020-01-01", periods=48, freq="MS")
    history = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": name,
                    "ds": months,
                    "y": np.round(base + 0.3 * base * np.sin(np.arange(48) * 2 * np.pi / 12) + rng.normal(0, 2, 48)),
                }
            )
            for name, base in (("a", 50.0), ("b", 120.0))
        ],
        ignore_index=True,
    )
    # when forecast with the seasonal ARIMA, its fitted state lands in the model folder
    first = forecast_many(history, 6, "MS", models="sarima", country="AU", model_dir=tmp_path)
    states = json.loads((tmp_path / "local_states.json").read_text())
    assert set(states) == {"a", "b"}
    assert all(len(state["sarima"]["order"]) == 3 for state in states.values())
    # then the next run starts from it and, on the same data, lands on the same forecast
    second = forecast_many(history, 6, "MS", models="sarima", country="AU", model_dir=tmp_path)
    assert set(second.model) == {"sarima"}
    np.testing.assert_allclose(second["mean"], first["mean"], rtol=0.02)


def test_holiday_counts_per_period():
    from forecasting.data import holiday_counts

    weeks = pd.date_range("2011-12-18", periods=3, freq="W-SUN")
    # Christmas Day 2011 fell on the Sunday ending the second week; Boxing Day, its substitute and New Year's Day
    # fell in the third
    assert holiday_counts(weeks, "W-SUN", "GB").tolist() == [0.0, 1.0, 3.0]


def test_seasonal_arima_is_a_candidate_once_a_long_cycle_is_known():
    from forecasting.pipeline import local_candidates as _local_candidates

    rng = np.random.default_rng(1)
    # a smooth weekly series: with 40 weeks the yearly cycle is unknown, with 120 Fourier terms can model it
    assert "sarima" not in _local_candidates(rng.poisson(30, 40).astype(float), 52)
    assert "sarima" in _local_candidates(rng.poisson(30, 120).astype(float), 52)
    # monthly data keeps its seasonal polynomial
    assert "sarima" in _local_candidates(rng.poisson(30, 48).astype(float), 12)


def test_intermittent_series_try_seasonal_models_only_with_a_short_cycle():
    from forecasting.pipeline import local_candidates as _local_candidates

    # given an intermittent series (a sale in one period of four)
    intermittent = np.where(np.arange(120) % 4 == 0, 5.0, 0.0)

    # then monthly data also backtests the seasonal models, weekly data with a yearly cycle does not
    monthly = _local_candidates(intermittent, 12)
    weekly = _local_candidates(intermittent, 52)
    assert {"croston_sba", "tsb", "seasonal_naive", "sarima"} <= set(monthly)
    assert "croston_sba" in weekly
    assert not {"seasonal_naive", "sarima"} & set(weekly)


def test_exponential_smoothing_and_its_pair_with_sarima_on_short_cycles():
    from forecasting.pipeline import local_candidates as _local_candidates
    from forecasting.selection import score_evidence

    rng = np.random.default_rng(4)
    smooth = rng.poisson(30, 60).astype(float)
    # given monthly data, ETS is a candidate for smooth and intermittent series alike; a yearly cycle of weeks
    # leaves it out
    assert "ets" in _local_candidates(smooth, 12)
    assert "ets" in _local_candidates(np.where(np.arange(60) % 4 == 0, 5.0, 0.0), 12)
    assert "ets" not in _local_candidates(rng.poisson(30, 120).astype(float), 52)

    # when both members were backtested, their average is scored as the pair
    evidence = {
        "cutoffs": [10],
        "actual": [[4.0, 4.0]],
        "scale": [1.0],
        "predictions": {"sarima": [[2.0, 2.0]], "ets": [[6.0, 6.0]], "naive": [[5.0, 5.0]]},
    }
    scores = score_evidence(evidence)
    assert scores["sarima+ets"] == pytest.approx(0.0)
    assert scores["sarima"] == scores["ets"] == pytest.approx(2.0)


def test_a_local_pair_forecasts_the_average_of_its_members():
    # given eight years of monthly demand with a yearly cycle
    rng = np.random.default_rng(9)
    months = pd.date_range("2015-01-01", periods=96, freq="MS")
    y = 200 + 50 * np.sin(np.arange(96) * 2 * np.pi / 12) + rng.normal(0, 8, 96)
    history = pd.DataFrame({"unique_id": "a", "ds": months, "y": np.round(y)})

    pair = forecast_many(history, horizon=12, freq="MS", models="sarima+ets", level=(80,))
    members = [forecast_many(history, horizon=12, freq="MS", models=name, level=(80,)) for name in ("sarima", "ets")]

    # then the pair is named after both members and its mean and bounds are their averages
    assert set(pair.model) == {"sarima+ets"}
    for column in ("mean", "lo-80", "hi-80"):
        np.testing.assert_allclose(pair[column], (members[0][column] + members[1][column]) / 2)
    # and a backtest of the pair alone backtests its members to score it
    report = backtest(history, horizon=12, freq="MS", n_windows=2, models=["sarima+ets"])
    assert list(report.model) == ["sarima+ets"]
    assert report.rmsse.iloc[0] < 1.0


def test_a_pair_within_one_standard_error_of_the_best_model_is_chosen():
    from forecasting.selection import choose_per_class

    rng = np.random.default_rng(5)
    noise = rng.normal(0, 0.2, 200)
    # given a class where sarima leads its pair with ets by less than the noise between series
    close = [
        ("smooth", {"sarima": 1.0 + e, "sarima+ets": 1.005 + e + d, "ets": 1.2 + e, "naive": 1.5})
        for e, d in zip(noise, rng.normal(0, 0.1, 200), strict=True)
    ]
    # and a class where it leads by far more than that
    clear = [
        ("intermittent", {"sarima": 1.0 + e, "sarima+ets": 1.2 + e + d, "ets": 1.5 + e, "naive": 1.5})
        for e, d in zip(noise, rng.normal(0, 0.1, 200), strict=True)
    ]

    chosen = choose_per_class(close + clear)

    # then the first class gets the pair (its lead is noise), the second keeps the single model
    assert chosen == {"smooth": "sarima+ets", "intermittent": "sarima"}
    # and a pair without the best model as a member is never preferred for being close
    others = [("smooth", {"sarima": 1.0 + e, "ets+naive": 1.001 + e}) for e in noise]
    assert choose_per_class(others) == {"smooth": "sarima"}


def test_the_package_is_the_public_face_of_the_engine():
    # given the package imported by its name
    import forecasting
    from forecasting.models import GlobalForecaster, LocalForecaster
    from forecasting.models.lstm import GlobalLSTM

    # then forecast_many and backtest come from it, and every model has an explicit base class
    assert forecasting.forecast_many is forecast_many
    assert forecasting.backtest is backtest
    assert issubclass(GlobalLSTM, GlobalForecaster)
    from forecasting.model_catalog import MODELS

    assert all(isinstance(factory(12, (12,)), LocalForecaster) for factory in MODELS.values())


def test_without_tensorflow_auto_goes_without_the_network_and_asking_for_it_says_why(monkeypatch):
    from forecasting import engine

    monkeypatch.setattr(engine, "network_available", lambda: False)
    rng = np.random.default_rng(3)
    rows = [
        {"unique_id": f"s{n}", "ds": day, "y": float(rng.poisson(5))}
        for n in range(110)
        for day in pd.date_range("2025-01-05", periods=40, freq="W-SUN")
    ]
    frame = pd.DataFrame(rows)
    result = engine.forecast_many(frame, 4, "W-SUN", models="auto")
    assert set(result["unique_id"]) == {f"s{n}" for n in range(110)}
    assert not result["model"].str.contains("lstm").any()
    with pytest.raises(ValueError, match="needs TensorFlow"):
        engine.forecast_many(frame, 4, "W-SUN", models="lstm")
