"""The data and scoring of bench/drivers.py: sales panels with their drivers (Rossmann, bike rentals), the scorer, and
the rows. Only numpy, pandas and `forecasting.metrics` are imported, so the bench-only virtualenv's peer script
(bench/mlforecast_baselines.py, pandas 2 there) scores its forecasts with this very code.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from forecasting import metrics  # noqa: E402

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class DriverSet:
    """Sales in a long frame `unique_id, ds, y`, and the drivers of every series' days in a long frame
    `unique_id, ds, <numeric drivers>` covering the history and the horizon after each origin."""

    name: str
    title: str
    sales: pd.DataFrame
    drivers: pd.DataFrame
    origins: tuple[pd.Timestamp, ...]  # last training day of each cut
    horizon: int
    freq: str = "D"


def rossmann(directory: Path) -> DriverSet:
    """Rossmann's complete stores (bench/protocols.py's rule), daily Sales (closed days as zeros), with the drivers a
    store knows ahead: open, promo, state holidays by kind, school holiday, the month of its Promo2 cycle, its
    competitor's opening, and its static attributes (type, assortment, competitor distance, Promo2 membership)."""
    raw = pd.read_csv(
        directory / "rossmann_train.csv.gz",
        usecols=["Store", "Date", "Sales", "Open", "Promo", "StateHoliday", "SchoolHoliday"],
        dtype={"StateHoliday": str},
        parse_dates=["Date"],
    )
    days = raw.groupby("Store").Date.agg(["min", "max", "count"])
    span = (days["max"] - days["min"]).dt.days + 1
    complete = days.index[(days["count"] == span) & (days["max"] == raw.Date.max())]
    raw = raw[raw.Store.isin(complete)].sort_values(["Store", "Date"], ignore_index=True)
    stores = pd.read_csv(directory / "rossmann_store.csv.gz").set_index("Store")
    stores = stores.reindex(raw.Store.to_numpy())
    date = raw.Date
    holiday = raw.StateHoliday.astype(str)
    promo2_start = pd.to_datetime(
        stores.Promo2SinceYear.fillna(2100).astype(int).astype(str)
        + "-W"
        + stores.Promo2SinceWeek.fillna(1).astype(int).astype(str).str.zfill(2)
        + "-1",
        format="%G-W%V-%u",
    ).to_numpy()
    months = stores.PromoInterval.fillna("").to_numpy()
    month_names = np.array(MONTHS)[date.dt.month.to_numpy() - 1]
    in_cycle = np.array([name in interval.split(",") for name, interval in zip(month_names, months, strict=True)])
    competition_start = pd.to_datetime(
        dict(year=stores.CompetitionOpenSinceYear.fillna(1900), month=stores.CompetitionOpenSinceMonth.fillna(1), day=1)
    ).to_numpy()
    drivers = pd.DataFrame(
        {
            "unique_id": raw.Store.to_numpy(),
            "ds": date.to_numpy(),
            "open": raw.Open.to_numpy(float),
            "promo": raw.Promo.to_numpy(float),
            "public_holiday": (holiday == "a").to_numpy(float),
            "easter": (holiday == "b").to_numpy(float),
            "christmas": (holiday == "c").to_numpy(float),
            "school_holiday": raw.SchoolHoliday.to_numpy(float),
            "promo2_month": ((stores.Promo2.to_numpy() == 1) & (date.to_numpy() >= promo2_start) & in_cycle).astype(
                float
            ),
            "competition_open": (date.to_numpy() >= competition_start).astype(float),
            "store_type": stores.StoreType.map({"a": 0, "b": 1, "c": 2, "d": 3}).to_numpy(float),
            "assortment": stores.Assortment.map({"a": 0, "b": 1, "c": 2}).to_numpy(float),
            "competition_distance": stores.CompetitionDistance.to_numpy(float),
            "promo2": stores.Promo2.to_numpy(float),
        }
    )
    sales = pd.DataFrame({"unique_id": raw.Store.to_numpy(), "ds": date.to_numpy(), "y": raw.Sales.to_numpy(float)})
    return DriverSet(
        "rossmann",
        f"Rossmann daily with drivers: {len(complete)} complete stores, 42 days ahead, RMSPE on open days with sales",
        sales,
        drivers,
        tuple(pd.Timestamp(day) for day in ("2014-12-05", "2015-03-20", "2015-06-19")),
        42,
    )


