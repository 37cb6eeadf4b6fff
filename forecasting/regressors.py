"""The regressors of the local models that take them (`EXOG_MODELS`: the seasonal ARIMA): the country's holiday
calendar and the drivers known ahead, per series, for its history and horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data import future_periods, holiday_counts
from forecasting.model_catalog import EXOG_MODELS

REGRESSOR_PERIODS = 20  # periods of history per driver before a model with regressors takes one more


def extra_inputs(
    index: pd.DatetimeIndex,
    horizon: int,
    freq: str,
    country: str | None,
    starts: dict | None,
    drivers: np.ndarray | None = None,
) -> dict:
    """What a series' local models read beside its values: the holiday calendar (with `country`) and the drivers
    over its periods and the horizon, and under "<model>_start" the state each model saved in an earlier run."""
    extra = {"calendar": holiday_calendar(index, horizon, freq, country), "drivers": drivers}
    extra.update({f"{name}_start": state for name, state in (starts or {}).items()})
    return extra


def holiday_calendar(index: pd.DatetimeIndex, horizon: int, freq: str, country: str | None) -> np.ndarray | None:
    if not country:
        return None
    return holiday_counts(index.append(future_periods(index[-1], horizon, freq)), freq, country)


def regressors(extra: dict | None, name: str, start: int, stop: int, steps: int):
    """(X for periods [start, stop), X for the next `steps`) for a model that takes regressors, else (None, None):
    the holiday calendar and the drivers, those that vary in the history (one that never varies tells a model
    nothing), a driver's unknown values filled with its mean over the history. Drivers join only with
    REGRESSOR_PERIODS periods of history per regressor."""
    if name not in EXOG_MODELS or not extra:
        return None, None
    columns = [extra["calendar"][:, None]] if extra.get("calendar") is not None else []
    if extra.get("drivers") is not None:
        columns.append(extra["drivers"])
    if not columns:
        return None, None
    table = np.hstack(columns)[start : stop + steps]
    history = table[: stop - start]
    known = ~np.isnan(history)
    means = np.where(
        known.any(axis=0), np.nansum(np.where(known, history, 0.0), axis=0) / np.maximum(known.sum(0), 1), 0.0
    )
    table = np.where(np.isnan(table), means, table)
    varying = np.ptp(table[: stop - start], axis=0) > 0
    if extra.get("calendar") is not None and extra.get("drivers") is not None:
        allowed = (stop - start) // REGRESSOR_PERIODS
        # the calendar first, then the drivers in their order, as many as the history supports
        varying &= np.cumsum(varying) <= max(allowed, 1)
    if not varying.any():
        return None, None
    return table[: stop - start, varying], table[stop - start :, varying]
