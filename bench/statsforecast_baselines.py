"""External comparison rows for the accuracy benchmark: Nixtla statsforecast models on our protocols.

    .venv-bench/bin/python bench/statsforecast_baselines.py [--data ../shared/data/online_retail.csv.gz]
        [--models AutoETS,AutoARIMA,CrostonSBA,TSB,ADIDA,IMAPA] [--n-jobs 1]
        [--pbs ../shared/data/pbs_scripts_monthly.csv.gz] [--pbs-models AutoETS,AutoARIMA,AutoETS+AutoARIMA]

A bench-only tool with its own virtualenv (bench/requirements-statsforecast.txt): statsforecast needs pandas<3 and the
product pins pandas 3. The protocols are bench/accuracy.py's, reused unchanged: its `evaluate` (OR-weekly) and
`evaluate_pbs` (PBS monthly) call the module-level name `accuracy.forecast_many`, so this script rebinds that name to
`statsforecast_many` before calling them and passes a statsforecast model name where accuracy.py passes one of ours.
A name joining models with "+" (e.g. AutoETS+AutoARIMA) is the point-wise median of their forecasts.

Each series runs from its first sale to the origin with zeros in the weeks it sold nothing, as in our engine.
AutoETS and AutoARIMA give their own 80% intervals; the intermittent methods have none in statsforecast, so they get
conformal intervals (absolute errors of up to 4 rolling refits of the horizon); series too short for two windows
(2 x horizon + 1 periods) get no interval, which counts as a miss in cov80. Forecasts and bounds are clipped at zero,
as our engine's are: demand is never negative, and clipping is what reproduces the reference figures. A model that
fails on a series falls back to statsforecast's Naive there. Seconds are fitting time only; a combination is charged
the time of its members.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import accuracy
import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import ADIDA, IMAPA, TSB, AutoARIMA, AutoETS, CrostonOptimized, CrostonSBA, Naive
from statsforecast.utils import ConformalIntervals

CONFORMAL_WINDOWS = 4
Factory = Callable[[int, int], object]  # (season length, horizon) -> statsforecast model


def _conformal(horizon: int) -> ConformalIntervals:
    return ConformalIntervals(h=horizon, n_windows=CONFORMAL_WINDOWS)


MODELS: dict[str, Factory] = {
    "AutoETS": lambda m, h: AutoETS(season_length=m),
    "AutoARIMA": lambda m, h: AutoARIMA(season_length=m),
    "CrostonSBA": lambda m, h: CrostonSBA(prediction_intervals=_conformal(h)),
    "CrostonOptimized": lambda m, h: CrostonOptimized(prediction_intervals=_conformal(h)),
    "TSB": lambda m, h: TSB(alpha_d=0.2, alpha_p=0.2, prediction_intervals=_conformal(h)),
    "ADIDA": lambda m, h: ADIDA(prediction_intervals=_conformal(h)),
    "IMAPA": lambda m, h: IMAPA(prediction_intervals=_conformal(h)),
}
OR_MODELS = "AutoETS,AutoARIMA,CrostonSBA,TSB,ADIDA,IMAPA"
PBS_MODELS = "AutoETS,AutoARIMA,AutoETS+AutoARIMA"
SEASON_LENGTHS = {"W-SUN": 52, "MS": 12}

# Fitted forecasts by (model, data fingerprint), so a combination reuses its members' fits; and the fitting cost of
# every call since the last reset, as (seconds, series), for the timing columns.
_fitted: dict[tuple, tuple[pd.DataFrame, float]] = {}
costs: list[tuple[float, int]] = []


def regular(history: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Each series from its first period to the last period of the whole history, zeros where it had no row."""
    end = history.ds.max()
    pieces = []
    for unique_id, series in history.groupby("unique_id", sort=True):
        grid = pd.date_range(series.ds.min(), end, freq=freq)
        y = series.groupby("ds").y.sum().reindex(grid, fill_value=0.0).astype(float)
        pieces.append(pd.DataFrame({"unique_id": unique_id, "ds": grid, "y": y.to_numpy()}))
    return pd.concat(pieces, ignore_index=True)


