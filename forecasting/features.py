"""The feature table of the global feature models (`forecasting.models.trees`): one row per series, origin and target
period, built from what was known at the origin.

A row forecasts period `t` from origin `o` (the first unknown period; the step is `t - o + 1`): every value it reads
from the series lies before `o`, so a row is a forecast that could have been made. Sales-based features are divided
by the series' recent level at the origin (its scale), and so is the target: one model serves series of any size.
The features:
- level: the scale's logarithm, the last value, the recent mean, the share of zero periods, the step;
- season: the same phase of a short cycle (the same weekday of the latest known week, and the mean of the last four),
  the value a year before the target, the mean around it, and last year's shape (the year-ago window's mean over
  the year-ago level at the origin) and growth (this year's level over last year's);
- calendar: the target's weekday, day, week and month, as the frequency has them;
- drivers: each driver at the target (a holiday count among them), its departure from its recent mean at the origin
  (a price below its usual level, a promotion in an otherwise plain month) and, for days, its value the day before
  and the day after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data import infer_season_length, periods_per_year

# Feature groups, for explanations: every feature belongs to one.
LEVEL, SEASON, CALENDAR = "level", "season", "calendar"
LONG_SCALE_WINDOWS = 6
LONG_SCALE_FLOOR = 0.25
# A scaled target above this is clipped for training: a sale many times the usual level teaches the model nothing it
# can repeat, and squared error would let a few of them steer every tree.
MAX_SCALED_TARGET = 20.0
SUFFIXES = ("_vs_recent", "_before", "_after", "_last", "_recent")  # a driver's derived features


@dataclass(frozen=True)
class Layout:
    """The frequency-dependent settings of the feature table."""

    year: int  # periods between a target and its year-ago value (364 days: the same weekday); 0 when none
    short: int  # a short cycle inside the year (7 for days), 0 when none
    window: int  # periods of the recent level (the scale)
    halfwidth: int  # periods either side of the year-ago value that its mean reads
    calendar: tuple[str, ...]  # calendar fields of the target's date

    @classmethod
    def of(cls, freq: str, season_length: int | None = None) -> Layout:
        season = season_length or infer_season_length(freq)
        per_year = periods_per_year(freq)
        base = freq.upper().split("-")[0]
        if 1 < season < per_year:  # days (a week inside the year), or any short cycle
            year = per_year - per_year % season if per_year > 2 * season else 0
            return cls(year, season, 4 * season, season // 2, _calendar_fields(base))
        year = per_year if per_year > 1 else 0
        return cls(year, 0, max(2, min(per_year, 12)) if per_year < 52 else 8, 1 if per_year >= 52 else 0,
                   _calendar_fields(base))  # fmt: skip


def _calendar_fields(base: str) -> tuple[str, ...]:
    if base in {"D", "B"}:
        return ("weekday", "day", "week", "month", "dayofyear")
    if base.startswith("W"):
        return ("week", "month")
    if base in {"M", "MS", "ME"}:
        return ("month",)
    if base in {"Q", "QS", "QE"}:
        return ("quarter",)
    return ()


def feature_names(layout: Layout, drivers: Sequence[str], history_only: Sequence[str] = ()) -> list[str]:
    """The feature table's columns, in order. `history_only`: the drivers known only up to an origin."""
    names = ["log_scale", "last", "recent_mean", "zero_share", "step"]
    if layout.short:
        names += ["same_phase", "same_phase_mean"]
    if layout.year:
        names += ["year_ago", "year_ago_mean", "year_ago_shape", "growth"]
    names += list(layout.calendar)
    known = [name for name in drivers if name not in history_only]
    names += known + [f"{name}_vs_recent" for name in known]
    if layout.short:
        names += [f"{name}_before" for name in known] + [f"{name}_after" for name in known]
    past = [name for name in drivers if name in history_only]
    names += [f"{name}_last" for name in past] + [f"{name}_recent" for name in past]
    return names


def feature_groups(layout: Layout, drivers: Sequence[str], history_only: Sequence[str] = ()) -> dict[str, str]:
    """Feature name -> group (level, season, calendar, or the driver's own name)."""
    groups = {}
    for name in feature_names(layout, drivers, history_only):
        if name in {"log_scale", "last", "recent_mean", "zero_share", "step", "growth"}:
            groups[name] = LEVEL
        elif name in {"same_phase", "same_phase_mean", "year_ago", "year_ago_mean", "year_ago_shape"}:
            groups[name] = SEASON
        elif name in layout.calendar:
            groups[name] = CALENDAR
        else:
            groups[name] = next(driver for driver in drivers if name in {driver, *(driver + s for s in SUFFIXES)})
    return groups


def calendar_table(dates: pd.DatetimeIndex, fields: Sequence[str]) -> np.ndarray:
    columns = {
        "weekday": lambda: dates.day_of_week,
        "day": lambda: dates.day,
        "week": lambda: dates.isocalendar().week.to_numpy(),
        "month": lambda: dates.month,
        "dayofyear": lambda: dates.day_of_year,
        "quarter": lambda: dates.quarter,
    }
    return (
        np.column_stack([np.asarray(columns[field](), float) for field in fields])
        if fields
        else np.empty((len(dates), 0))
    )


