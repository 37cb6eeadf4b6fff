"""The shared-data accuracy protocols of bench/accuracy.py (rossmann-weekly, rossmann-daily, bike-daily): their
specs, loaders, one evaluation loop and the table rows. bench/accuracy.py's docstring defines the protocols.

Only numpy, pandas and `forecasting.metrics` are imported here, so bench/statsforecast_baselines.py can score its
peers with this very code from its own virtualenv (pandas 2 there, pandas 3 in the product's).
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

ROSSMANN_FIRST_WEEK, ROSSMANN_LAST_WEEK = pd.Timestamp("2013-01-13"), pd.Timestamp("2015-07-26")
HOLIDAY_CODES = ("a", "b", "c")  # Rossmann StateHoliday: a public holiday, b Easter, c Christmas ("0": none)
BIKE_SERIES = ("casual", "registered")  # cnt is their sum


@dataclass(frozen=True)
class Panel:
    """Series in rows, periods in columns (NaN before a series starts); `holidays` flags the periods whose errors
    weigh more in the WMAE, `None` when every period weighs the same."""

    values: pd.DataFrame
    holidays: pd.DataFrame | None = None


@dataclass(frozen=True)
class Protocol:
    """One accuracy protocol: what it reads, where it cuts, what the engine is asked and how errors are weighed."""

    name: str
    title: str
    load: Callable[[Path], Panel]  # from the shared data folder
    origins: tuple[pd.Timestamp, ...]  # last training period of each cut
    horizon: int
    freq: str
    season_length: int | None  # passed to the forecaster; None leaves the cycle to it
    naive_season: int  # seasonal naive lag of the MASE scale and of the relative error's reference forecast
    weight_periods: int | None  # RMSSE weights: sales in the last N training periods; None: a plain mean
    holiday_weight: float | None  # WMAE weight of a holiday period (others weigh 1); None: a plain MAE
    columns: tuple[str, ...]  # the metrics printed, in order (by-origin RMSSE always closes the row)


Forecaster = Callable[..., pd.DataFrame]  # forecasting.engine.forecast_many or a stand-in with its signature


def _complete_rossmann_days(directory: Path) -> pd.DataFrame:
    raw = pd.read_csv(
        directory / "rossmann_train.csv.gz",
        usecols=["Store", "Date", "Sales", "StateHoliday"],
        dtype={"StateHoliday": str},
        parse_dates=["Date"],
    )
    # 180 stores have no rows at all for 2014-07-01..2014-12-31: that is missing data, not six months without sales,
    # so those stores are left out rather than filled with zeros. Store 988 only lacks 2013-01-01 (its first day
    # is the 2nd): no gap, so it stays, starting a day later.
    days = raw.groupby("Store").Date.agg(["min", "max", "count"])
    span = (days["max"] - days["min"]).dt.days + 1
    complete = days.index[(days["count"] == span) & (days["max"] == raw.Date.max())]
    kept = raw[raw.Store.isin(complete)]
    return kept.assign(holiday=kept.StateHoliday.astype(str).isin(HOLIDAY_CODES), Sales=kept.Sales.astype(float))


def rossmann_daily(directory: Path) -> Panel:
    days = _complete_rossmann_days(directory)
    values = days.pivot(index="Store", columns="Date", values="Sales").sort_index(axis=1)
    holidays = days.pivot(index="Store", columns="Date", values="holiday").reindex_like(values)
    return Panel(values, holidays.eq(True))  # a day without a row (store 988's 2013-01-01) is no holiday


def rossmann_weekly(directory: Path) -> Panel:
    days = _complete_rossmann_days(directory)
    days = days.assign(week=days.Date.dt.to_period("W-SUN").dt.end_time.dt.normalize())
    days = days[(days.week >= ROSSMANN_FIRST_WEEK) & (days.week <= ROSSMANN_LAST_WEEK)]
    weekly = days.groupby(["Store", "week"], as_index=False).agg(y=("Sales", "sum"), holiday=("holiday", "any"))
    values = weekly.pivot(index="Store", columns="week", values="y").sort_index(axis=1)
    holidays = weekly.pivot(index="Store", columns="week", values="holiday").reindex_like(values)
    return Panel(values, holidays.eq(True))


def bike_daily(directory: Path) -> Panel:
    raw = pd.read_csv(directory / "bike_day.csv.gz", parse_dates=["dteday"])
    values = raw.set_index("dteday")[list(BIKE_SERIES)].astype(float).T.sort_index(axis=1)
    values.columns.name = None
    return Panel(values)


COLUMNS = ("wrmsse", "rel_wmae", "rel_wmae_pooled", "mase", "bias", "coverage80", "seconds")
PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (
        Protocol(
            name="rossmann-weekly",
            title="Rossmann weekly: complete stores, weekly Sales (W-SUN), 8 weeks ahead",
            load=rossmann_weekly,
            origins=tuple(pd.Timestamp(day) for day in ("2014-06-29", "2014-10-26", "2015-05-31")),
            horizon=8,
            freq="W-SUN",
            season_length=52,
            naive_season=52,
            weight_periods=8,
            holiday_weight=5.0,
            columns=COLUMNS,
        ),
        Protocol(
            name="rossmann-daily",
            title="Rossmann daily: complete stores, daily Sales (closed days as zeros), 42 days ahead",
            load=rossmann_daily,
            origins=tuple(pd.Timestamp(day) for day in ("2014-11-16", "2015-03-15", "2015-06-19")),
            horizon=42,
            freq="D",
            season_length=None,
            naive_season=7,
            weight_periods=28,
            holiday_weight=5.0,
            columns=COLUMNS,
        ),
        Protocol(
            name="bike-daily",
            title="Bike rentals daily: casual and registered, 28 days ahead",
            load=bike_daily,
            origins=tuple(pd.Timestamp(day) for day in ("2012-03-31", "2012-06-30", "2012-09-30", "2012-11-30")),
            horizon=28,
            freq="D",
            season_length=None,
            naive_season=7,
            weight_periods=None,
            holiday_weight=None,
            columns=COLUMNS,
        ),
    )
}


def long_frame(values: pd.DataFrame) -> pd.DataFrame:
    """The `unique_id, ds, y` frame of a panel, each series from its first period."""
    frame = values.rename_axis(index="unique_id", columns="ds").reset_index()
    frame = frame.melt(id_vars="unique_id", var_name="ds", value_name="y").dropna(subset=["y"])
    frame["ds"] = pd.to_datetime(frame.ds)
    return frame.sort_values(["unique_id", "ds"], ignore_index=True)


def seasonal_naive(train: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The reference forecast of the relative error: period T+k repeats T+k-season·ceil(k/season)."""
    steps = np.arange(1, horizon + 1)
    return train[:, train.shape[1] - season * np.ceil(steps / season).astype(int) + steps - 1]


