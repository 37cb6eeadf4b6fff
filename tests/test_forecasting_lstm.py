"""The global LSTM: trained across many series, its own intervals, deterministic, saved and warm-started."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import metrics
from forecasting.engine import backtest, forecast_many

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

WEEKS = pd.date_range("2023-01-01", periods=70, freq="W-SUN")


def panel(n_series: int = 120, seed: int = 4) -> pd.DataFrame:
    """Series of very different sizes sharing one shape: a 13-week cycle that no per-series level method follows."""
    rng = np.random.default_rng(seed)
    frames = []
    for number in range(n_series):
        size = float(rng.choice([2, 20, 200]))
        level = size * (1.0 + 0.6 * np.sin(2 * np.pi * np.arange(70) / 13))
        frames.append(pd.DataFrame({"unique_id": f"sku-{number}", "ds": WEEKS, "y": rng.poisson(level).astype(float)}))
    return pd.concat(frames, ignore_index=True)


def as_arrays(history: pd.DataFrame):
    groups = list(history.groupby("unique_id", sort=True))
    return [g.y.to_numpy(float) for _, g in groups], [pd.DatetimeIndex(g.ds) for _, g in groups]


def test_one_network_learns_across_series_with_ordered_quantile_intervals(tmp_path):
    from forecasting.models.lstm import GlobalLSTM

    # given 120 series of three sizes, trained up to 6 weeks before the end
    values, dates = as_arrays(panel())
    train = [v[:-6] for v in values]
    train_dates = [d[:-6] for d in dates]
    futures = [d[-6:-2] for d in dates]
    model = GlobalLSTM(horizon=4, levels=(80, 95), epochs=10).fit(train, train_dates)
    predictions = model.predict(train, train_dates, futures, level=(80, 95))

    # then every series gets a forecast on its own scale, better than repeating the last week
    errors = [metrics.rmsse(v[-6:-2], p["mean"], t) for v, p, t in zip(values, predictions, train, strict=True)]
    naive = [metrics.rmsse(v[-6:-2], np.full(4, t[-1]), t) for v, t in zip(values, train, strict=True)]
    assert np.mean(errors) < np.mean(naive)
    for p in predictions:
        assert np.all(p["lo-95"] <= p["lo-80"])
        assert np.all(p["lo-80"] <= p["mean"])
        assert np.all(p["mean"] <= p["hi-80"])
        assert np.all(p["hi-80"] <= p["hi-95"])
        assert np.all(p["lo-95"] >= 0)
    # the 80% band holds most of the held-out weeks
    inside = [
        np.mean((v[-6:-2] >= p["lo-80"]) & (v[-6:-2] <= p["hi-80"])) for v, p in zip(values, predictions, strict=True)
    ]
    assert 0.6 <= np.mean(inside) <= 0.98

    # when saved and loaded, it predicts the same; when warm-started, it trains on from the saved weights
    loaded = GlobalLSTM.load(model.save(tmp_path / "net"))
    again = loaded.predict(train, train_dates, futures, level=(80, 95))
    np.testing.assert_allclose(again[0]["mean"], predictions[0]["mean"], rtol=1e-6)
    warm = GlobalLSTM(horizon=4, levels=(80, 95)).fit(values, dates, warm_start=loaded, epochs=1)
    assert warm.n_samples_ > model.n_samples_
    with pytest.raises(ValueError, match="levels"):
        loaded.predict(train, train_dates, futures, level=(50,))


def test_training_is_deterministic_for_a_seed():
    from forecasting.models.lstm import GlobalLSTM

    values, dates = as_arrays(panel(40))
    futures = [pd.date_range(d[-1], periods=5, freq="W-SUN")[1:] for d in dates]
    first = GlobalLSTM(horizon=4, epochs=2, seed=7, min_steps=0).fit(values, dates).predict(values, dates, futures)
    second = GlobalLSTM(horizon=4, epochs=2, seed=7, min_steps=0).fit(values, dates).predict(values, dates, futures)
    np.testing.assert_array_equal(first[3]["mean"], second[3]["mean"])


def test_forecast_many_with_the_network_in_a_pair_and_in_auto(tmp_path, monkeypatch):
    from forecasting import engine, selection

    # a crowd of 30 is enough here, for the network and for the level calibration
    monkeypatch.setattr(engine, "GLOBAL_MIN_SERIES", 30)
    monkeypatch.setattr(selection, "GLOBAL_MIN_SERIES", 30)
    history = panel(40)
    # the network averaged with a local model keeps the API contract
    result = forecast_many(history, horizon=4, freq="W-SUN", models="lstm+imapa")
    assert set(result.model) == {"lstm+imapa"}
    assert result.unique_id.nunique() == 40
    assert (result["lo-80"] <= result["mean"]).all()
    assert (result["mean"] <= result["hi-80"]).all()
    # auto backtests the network with the local models; the network is saved for the next run's warm start
    chosen = forecast_many(history, horizon=4, freq="W-SUN", models="auto", model_dir=tmp_path, windows=1)
    assert chosen.unique_id.nunique() == 40
    assert chosen.model.str.contains("lstm").any() == (tmp_path / "config.json").exists()
    scores = backtest(history, horizon=4, freq="W-SUN", n_windows=1, models=["imapa", "lstm", "lstm+imapa"])
    assert set(scores.model) == {"imapa", "lstm", "lstm+imapa"}
    assert scores.groupby("model").rmsse.mean().notna().all()


def promotion_panel(n_series: int = 150, weeks: int = 90, horizon: int = 4, uplift: float = 1.6, seed: int = 3):
    """Series of three sizes whose weeks on promotion (a fifth of them, at random) sell `uplift` times more; every
    other series has promotions on the first and third week ahead."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=weeks + horizon, freq="W-SUN")
    values, promotions = [], []
    for number in range(n_series):
        level = float(rng.choice([5, 20, 100]))
        promotion = (rng.random(weeks + horizon) < 0.2).astype(float)
        promotion[weeks:] = 0.0
        if number % 2 == 0:
            promotion[[weeks, weeks + 2]] = 1.0
        values.append(rng.poisson(level * np.where(promotion > 0, uplift, 1.0)).astype(float))
        promotions.append(promotion)
    return values, promotions, dates


