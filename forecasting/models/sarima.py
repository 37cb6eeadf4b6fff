"""Seasonal ARIMA with statsmodels' SARIMAX, guarded so that a fit that fails or explodes never becomes a forecast.

The default is the "airline" model (0,1,1)(0,1,1)m, a strong and cheap choice for smooth seasonal series such as
monthly counts. Fits that do not converge, or whose AR roots lie on or inside the unit circle (|z| <= 1.01),
raise ValueError so that the caller falls back to a simpler model. Seasonal polynomials for long cycles (52 weeks,
365 days) are refused: those cycles belong in Fourier regressors, not in a 52-lag polynomial.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Self

import numpy as np

from forecasting.models.base import Forecaster, Prediction, as_series

MAX_SEASONAL_PERIOD = 24
MIN_ROOT_MODULUS = 1.01


class Sarima(Forecaster):
    alias = "sarima"

    def __init__(
        self,
        season_length: int,
        order: tuple[int, int, int] = (0, 1, 1),
        seasonal_order: tuple[int, int, int] = (0, 1, 1),
        maxiter: int = 50,
    ) -> None:
        self.season_length = season_length
        self.order = order
        self.seasonal_order = seasonal_order
        self.maxiter = maxiter

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        values = as_series(y)
        m = self.season_length
        if m > MAX_SEASONAL_PERIOD:
            raise ValueError(f"a {m}-period seasonal polynomial is too long; use Fourier terms")
        seasonal = (*self.seasonal_order, m) if m > 1 else (0, 0, 0, 0)
        if len(values) < 2 * max(m, 1) + sum(self.order) + 2:
            raise ValueError("not enough history for a seasonal ARIMA")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels warns on every hard fit; convergence is checked below
            model = SARIMAX(values, order=self.order, seasonal_order=seasonal, trend="n")
            result = model.fit(disp=False, maxiter=self.maxiter)
        if not result.mle_retvals.get("converged", False):
            raise ValueError("SARIMAX did not converge")
        # An AR root on or inside the unit circle makes forecasts explode. MA roots are kept invertible by the fit
        # itself, and one close to the circle (a deterministic seasonal pattern, over-differenced) forecasts fine.
        roots = result.arroots
        if len(roots) and np.min(np.abs(roots)) <= MIN_ROOT_MODULUS:
            raise ValueError("SARIMAX has an AR root on or inside the unit circle")
        self.result_ = result
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        forecast = self.result_.get_forecast(h)
        mean = np.maximum(np.asarray(forecast.predicted_mean, dtype=float), 0.0)
        out: Prediction = {"mean": mean}
        for value in level:
            bounds = np.asarray(forecast.conf_int(alpha=1 - value / 100.0), dtype=float)
            out[f"lo-{value}"] = np.clip(bounds[:, 0], 0.0, mean)
            out[f"hi-{value}"] = np.maximum(bounds[:, 1], mean)
        return out
