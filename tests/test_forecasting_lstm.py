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
