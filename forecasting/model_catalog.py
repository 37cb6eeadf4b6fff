"""The catalogue of forecasting models: the local models by alias, the global network, and the candidates each
demand class is backtested with."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forecasting.models import (
    ADIDA,
    IMAPA,
    TSB,
    CrostonSBA,
    GlobalForecaster,
    Inactive,
    LocalForecaster,
    MovingAverage,
    Naive,
    SeasonalNaive,
)
from forecasting.models.base import Ensemble
from forecasting.models.ets import Ets
from forecasting.models.lstm import GlobalLSTM
from forecasting.models.mstl import Mstl
from forecasting.models.sarima import Sarima
from forecasting.models.trees import FeatureForecaster, GlobalLightGBM, GlobalRidge

Factory = Callable[[int, tuple[int, ...]], LocalForecaster]  # season length, every cycle of the data -> model
Series = tuple[object, pd.DatetimeIndex, np.ndarray]  # (unique_id, period ends, values)

MODELS: dict[str, Factory] = {
    "naive": lambda m, cycles: Naive(),
    "seasonal_naive": lambda m, cycles: SeasonalNaive(m),
    "moving_average_8": lambda m, cycles: MovingAverage(8),
    "croston_sba": lambda m, cycles: CrostonSBA(),
    "tsb": lambda m, cycles: TSB(),
    "adida": lambda m, cycles: ADIDA(),
    "imapa": lambda m, cycles: IMAPA(),
    "ensemble": lambda m, cycles: Ensemble([MovingAverage(8), TSB(), ADIDA(), IMAPA()]),
    "sarima": lambda m, cycles: Sarima(m),
    "ets": lambda m, cycles: Ets(m),
    "mstl": lambda m, cycles: Mstl(cycles),
    "inactive": lambda m, cycles: Inactive(),  # the inactive class's model: no sale in the last year
}
EXOG_MODELS = {"sarima"}  # the local models that take regressors (holidays)
GlobalFactory = Callable[[int, tuple[int, ...], int], GlobalForecaster]  # horizon, levels, seed -> model
# Trained once across all series, not per series.
GLOBAL_MODELS: dict[str, GlobalFactory] = {
    "lstm": lambda horizon, levels, seed: GlobalLSTM(horizon, levels=levels or (80,), seed=seed),
}
FeatureFactory = Callable[..., FeatureForecaster]  # horizon, freq, levels, seed, season length, threads -> model
# Global models on the feature table (lags, the year-ago season, calendar, drivers): trained once across all series
# per backtest origin, their backtest joins every demand class's local candidates (`forecasting.feature_models`).
FEATURE_MODELS: dict[str, FeatureFactory] = {
    "lightgbm": GlobalLightGBM,
    "ridge": GlobalRidge,
}
SMOOTH_CANDIDATES = ("naive", "seasonal_naive", "moving_average_8", "imapa", "sarima")
INTERMITTENT_CANDIDATES = ("moving_average_8", "croston_sba", "tsb", "adida", "imapa")
# Also tried on every series with a short cycle (months, quarters): years of history hold many cycles, and even
# slow items with a seasonal rhythm (prescriptions filled before the year's end) follow it. Exponential smoothing is
# tried only there: with a long cycle (a year of weeks) it is non-seasonal, and the moving average and the
# intermittent methods already cover a smoothed level.
SEASONAL_CANDIDATES = ("seasonal_naive", "sarima", "ets")
# The candidates of a seasonal series (smooth, its history holding a long cycle, a year of weeks or of days, once and
# a quarter: `forecasting.selection.demand_class`): the seasonal naive forecast (last year's same week where the
# season is the year, last week's same day for days) and the seasonal-trend decomposition, which carries last
# year's shape at this year's level; their pair is a candidate too.
LONG_CYCLE_CANDIDATES = ("seasonal_naive", "mstl")
DEFAULT_WINDOWS = 2  # backtest windows each candidate is scored on
# A seasonal series' candidates are scored on at least this many windows: choosing how to read a year takes more of
# the year than the latest two horizons (on Rossmann's weekly sales two windows of 8 weeks ranked the seasonal
# naive forecast first in April and May 2015, and four ranked the decomposition and its pair first, which the
# following weeks confirmed). Its candidates are cheap, so the extra windows cost little.
SEASONAL_WINDOWS = 4
PAIR = "+"  # "lstm+imapa": the equal-weight average of two models
# Pairs of local models that are candidates wherever both members are: two readings of a seasonal history (smoothed
# states against differenced lags) whose errors partly cancel.
LOCAL_PAIRS = ("sarima+ets", "mstl+seasonal_naive")
