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
from forecasting.models.sarima import Sarima

Factory = Callable[[int], LocalForecaster]  # season length -> model
Series = tuple[object, pd.DatetimeIndex, np.ndarray]  # (unique_id, period ends, values)

MODELS: dict[str, Factory] = {
    "naive": lambda m: Naive(),
    "seasonal_naive": lambda m: SeasonalNaive(m),
    "moving_average_8": lambda m: MovingAverage(8),
    "croston_sba": lambda m: CrostonSBA(),
    "tsb": lambda m: TSB(),
    "adida": lambda m: ADIDA(),
    "imapa": lambda m: IMAPA(),
    "ensemble": lambda m: Ensemble([MovingAverage(8), TSB(), ADIDA(), IMAPA()]),
    "sarima": lambda m: Sarima(m),
    "ets": lambda m: Ets(m),
    "inactive": lambda m: Inactive(),  # the inactive class's model: no sale in the last year
}
EXOG_MODELS = {"sarima"}  # the local models that take regressors (holidays)
GlobalFactory = Callable[[int, tuple[int, ...], int], GlobalForecaster]  # horizon, levels, seed -> model
# Trained once across all series, not per series.
GLOBAL_MODELS: dict[str, GlobalFactory] = {
    "lstm": lambda horizon, levels, seed: GlobalLSTM(horizon, levels=levels or (80,), seed=seed),
}
SMOOTH_CANDIDATES = ("naive", "seasonal_naive", "moving_average_8", "imapa", "sarima")
INTERMITTENT_CANDIDATES = ("moving_average_8", "croston_sba", "tsb", "adida", "imapa")
# Also tried on every series with a short cycle (months, quarters): years of history hold many cycles, and even
# slow items with a seasonal rhythm (prescriptions filled before the year's end) follow it. Exponential smoothing is
# tried only there: with a long cycle (a year of weeks) it is non-seasonal, and the moving average and the
# intermittent methods already cover a smoothed level.
SEASONAL_CANDIDATES = ("seasonal_naive", "sarima", "ets")
DEFAULT_WINDOWS = 2  # backtest windows each candidate is scored on
PAIR = "+"  # "lstm+imapa": the equal-weight average of two models
# Pairs of local models that are candidates wherever both members are: two readings of a seasonal history (smoothed
# states against differenced lags) whose errors partly cancel.
LOCAL_PAIRS = ("sarima+ets",)