def _wide(forecast: pd.DataFrame, column: str, index: pd.Index, periods: pd.DatetimeIndex) -> np.ndarray:
    frame = forecast.assign(ds=pd.to_datetime(forecast.ds)).pivot(index="unique_id", columns="ds", values=column)
    return frame.reindex(index=index, columns=periods).to_numpy(dtype=float)


def evaluate(
    protocol: Protocol, panel: Panel, model: str, n_jobs: int, forecast: Forecaster, progress: bool = True
) -> dict[str, float | list[float]]:
    """Forecasts at every origin of `protocol` with `forecast(train, horizon, freq, ...)` and scores them.

    Per origin: (W)RMSSE (scale: in-sample one-step naive), the weighted MAE relative to the seasonal naive's on the
    same points; pooled over origins: mean MASE (seasonal naive scale), relative bias, coverage of the 80% interval.
    """
    values, index = panel.values, panel.values.index
    rmsse_by_origin, relative_by_origin, seconds = [], [], []
    mases, error_total, actual_total, inside, points = [], 0.0, 0.0, 0, 0
    weighted_model, weighted_reference = 0.0, 0.0
    for origin in protocol.origins:
        train_values = values.loc[:, values.columns <= origin]
        periods = pd.date_range(origin, periods=protocol.horizon + 1, freq=protocol.freq)[1:]
        actual = values.reindex(columns=periods).to_numpy(dtype=float)
        if np.isnan(actual).any():
            raise ValueError(f"{protocol.name}: actuals missing after {origin.date()}")
        started = time.perf_counter()
        result = forecast(
            long_frame(train_values),
            protocol.horizon,
            protocol.freq,
            season_length=protocol.season_length,
            level=(80,),
            models=model,
            n_jobs=n_jobs,
        )
        seconds.append(time.perf_counter() - started)
        if progress:
            print(f"  {protocol.name} {model} origin {origin.date()}: {seconds[-1]:.1f} s", file=sys.stderr, flush=True)
        predicted = _wide(result, "mean", index, periods)
        low, high = _wide(result, "lo-80", index, periods), _wide(result, "hi-80", index, periods)
        train = train_values.to_numpy(dtype=float)
        histories = [row[~np.isnan(row)] for row in train]
        scores = np.array(
            [metrics.rmsse(actual[i], predicted[i], history) for i, history in enumerate(histories)], dtype=float
        )
        if protocol.weight_periods is None:
            rmsse_by_origin.append(float(np.mean(scores)))
        else:
            recent = np.nansum(train[:, -protocol.weight_periods :], axis=1)
            rmsse_by_origin.append(float(np.dot(recent / recent.sum(), scores)))
        mases.extend(
            metrics.mase(actual[i], predicted[i], history, season_length=protocol.naive_season)
            for i, history in enumerate(histories)
        )
        weights = np.ones_like(actual)
        if protocol.holiday_weight is not None and panel.holidays is not None:
            flags = panel.holidays.reindex(columns=periods).to_numpy(dtype=bool)
            weights = np.where(flags, protocol.holiday_weight, 1.0)
        reference = seasonal_naive(train, protocol.horizon, protocol.naive_season)
        model_error = float(np.sum(weights * np.abs(predicted - actual)))
        reference_error = float(np.sum(weights * np.abs(reference - actual)))
        relative_by_origin.append(model_error / reference_error)  # the weights' sum cancels in the ratio
        weighted_model += model_error
        weighted_reference += reference_error
        error_total += float(np.sum(predicted - actual))
        actual_total += float(np.sum(actual))
        inside += int(np.sum((actual >= low) & (actual <= high)))  # a missing bound is a miss
        points += actual.size
    return {
        "wrmsse": float(np.mean(rmsse_by_origin)),
        "by_origin": rmsse_by_origin,
        "rel_wmae": float(np.mean(relative_by_origin)),
        "rel_wmae_pooled": weighted_model / weighted_reference,
        "mase": float(np.mean(mases)),
        "bias": error_total / actual_total if actual_total else 0.0,
        "coverage80": inside / points,
        "seconds": float(np.mean(seconds)),
        "series": len(index),
    }


