"""Forecast accuracy with drivers: the engine without them, with them, and mlforecast + LightGBM with the same ones.

    python bench/drivers.py [--sets rossmann,bike] [--models auto,lightgbm] [--shared ../shared/data] [--n-jobs 2]
        [--peers mlforecast] [--origins 2015-06-19]

rossmann (Rossmann Store Sales, the Kaggle competition of 2015: for benchmarking only, never shipped): the stores with
a row for every day from their first to 2015-07-31 (bench/protocols.py's rule: 180 stores lack the second half of
2014), daily Sales with closed days as zeros; 42 days ahead of three origins (last training days 2014-12-05,
2015-03-20, 2015-06-19). Drivers, all known ahead: open, promo, state holiday by kind (public, Easter, Christmas),
school holiday, the months of the store's Promo2 cycle, its competitor's opening, and its static attributes (store
type, assortment, competitor distance, Promo2 membership). Score: RMSPE over the days with sales (the competition's
metric: closed days and days without sales are left out), RMSE, mean MASE (weekly seasonal naive scale), coverage of
the 80% interval, wall seconds of the forecast call per origin.

bike (Capital Bikeshare, Washington DC, rentals per day 2011-2012: Fanaee-T and Gama, "Event labeling combining
ensemble detectors and background knowledge", Progress in Artificial Intelligence (2013),
doi:10.1007/s13748-013-0040-3; UCI Machine Learning Repository "Bike Sharing", CC BY 4.0): casual and registered
rentals, 28 days ahead of 2012-03-31, 2012-06-30, 2012-09-30 and 2012-11-30. Drivers: temperature, felt temperature,
humidity, wind, the weather situation, holiday and working day. Two readings of the weather over the horizon: as
observed (a perfect weather forecast) and as it would be known at the origin: observed for 16 days (the forecast
horizon of a weather service) and then the mean of the same week of the year before (climatology).

Rows: `<model>` is the engine without drivers (sales only, no country), `<model> +drivers` with the drivers;
`ml:lightgbm +drivers` is the peer (bench/mlforecast_baselines.py in the bench virtualenv, scored by the same code,
bench/driver_protocols.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import accuracy  # noqa: E402
import driver_protocols  # noqa: E402

from forecasting import forecast_many  # noqa: E402

SETS = {"rossmann": driver_protocols.rossmann, "bike": driver_protocols.bike}
BIKE_WEATHER = ("temp", "atemp", "hum", "windspeed", "weathersit")
WEATHER_FORECAST_DAYS = 16
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def engine(model: str, drivers: str | None, n_jobs: int):
    """A forecaster of `driver_protocols.evaluate`: the engine with `model`, reading no drivers (None), the drivers
    as supplied ("observed") or with the weather as known at the origin ("known")."""

    def forecast(train: pd.DataFrame, data: driver_protocols.DriverSet, origin: pd.Timestamp) -> pd.DataFrame:
        exog = None
        if drivers is not None:
            exog = data.drivers[data.drivers.ds <= origin + pd.Timedelta(days=data.horizon)]
            if drivers == "known":
                exog = driver_protocols.climatology(exog, origin, BIKE_WEATHER, WEATHER_FORECAST_DAYS)
        return forecast_many(train, data.horizon, data.freq, level=(80,), models=model, exog=exog, n_jobs=n_jobs)

    return forecast


def or_weekly_drivers(path: Path) -> pd.DataFrame:
    """Per stock code and week of Online Retail: the median unit price of its lines, its average unit price sold
    (revenue over units) and its distinct customers: what the store itself sends with its orders."""
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])
    keep = (
        ~raw.InvoiceNo.str.startswith("C")
        & (raw.Quantity > 0)
        & (raw.UnitPrice > 0)
        & ~raw.StockCode.isin(accuracy.NON_PRODUCT)
        & ~raw.StockCode.str.startswith(("gift_", "DCGS"))
    )
    lines = raw[keep].assign(
        ds=lambda f: f.InvoiceDate.dt.to_period("W-SUN").dt.end_time.dt.normalize(),
        revenue=lambda f: f.Quantity * f.UnitPrice,
    )
    weekly = lines.groupby(["StockCode", "ds"], as_index=False).agg(
        price=("UnitPrice", "median"), units=("Quantity", "sum"), revenue=("revenue", "sum"),
        customers=("CustomerID", "nunique"),
    )  # fmt: skip
    weekly["unit_price"] = weekly.revenue / weekly.units
    return weekly.rename(columns={"StockCode": "unique_id"})[["unique_id", "ds", "price", "unit_price", "customers"]]


def or_weekly_exog(table: pd.DataFrame, train: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The drivers of an OR-weekly origin by their known-future rules: `price_index` (the week's median line price
    over the code's median up to the origin; the last known one holds over the horizon and in weeks without sales),
    `discount` (one minus the unit price sold over that usual price) and `customers` (distinct buyers), both known
    only with the sales (history only)."""
    origin = train.ds.max()
    weeks = pd.date_range(train.ds.min(), origin + pd.Timedelta(weeks=horizon), freq="W-SUN")
    codes = train.unique_id.unique()
    known = table[table.unique_id.isin(codes) & (table.ds <= origin)]
    usual = known.groupby("unique_id").price.median()
    grid = pd.MultiIndex.from_product([codes, weeks], names=["unique_id", "ds"])
    frame = known.set_index(["unique_id", "ds"]).reindex(grid)
    frame["price"] = frame.groupby(level="unique_id").price.ffill()
    usual_per_row = usual.reindex(frame.index.get_level_values("unique_id")).to_numpy()
    frame["price_index"] = frame.price.to_numpy() / usual_per_row
    frame["discount"] = 1 - frame.unit_price.to_numpy() / usual_per_row
    return frame.reset_index()[["unique_id", "ds", "price_index", "discount", "customers"]]


