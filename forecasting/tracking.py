"""Tracking a forecast run against the sales recorded since it was made.

A run is retrained every few weeks, but stock is reviewed every week: between two runs the policy would read a
forecast that has already been proved high or low by the weeks since. A min/max rule reacts to those weeks (its
moving average moves); a forecast-driven policy must too, or it is steadied by stale numbers exactly when demand
turns (the ramp into a peak season).

Each item's remaining forecast is scaled by how its sales compared with its forecast over the run's periods already
ended. The ratio is shrunk towards 1 as a gamma-Poisson posterior mean: if sales over the ended periods are Poisson
with mean `factor * forecast` and the factor has a gamma prior of mean 1 and shape `prior_units`, the posterior mean
of the factor is

    (prior_units + sold) / (prior_units + forecast)

so a slow item's few sales move it little (one sale against a forecast of 0.5 is no proof of a doubled demand),
while a fast one's thousands of units speak for themselves. The factor is bounded: one wholesale order must not
multiply a forecast tenfold. The mean and the interval bounds are scaled alike (the forecast's relative uncertainty
is kept).
"""

from __future__ import annotations

import pandas as pd

# The prior's weight in units: the evidence of this many units sold is worth as much as the run's own forecast.
DEFAULT_PRIOR_UNITS = 20.0
FACTOR_BOUNDS = (0.25, 4.0)


def tracking_factors(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    until: pd.Timestamp,
    prior_units: float = DEFAULT_PRIOR_UNITS,
    bounds: tuple[float, float] = FACTOR_BOUNDS,
) -> pd.Series:
    """Per item of `forecasts` (`forecast_many`'s output): the factor its demand ran at against the forecast over the
    run's periods ended by `until` (`ds <= until`); 1 for an item when none has ended.

    `actuals` is a long frame `unique_id, ds, y` labelled with the forecast's periods (an absent period sold
    nothing).
    """
    if prior_units <= 0:
        raise ValueError("prior_units must be positive")
    low, high = bounds
    if not 0 < low <= 1 <= high:
        raise ValueError("bounds must surround 1 and be positive")
    until = pd.Timestamp(until)
    ids = pd.Index(forecasts["unique_id"].unique(), name="unique_id")
    ended = forecasts[forecasts["ds"] <= until]
    if ended.empty:
        return pd.Series(1.0, index=ids, name="factor")
    forecast = ended.groupby("unique_id")["mean"].sum().clip(lower=0.0).reindex(ids).fillna(0.0)
    periods = pd.DatetimeIndex(ended["ds"].unique())
    sold_rows = actuals[actuals["ds"].isin(periods) & actuals["unique_id"].isin(ids)]
    sold = sold_rows.groupby("unique_id")["y"].sum().clip(lower=0.0).reindex(ids).fillna(0.0)
    factor = (prior_units + sold) / (prior_units + forecast)
    return factor.clip(low, high).rename("factor")


def track_forecasts(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    until: pd.Timestamp,
    prior_units: float = DEFAULT_PRIOR_UNITS,
    bounds: tuple[float, float] = FACTOR_BOUNDS,
) -> pd.DataFrame:
    """The periods of `forecasts` after `until`, with each item's mean and interval bounds scaled by its tracking
    factor (`tracking_factors`). Columns are kept; an item whose periods have all ended is dropped."""
    return scale_ahead(forecasts, tracking_factors(forecasts, actuals, until, prior_units, bounds), until)


def scale_ahead(forecasts: pd.DataFrame, factors: pd.Series, until: pd.Timestamp) -> pd.DataFrame:
    """The periods of `forecasts` after `until`, each item's mean and interval bounds multiplied by its factor (1 for
    an item `factors` lacks)."""
    ahead = forecasts[forecasts["ds"] > pd.Timestamp(until)].copy()
    scale = ahead["unique_id"].map(factors).fillna(1.0).to_numpy(float)
    for column in ahead.columns:
        if column == "mean" or column.startswith(("lo-", "hi-")):
            ahead[column] = ahead[column].to_numpy(float) * scale
    return ahead.reset_index(drop=True)