def _labels(protocol: Protocol) -> dict[str, tuple[str, str]]:
    """Header and format of each metric; a plain mean and a plain MAE are named as such."""
    rmsse = "WRMSSE" if protocol.weight_periods else "RMSSE"
    relative = "relWMAE" if protocol.holiday_weight else "relMAE"
    return {
        "wrmsse": (rmsse, "9.3f"),
        "rel_wmae": (relative, "9.3f"),
        "rel_wmae_pooled": ("pooled", "9.3f"),
        "mase": ("MASE", "9.3f"),
        "bias": ("bias", "+9.3f"),
        "coverage80": ("cov80", "9.0%"),
        "seconds": ("s/origin", "9.1f"),
    }


def header(protocol: Protocol, panel: Panel) -> str:
    origins = ", ".join(str(origin.date()) for origin in protocol.origins)
    labels = _labels(protocol)
    columns = "".join(f"{labels[key][0]:>9}" for key in protocol.columns)
    by_origin = f"{labels['wrmsse'][0]} by origin"
    return f"{protocol.title}; {len(panel.values):,} series, origins {origins}\n{'model':<22}{columns}  {by_origin}"


def row(protocol: Protocol, label: str, result: dict) -> str:
    labels = _labels(protocol)
    cells = "".join(f"{result[key]:{labels[key][1]}}" for key in protocol.columns)
    by_origin = " ".join(f"{value:.3f}" for value in result["by_origin"])
    return f"{label:<22}{cells}  {by_origin}"
