"""Seasonal ARIMA with statsmodels' SARIMAX: a small stepwise order search by AICc, Fourier terms for long cycles,
calendar regressors, warm starts, and guards so that a fit that fails or explodes never becomes a forecast.

- Seasonal cycles up to `MAX_SEASONAL_PERIOD` (months, quarters, a week of days) get a seasonal polynomial, the
  "airline" seasonal part (0,1,1)m, when the history holds at least two cycles.
- Longer cycles (a year of weeks or days) get `fourier_terms` sine/cosine pairs as regressors instead of a 52- or
  365-lag polynomial, which would be slow, unstable and need years of history; they are used once the history holds
  a full cycle and a bit.
- The non-seasonal order (p, d, q) is searched stepwise (Hyndman–Khandakar style, much smaller): d from a KPSS test,
  then start at (0,d,1) and move p or q by one while AICc improves, at most `max_fits` fits.
- `start` (the `order` and `params` of a previous fit, see `state_`) skips the search and starts the optimiser from
  the previous parameters: the nightly retrain of an unchanged series costs one cheap fit.
- Fits that do not converge, or whose AR roots lie on or inside the unit circle (|z| <= 1.01), raise ValueError so
  that the caller falls back to a simpler model.

Speed: the series (and its regressors) is differenced before the fit (statsmodels' `simple_differencing`), and the
error variance is concentrated out of the likelihood. Differencing inside the state space carries 13 extra states
for the monthly airline model; outside it the Kalman filter runs on about half the states and a fit costs a sixth
(0.10 s against 0.02 s on a PBS series), at the price of conditioning the likelihood on the first d + m·D periods.
The forecasts of the differenced series are integrated back here, and the intervals come from the psi weights of the
whole model, differencing included (`statsmodels.tsa.arima_process.arma2ma`), as an undifferenced fit's would.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Self

import numpy as np
from scipy import stats

from forecasting.models.base import LocalForecaster, Prediction, as_series

MAX_SEASONAL_PERIOD = 24
MIN_ROOT_MODULUS = 1.01
MAX_PQ = 2


def fourier_terms(positions: np.ndarray, period: int, pairs: int) -> np.ndarray:
    """Sine/cosine pairs of a cycle of `period` steps at integer `positions` (columns: sin 1, cos 1, sin 2, ...)."""
    angle = 2.0 * np.pi * np.outer(positions, np.arange(1, pairs + 1)) / period
    return np.column_stack([f(angle[:, k]) for k in range(pairs) for f in (np.sin, np.cos)])


def differences_needed(y: np.ndarray) -> int:
    """0 or 1 from the KPSS level-stationarity test at 5% (a constant series needs none)."""
    from statsmodels.tsa.stattools import kpss

    if np.ptp(y) == 0 or len(y) < 8:
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KPSS warns when the p-value is outside its table: the bounds still decide
        _, p_value, *_ = kpss(y, regression="c", nlags="auto")
    return int(p_value < 0.05)


def aicc(result, n: int) -> float:
    k = len(result.params)
    return float(result.aic + 2 * k * (k + 1) / max(n - k - 1, 1))


class Sarima(LocalForecaster):
    """Seasonal ARIMA; `order=None` searches the non-seasonal order. `X`: extra regressors (e.g. holidays)."""

    alias = "sarima"
    uses_exog = True

    def __init__(
        self,
        season_length: int,
        order: tuple[int, int, int] | None = None,
        seasonal_order: tuple[int, int, int] = (0, 1, 1),
        fourier_pairs: int = 4,
        max_fits: int = 5,
        maxiter: int = 50,
        start: dict | None = None,
    ) -> None:
        self.season_length = season_length
        self.order = order
        self.seasonal_order = seasonal_order
        self.fourier_pairs = fourier_pairs
        self.max_fits = max_fits
        self.maxiter = maxiter
        self.start = start

    def _layout(self, n: int) -> tuple[tuple[int, int, int, int], int]:
        """(seasonal order, Fourier pairs) that the history of length n supports."""
        m = self.season_length
        if 1 < m <= MAX_SEASONAL_PERIOD and n >= 2 * m + 3:
            return (*self.seasonal_order, m), 0
        if m > MAX_SEASONAL_PERIOD and n >= m + m // 4:
            return (0, 0, 0, 0), min(self.fourier_pairs, m // 2)
        return (0, 0, 0, 0), 0

    def _regressors(self, positions: np.ndarray, X: np.ndarray | None) -> np.ndarray | None:
        columns = []
        if self.fourier_ > 0:
            columns.append(fourier_terms(positions, self.season_length, self.fourier_))
        if X is not None:
            columns.append(np.asarray(X, dtype=float).reshape(len(positions), -1))
        return np.column_stack(columns) if columns else None

    def _fit_one(self, values, exog, order, seasonal, start_params=None):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels warns on every hard fit; convergence is checked below
            # Without differencing the series has a level to estimate; with it, a constant would be a drift.
            trend = "c" if order[1] == 0 and seasonal[1] == 0 else "n"
            model = SARIMAX(
                values,
                exog=exog,
                order=order,
                seasonal_order=seasonal,
                trend=trend,
                simple_differencing=True,
                concentrate_scale=True,
            )
            if start_params is not None and len(start_params) != len(model.param_names):
                # the saved fit had other regressors (e.g. the yearly Fourier terms start once a cycle is known)
                start_params = None
            return model.fit(disp=False, maxiter=self.maxiter, start_params=start_params)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        values = as_series(y)
        n = len(values)
        seasonal, self.fourier_ = self._layout(n)
        if n < max(8, 2 * seasonal[3] + 6):
            raise ValueError("not enough history for an ARIMA")
        if np.ptp(values) == 0:
            raise ValueError("a constant history leaves nothing for an ARIMA to model")
        if X is not None and len(X) != n:
            raise ValueError("the regressors must cover the history")
        self.has_exog_ = X is not None
        exog = self._regressors(np.arange(n), X)
        start = self.start or {}
        if start.get("order") and start.get("seasonal") == list(seasonal) and start.get("n_params"):
            order = tuple(start["order"])
            result = self._fit_one(values, exog, order, seasonal, np.asarray(start["params"], dtype=float))
            if len(result.params) != start["n_params"]:
                result = self._fit_one(values, exog, order, seasonal)
        elif self.order is not None:
            order, result = self.order, self._fit_one(values, exog, self.order, seasonal)
        else:
            order, result = self._search(values, exog, seasonal)
        self._check(result)
        self.result_, self.n_ = result, n
        # what integrating the differenced forecasts back takes: the differencing polynomial and the last periods
        self.differencing_ = differencing_polynomial(order[1], seasonal[1], seasonal[3])
        lags = len(self.differencing_) - 1
        self.tail_ = values[n - lags :] if lags else values[:0]
        self.state_ = {
            "order": list(order),
            "seasonal": list(seasonal),
            "params": [float(value) for value in result.params],
            "n_params": len(result.params),
        }
        return self

    def _search(self, values, exog, seasonal):
        # Seasonal differencing already removes a level shift; otherwise KPSS decides.
        d = 1 if seasonal[1] else differences_needed(values)
        tried: dict[tuple[int, int, int], float] = {}
        results = {}

        def attempt(order):
            if (
                order in tried
                or len(tried) >= self.max_fits
                or not (0 <= order[0] <= MAX_PQ and 0 <= order[2] <= MAX_PQ)
            ):
                return
            try:
                result = self._fit_one(values, exog, order, seasonal)
                self._check(result)
                tried[order], results[order] = aicc(result, len(values)), result
            except (ValueError, np.linalg.LinAlgError):
                tried[order] = float("inf")

        for order in ((0, d, 1), (1, d, 0), (0, d, 0)):
            attempt(order)
        while True:
            best = min(tried, key=tried.get)
            before = len(tried)
            for dp, dq in ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1)):
                attempt((best[0] + dp, d, best[2] + dq))
            if min(tried, key=tried.get) == best or len(tried) == before:
                break
        best = min(tried, key=tried.get)
        if not np.isfinite(tried[best]):
            raise ValueError("no ARIMA order could be fitted")
        return best, results[best]

    @staticmethod
    def _check(result) -> None:
        if not result.mle_retvals.get("converged", False):
            raise ValueError("SARIMAX did not converge")
        # An AR root on or inside the unit circle makes forecasts explode. MA roots are kept invertible by the fit
        # itself, and one close to the circle (a deterministic seasonal pattern, over-differenced) forecasts fine.
        roots = result.arroots
        if len(roots) and np.min(np.abs(roots)) <= MIN_ROOT_MODULUS:
            raise ValueError("SARIMAX has an AR root on or inside the unit circle")

    def predict(self, h: int, level: Sequence[int] = (), X: np.ndarray | None = None) -> Prediction:
        if self.has_exog_ and X is None:
            raise ValueError("this model was fitted with regressors: give their future values")
        exog = self._regressors(np.arange(self.n_, self.n_ + h), X if self.has_exog_ else None)
        delta = self.differencing_
        # forecasts of the differenced series (statsmodels differences the future regressors with their past)
        differenced = np.asarray(self.result_.get_forecast(h, exog=exog).predicted_mean, dtype=float)
        # y_t = w_t - (delta_1 y_{t-1} + ... + delta_r y_{t-r}): the differenced forecasts w integrated back
        path = np.concatenate([self.tail_, np.zeros(h)])
        lags = len(delta) - 1
        for step in range(h):
            t = lags + step
            path[t] = differenced[step] - np.dot(delta[1:], path[t - 1 :: -1][:lags]) if lags else differenced[step]
        mean_raw = path[lags:]
        mean = np.maximum(mean_raw, 0.0)
        out: Prediction = {"mean": mean}
        if level:
            from statsmodels.tsa.arima_process import arma2ma

            ar = np.convolve(self.result_.polynomial_reduced_ar, delta)
            psi = arma2ma(ar, self.result_.polynomial_reduced_ma, lags=h)
            sd = np.sqrt(float(self.result_.scale) * np.cumsum(psi**2))
            for value in level:
                z = float(stats.norm.ppf(0.5 + value / 200.0))
                out[f"lo-{value}"] = np.clip(mean_raw - z * sd, 0.0, mean)
                out[f"hi-{value}"] = np.maximum(mean_raw + z * sd, mean)
        return out


def differencing_polynomial(d: int, seasonal_d: int, period: int) -> np.ndarray:
    """The coefficients of (1 - B)^d (1 - B^period)^seasonal_d, lowest power first."""
    polynomial = np.ones(1)
    for _ in range(d):
        polynomial = np.convolve(polynomial, [1.0, -1.0])
    for _ in range(seasonal_d):
        polynomial = np.convolve(polynomial, np.r_[1.0, np.zeros(period - 1), -1.0])
    return polynomial
