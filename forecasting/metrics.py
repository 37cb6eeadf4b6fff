"""Forecast accuracy measures. Inputs are array-likes of equal length; scaled errors need the training series.

MASE and RMSSE divide by the in-sample error of the (seasonal) naive forecast, so 1.0 means "as good as repeating the
last value"; when that scale is zero (a constant history) they fall back to the scale 1 so they stay finite.
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | list | tuple


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if true.shape != pred.shape:
        raise ValueError(f"shapes differ: {true.shape} and {pred.shape}")
    return true, pred


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(true - pred)))


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    true, pred = _pair(y_true, y_pred)
    return float(np.mean((true - pred) ** 2))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    return float(np.sqrt(mse(y_true, y_pred)))


def bias(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of forecast minus actual: positive means over-forecasting."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(pred - true))


def r2(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination; 0.0 when the actuals are constant and predicted exactly, else can be negative."""
    true, pred = _pair(y_true, y_pred)
    total = float(np.sum((true - true.mean()) ** 2))
    residual = float(np.sum((true - pred) ** 2))
    if total == 0.0:
        return 0.0 if residual == 0.0 else float("-inf")
    return 1.0 - residual / total


def _naive_scale(y_train: ArrayLike, season_length: int, power: int) -> float:
    train = np.asarray(y_train, dtype=float)
    lag = season_length if len(train) > season_length else 1
    if len(train) <= lag:
        return 1.0
    diffs = np.abs(train[lag:] - train[:-lag]) ** power
    scale = float(np.mean(diffs)) ** (1.0 / power)
    return scale if scale > 0 else 1.0


def naive_scale(y_train: ArrayLike, season_length: int = 1, power: int = 2) -> float:
    """The in-sample error of the (seasonal) naive forecast that MASE (power 1) and RMSSE (power 2) divide by."""
    return _naive_scale(y_train, season_length, power)


def mase(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, season_length: int = 1) -> float:
    return mae(y_true, y_pred) / _naive_scale(y_train, season_length, 1)


def rmsse(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, season_length: int = 1) -> float:
    return rmse(y_true, y_pred) / _naive_scale(y_train, season_length, 2)


def coverage(y_true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actuals inside [lower, upper]."""
    true, low = _pair(y_true, lower)
    _, high = _pair(y_true, upper)
    return float(np.mean((true >= low) & (true <= high)))