def scales(values: np.ndarray, origins: np.ndarray, window: int) -> np.ndarray:
    """The level each origin divides by: the mean of the `window` periods before it, at least LONG_SCALE_FLOOR of the
    mean of the LONG_SCALE_WINDOWS windows before it, else 1 (a series that has sold nothing yet)."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    recent = _window_mean(cumulative, origins, window)
    longer = _window_mean(cumulative, origins, LONG_SCALE_WINDOWS * window)
    # A level read just after a closure or a stock-out is near zero, and every sale after it would look enormous:
    # the recent level is floored at a share of the longer one.
    recent = np.maximum(np.nan_to_num(recent), LONG_SCALE_FLOOR * np.nan_to_num(longer))
    return np.where(recent > 0, recent, 1.0)


def _window_mean(cumulative: np.ndarray, ends: np.ndarray, width) -> np.ndarray:
    """Mean of the values in [end - width, end) clipped at 0; NaN where that is empty or `end` < 1."""
    ends = np.asarray(ends)
    starts = np.clip(ends - width, 0, None)
    ends_safe = np.clip(ends, 0, len(cumulative) - 1)
    count = ends_safe - starts
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (cumulative[ends_safe] - cumulative[starts]) / count
    return np.where(count > 0, out, np.nan)


def _known(values: np.ndarray, positions: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """values[position] where the position lies before the origin (known then), else NaN."""
    valid = (positions >= 0) & (positions < origins)
    out = np.full(len(positions), np.nan)
    out[valid] = values[positions[valid]]
    return out


def feature_rows(
    values: np.ndarray,
    calendar: np.ndarray,
    drivers: np.ndarray | None,
    targets: np.ndarray,
    steps: np.ndarray,
    layout: Layout,
    history_only: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(features, scale) of the rows forecasting `targets` (period positions) `steps` periods ahead.

    `values` is the series' known history; `calendar` and `drivers` cover its periods and the horizon after them
    (one row per period). Origins (`targets - steps + 1`) must lie in 1..len(values). `history_only`: a mask of the
    driver columns known only up to an origin (customers counted): their last value and recent mean before it are
    read, never their value at the target."""
    targets = np.asarray(targets, int)
    origins = targets - np.asarray(steps, int) + 1
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    zero_cumulative = np.concatenate([[0.0], np.cumsum(values == 0)])
    scale = scales(values, origins, layout.window)
    columns = [
        np.log1p(scale),
        values[origins - 1] / scale,
        _window_mean(cumulative, origins, layout.short or max(2, layout.window // 2)) / scale,
        _window_mean(zero_cumulative, origins, layout.window),
        np.asarray(steps, float),
    ]
    if layout.short:
        lag = layout.short * np.ceil(steps / layout.short).astype(int)
        columns.append(_known(values, targets - lag, origins) / scale)
        phases = np.column_stack([_known(values, targets - lag - k * layout.short, origins) for k in range(4)])
        columns.append(_nanmean(phases) / scale)
    if layout.year:
        year_ago = targets - layout.year
        columns.append(_known(values, year_ago, origins) / scale)
        around = np.column_stack(
            [_known(values, year_ago + d, origins) for d in range(-layout.halfwidth, layout.halfwidth + 1)]
        )
        around_mean = _nanmean(around)
        columns.append(around_mean / scale)
        past_origins = origins - layout.year
        past_level = np.where(past_origins >= 1, _window_mean(cumulative, past_origins, layout.window), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns.append(np.where(past_level > 0, around_mean / past_level, np.nan))
            columns.append(np.where(past_level > 0, scale / past_level, np.nan))
    if calendar.shape[1]:
        columns.extend(calendar[targets].T)
    if drivers is not None and drivers.shape[1]:
        past = np.zeros(drivers.shape[1], bool) if history_only is None else np.asarray(history_only, bool)
        present = ~np.isnan(drivers)
        filled_cumulative = np.vstack([np.zeros(drivers.shape[1]), np.cumsum(np.where(present, drivers, 0.0), axis=0)])
        count_cumulative = np.vstack([np.zeros(drivers.shape[1]), np.cumsum(present, axis=0)])
        starts = np.clip(origins - layout.window, 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            recent = (filled_cumulative[origins] - filled_cumulative[starts]) / (
                count_cumulative[origins] - count_cumulative[starts]
            )
        past_columns = (drivers[origins - 1][:, past].T, recent[:, past].T)
        drivers, recent = drivers[:, ~past], recent[:, ~past]
        columns.extend(drivers[targets].T)
        columns.extend((drivers[targets] - recent).T)
        if layout.short:  # days: the day before and after (a holiday's eve, the last day of a promotion)
            for shift in (-1, 1):
                neighbours = targets + shift
                valid = (neighbours >= 0) & (neighbours < len(drivers))
                table = np.full((len(targets), drivers.shape[1]), np.nan)
                table[valid] = drivers[neighbours[valid]]
                columns.extend(table.T)
        for table in past_columns:
            columns.extend(table)
    return np.column_stack(columns), scale


def _nanmean(table: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(table)).sum(axis=1)
    sums = np.nansum(table, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