def bike(directory: Path) -> DriverSet:
    """Bike rentals (casual and registered) per day, with the weather of each day (temperature, felt temperature,
    humidity, wind, weather situation), holidays and working days. The weather over the horizon is the observed
    weather: the forecast of a perfect weather service (`bike_climatology` is the honest counterpart)."""
    raw = pd.read_csv(directory / "bike_day.csv.gz", parse_dates=["dteday"])
    sales = pd.concat(
        [
            pd.DataFrame({"unique_id": name, "ds": raw.dteday, "y": raw[name].astype(float)})
            for name in ("casual", "registered")
        ],
        ignore_index=True,
    )
    weather = raw[["dteday", "temp", "atemp", "hum", "windspeed", "weathersit", "holiday", "workingday"]]
    drivers = pd.concat(
        [weather.rename(columns={"dteday": "ds"}).assign(unique_id=name) for name in ("casual", "registered")],
        ignore_index=True,
    )
    return DriverSet(
        "bike",
        "Bike rentals daily with the weather: casual and registered, 28 days ahead",
        sales,
        drivers[["unique_id", "ds", *[c for c in drivers.columns if c not in {"unique_id", "ds"}]]].astype(
            {"weathersit": float, "holiday": float, "workingday": float}
        ),
        tuple(pd.Timestamp(day) for day in ("2012-03-31", "2012-06-30", "2012-09-30", "2012-11-30")),
        28,
    )


def climatology(drivers: pd.DataFrame, origin: pd.Timestamp, columns: tuple[str, ...], known_days: int) -> pd.DataFrame:
    """The drivers as known at `origin`: the weather `columns` observed up to the origin, as forecast (here: as
    observed) for `known_days` after it, and beyond that the mean of the same week of the year in the years before the
    origin (climatology). Other columns are left as they are (calendar drivers are known ahead)."""
    out = drivers.copy()
    beyond = out.ds > origin + pd.Timedelta(days=known_days)
    week = out.ds.dt.isocalendar().week.to_numpy()
    past = out.ds <= origin
    for column in columns:
        means = pd.Series(out.loc[past, column].to_numpy(), index=week[past.to_numpy()]).groupby(level=0).mean()
        out.loc[beyond, column] = means.reindex(week[beyond.to_numpy()]).to_numpy()
    return out


Forecaster = Callable[..., pd.DataFrame]


def evaluate(data: DriverSet, forecast: Forecaster, label: str, progress: bool = True) -> dict:
    """Forecasts at every origin (`forecast(train_sales, drivers, origin)` -> `unique_id, ds, mean, lo-80, hi-80`)
    scored over all origins together: RMSPE over the days with sales (the Rossmann competition's metric), RMSE, mean
    MASE (weekly seasonal naive scale), coverage of the 80% interval, seconds per origin."""
    wide = data.sales.pivot(index="unique_id", columns="ds", values="y").sort_index(axis=1)
    squared_pct, squared, mases, inside, points, seconds = [], [], [], 0, 0, []
    for origin in data.origins:
        train = data.sales[data.sales.ds <= origin]
        periods = pd.date_range(origin, periods=data.horizon + 1, freq=data.freq)[1:]
        started = time.perf_counter()
        result = forecast(train, data, origin)
        seconds.append(time.perf_counter() - started)
        if progress:
            print(f"  {data.name} {label} origin {origin.date()}: {seconds[-1]:.1f} s", file=sys.stderr, flush=True)
        result = result.assign(ds=pd.to_datetime(result.ds))
        predicted = result.pivot(index="unique_id", columns="ds", values="mean").reindex(
            index=wide.index, columns=periods
        )
        low = result.pivot(index="unique_id", columns="ds", values="lo-80").reindex(index=wide.index, columns=periods)
        high = result.pivot(index="unique_id", columns="ds", values="hi-80").reindex(index=wide.index, columns=periods)
        actual = wide.reindex(columns=periods).to_numpy(float)
        mean = predicted.to_numpy(float)
        sold = actual > 0
        squared_pct.append(((actual[sold] - mean[sold]) / actual[sold]) ** 2)
        squared.append((actual - mean).ravel() ** 2)
        history = wide.loc[:, wide.columns <= origin].to_numpy(float)
        mases.extend(
            metrics.mase(actual[i], mean[i], row[~np.isnan(row)], season_length=7) for i, row in enumerate(history)
        )
        inside += int(np.sum((actual >= low.to_numpy(float)) & (actual <= high.to_numpy(float))))
        points += actual.size
    return {
        "rmspe": float(np.sqrt(np.nanmean(np.concatenate(squared_pct)))),
        "rmse": float(np.sqrt(np.nanmean(np.concatenate(squared)))),
        "mase": float(np.nanmean(mases)),
        "coverage80": inside / points,
        "seconds": float(np.mean(seconds)),
    }


HEADER = f"{'model':<34}{'RMSPE':>9}{'RMSE':>10}{'MASE':>9}{'cov80':>8}{'s/origin':>10}"


def row(label: str, result: dict) -> str:
    return (
        f"{label:<34}{result['rmspe']:9.3f}{result['rmse']:10.1f}{result['mase']:9.3f}{result['coverage80']:8.0%}"
        f"{result['seconds']:10.1f}"
    )
