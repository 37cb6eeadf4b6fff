"""The pooled level calibration of "auto": the year-end signature, the fit, and its use in forecast_many."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import network, pipeline, selection
from forecasting.calibration import LevelCalibration, year_end_signature
from forecasting.engine import forecast_many


def test_year_end_signature_compares_the_last_complete_december_with_the_mean():
    # given a year of weeks in which the item sold three times its usual amount in December
    weeks = pd.date_range("2022-10-02", "2023-09-24", freq="W-SUN")
    values = np.where(weeks.month == 12, 30.0, 10.0)
    # when its signature is measured
    signature = year_end_signature(values, weeks)
    # then it is the log of December's mean (plus the floor) over the whole mean
    mean = values.mean()
    assert signature == pytest.approx(np.log((30.0 + 0.05 * mean) / mean))
    # and a flat item has none worth speaking of, a history without an old enough December none at all
    assert abs(year_end_signature(np.full(len(weeks), 10.0), weeks) - np.log(1.05)) < 1e-12
    recent = pd.date_range("2023-01-01", periods=40, freq="W-SUN")
    assert year_end_signature(np.ones(40), recent) == 0.0
    assert year_end_signature(np.zeros(len(weeks)), weeks) == 0.0


def test_a_december_still_under_way_is_not_a_signature():
    # given a history that ends in mid-December: this December is today's momentum, not a signature
    weeks = pd.date_range("2023-01-01", "2023-12-17", freq="W-SUN")
    values = np.where(weeks.month == 12, 50.0, 10.0)
    assert year_end_signature(values, weeks) == 0.0


def test_calibration_recovers_a_known_store_factor_and_seasonal_slope():
    # given backtest rows where actual demand is the forecast level times exp(0.2 + 0.3 * signature)
    rng = np.random.default_rng(3)
    level = rng.uniform(1.0, 50.0, 500)
    signature = rng.normal(0.0, 1.0, 500)
    actual = level * np.exp(0.2 + 0.3 * signature)
    # when the calibration is fitted
    calibration = LevelCalibration().fit(level, actual, signature, np.sqrt(level), np.ones(500))
    # then it finds both coefficients and scales forecasts by them, within its bounds
    assert calibration.coef_ == pytest.approx([0.2, 0.3], abs=1e-6)
    assert calibration.factor([0.0, 1.0]) == pytest.approx(np.exp([0.2, 0.5]))
    assert calibration.factor([100.0])[0] == pytest.approx(np.exp(0.7))


def test_calibration_refuses_too_little_evidence():
    with pytest.raises(ValueError, match="at least 100"):
        LevelCalibration().fit(np.ones(20), np.ones(20), np.zeros(20), np.ones(20), np.ones(20))


def seasonal_store() -> pd.DataFrame:
    """120 items over 60 weeks to late November: half sold triple in the last December and are ramping up again
    since September; the other half sell steadily."""
    rng = np.random.default_rng(5)
    weeks = pd.date_range("2022-10-09", periods=60, freq="W-SUN")
    ramp = np.clip((weeks - pd.Timestamp("2023-09-01")).days / 7.0, 0.0, None)
    seasonal_rate = np.where(weeks.month == 12, 30.0, 10.0) + 2.0 * ramp
    frames = []
    for item in range(120):
        rate = seasonal_rate if item % 2 else np.full(len(weeks), 10.0)
        frames.append(
            pd.DataFrame({"unique_id": f"item-{item:03d}", "ds": weeks, "y": rng.poisson(rate).astype(float)})
        )
    return pd.concat(frames, ignore_index=True)


def test_auto_lifts_the_items_with_a_year_end_signature_while_the_season_ramps(monkeypatch):
    # given a store in its autumn ramp (the global network left out to keep the test fast)
    monkeypatch.setattr(network, "backtest_global", lambda series, *args, **kwargs: ([{} for _ in series], None))
    monkeypatch.setattr(network, "train_final_network", lambda *args, **kwargs: None)
    history = seasonal_store()
    # when it is forecast with and without the calibration
    plain = forecast_many(history, horizon=4, freq="W-SUN", level=(80,), calibrate=False).set_index(["unique_id", "ds"])
    calibrated = forecast_many(history, horizon=4, freq="W-SUN", level=(80,)).set_index(["unique_id", "ds"])
    # then the seasonal items are raised more than the steady ones, bounds scaled with their means
    ratio = (calibrated["mean"] / plain["mean"]).groupby(level="unique_id").mean()
    seasonal = ratio[[f"item-{item:03d}" for item in range(1, 120, 2)]]
    steady = ratio[[f"item-{item:03d}" for item in range(0, 120, 2)]]
    assert seasonal.min() > steady.max()
    assert seasonal.mean() > 1.05
    assert (calibrated["lo-80"] <= calibrated["mean"]).all()
    assert (calibrated["mean"] <= calibrated["hi-80"]).all()
    row_ratio = calibrated["mean"] / plain["mean"]
    assert np.allclose(calibrated["hi-80"], plain["hi-80"] * row_ratio)


def calibration_evidence(signature_at_cutoff: np.ndarray, whole_series_signature: np.ndarray) -> list[dict]:
    """Backtest evidence of one window per series in which demand came in at the forecast level times
    exp(0.3 * the signature known at the window's cutoff)."""
    evidence = []
    for position, (at_cutoff, whole) in enumerate(zip(signature_at_cutoff, whole_series_signature, strict=True)):
        level = 5.0 + position % 20
        evidence.append(
            {
                "class": "smooth",
                "cutoffs": [40],
                "actual": [[level * np.exp(0.3 * at_cutoff)] * 4],
                "scale": [2.0],
                "predictions": {"imapa": [[level] * 4]},
                "length": 44,
                "signature": float(whole),
                "signatures": [float(at_cutoff)],
                "level_scale": [2.0],
                "units": [8.0 * level],
            }
        )
    return evidence


def test_calibration_fits_each_window_with_the_signature_known_at_its_cutoff():
    # given windows whose outcome follows the signature read at their cutoffs, while the whole series' signature
    # (which has seen the window's own sales) tells another story
    rng = np.random.default_rng(11)
    at_cutoff = rng.normal(0.0, 1.0, 200)
    whole = rng.normal(0.0, 1.0, 200)
    evidence = calibration_evidence(at_cutoff, whole)
    # when the store's calibration is fitted
    coefficients = selection.fit_calibration(evidence, None, {"smooth": "imapa"})
    # then it recovers the slope on the signature known at the cutoff
    assert coefficients == pytest.approx([0.0, 0.3], abs=1e-6)
    # and evidence without per-cutoff signatures (an older run's) falls back to the whole series' signature
    for item in evidence:
        item.pop("signatures")
    assert selection.fit_calibration(evidence, None, {"smooth": "imapa"})[1] == pytest.approx(0.0, abs=0.1)


def test_backtest_evidence_keeps_the_signature_as_read_at_each_cutoff():
    # given a seasonal item with 60 weeks of history
    history = seasonal_store()
    [series] = pipeline.prepare(history[history.unique_id == "item-001"], "W-SUN")
    _, index, values = series
    # when its backtest evidence is gathered
    [item] = pipeline.backtest_local([series], horizon=4, freq="W-SUN", season_length=52, windows=2)
    # then each cutoff carries the signature of the history before it
    assert item["signatures"] == [year_end_signature(values[:cutoff], index[:cutoff]) for cutoff in item["cutoffs"]]
    assert item["signatures"] != [item["signature"]] * 2