def test_the_network_reads_a_promotion_and_recovers_its_uplift(tmp_path):
    from forecasting.models.lstm import GlobalLSTM

    # given 150 series whose promoted weeks sell 1.6 times more, and the promotions planned for the weeks ahead
    values, promotions, dates = promotion_panel()
    history = [v[:90] for v in values]
    periods = [dates[:90]] * len(values)
    futures = [dates[90:]] * len(values)
    drivers = [p[:, None] for p in promotions]  # history and horizon, as driver_matrices lays them out

    # when the network is trained with and without the promotion
    reading = GlobalLSTM(horizon=4, epochs=10, seed=1).fit(history, periods, drivers=drivers, driver_names=["promo"])
    blind = GlobalLSTM(horizon=4, epochs=10, seed=1).fit(history, periods)
    seen = reading.predict(history, periods, futures, drivers=drivers, driver_names=["promo"])
    unseen = blind.predict(history, periods, futures)

    # then its forecast of the promoted weeks is the uplift over the others, within 10%, and its error is lower
    ratios = [p["mean"][[0, 2]].mean() / p["mean"][[1, 3]].mean() for p in seen[::2]]
    assert np.mean(ratios) == pytest.approx(1.6, rel=0.10)

    def rmse(predictions):
        return np.mean([np.sqrt(np.mean((v[90:] - p["mean"]) ** 2)) for v, p in zip(values, predictions, strict=True)])

    assert rmse(seen) < 0.8 * rmse(unseen)
    # saved and loaded, it reads the drivers on the same scale; a driver it was not trained on is ignored by name
    loaded = GlobalLSTM.load(reading.save(tmp_path / "net"))
    extra = [np.column_stack([np.full(len(p), 7.0), p]) for p in promotions]
    again = loaded.predict(history, periods, futures, drivers=extra, driver_names=["other", "promo"])
    np.testing.assert_allclose(again[0]["mean"], seen[0]["mean"], rtol=1e-5)
    # without the drivers it was trained on, the promotion reads as its average: no uplift on the planned weeks
    plain = loaded.predict(history, periods, futures)
    assert np.mean([p["mean"][[0, 2]].mean() / p["mean"][[1, 3]].mean() for p in plain[::2]]) < 1.2


def test_a_history_only_driver_is_never_read_at_the_weeks_forecast():
    from forecasting.models.lstm import GlobalLSTM

    # given a driver known only up to the origin (customers counted)
    values, promotions, dates = promotion_panel(n_series=60, weeks=60)
    history = [v[:60] for v in values]
    periods = [dates[:60]] * len(values)
    futures = [dates[60:]] * len(values)
    drivers = [p[:, None] for p in promotions]
    model = GlobalLSTM(horizon=4, epochs=2, seed=1, min_steps=0, history_only=("customers",))
    model.fit(history, periods, drivers=drivers, driver_names=["customers"])

    # when its values over the horizon change, the forecast does not
    changed = [np.concatenate([p[:60], np.full(4, 50.0)])[:, None] for p in promotions]
    first = model.predict(history, periods, futures, drivers=drivers, driver_names=["customers"])
    second = model.predict(history, periods, futures, drivers=changed, driver_names=["customers"])
    np.testing.assert_array_equal(first[0]["mean"], second[0]["mean"])


def test_forecast_many_gives_the_network_its_drivers():
    # given the promotion panel as forecast_many takes it: history, and the drivers over history and horizon
    values, promotions, dates = promotion_panel(n_series=120)
    history = pd.concat(
        pd.DataFrame({"unique_id": f"sku-{n}", "ds": dates[:90], "y": v[:90]}) for n, v in enumerate(values)
    )
    exog = pd.concat(
        pd.DataFrame({"unique_id": f"sku-{n}", "ds": dates, "promotion": p}) for n, p in enumerate(promotions)
    )

    # when the network alone forecasts with them
    result = forecast_many(history, horizon=4, freq="W-SUN", models="lstm", exog=exog)

    # then the promoted weeks ahead are forecast higher than the others
    means = result.pivot(index="unique_id", columns="ds", values="mean")
    promoted = means.loc[[f"sku-{n}" for n in range(0, 120, 2)]].to_numpy()
    assert np.mean(promoted[:, [0, 2]].mean(axis=1) / promoted[:, [1, 3]].mean(axis=1)) > 1.3
