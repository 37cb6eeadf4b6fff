"""Forecast accuracy on the Online Retail data: the "OR-weekly" protocol of the forecasting issue.

    python bench/accuracy.py --data ../shared/data/online_retail.csv.gz [--models naive,imapa,auto] [--n-jobs 2]

Drops cancellations, non-positive quantities and prices and non-product codes; weekly units per stock code (weeks
ending Sunday) from the week ending 2010-12-05 to the week ending 2011-12-04; four origins (after the weeks ending
2011-08-07, 2011-09-04, 2011-10-02 and 2011-11-06), each forecasting 4 weeks; in scope at an origin: codes with sales
in at least 8 distinct weeks up to it, each series starting at its first sale. Prints per model: WRMSSE (each code's
RMSSE weighted by its revenue in the last 8 training weeks, averaged over origins), mean MASE, relative bias
(forecast minus actual over actual, all in-scope code-weeks), coverage of the 80% interval, seconds per origin.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forecasting import metrics  # noqa: E402
from forecasting.engine import MODELS, forecast_many  # noqa: E402

NON_PRODUCT = {"POST", "DOT", "M", "m", "D", "S", "B", "C2", "CRUK", "PADS", "AMAZONFEE", "BANK CHARGES"}
FIRST_WEEK, LAST_WEEK = pd.Timestamp("2010-12-05"), pd.Timestamp("2011-12-04")
ORIGINS = [pd.Timestamp(day) for day in ("2011-08-07", "2011-09-04", "2011-10-02", "2011-11-06")]
HORIZON, MIN_SALE_WEEKS, WEIGHT_WEEKS = 4, 8, 8
# A one-off 7,281 scripts in Dec 2007 on a near-zero series: MASE ~1,300 for every method, ~4 on every mean
# (BENCHMARKS.md quotes the mean without it too).
PBS_OUTLIER = "General | Co-payments | C05"


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
        actual = (
            weekly[weekly.unique_id.isin(scope) & weekly.ds.isin(test_weeks)]
            .pivot_table(index="unique_id", columns="ds", values="y", aggfunc="sum")
            .reindex(index=scope, columns=test_weeks)
            .fillna(0.0)
        )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "online_retail.csv.gz")
    parser.add_argument("--models", default=",".join([*MODELS, "lstm", "lstm+imapa", "auto"]))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--pbs", type=Path, help="also run the PBS monthly protocol on this file")
    parser.add_argument("--pbs-models", default="seasonal_naive,sarima,auto")
    args = parser.parse_args()
    weekly = weekly_demand(args.data)
    print(f"OR-weekly: {weekly.unique_id.nunique():,} stock codes, origins {', '.join(str(o.date()) for o in ORIGINS)}")
    print(f"{'model':<18}{'WRMSSE':>8}{'MASE':>8}{'bias':>8}{'cov80':>8}{'s/origin':>10}  WRMSSE by origin")
    for model in args.models.split(","):
        result = evaluate(weekly, model, args.n_jobs)
        by_origin = " ".join(f"{value:.3f}" for value in result["by_origin"])
        print(
            f"{model:<18}{result['wrmsse']:>8.3f}{result['mase']:>8.3f}{result['bias']:>8.2f}"
            f"{result['coverage80']:>8.0%}{result['seconds']:>10.1f}  {by_origin}",
            flush=True,
        )
    if args.pbs:
        monthly = pbs_monthly(args.pbs)
        print("\nPBS monthly: series with sales before 2007-07, trained to 2007-06, 12 months ahead")
        print(f"{'model':<18}{'series':>7}{'mean MASE':>10}{'w/o C05':>9}{'median':>8}{'s/1k series':>13}")
        for model in args.pbs_models.split(","):
            result = evaluate_pbs(monthly, model, args.n_jobs)
            per_thousand = result["seconds"] / result["n"] * 1000
            print(
                f"{model:<18}{result['n']:>7}{result['mean']:>10.3f}{result['without']:>9.3f}{result['median']:>8.3f}"
                f"{per_thousand:>13.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
