"""Exponential smoothing state-space models (ETS) with statsmodels' `ETSModel`, the form chosen by AICc.

- The forms searched are the ones that suit demand: additive or multiplicative errors and seasonality (the
  multiplicative ones only for a strictly positive history), with no trend or a damped additive trend. An undamped
  trend extrapolates a year's growth forever; damped, it levels off, which is what demand does.
- A seasonal component needs a cycle up to `MAX_SEASONAL_PERIOD` (months, quarters, a week of days) and at least
  two cycles and a bit of history; a longer cycle (a year of weeks) would need 52 initial states estimated from a
  year or two of data, so the search stays non-seasonal there.
- Fits that fail or do not converge are skipped; when none is left the model raises ValueError so that the caller
  falls back to a simpler one.
- Intervals are analytical for additive errors and simulated (seeded) for multiplicative ones.

ETS and a seasonal ARIMA read the same history differently (smoothed states against differenced lags); their average
forecasts long seasonal series better than either alone, as in the M-competitions, which is why the pair
`sarima+ets` is a candidate.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Self

import numpy as np

from forecasting.models.base import LocalForecaster, Prediction, as_series
from forecasting.models.sarima import MAX_SEASONAL_PERIOD

# (error, trend, damped, seasonal); seasonal None for a non-seasonal series
FORMS: tuple[tuple[str, str | None, bool, str | None], ...] = (
    ("add", None, False, "add"),
    ("add", "add", True, "add"),
    ("mul", None, False, "mul"),
    ("mul", "add", True, "mul"),
)
MIN_PERIODS = 8


class Ets(LocalForecaster):
    """ETS with the form of lowest AICc among `FORMS`; `start` (a previous fit's `state_`) refits its form only,
    from its parameters."""

    alias = "ets"

    def __init__(self, season_length: int, maxiter: int = 200, start: dict | None = None, seed: int = 0) -> None:
        self.season_length = season_length
        self.maxiter = maxiter
        self.start = start
        self.seed = seed

    def _forms(self, values: np.ndarray) -> list[tuple[str, str | None, bool, str | None]]:
        m = self.season_length
        seasonal = 1 < m <= MAX_SEASONAL_PERIOD and len(values) >= 2 * m + 3
        positive = bool(np.min(values) > 0)
        forms = []
        for error, trend, damped, season in FORMS:
            if not positive and "mul" in (error, season):
                continue
            form = (error, trend, damped, season if seasonal else None)
            if form not in forms:
                forms.append(form)
        return forms

    def _fit_one(self, values, form, start_params=None):
        import pandas as pd

        error, trend, damped, season = form
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels warns on hard fits; convergence is checked below
            model = _model_class()(
                pd.Series(values),  # its prediction results need an indexed series (a bare array fails there)
                error=error,
                trend=trend,
                damped_trend=damped,
                seasonal=season,
                seasonal_periods=self.season_length if season else None,
            )
            if start_params is not None and len(start_params) != len(model.param_names):
                start_params = None
            result = model.fit(start_params=start_params, maxiter=self.maxiter, disp=False)
        if not result.mle_retvals.get("converged", False):
            raise ValueError("ETS did not converge")
        if not np.isfinite(result.aicc) or not np.all(np.isfinite(result.params)):
            raise ValueError("ETS fit is not finite")
        return result

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        if len(values) < MIN_PERIODS:
            raise ValueError("not enough history for exponential smoothing")
        if np.ptp(values) == 0:
            raise ValueError("a constant history leaves nothing for exponential smoothing to model")
        forms = self._forms(values)
        start = self.start or {}
        best = None
        saved = tuple(start["form"]) if start.get("form") else None
        if saved in forms:
            try:
                best = (saved, self._fit_one(values, saved, np.asarray(start["params"], dtype=float)))
            except (ValueError, np.linalg.LinAlgError):
                best = None
        if best is None:
            scored = []
            for form in forms:
                try:
                    result = self._fit_one(values, form)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                scored.append((float(result.aicc), form, result))
            if not scored:
                raise ValueError("no exponential smoothing form could be fitted")
            _, form, result = min(scored, key=lambda row: row[0])
            best = (form, result)
        self.form_, self.result_ = best
        self.n_ = len(values)
        self.state_ = {"form": list(self.form_), "params": [float(value) for value in self.result_.params]}
        return self

    def predict(self, h: int, level: Sequence[int] = ()) -> Prediction:
        prediction = self.result_.get_prediction(
            start=self.n_, end=self.n_ + h - 1, rng=np.random.default_rng(self.seed)
        )
        mean = np.maximum(np.asarray(prediction.predicted_mean, dtype=float), 0.0)
        out: Prediction = {"mean": mean}
        for value in level:
            frame = prediction.summary_frame(alpha=1 - value / 100.0)
            out[f"lo-{value}"] = np.clip(frame["pi_lower"].to_numpy(float), 0.0, mean)
            out[f"hi-{value}"] = np.maximum(frame["pi_upper"].to_numpy(float), mean)
        return out


@functools.cache
def _model_class():
    """statsmodels' `ETSModel` whose results skip the covariance of the parameters.

    statsmodels computes that covariance when a fit's results are built, by a numerical Hessian of the likelihood:
    a third of the time of a fit, spent on every form searched. The forecasts and their intervals never read it
    (additive errors: the analytic variances from the parameters and the scale; multiplicative ones: simulation)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel, ETSResults, ETSResultsWrapper

    class _Results(ETSResults):
        @property
        def cov_params_approx(self):
            return np.full((len(self.params), len(self.params)), np.nan)

    class _Model(ETSModel):
        @property
        def _res_classes(self):
            return {"fit": (_Results, ETSResultsWrapper)}

    return _Model
