"""Forecasting models, each with the same estimator shape: `fit(y) -> self`, `predict(h, level) -> dict`."""

from forecasting.models.base import GlobalForecaster, LocalForecaster, forecast_with_fallback
from forecasting.models.baselines import Inactive, MovingAverage, Naive, SeasonalNaive
from forecasting.models.intermittent import ADIDA, IMAPA, TSB, CrostonSBA

__all__ = [
    "ADIDA",
    "IMAPA",
    "TSB",
    "CrostonSBA",
    "GlobalForecaster",
    "LocalForecaster",
    "Inactive",
    "MovingAverage",
    "Naive",
    "SeasonalNaive",
    "forecast_with_fallback",
]
