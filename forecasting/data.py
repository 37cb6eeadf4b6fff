"""Preparing demand history: regular periods, zeros where nothing sold, stock-outs as missing demand, demand classes.

Histories are long frames `unique_id, ds, y` (optionally `censored`: the item was out of stock in that period).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Syntetos–Boylan–Croston cut-offs between smooth, erratic, intermittent and lumpy demand.
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
OUTLIER_IQRS = 3.0  # Tukey's "far out" fence
# The useful history of a series: its last HISTORY_YEARS years, and never fewer than HISTORY_MIN_PERIODS periods
# (twenty years of months). Older periods cost fitting time and memory in proportion to their number and rarely add
# accuracy: demand drifts, and three yearly cycles are enough to read a season from.
HISTORY_YEARS = 3
HISTORY_MIN_PERIODS = 240


def infer_season_length(freq: str) -> int:
    """The natural cycle of a frequency: a week of days, a year of weeks, months or quarters."""
    base = freq.upper().split("-")[0]
    if base in {"D", "B"}:
        return 7
    if base.startswith("W"):
        return 52
    if base in {"M", "MS", "ME"}:
        return 12
    if base in {"Q", "QS", "QE"}:
        return 4
    return 1


def season_cycles(freq: str, season_length: int | None = None) -> tuple[int, ...]:
    """The cycles of series of `freq`: the season first (`season_length`, default the frequency's natural one, 1 for
    none), then the year where it is longer and at most a year of days (365 days for daily data; weekly, monthly
    and quarterly data have the year as their season already)."""
    season = season_length or infer_season_length(freq)
    year = periods_per_year(freq)
    return (season, year) if season < year <= 366 and season > 1 else (season,)


def period_alias(freq: str) -> str:
    """The period spelling of a frequency ("MS" and "ME" are months as periods, "QS" and "QE" quarters, ...)."""
    upper = freq.upper()
    for names, alias in ((("MS", "ME"), "M"), (("QS", "QE"), "Q"), (("YS", "YE", "AS", "A"), "Y")):
        if upper.split("-")[0] in names:
            return alias
    return freq


def periods_per_year(freq: str) -> int:
    """How many periods of `freq` a year holds (365 days, 261 business days, 52 weeks, 12 months, 4 quarters)."""
    four_years = pd.date_range("2001-01-01", "2005-01-01", freq=freq, inclusive="left")
    return max(1, round(len(four_years) / 4))


def history_periods(freq: str) -> int:
    """The most periods of a series' history that forecasting reads (see HISTORY_YEARS)."""
    return max(HISTORY_YEARS * periods_per_year(freq), HISTORY_MIN_PERIODS)


def history_start(end: pd.Timestamp, freq: str) -> pd.Timestamp:
    """The first day of the useful history of series that end in the period holding `end`: what a caller needs to
    read from its store (whole periods only: a period read in part would look like a slump)."""
    alias = period_alias(freq)
    last = pd.Period(pd.Timestamp(end), freq=alias)
    return (last - (history_periods(freq) - 1)).start_time.normalize()


def useful_start(values: np.ndarray, freq: str) -> int:
    """Where the useful history of a regular series begins (an index into `values`).

    - At most `history_periods(freq)` periods are kept.
    - A silence of a whole year or more (no sale at all) that sales follow ends the history before it: the item
      was off sale, or sold to other customers, and its old level says little about the new one.
    - A series with no sale in its last year is inactive: only that last year is kept (all zeros), so that a SKU
      dead for years costs one year of zeros, never a history padded to today.
    """
    values = np.asarray(values, dtype=float)
    length = len(values)
    start = max(0, length - history_periods(freq))
    year = periods_per_year(freq)
    sold = np.flatnonzero(values[start:] > 0) + start
    if len(sold) == 0 or sold[-1] < length - year:
        return max(start, length - year)
    gaps = np.diff(np.concatenate([[start - 1], sold]))  # periods from one sale (or the start) to the next
    long_silences = np.flatnonzero(gaps > year)
    if len(long_silences):
        start = int(sold[long_silences[-1]])
    return start


