"""External comparison rows for the accuracy benchmark: Nixtla statsforecast models on our protocols.

    .venv-bench/bin/python bench/statsforecast_baselines.py [--data ../shared/data/online_retail.csv.gz]
        [--models AutoETS,AutoARIMA,CrostonSBA,TSB,ADIDA,IMAPA] [--n-jobs 1]
        [--pbs ../shared/data/pbs_scripts_monthly.csv.gz] [--pbs-models AutoETS,AutoARIMA,AutoETS+AutoARIMA]
    .venv-bench/bin/python bench/statsforecast_baselines.py --sets rossmann-weekly,rossmann-daily,bike-daily
        [--models SeasonalNaive,MSTL,AutoETS] [--shared ../shared/data] [--json]

A bench-only tool with its own virtualenv (bench/requirements-statsforecast.txt): statsforecast needs pandas<3 and the
product pins pandas 3. The protocols are bench/accuracy.py's, reused unchanged: its `evaluate` (OR-weekly) and
`evaluate_pbs` (PBS monthly) call the module-level name `accuracy.forecast_many`, so this script rebinds that name to
`statsforecast_many` before calling them and passes a statsforecast model name where accuracy.py passes one of ours;
the shared-data sets (bench/protocols.py) take the forecaster as an argument and get `statsforecast_many`.
bench/accuracy.py runs this script with `--json` for its `--peers`: one JSON object per line and model
(`{"set", "model", "result"}`), which it prints as `sf:<model>` rows of its own tables. `--sets` defaults to
or-weekly, plus pbs with `--pbs`; `--models` to the list above for or-weekly and to SeasonalNaive,MSTL for the others.
A name joining models with "+" (e.g. AutoETS+AutoARIMA) is the point-wise median of their forecasts.

Each series runs from its first sale to the origin with zeros in the weeks it sold nothing, as in our engine.
AutoETS and AutoARIMA give their own 80% intervals; the intermittent methods have none in statsforecast, so they get
conformal intervals (absolute errors of up to 4 rolling refits of the horizon); series too short for two windows
(2 x horizon + 1 periods) get no interval, which counts as a miss in cov80. Forecasts and bounds are clipped at zero,
as our engine's are: demand is never negative, and clipping is what reproduces the reference figures. A model that
fails on a series falls back to statsforecast's Naive there. Seconds are fitting time only on or-weekly and pbs (a
combination is charged the time of its members); on the shared-data sets they are the wall time of the forecast
call, as for our rows.

Season lengths: 52 for weeks, 12 for months, 7 for days; MSTL gets [7, 365] for days (a week and a year) and keeps
its default trend forecaster, AutoETS(model="ZZN"); SeasonalNaive and AutoETS get the single season. AutoETS with 52
may choose a seasonal model, but on rossmann-weekly it picked none (every 15th store, at each origin): there it is a
non-seasonal ETS.

MSTL with a season longer than half the series (statsforecast 2.1.1, read in statsforecast/mstl.py and models.py):
`mstl()` keeps every period it is given whatever the series' length. R's forecast::mstl drops the periods of at
least half the series; this port has no such test, and hands each period to statsmodels' STL, which checks only that
the period is at least 2 (its trend window, 91 for a period of 52 with the default seasonal window 11, may be longer
than the series). With 1.5 to 2.5 cycles (rossmann-weekly's origins hold 77, 94 and 125 weeks) each week of the year
is a cycle-subseries of one to three values; where it holds one, STL's seasonal component takes the whole detrended
value (the remainder there is ~0), and MSTL forecasts each season by repeating its last cycle. After the 77- and
94-week origins the 8 weeks ahead fall on weeks of the year seen once (after the October origin: the weeks up to
Christmas 2013), so MSTL's forecast is last year's detrended week plus the AutoETS forecast of the trend: a
detrended seasonal naive, not a smoothed season. The same holds for the 365-day period at rossmann-daily's first
origin (685 days) and at every bike-daily origin (456 to 700 days); at rossmann-daily's later origins (804 and 900
days) and rossmann-weekly's last one every forecast day or week of the year has been seen twice.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import accuracy
import numpy as np
import pandas as pd
import protocols
from statsforecast import StatsForecast
from statsforecast.models import (
    ADIDA,
    IMAPA,
    MSTL,
    TSB,
    AutoARIMA,
    AutoETS,
    CrostonOptimized,
    CrostonSBA,
    Naive,
    SeasonalNaive,
)
from statsforecast.utils import ConformalIntervals

CONFORMAL_WINDOWS = 4
Factory = Callable[[int, int, str], object]  # (season length, horizon, frequency) -> statsforecast model


def _conformal(horizon: int) -> ConformalIntervals:
    return ConformalIntervals(h=horizon, n_windows=CONFORMAL_WINDOWS)


# The cycles MSTL decomposes where one season is not the whole story: a day sits in a week and in a year.
MULTIPLE_SEASONS = {"D": [7, 365]}
MODELS: dict[str, Factory] = {
    "AutoETS": lambda m, h, freq: AutoETS(season_length=m),
    "AutoARIMA": lambda m, h, freq: AutoARIMA(season_length=m),
    "SeasonalNaive": lambda m, h, freq: SeasonalNaive(season_length=m),
    "MSTL": lambda m, h, freq: MSTL(season_length=MULTIPLE_SEASONS.get(freq, m)),
    "CrostonSBA": lambda m, h, freq: CrostonSBA(prediction_intervals=_conformal(h)),
    "CrostonOptimized": lambda m, h, freq: CrostonOptimized(prediction_intervals=_conformal(h)),
    "TSB": lambda m, h, freq: TSB(alpha_d=0.2, alpha_p=0.2, prediction_intervals=_conformal(h)),
    "ADIDA": lambda m, h, freq: ADIDA(prediction_intervals=_conformal(h)),
    "IMAPA": lambda m, h, freq: IMAPA(prediction_intervals=_conformal(h)),
}
OR_MODELS = "AutoETS,AutoARIMA,CrostonSBA,TSB,ADIDA,IMAPA"
PBS_MODELS = "AutoETS,AutoARIMA,AutoETS+AutoARIMA"
SET_MODELS = "SeasonalNaive,MSTL"
SETS = ("or-weekly", "pbs", *protocols.PROTOCOLS)
SEASON_LENGTHS = {"W-SUN": 52, "MS": 12, "D": 7}

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
    model = MODELS[name](season_length, horizon, freq)
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
            engine = StatsForecast(models=[MODELS[name](season_length, horizon, freq)], freq=freq, n_jobs=n_jobs)
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


def print_or_weekly(path: Path, models: str, n_jobs: int) -> None:
    weekly = accuracy.weekly_demand(path)
    origins = ", ".join(str(origin.date()) for origin in accuracy.ORIGINS)
    print(f"OR-weekly: {weekly.unique_id.nunique():,} stock codes, origins {origins}")
    print(
        f"{'model':<18}{'WRMSSE':>8}{'MASE':>8}{'bias':>8}{'cov80':>8}{'s/origin':>10}{'s/1k series':>13}"
        "  WRMSSE by origin"
    )
    for model in models.split(","):
        costs.clear()
        result = accuracy.evaluate(weekly, model, n_jobs)
        seconds, series = (sum(column) for column in zip(*costs, strict=True))
        per_origin, per_thousand = seconds / len(costs), seconds / series * 1000
        by_origin = " ".join(f"{value:.3f}" for value in result["by_origin"])
        print(
            f"{model:<18}{result['wrmsse']:>8.3f}{result['mase']:>8.3f}{result['bias']:>8.2f}"
            f"{result['coverage80']:>8.0%}{per_origin:>10.1f}{per_thousand:>13.1f}  {by_origin}",
            flush=True,
        )


def print_pbs(path: Path, models: str, n_jobs: int) -> None:
    monthly = accuracy.pbs_monthly(path)
    print(f"\nPBS monthly: {monthly.unique_id.nunique():,} series, train to 2007-06, 12 months ahead")
    print(f"{'model':<18}{'mean MASE':>10}{'median':>8}{'s/1k series':>13}")
    for model in models.split(","):
        costs.clear()
        result = accuracy.evaluate_pbs(monthly, model, n_jobs)
        seconds, series = (sum(column) for column in zip(*costs, strict=True))
        per_thousand = seconds / series * 1000
        print(f"{model:<18}{result['mean']:>10.3f}{result['median']:>8.3f}{per_thousand:>13.1f}", flush=True)


def run_protocol(name: str, shared: Path, models: str, n_jobs: int, as_json: bool) -> None:
    """The shared-data set `name`, scored by bench/protocols.py; with `as_json`, one JSON line per model for
    bench/accuracy.py to print in its own table."""
    protocol = protocols.PROTOCOLS[name]
    panel = protocol.load(shared)
    if not as_json:
        print(protocols.header(protocol, panel), flush=True)
    for model in models.split(","):
        result = protocols.evaluate(protocol, panel, model, n_jobs, forecast=statsforecast_many)
        if as_json:
            print(json.dumps({"set": name, "model": model, "result": result}), flush=True)
        else:
            print(protocols.row(protocol, model, result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", help=f"comma-separated, from {','.join(SETS)} (default: or-weekly [,pbs])")
    parser.add_argument("--shared", type=Path, default=protocols.ROOT.parent / "shared" / "data")
    parser.add_argument("--data", type=Path, help="the Online Retail file (default: online_retail.csv.gz in --shared)")
    parser.add_argument("--models", help=f"from {', '.join(MODELS)} (default: {OR_MODELS}; {SET_MODELS} off OR)")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--pbs", type=Path, help="also run the PBS monthly protocol on this file")
    parser.add_argument("--pbs-models", default=PBS_MODELS)
    parser.add_argument("--json", action="store_true", help="shared-data results as JSON lines (for accuracy.py)")
    args = parser.parse_args()
    if args.sets:
        sets = args.sets.split(",")
    else:  # an empty --models runs the PBS protocol alone, as it always has
        sets = [*(["or-weekly"] if args.models != "" else []), *(["pbs"] if args.pbs else [])]
    unknown_sets = sorted(set(sets) - set(SETS))
    if unknown_sets:
        parser.error(f"unknown set(s) {', '.join(unknown_sets)}; known: {', '.join(SETS)}")
    specs = [args.models or OR_MODELS, args.models or SET_MODELS, args.pbs_models]
    names = {name for spec in specs for model in spec.split(",") for name in model.split("+")}
    unknown = sorted(names - set(MODELS) - {""})
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    accuracy.forecast_many = statsforecast_many  # accuracy.evaluate/evaluate_pbs look the name up at call time
    for name in sets:
        if name == "or-weekly":
            print_or_weekly(args.data or args.shared / "online_retail.csv.gz", args.models or OR_MODELS, args.n_jobs)
        elif name == "pbs":
            print_pbs(args.pbs or args.shared / "pbs_scripts_monthly.csv.gz", args.pbs_models, args.n_jobs)
        else:
            run_protocol(name, args.shared, args.models or SET_MODELS, args.n_jobs, args.json)


if __name__ == "__main__":
    main()