OR_HISTORY_ONLY = ("discount", "customers")


def print_or_weekly(path: Path, models: str, n_jobs: int, drivers_only: bool = False) -> None:
    """OR-weekly as bench/accuracy.py scores it, the engine without and with the store's drivers."""
    weekly = accuracy.weekly_demand(path)
    table = or_weekly_drivers(path)
    header = f"{'model':<34}{'WRMSSE':>9}{'MASE':>9}{'cov80':>8}{'s/origin':>10}  WRMSSE by origin"
    title = "OR-weekly with the store's drivers (price, discount and customers per code-week, UK holidays)"
    print(f"{title}; {weekly.unique_id.nunique():,} stock codes\n{header}")
    plain = accuracy.forecast_many

    def with_drivers(train, horizon, freq, **options):
        exog = or_weekly_exog(table, train, horizon)
        return plain(train, horizon, freq, exog=exog, history_only=OR_HISTORY_ONLY, country="GB", **options)

    for model in models.split(","):
        readings = ((model, plain), (f"{model} +drivers", with_drivers))
        for label, forecaster in readings[1:] if drivers_only else readings:
            accuracy.forecast_many = forecaster
            try:
                result = accuracy.evaluate(weekly, model, n_jobs)
            finally:
                accuracy.forecast_many = plain
            by_origin = " ".join(f"{value:.3f}" for value in result["by_origin"])
            print(f"{label:<34}{result['wrmsse']:9.3f}{result['mase']:9.3f}{result['coverage80']:8.0%}"
                  f"{result['seconds']:10.1f}  {by_origin}", flush=True)  # fmt: skip


def peer_rows(name: str, shared: Path, origins: str | None):
    command = [
        str(BENCH_PYTHON),
        str(ROOT / "bench" / "mlforecast_baselines.py"),
        "--set",
        name,
        "--shared",
        str(shared),
    ]
    if origins:
        command += ["--origins", origins]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as process:
        for line in process.stdout:
            if line.startswith("{"):
                record = json.loads(line)
                yield record["model"], record["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="rossmann,bike")
    parser.add_argument("--models", default="auto,lightgbm")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--peers", default="mlforecast", help="'' for none")
    parser.add_argument("--origins", default=None, help="comma-separated last training days (default: the set's)")
    parser.add_argument("--drivers-only", action="store_true", help="only the rows that read drivers")
    args = parser.parse_args()
    for name in args.sets.split(","):
        if name == "or-weekly":
            print_or_weekly(args.shared / "online_retail.csv.gz", args.models, args.n_jobs, args.drivers_only)
            print(flush=True)
            continue
        data = SETS[name](args.shared)
        if args.origins:
            data = driver_protocols.DriverSet(
                data.name, data.title, data.sales, data.drivers,
                tuple(pd.Timestamp(day) for day in args.origins.split(",")), data.horizon, data.freq,
            )  # fmt: skip
        origins = ", ".join(str(origin.date()) for origin in data.origins)
        print(f"{data.title}; origins {origins}\n{driver_protocols.HEADER}", flush=True)
        readings = [("", None), (" +drivers", "observed")]
        if name == "bike":
            readings = [("", None), (" +weather observed", "observed"), (" +weather 16d+clim.", "known")]
        if args.drivers_only:
            readings = [reading for reading in readings if reading[1] is not None]
        for model in args.models.split(","):
            for suffix, drivers in readings:
                if model != "auto" and drivers is None and name == "bike":
                    continue  # a feature model without drivers on two series: auto covers that row
                result = driver_protocols.evaluate(data, engine(model, drivers, args.n_jobs), model + suffix)
                print(driver_protocols.row(model + suffix, result), flush=True)
        if args.peers and BENCH_PYTHON.exists():
            for model, result in peer_rows(name, args.shared, args.origins):
                print(driver_protocols.row(model, result), flush=True)
        elif args.peers:
            print("mlforecast peers skipped: create the bench virtualenv (see bench/requirements-statsforecast.txt)")
        print(flush=True)


if __name__ == "__main__":
    main()