def periods_ending(end: pd.Timestamp, count: int, freq: str) -> pd.DatetimeIndex:
    """The `count` periods up to the one holding `end`, stamped like `to_regular` stamps them (period end day)."""
    alias = period_alias(freq)
    return pd.period_range(end=pd.Period(pd.Timestamp(end), freq=alias), periods=count, freq=alias).end_time.normalize()


def future_periods(last: pd.Timestamp, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The `horizon` periods after the one ending `last`, stamped like `to_regular` stamps them (period end day)."""
    alias = period_alias(freq)
    periods = pd.period_range(pd.Period(last, freq=alias), periods=horizon + 1, freq=alias)[1:]
    return periods.end_time.normalize()


def future_stamps(last: pd.Timestamp, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The dates of the `horizon` periods after the one ending `last`, stamped as `freq` stamps them: a month's first
    day for "MS", its last for "ME", a week's Sunday for "W-SUN"... (the engine works on period ends internally; what
    it answers is in the frequency and anchor it was asked for, so that forecasts join the history they continue)."""
    return pd.date_range(pd.Timestamp(last).normalize() + pd.Timedelta(days=1), periods=horizon, freq=freq)


def to_regular(history: pd.DataFrame, freq: str, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Sum demand into periods of `freq`; every series runs from its first period to `end` (default: the last
    period of the whole history) with zeros where it sold nothing. A period counts as censored when at least half of
    its rows were (e.g. 4 of 7 days out of stock in a week)."""
    frame = history[["unique_id", "ds", "y"]].copy()
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame["censored"] = history["censored"].astype(bool) if "censored" in history else False
    freq = period_alias(freq)
    frame["period"] = frame["ds"].dt.to_period(freq).dt.end_time.dt.normalize()
    grouped = frame.groupby(["unique_id", "period"], sort=True).agg(y=("y", "sum"), censored=("censored", "mean"))
    grouped["censored"] = grouped["censored"] >= 0.5
    columns = ["unique_id", "ds", "y", "censored"]
    if grouped.empty:
        return pd.DataFrame(columns=columns)
    last = pd.Timestamp(end) if end is not None else grouped.index.get_level_values("period").max()
    # One grid of period ends for all series; each series takes the grid from its first period on (vectorised:
    # a loop of reindexes per series was most of the cost of preparing a few thousand series).
    firsts = grouped.index.to_frame(index=False).groupby("unique_id", sort=True)["period"].min()
    grid = pd.period_range(firsts.min(), last, freq=freq).end_time.normalize() if firsts.min() <= last else None
    if grid is None or len(grid) == 0:
        return pd.DataFrame(columns=columns)
    starts = grid.searchsorted(firsts.to_numpy())
    lengths = np.clip(len(grid) - starts, 0, None)
    ids = np.repeat(firsts.index.to_numpy(), lengths)
    stamps = np.concatenate([grid.to_numpy()[start:] for start in starts]) if len(starts) else np.array([])
    full = pd.MultiIndex.from_arrays([ids, stamps], names=["unique_id", "period"])
    regular = grouped.reindex(full)
    out = pd.DataFrame(
        {
            "unique_id": ids,
            "ds": pd.DatetimeIndex(stamps),
            "y": regular["y"].fillna(0.0).to_numpy(float),
            "censored": regular["censored"].fillna(False).to_numpy(bool),
        }
    )
    return out[columns]


def impute_censored(y: np.ndarray, censored: np.ndarray, window: int = 4) -> np.ndarray:
    """Replace stock-out periods by the mean of the nearest observed periods (up to `window` on each side).

    Demand in a period without stock is unknown, not zero: counting it as zero teaches every model that the item
    sells less than it does. A series censored throughout keeps its values.
    """
    values = np.asarray(y, dtype=float).copy()
    mask = np.asarray(censored, dtype=bool)
    if not mask.any() or mask.all():
        return values
    observed = np.flatnonzero(~mask)
    for index in np.flatnonzero(mask):
        before = observed[observed < index][-window:]
        after = observed[observed > index][:window]
        neighbours = np.concatenate([before, after])
        values[index] = max(values[index], float(np.mean(values[neighbours])))
    return values


def cap_outliers(y: np.ndarray, k: float = OUTLIER_IQRS, min_sales: int = 8, window: int | None = None) -> np.ndarray:
    """Cap sale sizes far above the series' usual ones (above Q3 + k·IQR of its non-zero periods).

    One wholesale order of 5,000 units in a series that sells 20 a week is real, but forecasting it again teaches
    nothing: every model would carry it for weeks. The default fence is Tukey's "far out" one (k = 3), measured on
    the sizes of the sales (zeros excluded), and it needs `min_sales` sales to estimate what "usual" means.

    With `window`, "usual" is read from the `window` periods around each one (a window that fits in the series,
    shifted at its ends) rather than from the whole history: a series that has grown over years would otherwise
    have its recent, most telling values capped at a fence set by its early ones.
    """
    values = np.asarray(y, dtype=float).copy()
    if window is None or window >= len(values):
        return np.minimum(values, _fence(values[values > 0], k, min_sales))
    # every window of the series at once (rows: window starts), its sales sorted first and its zeros (as NaN) last;
    # the quartiles interpolated between order statistics as np.percentile does
    parts = np.sort(np.lib.stride_tricks.sliding_window_view(np.where(values > 0, values, np.nan), window), axis=1)
    sales = np.sum(~np.isnan(parts), axis=1)
    rows = np.arange(len(parts))

    def quantile(q: float) -> np.ndarray:
        position = q * np.maximum(sales - 1, 0)
        below = np.floor(position).astype(int)
        above = np.minimum(below + 1, np.maximum(sales - 1, 0))
        low, high = parts[rows, below], parts[rows, above]
        return low + (position - below) * (high - low)

    q1, q3 = quantile(0.25), quantile(0.75)
    fences = np.where(sales >= min_sales, q3 + k * np.maximum(q3 - q1, 1.0), math.inf)
    starts = np.clip(np.arange(len(values)) - window // 2, 0, len(values) - window)
    return np.minimum(values, fences[starts])


def _fence(sizes: np.ndarray, k: float, min_sales: int) -> float:
    """Q3 + k·IQR of the sale sizes (no fence with fewer than `min_sales`)."""
    if len(sizes) < min_sales:
        return math.inf
    q1, q3 = np.percentile(sizes, [25, 75])
    return q3 + k * max(q3 - q1, 1.0)


def classify_demand(y: np.ndarray) -> str:
    """smooth, erratic, intermittent or lumpy (ADI: mean interval between sales; CV²: of the non-zero sizes)."""
    values = np.asarray(y, dtype=float)
    sizes = values[values > 0]
    if len(sizes) == 0:
        return "zero"
    adi = len(values) / len(sizes)
    cv2 = float(np.var(sizes) / np.mean(sizes) ** 2) if len(sizes) > 1 else 0.0
    if adi < ADI_CUTOFF:
        return "smooth" if cv2 < CV2_CUTOFF else "erratic"
    return "intermittent" if cv2 < CV2_CUTOFF else "lumpy"


def holiday_counts(stamps: pd.DatetimeIndex, freq: str, country: str, subdivision: str | None = None) -> np.ndarray:
    """Public holidays of `country` (ISO code, the `holidays` package) falling in each period stamped like
    `to_regular` stamps it (by its end day): a regressor for models that take one."""
    import holidays

    alias = period_alias(freq)
    periods = pd.PeriodIndex([pd.Period(stamp, freq=alias) for stamp in stamps])
    years = range(periods.start_time.min().year, periods.end_time.max().year + 1)
    days = pd.DatetimeIndex(sorted(holidays.country_holidays(country, subdiv=subdivision, years=years)))
    if len(days) == 0:
        return np.zeros(len(stamps))
    holiday_periods = pd.Series(1.0, index=days.to_period(alias)).groupby(level=0).sum()
    return holiday_periods.reindex(periods).fillna(0.0).to_numpy()
