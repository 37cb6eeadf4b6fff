"""Forecast accuracy of the engine on public data sets, each figure beside its statsforecast peers' from the same run.

    python bench/accuracy.py [--models naive,imapa,auto] [--n-jobs 2]          # or-weekly, as before
    python bench/accuracy.py --pbs ../shared/data/pbs_scripts_monthly.csv.gz --pbs-models seasonal_naive,auto
    python bench/accuracy.py --sets rossmann-weekly,rossmann-daily,bike-daily [--models seasonal_naive,auto]
        [--peers SeasonalNaive,MSTL,AutoETS] [--shared ../shared/data] [--n-jobs 2]

`--sets` (comma-separated: or-weekly, pbs, rossmann-weekly, rossmann-daily, bike-daily) defaults to or-weekly, plus
pbs when `--pbs` is given; files are read from `--shared` (default: shared/data beside the repository). `--models`
defaults to every model of ours for or-weekly and to seasonal_naive,auto for the three shared-data sets.

or-weekly (Online Retail): drops cancellations, non-positive quantities and prices and non-product codes; weekly units
per stock code (weeks ending Sunday) from the week ending 2010-12-05 to the week ending 2011-12-04; four origins
(after the weeks ending 2011-08-07, 2011-09-04, 2011-10-02 and 2011-11-06), each forecasting 4 weeks; in scope at an
origin: codes with sales in at least 8 distinct weeks up to it, each series starting at its first sale. Prints per
model: WRMSSE (each code's RMSSE weighted by its revenue in the last 8 training weeks, averaged over origins), mean
MASE, relative bias (forecast minus actual over actual, all in-scope code-weeks), coverage of the 80% interval,
seconds per origin.

pbs (PBS monthly): series with sales before 2007-07, trained through 2007-06, forecasting the 12 months to 2008-06;
MASE scaled by the seasonal naive (m = 12): mean, mean without one outlier series, median.

rossmann-weekly (Rossmann Store Sales, the Kaggle competition of 2015: for benchmarking only, never shipped): the 935
stores with a row for every day from their first to 2015-07-31. 180 stores have no rows for 2014-07-01..2014-12-31:
missing data, not six months without sales, so they are left out rather than filled with zeros (store 988 lacks only
2013-01-01, its first day is the 2nd: it stays). Weekly sums of Sales, weeks ending Sunday (W-SUN), whole weeks only:
the data start on Tuesday 2013-01-01, so the week ending 2013-01-06 is partial and the series start at the week
ending 2013-01-13; the last whole week ends 2015-07-26. Origins (last training week): 2014-06-29, 2014-10-26 (its 8
weeks run to 2014-12-21, the pre-Christmas peak), 2015-05-31 (its 8 weeks end 2015-07-26). The engine is asked
forecast_many(train, 8, "W-SUN", season_length=52, level=(80,), ...). A store's holiday week holds a day on which
that store has StateHoliday a, b or c.

rossmann-daily: the same stores, daily Sales, closed days (Open = 0, Sales = 0) kept as zeros. Origins (last training
day): 2014-11-16 (42 days to 2014-12-28, across Christmas), 2015-03-15, 2015-06-19 (42 days to 2015-07-31); asked
forecast_many(train, 42, "D", level=(80,), ...) with no season_length: the engine must find the week and the year
itself. Holiday days: the store's days with StateHoliday a, b or c.

bike-daily (Capital Bikeshare, Washington DC, rentals per day 2011-2012: Fanaee-T and Gama, "Event labeling combining
ensemble detectors and background knowledge", Progress in Artificial Intelligence (2013),
doi:10.1007/s13748-013-0040-3; UCI Machine Learning Repository "Bike Sharing", CC BY 4.0): the series casual and
registered (cnt, their sum, is left out), daily from 2011-01-01. Origins 2012-03-31, 2012-06-30, 2012-09-30,
2012-11-30, 28 days ahead (the last window ends 2012-12-28); asked forecast_many(train, 28, "D", level=(80,), ...).

No drivers (weather, holidays, promotions) reach any model in these three sets: only the sales history does.
Each series starts at its first period. Metrics of the three (bench/protocols.py, one loop for all), per origin and
then averaged over origins:
- WRMSSE: each series' RMSSE (scale: the in-sample one-step naive error, as forecasting.metrics.rmsse), weighted by
  its sales in the last 8 training weeks (rossmann-weekly) or 28 training days (rossmann-daily); bike-daily prints
  the plain mean RMSSE. The row ends with the figure of each origin.
- relWMAE: WMAE = sum(w * |error|) / sum(w) over all series and periods of the horizon, w = 5 on a store's holiday
  periods and 1 elsewhere, divided by the WMAE of the seasonal naive forecast (season 52 for weeks, 7 for days) of
  the same training data on the same points; "pooled" divides the sums over all origins instead. bike-daily weighs
  every day 1 (relMAE).
and over all origins together: MASE (mean over series and origins; scale: the in-sample seasonal naive error, m = 52
for weeks, 7 for days), bias (forecast minus actual, over actual), cov80 (share of actuals inside the 80% interval),
s/origin (wall seconds of the forecast call, its data preparation included).

Peers (`--peers`, default SeasonalNaive,MSTL; AutoETS and the models of bench/statsforecast_baselines.py too): Nixtla
statsforecast models run on the same sets and origins, scored by the same code, printed as `sf:<name>` rows under
ours. statsforecast needs pandas<3 and the product pins pandas 3, so they cannot share this process: they run in
their own virtualenv (.venv-bench, bench/requirements-statsforecast.txt) as a subprocess, one per set, which imports
bench/protocols.py and answers one JSON result per model. Without that virtualenv one line says how to create it and
our rows still print. `--peers` covers the three shared-data sets; or-weekly and pbs peers are printed by running
bench/statsforecast_baselines.py itself. What statsforecast's MSTL does with a season longer than half the series is
in that script's docstring.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import protocols  # noqa: E402

from forecasting import metrics  # noqa: E402
from forecasting.engine import MODELS, forecast_many  # noqa: E402

NON_PRODUCT = {"POST", "DOT", "M", "m", "D", "S", "B", "C2", "CRUK", "PADS", "AMAZONFEE", "BANK CHARGES"}
FIRST_WEEK, LAST_WEEK = pd.Timestamp("2010-12-05"), pd.Timestamp("2011-12-04")
ORIGINS = [pd.Timestamp(day) for day in ("2011-08-07", "2011-09-04", "2011-10-02", "2011-11-06")]
HORIZON, MIN_SALE_WEEKS, WEIGHT_WEEKS = 4, 8, 8
# A one-off 7,281 scripts in Dec 2007 on a near-zero series: MASE ~1,300 for every method, ~4 on every mean
# (BENCHMARKS.md quotes the mean without it too).
PBS_OUTLIER = "General | Co-payments | C05"
SETS = ("or-weekly", "pbs", *protocols.PROTOCOLS)
OR_MODELS = ",".join([*MODELS, "lstm", "lstm+imapa", "auto"])
SET_MODELS, PEERS = "seasonal_naive,auto", "SeasonalNaive,MSTL"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
BENCH_SETUP = "python3 -m venv .venv-bench && .venv-bench/bin/pip install -r bench/requirements-statsforecast.txt"


def weekly_demand(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])
    keep = (
        ~raw.InvoiceNo.str.startswith("C")
        & (raw.Quantity > 0)
        & (raw.UnitPrice > 0)
        & ~raw.StockCode.isin(NON_PRODUCT)
        & ~raw.StockCode.str.startswith(("gift_", "DCGS"))
    )
    sales = raw[keep].assign(
        week=lambda f: f.InvoiceDate.dt.to_period("W-SUN").dt.end_time.dt.normalize(),
        revenue=lambda f: f.Quantity * f.UnitPrice,
    )
    weekly = sales.groupby(["StockCode", "week"], as_index=False).agg(y=("Quantity", "sum"), revenue=("revenue", "sum"))
    weekly = weekly[(weekly.week >= FIRST_WEEK) & (weekly.week <= LAST_WEEK)]
    return weekly.rename(columns={"StockCode": "unique_id", "week": "ds"})


def weekly_units(weekly: pd.DataFrame, codes, weeks: pd.DatetimeIndex) -> pd.DataFrame:
    """Units sold per stock code (rows, in the order of `codes`) and week (columns, `weeks`), 0 where none sold."""
    return (
        weekly[weekly.unique_id.isin(codes) & weekly.ds.isin(weeks)]
        .pivot_table(index="unique_id", columns="ds", values="y", aggfunc="sum")
        .reindex(index=codes, columns=weeks)
        .fillna(0.0)
    )


def evaluate(weekly: pd.DataFrame, model: str, n_jobs: int) -> dict[str, float]:
    wrmsse, mases, errors, actual_total, inside, points, seconds = [], [], 0.0, 0.0, 0, 0, []
    for origin in ORIGINS:
        train = weekly[weekly.ds <= origin]
        sale_weeks = train[train.y > 0].groupby("unique_id").ds.nunique()
        scope = sale_weeks[sale_weeks >= MIN_SALE_WEEKS].index
        train = train[train.unique_id.isin(scope)]
        started = time.perf_counter()
        forecast = forecast_many(
            train[["unique_id", "ds", "y"]], HORIZON, "W-SUN", level=(80,), models=model, n_jobs=n_jobs
        )
        seconds.append(time.perf_counter() - started)
        test_weeks = pd.date_range(origin, periods=HORIZON + 1, freq="W-SUN")[1:]
        actual = weekly_units(weekly, scope, test_weeks)
        predicted = forecast.pivot(index="unique_id", columns="ds", values="mean").reindex(
            index=scope, columns=test_weeks
        )
        low = forecast.pivot(index="unique_id", columns="ds", values="lo-80").reindex(index=scope, columns=test_weeks)
        high = forecast.pivot(index="unique_id", columns="ds", values="hi-80").reindex(index=scope, columns=test_weeks)
        recent = train[train.ds > origin - pd.Timedelta(weeks=WEIGHT_WEEKS)].groupby("unique_id").revenue.sum()
        weights = recent.reindex(scope).fillna(0.0)
        weights = weights / weights.sum() if weights.sum() > 0 else pd.Series(1.0 / len(scope), index=scope)
        history = {uid: frame.sort_values("ds") for uid, frame in train.groupby("unique_id")}
        scores = []
        for uid in scope:
            series = history[uid]
            grid = pd.date_range(series.ds.min(), origin, freq="W-SUN")
            y_train = series.set_index("ds").y.reindex(grid).fillna(0.0).to_numpy()
            y_true, y_pred = actual.loc[uid].to_numpy(), predicted.loc[uid].to_numpy()
            scores.append(metrics.rmsse(y_true, y_pred, y_train))
            mases.append(metrics.mase(y_true, y_pred, y_train))
            errors += float(np.sum(y_pred - y_true))
            actual_total += float(np.sum(y_true))
            inside += int(np.sum((y_true >= low.loc[uid].to_numpy()) & (y_true <= high.loc[uid].to_numpy())))
            points += len(y_true)
        wrmsse.append(float(np.dot(weights.to_numpy(), scores)))
    return {
        "wrmsse": float(np.mean(wrmsse)),
        "by_origin": wrmsse,
        "mase": float(np.mean(mases)),
        "bias": errors / actual_total if actual_total else 0.0,
        "coverage80": inside / points,
        "seconds": float(np.mean(seconds)),
    }


def pbs_monthly(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, parse_dates=["Month"])
    raw["unique_id"] = raw.Concession + " | " + raw.Type + " | " + raw.ATC2
    monthly = raw.groupby(["unique_id", "Month"], as_index=False).Scripts.sum()
    return monthly.rename(columns={"Month": "ds", "Scripts": "y"})


def evaluate_pbs(monthly: pd.DataFrame, model: str, n_jobs: int) -> dict[str, float]:
    """Train through 2007-06, forecast the 12 months to 2008-06; MASE scaled by the seasonal naive (m = 12)."""
    cutoff, months = pd.Timestamp("2007-06-01"), pd.date_range("2007-07-01", periods=12, freq="MS")
    train = monthly[monthly.ds <= cutoff]
    started = time.perf_counter()
    forecast = forecast_many(train, 12, "MS", season_length=12, level=(80,), models=model, n_jobs=n_jobs)
    seconds = time.perf_counter() - started
    mases = {}
    for uid, frame in train.groupby("unique_id"):
        if frame.y.sum() <= 0:  # nothing sold in training: nothing to forecast or to scale by (BENCHMARKS.md: 334)
            continue
        grid = pd.date_range(frame.ds.min(), cutoff, freq="MS")
        y_train = frame.set_index("ds").y.reindex(grid).fillna(0.0).to_numpy()
        actual = monthly[monthly.unique_id == uid].set_index("ds").y.reindex(months).fillna(0.0).to_numpy()
        predicted = forecast[forecast.unique_id == uid].set_index("ds")["mean"].reindex(months).to_numpy()
        mases[uid] = metrics.mase(actual, predicted, y_train, season_length=12)
    scores = pd.Series(mases)
    return {
        "mean": float(scores.mean()),
        "without": float(scores.drop(PBS_OUTLIER, errors="ignore").mean()),
        "median": float(scores.median()),
        "seconds": seconds,
        "n": len(scores),
    }


def print_or_weekly(path: Path, models: str, n_jobs: int) -> None:
    weekly = weekly_demand(path)
    print(f"OR-weekly: {weekly.unique_id.nunique():,} stock codes, origins {', '.join(str(o.date()) for o in ORIGINS)}")
    print(f"{'model':<18}{'WRMSSE':>8}{'MASE':>8}{'bias':>8}{'cov80':>8}{'s/origin':>10}  WRMSSE by origin")
    for model in models.split(","):
        result = evaluate(weekly, model, n_jobs)
        by_origin = " ".join(f"{value:.3f}" for value in result["by_origin"])
        print(
            f"{model:<18}{result['wrmsse']:>8.3f}{result['mase']:>8.3f}{result['bias']:>8.2f}"
            f"{result['coverage80']:>8.0%}{result['seconds']:>10.1f}  {by_origin}",
            flush=True,
        )


def print_pbs(path: Path, models: str, n_jobs: int) -> None:
    monthly = pbs_monthly(path)
    print("\nPBS monthly: series with sales before 2007-07, trained to 2007-06, 12 months ahead")
    print(f"{'model':<18}{'series':>7}{'mean MASE':>10}{'w/o C05':>9}{'median':>8}{'s/1k series':>13}")
    for model in models.split(","):
        result = evaluate_pbs(monthly, model, n_jobs)
        per_thousand = result["seconds"] / result["n"] * 1000
        print(
            f"{model:<18}{result['n']:>7}{result['mean']:>10.3f}{result['without']:>9.3f}{result['median']:>8.3f}"
            f"{per_thousand:>13.1f}",
            flush=True,
        )


def peer_results(name: str, peers: str, shared: Path, n_jobs: int) -> Iterator[tuple[str, dict]]:
    """(model, result) of each statsforecast peer on one set, from bench/statsforecast_baselines.py run in the bench
    virtualenv; its other output passes through."""
    command = [
        str(BENCH_PYTHON),
        str(ROOT / "bench" / "statsforecast_baselines.py"),
        *("--sets", name, "--models", peers, "--shared", str(shared), "--n-jobs", str(n_jobs), "--json"),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as process:
        for line in process.stdout:
            if line.startswith("{"):
                record = json.loads(line)
                yield record["model"], record["result"]
            else:
                print(line, end="", flush=True)
    if process.returncode:
        print(f"(statsforecast peers on {name} stopped with exit status {process.returncode})", flush=True)


def print_protocol(name: str, shared: Path, models: str, peers: str, n_jobs: int) -> None:
    protocol = protocols.PROTOCOLS[name]
    panel = protocol.load(shared)
    print(protocols.header(protocol, panel), flush=True)
    for model in models.split(","):
        result = protocols.evaluate(protocol, panel, model, n_jobs, forecast=forecast_many)
        print(protocols.row(protocol, model, result), flush=True)
    if peers and BENCH_PYTHON.exists():
        for model, result in peer_results(name, peers, shared, n_jobs):
            print(protocols.row(protocol, f"sf:{model}", result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", help=f"comma-separated, from {','.join(SETS)} (default: or-weekly [,pbs])")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument("--data", type=Path, help="the Online Retail file (default: online_retail.csv.gz in --shared)")
    parser.add_argument("--models", help=f"ours (default: {OR_MODELS} for or-weekly, {SET_MODELS} for the others)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--pbs", type=Path, help="also run the PBS monthly protocol on this file")
    parser.add_argument("--pbs-models", default="seasonal_naive,sarima,auto")
    parser.add_argument("--peers", default=PEERS, help="statsforecast models beside ours on the shared-data sets")
    args = parser.parse_args()
    sets = args.sets.split(",") if args.sets else ["or-weekly", *(["pbs"] if args.pbs else [])]
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; known: {', '.join(SETS)}")
    if args.peers and not BENCH_PYTHON.exists() and set(sets) & set(protocols.PROTOCOLS):
        print(f"statsforecast peers skipped: create their virtualenv with `{BENCH_SETUP}`", flush=True)
    for position, name in enumerate(sets):
        if name == "or-weekly":
            print_or_weekly(args.data or args.shared / "online_retail.csv.gz", args.models or OR_MODELS, args.n_jobs)
        elif name == "pbs":  # its table opens with a blank line, as it always has
            print_pbs(args.pbs or args.shared / "pbs_scripts_monthly.csv.gz", args.pbs_models, args.n_jobs)
        else:
            if position:
                print()
            print_protocol(name, args.shared, args.models or SET_MODELS, args.peers, args.n_jobs)


if __name__ == "__main__":
    main()
