"""A global LSTM: one network trained across every series of a store, forecasting all horizons at once.

Per-SKU networks (the textbook approach) have a few dozen points each to learn from; one network over thousands of
series learns what they share — how demand responds to the calendar, to the store's overall momentum, to a run of
zeros — and gives new SKUs with little history a forecast that borrows from the others.

Each training sample is a window of `lookback` periods ending at some period t of one series, and the target is the
next `horizon` periods. Values are divided by the window's mean (per-series scaling) so that a 2-unit and a
2,000-unit SKU look alike to the network. Inputs per period: the scaled value, a padding flag (before the series
began), the period's position in the year (sine and cosine) and, optionally, the store total's scaled value; per
window: the log of the scale, the share of zero periods, the long-run mean over the scale and the series' age; per
target period: its position in the year. The calendar inputs are used only when the history spans more than 15
months (`calendar=None` decides): with less, the time of year is a proxy for "recent" and the network extrapolates
it. The store total is off by default; on a one-year history it hurt accuracy the same way. Outputs per horizon
step: the mean (squared-error loss, which is what RMSE-type accuracy rewards) and the quantiles of each interval level
(pinball loss), so the network gives its own intervals. Small stores get at least `min_steps` optimiser steps.

Drivers (`fit(..., drivers=, driver_names=, history_only=)`: per series a matrix of its periods and the horizon after
them by driver, as `forecasting.drivers.driver_matrices` lays them out) add inputs: every driver at each lookback
period, and the drivers known ahead (all but `history_only`) at each target period. Each driver is standardised by
its mean and spread over the training history (kept with the network, so a warm start and a later prediction read
the same scale); an unknown value reads as the mean. A prediction aligns its drivers to the trained ones by name.

Training reads at most `max_windows` windows (an even, seeded sample of each period's windows when a store has more),
and a window is built from its own `lookback` periods, so memory is bounded whatever the number of series and the
length of their history.

TensorFlow is imported inside the functions that need it: importing this module costs nothing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from forecasting.models.base import GlobalForecaster, Prediction

# Scaled targets above this are clipped for the loss: one freak order must not dominate the gradient.
MAX_SCALED_TARGET = 25.0
MIN_PERIODS = 4  # a window needs this many observed periods before its target


def _quantiles(levels: Sequence[int]) -> list[float]:
    out: list[float] = []
    for level in sorted(levels):
        tail = (1.0 - level / 100.0) / 2.0
        out += [tail, 1.0 - tail]
    return sorted(out)


def _year_position(dates) -> np.ndarray:
    days = pd.DatetimeIndex(np.asarray(dates).ravel()).day_of_year.to_numpy(float)
    angle = 2.0 * np.pi * (days - 1.0) / 365.25
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1)


class GlobalLSTM(GlobalForecaster):
    """One LSTM over many series. `fit(series, dates)`, `predict(series, dates, future_dates, level)`."""

    alias = "lstm"

    def __init__(
        self,
        horizon: int,
        lookback: int = 16,
        units: int = 32,
        epochs: int = 8,
        batch_size: int = 512,
        learning_rate: float = 3e-3,
        levels: Sequence[int] = (80, 95),
        seed: int = 0,
        min_steps: int = 300,
        calendar: bool | None = None,
        store_signal: bool = False,
        max_windows: int = 200_000,
        history_only: Sequence[str] = (),
    ) -> None:
        self.history_only = tuple(history_only)
        self.driver_names_: list[str] = []
        self.known_ = np.zeros(0, dtype=bool)
        self.driver_mean_ = self.driver_std_ = np.zeros(0)
        self.max_windows = max_windows
        self.calendar = calendar
        self.store_signal = store_signal
        self.horizon = horizon
        self.lookback = lookback
        self.units = units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.levels = tuple(sorted(levels))
        self.seed = seed
        self.min_steps = min_steps

    # -- data --------------------------------------------------------------------------------------------------------

    def _panel(self, series: Sequence[np.ndarray], dates: Sequence[pd.DatetimeIndex]):
        """All series on one period grid: values (NaN before a series starts), the grid, each series' last column."""
        grid = pd.DatetimeIndex(sorted(set().union(*(set(index) for index in dates))))
        values = np.full((len(series), len(grid)), np.nan, dtype=np.float64)
        last = np.empty(len(series), dtype=int)
        for row, (history, index) in enumerate(zip(series, dates, strict=True)):
            columns = grid.get_indexer(index)
            values[row, columns] = history
            last[row] = columns[-1]
        return values, grid, last

    @staticmethod
    def _context(panel: np.ndarray) -> dict[str, np.ndarray]:
        """What the windows of a panel share, computed once per panel rather than per window (a window reads only its
        own `lookback` periods and these): each series' first column, its running total, the store's total."""
        return {
            "started": np.argmax(~np.isnan(panel), axis=1),
            "cumulative": np.cumsum(np.nan_to_num(panel), axis=1),
            "store": np.nansum(panel, axis=0),
        }

    def _windows(self, panel, grid, rows, ends, horizon_dates, context=None):
        """Network inputs for the windows of `rows` ending at columns `ends` (inclusive), and their scales. Memory is
        proportional to the number of windows times `lookback`, never to the panel's length."""
        context = context or self._context(panel)
        lookback = self.lookback
        offsets = np.arange(-lookback + 1, 1)
        columns = ends[:, None] + offsets[None, :]
        inside = columns >= 0
        window = np.where(inside, panel[rows[:, None], np.clip(columns, 0, None)], np.nan)
        observed = ~np.isnan(window)
        filled = np.nan_to_num(window)
        count = np.maximum(observed.sum(axis=1), 1)
        scale = filled.sum(axis=1) / count
        age = ends - context["started"][rows] + 1
        long_mean = context["cumulative"][rows, ends] / np.maximum(age, 1)
        scale = np.where(scale > 0, scale, np.where(long_mean > 0, long_mean, 1.0))
        store_window = np.where(inside, context["store"][np.clip(columns, 0, None)], np.nan)
        store_scale = np.nanmean(store_window, axis=1, keepdims=True)
        store_scale = np.where(store_scale > 0, store_scale, 1.0)
        position = _year_position(grid)
        sequence = np.zeros((len(rows), lookback, 5), dtype=np.float32)
        sequence[..., 0] = filled / scale[:, None]
        sequence[..., 1] = ~observed
        sequence[..., 2:4] = np.where(inside[..., None], position[np.clip(columns, 0, None)], 0.0)
        sequence[..., 4] = np.nan_to_num(store_window / store_scale)
        if not self.calendar:
            sequence[..., 2:4] = 0.0
        if not self.store_signal:
            sequence[..., 4] = 0.0
        static = np.stack(
            [np.log1p(scale), 1.0 - (filled > 0).sum(axis=1) / count, long_mean / scale, np.log1p(age)], axis=-1
        ).astype(np.float32)
        future = _year_position(horizon_dates).reshape(len(rows), -1).astype(np.float32)
        if not self.calendar:
            future[:] = 0.0
        drivers = context.get("drivers")
        if drivers is not None:
            # the drivers over the window (history-only ones included: they are known up to the origin) ...
            past = np.where(inside[..., None], drivers[rows[:, None], np.clip(columns, 0, None)], 0.0)
            sequence = np.concatenate([sequence, past.astype(np.float32)], axis=-1)
            # ... and those known ahead at each period forecast
            ahead = drivers[rows[:, None], ends[:, None] + np.arange(1, self.horizon + 1)[None, :]][..., self.known_]
            future = np.concatenate([future, ahead.reshape(len(rows), -1).astype(np.float32)], axis=-1)
        return {"sequence": sequence, "static": static, "future": future}, scale

    def _driver_panel(self, dates, drivers, names, grid: pd.DatetimeIndex) -> np.ndarray | None:
        """The standardised drivers of every series on the panel's grid and the `horizon` periods after it (series,
        column, driver), aligned to the trained drivers by name; 0 (the mean) where unknown. None without drivers."""
        if not self.driver_names_:
            return None
        width = len(self.driver_names_)
        out = np.zeros((len(dates), len(grid) + self.horizon, width), dtype=np.float32)
        if drivers is None:
            return out
        given = {name: position for position, name in enumerate(names)}
        take = [given.get(name, -1) for name in self.driver_names_]
        for row, (index, matrix) in enumerate(zip(dates, drivers, strict=True)):
            if matrix is None:
                continue
            first = grid.get_loc(index[0])
            rows = min(len(matrix), out.shape[1] - first)
            values = np.stack([matrix[:rows, t] if t >= 0 else np.full(rows, np.nan) for t in take], axis=-1)
            standard = (values - self.driver_mean_) / self.driver_std_
            out[row, first : first + rows] = np.nan_to_num(standard, nan=0.0, posinf=0.0, neginf=0.0)
        return out

    def _driver_scale(self, dates, drivers, names, warm_start) -> None:
        """Fix the drivers this network reads and their scale: a warm start's, else the training history's."""
        names = list(names) if drivers is not None else []
        if warm_start is not None:
            self.driver_names_ = list(warm_start.driver_names_)
            self.known_ = np.array(warm_start.known_, dtype=bool)
            self.driver_mean_, self.driver_std_ = warm_start.driver_mean_, warm_start.driver_std_
            return
        self.driver_names_ = names
        self.known_ = np.array([name not in set(self.history_only) for name in names], dtype=bool)
        if not names:
            self.driver_mean_ = self.driver_std_ = np.zeros(0)
            return
        history = [matrix[: len(index)] for index, matrix in zip(dates, drivers, strict=True) if matrix is not None]
        stacked = np.concatenate(history) if history else np.full((1, len(names)), np.nan)
        with np.errstate(all="ignore"):
            mean = np.nanmean(stacked, axis=0)
            spread = np.nanstd(stacked, axis=0)
        self.driver_mean_ = np.nan_to_num(mean)
        # a driver that never varies says nothing: its standardised value is 0 everywhere
        self.driver_std_ = np.where(np.nan_to_num(spread) > 1e-9, np.nan_to_num(spread), np.inf)

    def _sample(self, panel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training windows as (series row, last input column) pairs: every window when there are at most
        `max_windows`, else an even, seeded sample of each end column's windows. Built one end column at a time, so
        memory stays proportional to `max_windows` whatever the number of series and the length of their history."""
        started = np.argmax(~np.isnan(panel), axis=1)
        ends = range(MIN_PERIODS - 1, panel.shape[1] - self.horizon)

        def rows_at(end: int) -> np.ndarray:
            rows = np.flatnonzero(started <= end - MIN_PERIODS + 1)
            return rows[~np.isnan(panel[rows, end + self.horizon])]

        counts = np.array([len(rows_at(end)) for end in ends], dtype=np.int64)
        total = int(counts.sum())
        share = 1.0 if total <= self.max_windows else self.max_windows / total
        rng = np.random.default_rng(self.seed)
        rows_, ends_ = [], []
        for end, count in zip(ends, counts, strict=True):
            rows = rows_at(end)
            if share < 1.0:
                rows = np.sort(rng.choice(rows, size=min(count, round(count * share)), replace=False))
            rows_.append(rows)
            ends_.append(np.full(len(rows), end))
        if not rows_:
            return np.array([], dtype=int), np.array([], dtype=int)
        self.n_windows_available_ = total
        return np.concatenate(rows_), np.concatenate(ends_)

    def _training_set(self, series, dates, drivers=None, names=()):
        if not len(series):
            raise ValueError("no series to train the global model on")
        panel, grid, _ = self._panel(series, dates)
        if self.calendar is None:
            # The time of year only means something once the network has seen every time of year as a target; with
            # less history it is a proxy for "recent" and the network extrapolates it into nonsense.
            self.calendar = len(grid) > 1 and (grid[-1] - grid[0]) >= pd.Timedelta(days=365) * 1.25
        step = grid[-1] - grid[-2] if len(grid) > 1 else pd.Timedelta(days=1)
        extended = grid.append(pd.DatetimeIndex([grid[-1] + step * (k + 1) for k in range(self.horizon)]))
        rows, ends = self._sample(panel)
        if len(rows) == 0:
            raise ValueError("no series is long enough to train the global model")
        horizon_dates = np.stack([extended[ends + k + 1] for k in range(self.horizon)], axis=1)
        context = {**self._context(panel), "drivers": self._driver_panel(dates, drivers, names, grid)}
        inputs, scale = self._windows(panel, grid, rows, ends, horizon_dates, context)
        targets = np.stack([panel[rows, ends + k + 1] for k in range(self.horizon)], axis=1) / scale[:, None]
        # Larger series count for more: accuracy is judged where the money is, not on 1-unit-a-month items.
        weights = np.sqrt(scale)
        return inputs, np.minimum(targets, MAX_SCALED_TARGET).astype(np.float32), (weights / weights.mean())

    # -- network -----------------------------------------------------------------------------------------------------

    def _build(self):
        import keras

        quantiles = _quantiles(self.levels)
        outputs_per_step = 1 + len(quantiles)
        width, known = len(self.driver_names_), int(np.sum(self.known_))
        sequence = keras.Input((self.lookback, 5 + width), name="sequence")
        static = keras.Input((4,), name="static")
        future = keras.Input(((2 + known) * self.horizon,), name="future")
        state = keras.layers.LSTM(self.units, name="lstm")(sequence)
        joined = keras.layers.Concatenate()([state, static, future])
        hidden = keras.layers.Dense(self.units, activation="relu")(joined)
        raw = keras.layers.Dense(self.horizon * outputs_per_step)(hidden)
        output = keras.layers.Reshape((self.horizon, outputs_per_step))(raw)
        model = keras.Model([sequence, static, future], output)
        taus = np.asarray(quantiles, dtype=np.float32)

        def loss(y_true, y_pred):
            from keras import ops

            target = ops.expand_dims(y_true, -1)
            mean_error = ops.square(target[..., 0] - y_pred[..., 0])
            diff = target - y_pred[..., 1:]
            pinball = ops.maximum(taus * diff, (taus - 1.0) * diff)
            return ops.mean(mean_error, axis=-1) + ops.mean(ops.sum(pinball, axis=-1), axis=-1)

        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss=loss)
        return model

    def fit(
        self,
        series: Sequence[np.ndarray],
        dates: Sequence[pd.DatetimeIndex],
        warm_start: GlobalLSTM | None = None,
        epochs: int | None = None,
        drivers: Sequence[np.ndarray | None] | None = None,
        driver_names: Sequence[str] = (),
    ) -> Self:
        """Train on every window of every series. `warm_start` continues from another fitted model's weights (it
        must read the same drivers: `reads_drivers`). `drivers`: per series, its periods and the horizon by driver."""
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(self.seed)
        tf.config.experimental.enable_op_determinism()
        if warm_start is not None and not warm_start.reads_drivers(driver_names if drivers is not None else ()):
            raise ValueError("the warm start reads other drivers")
        self._driver_scale(dates, drivers, driver_names, warm_start)
        inputs, targets, weights = self._training_set(series, dates, drivers, driver_names)
        self.model_ = self._build()
        if warm_start is not None:
            self.model_.set_weights(warm_start.model_.get_weights())
        epochs = epochs or self.epochs
        if warm_start is None:
            # A small store has few windows: train for enough optimiser steps all the same.
            steps_per_epoch = math.ceil(len(targets) / self.batch_size)
            epochs = max(epochs, math.ceil(self.min_steps / steps_per_epoch))
        self.model_.fit(
            inputs,
            targets,
            sample_weight=weights,
            batch_size=self.batch_size,
            epochs=epochs,
            shuffle=True,
            verbose=0,
        )
        self.n_samples_ = len(targets)
        return self

    def reads_drivers(self, names: Sequence[str]) -> bool:
        """Whether this network was trained on exactly these drivers (a warm start must be)."""
        return list(getattr(self, "driver_names_", [])) == list(names)

    def predict(
        self,
        series: Sequence[np.ndarray],
        dates: Sequence[pd.DatetimeIndex],
        future_dates: Sequence[pd.DatetimeIndex],
        level: Sequence[int] = (),
        drivers: Sequence[np.ndarray | None] | None = None,
        driver_names: Sequence[str] = (),
    ) -> list[Prediction]:
        """One prediction per series for the `horizon` periods after its last one."""
        missing = set(level) - set(self.levels)
        if missing:
            raise ValueError(f"the network was trained for levels {self.levels}, not {sorted(missing)}")
        panel, grid, last = self._panel(series, dates)
        horizon_dates = np.stack([np.asarray(future[: self.horizon]) for future in future_dates])
        context = {**self._context(panel), "drivers": self._driver_panel(dates, drivers, driver_names, grid)}
        inputs, scale = self._windows(panel, grid, np.arange(len(series)), last, horizon_dates, context)
        raw = self.model_.predict(inputs, batch_size=4096, verbose=0)
        raw = raw * scale[:, None, None]
        quantiles = _quantiles(self.levels)
        out = []
        for row in raw.astype(float):
            mean = np.maximum(row[:, 0], 0.0)
            bounds = np.sort(np.maximum(row[:, 1:], 0.0), axis=-1)  # quantile heads can cross; sorting fixes that
            prediction: Prediction = {"mean": mean}
            for value in level:
                tail = (1.0 - value / 100.0) / 2.0
                low = bounds[:, min(range(len(quantiles)), key=lambda i: abs(quantiles[i] - tail))]
                high = bounds[:, min(range(len(quantiles)), key=lambda i: abs(quantiles[i] - (1.0 - tail)))]
                prediction[f"lo-{value}"] = np.minimum(low, mean)
                prediction[f"hi-{value}"] = np.maximum(high, mean)
            out.append(prediction)
        return out

    # -- persistence -------------------------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the configuration and weights to `directory` (created if needed)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            key: getattr(self, key)
            for key in (
                "horizon",
                "lookback",
                "units",
                "epochs",
                "batch_size",
                "learning_rate",
                "levels",
                "seed",
                "calendar",
                "store_signal",
                "max_windows",
            )  # fmt: skip
        }
        config["history_only"] = list(self.history_only)
        config["drivers"] = {
            "names": list(self.driver_names_),
            "known": [bool(flag) for flag in self.known_],
            "mean": [float(value) for value in self.driver_mean_],
            "std": [float(value) if np.isfinite(value) else None for value in self.driver_std_],
        }
        (folder / "config.json").write_text(json.dumps(config))
        self.model_.save_weights(folder / "model.weights.h5")
        return folder

    @classmethod
    def load(cls, directory: str | os.PathLike) -> GlobalLSTM:
        folder = Path(directory)
        config = json.loads((folder / "config.json").read_text())
        fitted = config.pop("drivers", None) or {"names": [], "known": [], "mean": [], "std": []}
        model = cls(**config)
        model.driver_names_ = list(fitted["names"])
        model.known_ = np.array(fitted["known"], dtype=bool)
        model.driver_mean_ = np.array(fitted["mean"], dtype=float)
        model.driver_std_ = np.array([np.inf if value is None else value for value in fitted["std"]], dtype=float)
        model.model_ = model._build()
        model.model_.load_weights(folder / "model.weights.h5")
        return model
