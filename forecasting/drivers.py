"""Drivers of demand for the engine: `forecast_many`'s `exog` frame checked and laid out per series.

`exog` is a long frame `unique_id, ds, <numeric drivers...>` covering each series' history and horizon periods. A
driver's value on the horizon is the value the caller knows at the origin (a planned promotion, a price, a weather
forecast or climatology): the caller applies each driver's known-future rule, the engine reads the frame as given,
and a backtest reads the values of its windows as they were supplied. NaN is allowed where a driver is unknown; rows
that fall in the same period of `freq` are averaged (daily drivers of weekly series become the week's share: a
promotion on 3 of 7 days reads 0.43).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api import types

from forecasting.data import future_periods, period_alias

KEYS = ("unique_id", "ds")


def driver_columns(exog: pd.DataFrame) -> list[str]:
    """The driver columns of an `exog` frame, after checking it: `unique_id` and `ds` present, every other column
    numeric (booleans count) and finite where not NaN. A ValueError names the first column that is not."""
    if not isinstance(exog, pd.DataFrame):
        raise ValueError("exog must be a DataFrame with unique_id, ds and numeric driver columns")
    missing = [key for key in KEYS if key not in exog.columns]
    if missing:
        raise ValueError(f"exog lacks the column(s) {', '.join(missing)}")
    columns = [str(column) for column in exog.columns if column not in KEYS]
    if len(set(columns)) != len(columns):
        raise ValueError("exog has duplicated column names")
    for column in columns:
        values = exog[column]
        if not (types.is_numeric_dtype(values) or types.is_bool_dtype(values)) or types.is_complex_dtype(values):
            raise ValueError(f"exog column {column!r} is not numeric (found {values.dtype}): drivers must be numbers")
        if np.isinf(values.to_numpy(float)).any():
            raise ValueError(f"exog column {column!r} holds infinite values")
    try:
        pd.to_datetime(exog["ds"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"exog column 'ds' holds values that are not dates: {exc}") from exc
    return columns


def driver_matrices(
    exog: pd.DataFrame | None,
    series: Sequence[tuple[object, pd.DatetimeIndex, np.ndarray]],
    horizon: int,
    freq: str,
) -> tuple[list[str], list[np.ndarray | None]]:
    """(driver names, per series a matrix of its periods and the `horizon` after them by driver), periods stamped as
    `forecasting.data.to_regular` stamps them; NaN where `exog` has no value. ([], [None...]) without `exog`."""
    if exog is None:
        return [], [None] * len(series)
    columns = driver_columns(exog)
    if not columns:
        return [], [None] * len(series)
    frame = exog[[*KEYS, *columns]].copy()
    frame[columns] = frame[columns].astype(float)
    alias = period_alias(freq)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.to_period(alias).dt.end_time.dt.normalize()
    per_period = frame.groupby(list(KEYS), sort=False)[columns].mean()
    ids, stamps, lengths = [], [], []
    for unique_id, index, _ in series:
        periods = index.append(future_periods(index[-1], horizon, freq))
        ids.append(np.full(len(periods), unique_id, dtype=object))
        stamps.append(periods.to_numpy())
        lengths.append(len(periods))
    if not lengths:
        return columns, []
    wanted = pd.MultiIndex.from_arrays([np.concatenate(ids), np.concatenate(stamps)], names=list(KEYS))
    values = per_period.reindex(wanted).to_numpy(float)
    bounds = np.cumsum([0, *lengths])
    matrices = [values[start:stop] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    return columns, [None if np.isnan(matrix).all() else matrix for matrix in matrices]


def laid_out(
    names: Sequence[str], matrices: Sequence[np.ndarray | None], wanted: Sequence[str]
) -> list[np.ndarray | None]:
    """The matrices with their columns in the order of `wanted` (NaN for a driver they lack): drivers read for
    different sets of series, laid out as a model trained on one of them reads them."""
    if list(names) == list(wanted):
        return list(matrices)
    position = {name: column for column, name in enumerate(names)}
    out = []
    for matrix in matrices:
        if matrix is None:
            out.append(None)
            continue
        blank = np.full(len(matrix), np.nan)
        out.append(np.column_stack([matrix[:, position[name]] if name in position else blank for name in wanted]))
    return out


def known_ahead(
    names: Sequence[str], matrices: Sequence[np.ndarray | None], history_only: Sequence[str] = ()
) -> list[np.ndarray | None]:
    """The matrices cut to the drivers known ahead (not `history_only`): what models with regressors may read over
    the horizon."""
    keep = [position for position, name in enumerate(names) if name not in set(history_only)]
    return [None if matrix is None or not keep else matrix[:, keep] for matrix in matrices]