def _fit_one(
    frame: pd.DataFrame, name: str, horizon: int, freq: str, season_length: int, level: tuple[int, ...], n_jobs: int
) -> pd.DataFrame:
    model = MODELS[name](season_length, horizon)
    lengths = frame.groupby("unique_id").size()
    conformal = getattr(model, "prediction_intervals", None) is not None
    short = lengths.index[lengths < 2 * horizon + 1] if conformal else lengths.index[:0]
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast warns per call about series that get fewer conformal windows
        long_frame = frame[~frame.unique_id.isin(short)]
        if len(long_frame):
            engine = StatsForecast(models=[model], freq=freq, n_jobs=n_jobs, fallback_model=Naive())
            parts.append(engine.forecast(df=long_frame, h=horizon, level=list(level)))
        if len(short):
            engine = StatsForecast(models=[MODELS[name](season_length, horizon)], freq=freq, n_jobs=n_jobs)
            parts.append(engine.forecast(df=frame[frame.unique_id.isin(short)], h=horizon))
    forecast = pd.concat(parts, ignore_index=True).rename(columns={model.alias: "mean"})
    forecast.columns = [column.removeprefix(f"{model.alias}-") for column in forecast.columns]
    for value in level:
        for side in ("lo", "hi"):
            if f"{side}-{value}" not in forecast:
                forecast[f"{side}-{value}"] = np.nan
    values = ["mean"] + [f"{side}-{value}" for value in level for side in ("lo", "hi")]
    forecast[values] = forecast[values].clip(lower=0.0)
    return forecast


def statsforecast_many(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    season_length: int | None = None,
    level: Sequence[int] = (80,),
    models: str = "AutoETS",
    n_jobs: int | None = None,
    **_: object,
) -> pd.DataFrame:
    """Stands in for `forecasting.engine.forecast_many`: `unique_id, ds, mean, lo-<L>, hi-<L>, model` per series and
    future period, from the statsforecast model (or "+"-joined median of models) named by `models`."""
    season_length = season_length or SEASON_LENGTHS[freq]
    frame = regular(history[["unique_id", "ds", "y"]], freq)
    fingerprint = (
        int(pd.util.hash_pandas_object(frame, index=False).sum()),
        horizon,
        freq,
        season_length,
        tuple(level),
    )
    members, seconds = [], 0.0
    for name in models.split("+"):
        if (name, fingerprint) not in _fitted:
            started = time.perf_counter()
            forecast = _fit_one(frame, name, horizon, freq, season_length, tuple(level), n_jobs or 1)
            _fitted[name, fingerprint] = forecast, time.perf_counter() - started
        forecast, cost = _fitted[name, fingerprint]
        members.append(forecast.set_index(["unique_id", "ds"]).sort_index())
        seconds += cost
    costs.append((seconds, frame.unique_id.nunique()))
    columns = ["mean"] + [f"{side}-{value}" for value in level for side in ("lo", "hi")]
    combined = pd.concat([member[columns] for member in members]).groupby(level=["unique_id", "ds"]).median()
    return combined.reset_index().assign(model=models)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=accuracy.ROOT.parent / "shared" / "data" / "online_retail.csv.gz")
    parser.add_argument("--models", default=OR_MODELS, help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--pbs", type=Path, help="also run the PBS monthly protocol on this file")
    parser.add_argument("--pbs-models", default=PBS_MODELS)
    args = parser.parse_args()
    names = {name for spec in (args.models, args.pbs_models) for model in spec.split(",") for name in model.split("+")}
    unknown = sorted(names - set(MODELS) - {""})
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    accuracy.forecast_many = statsforecast_many  # accuracy.evaluate/evaluate_pbs look the name up at call time
    if args.models:  # an empty --models runs the PBS protocol alone
        weekly = accuracy.weekly_demand(args.data)
        origins = ", ".join(str(origin.date()) for origin in accuracy.ORIGINS)
        print(f"OR-weekly: {weekly.unique_id.nunique():,} stock codes, origins {origins}")
        print(
            f"{'model':<18}{'WRMSSE':>8}{'MASE':>8}{'bias':>8}{'cov80':>8}{'s/origin':>10}{'s/1k series':>13}"
            "  WRMSSE by origin"
        )
        for model in args.models.split(","):
            costs.clear()
            result = accuracy.evaluate(weekly, model, args.n_jobs)
            seconds, series = (sum(column) for column in zip(*costs, strict=True))
            per_origin, per_thousand = seconds / len(costs), seconds / series * 1000
            by_origin = " ".join(f"{value:.3f}" for value in result["by_origin"])
            print(
                f"{model:<18}{result['wrmsse']:>8.3f}{result['mase']:>8.3f}{result['bias']:>8.2f}"
                f"{result['coverage80']:>8.0%}{per_origin:>10.1f}{per_thousand:>13.1f}  {by_origin}",
                flush=True,
            )
    if args.pbs:
        monthly = accuracy.pbs_monthly(args.pbs)
        print(f"\nPBS monthly: {monthly.unique_id.nunique():,} series, train to 2007-06, 12 months ahead")
        print(f"{'model':<18}{'mean MASE':>10}{'median':>8}{'s/1k series':>13}")
        for model in args.pbs_models.split(","):
            costs.clear()
            result = accuracy.evaluate_pbs(monthly, model, args.n_jobs)
            seconds, series = (sum(column) for column in zip(*costs, strict=True))
            per_thousand = seconds / series * 1000
            print(f"{model:<18}{result['mean']:>10.3f}{result['median']:>8.3f}{per_thousand:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
