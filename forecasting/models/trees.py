"""Global feature models: one model across all the series of a store, reading lags, the year-ago season, the calendar
and the drivers (`forecasting.features`) — a gradient-boosted tree ensemble (LightGBM) and a ridge regression, its
simple and explainable sibling.

Both forecast every step of the horizon directly from the origin (a row per series, origin and target period), so
no forecast feeds the next. Intervals are conformal: the model is first fitted on all but the last horizon of every
series, its errors over that horizon (forecast from its start, as a real forecast is) set the interval widths and,
for the trees, the number of boosting rounds; then it is refitted on everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.data import future_periods
from forecasting.features import (
    LEVEL,
    MAX_SCALED_TARGET,
    Layout,
    calendar_table,
    feature_groups,
    feature_names,
    feature_rows,
)
from forecasting.models.base import Prediction

logger = logging.getLogger(__name__)

# Training rows are sampled down to this many (the latest horizon of every series always kept): it bounds memory and
# time whatever the store's size (a 4,000-SKU store with three years of weeks has 600,000 candidate rows). A smaller
# store fills the budget by reading each period as the target of several steps ahead (`FeatureData.build`).
MAX_ROWS = 300_000
MIN_ROWS = 30  # fewer training rows than this: the model is not fitted
# Conformal widths are read per part of the horizon when each part has this many errors, else over all of it.
MIN_ERRORS_PER_PART = 200


def conformal_bounds(errors: np.ndarray, level: float) -> tuple[float, float]:
    """The (low, high) errors of a central interval at `level`% from `n` holdout errors, split-conformal: the
    upper bound is the ceil((n + 1)(1 - tail))-th smallest error and the lower the floor((n + 1) tail)-th, each tail
    (100 - level) / 200 (the largest and the smallest error where n is too small for the rank).

    Plain percentiles of few errors cover a new error less often than the level says: a store of two series forecast
    28 days ahead has 56 holdout errors, and their 10th and 90th percentiles hold a new one 77% of the time, the 5th
    and the 52nd error that these ranks take 82% (47 / 57). Angelopoulos and Bates, "A Gentle Introduction to
    Conformal Prediction and Distribution-Free Uncertainty Quantification" (2021), section 1."""
    ordered = np.sort(np.asarray(errors, float))
    n = len(ordered)
    tail = (100 - level) / 200
    high = min(n, int(np.ceil((n + 1) * (1 - tail))))
    low = max(1, int(np.floor((n + 1) * tail)))
    return float(ordered[low - 1]), float(ordered[high - 1])


class FeatureData:
    """The feature table of a set of series, built once and shared by the feature models fitted on it: the training
    rows (each target at one or more random steps, sampled down to MAX_ROWS, the latest horizon of every series kept)
    with each row's distance from its series' end (`gap`), and the holdout rows (the last horizon of every series,
    forecast from its start). `future` builds the rows of a forecast from the series' ends.

    A period is the target of every step of the horizon (forecast from each of the origins before it), and a store
    with fewer periods than MAX_ROWS reads it at as many distinct steps as the budget holds (at most the horizon's):
    with one step each, a store of two bike-rental series trained its trees on about 1,200 rows and learnt each
    step's and each driver's effect from a few dozen of them (RMSE 605 with the weather, 510 with every step)."""

    def __init__(self, horizon: int, freq: str, layout: Layout, seed: int = 0) -> None:
        self.horizon, self.freq, self.layout, self.seed = horizon, freq, layout, seed
        self.driver_names: list[str] = []
        self.history_only: list[str] = []
        self._calendars: dict[tuple, np.ndarray] = {}

    def calendar(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """The calendar fields of the series' periods and the horizon after them (computed once per span)."""
        key = (dates[0], len(dates))
        if key not in self._calendars:
            periods = dates.append(future_periods(dates[-1], self.horizon, self.freq))
            self._calendars[key] = calendar_table(periods, self.layout.calendar)
        return self._calendars[key]

    def _mask(self, matrix):
        return np.isin(self.driver_names, self.history_only) if matrix is not None else None

    def build(self, series, dates, drivers, driver_names=(), history_only=()) -> FeatureData:
        drivers = list(drivers) if drivers is not None else [None] * len(series)
        self.driver_names = list(driver_names)
        self.history_only = [name for name in driver_names if name in set(history_only)]
        rng = np.random.default_rng(self.seed)
        total = sum(max(len(values) - 1, 0) for values in series)
        copies = int(np.clip(MAX_ROWS // max(total, 1), 1, self.horizon))  # steps each target is read at
        keep = min(1.0, MAX_ROWS / (total * copies)) if total else 1.0
        tables, targets, gaps, holdout_tables, holdout_targets, holdout_steps = [], [], [], [], [], []
        for values, index, matrix in zip(series, dates, drivers, strict=True):
            length = len(values)
            if length < 2:
                continue
            calendar = self.calendar(index)
            rows = np.arange(1, length)
            if copies == 1:  # the draw a store over the budget always had, so its rows do not change
                drawn = rng.integers(1, self.horizon + 1, size=len(rows))
            else:  # distinct steps per target
                drawn = (np.argsort(rng.random((len(rows), self.horizon)), axis=1)[:, :copies] + 1).ravel()
                rows = np.repeat(rows, copies)
            steps = np.minimum(drawn, rows)  # an origin needs a period
            chosen = (rng.random(len(rows)) < keep) | (rows >= length - self.horizon)
            rows, steps = rows[chosen], steps[chosen]
            X, scale = feature_rows(values, calendar, matrix, rows, steps, self.layout, self._mask(matrix))
            tables.append(X)
            targets.append(np.minimum(values[rows] / scale, MAX_SCALED_TARGET))
            gaps.append(length - rows)
            start = length - self.horizon
            if start >= 2:
                rows = np.arange(start, length)
                X, scale = feature_rows(values, calendar, matrix, rows, rows - start + 1, self.layout,
                                        self._mask(matrix))  # fmt: skip
                holdout_tables.append(X)
                holdout_targets.append(np.minimum(values[rows] / scale, MAX_SCALED_TARGET))
                holdout_steps.append(rows - start + 1)
        self.X = np.vstack(tables) if tables else np.empty((0, 0))
        self.y = np.concatenate(targets) if targets else np.empty(0)
        self.gap = np.concatenate(gaps) if gaps else np.empty(0, int)
        self.holdout_X = np.vstack(holdout_tables) if holdout_tables else np.empty((0, 0))
        self.holdout_y = np.concatenate(holdout_targets) if holdout_targets else np.empty(0)
        self.holdout_steps = np.concatenate(holdout_steps) if holdout_steps else np.empty(0, int)
        return self

    def forget_training(self) -> None:
        """Drop the training table once the models are fitted: what predicts from it (`future`) is its layout."""
        self.X = self.holdout_X = np.empty((0, 0))
        self.y = self.holdout_y = np.empty(0)
        self.gap = self.holdout_steps = np.empty(0, int)

    def future(self, series, dates, drivers) -> tuple[np.ndarray, np.ndarray]:
        """(features, scale) of the rows forecasting each series' next `horizon` periods, series after series."""
        drivers = list(drivers) if drivers is not None else [None] * len(series)
        steps = np.arange(1, self.horizon + 1)
        tables, scales = [], []
        for values, index, matrix in zip(series, dates, drivers, strict=True):
            X, scale = feature_rows(values, self.calendar(index), matrix, len(values) + steps - 1, steps, self.layout,
                                    self._mask(matrix))  # fmt: skip
            tables.append(X)
            scales.append(scale)
        return np.vstack(tables), np.concatenate(scales)


class FeatureForecaster:
    """A global model on the feature table: `fit(series, dates, drivers, driver_names)` on every series' history,
    `predict(series, dates, drivers, level)` from the end of each. `drivers`: per series a matrix of its periods and
    the horizon after them by driver (or None)."""

    alias = "features"

    def __init__(
        self,
        horizon: int,
        freq: str,
        levels: Sequence[int] = (80,),
        seed: int = 0,
        season_length: int | None = None,
        threads: int = 1,
    ) -> None:
        self.horizon = horizon
        self.freq = freq
        self.levels = tuple(levels)
        self.seed = seed
        self.layout = Layout.of(freq, season_length)
        self.threads = max(1, threads)

    # -- fit and predict ----------------------------------------------------------------------------------------
    def fit(
        self,
        series: Sequence[np.ndarray],
        dates: Sequence[pd.DatetimeIndex],
        drivers: Sequence[np.ndarray | None] | None = None,
        driver_names: Sequence[str] = (),
        rounds: int | None = None,
        intervals: bool = True,
        history_only: Sequence[str] = (),
        data: FeatureData | None = None,
    ) -> FeatureForecaster:
        """Fit on every series' history. `rounds` (with `intervals` False): the model's size is known (a backtest
        reusing its first fit's), so it is fitted once on everything, without the holdout and without intervals.
        `history_only`: the drivers known only up to an origin (read as their recent values, never at the target).
        `data`: the feature table of these series already built (`FeatureData`), shared by several models."""
        data = data or FeatureData(self.horizon, self.freq, self.layout, self.seed).build(
            series, dates, drivers, driver_names, history_only
        )
        self.driver_names_, self.history_only_ = data.driver_names, data.history_only
        self.widths_ = None
        if len(data.y) < MIN_ROWS:
            raise ValueError(f"{self.alias}: {len(data.y)} training rows, fewer than {MIN_ROWS}")
        if rounds is not None and not intervals:  # a backtest's fit: the rounds are known, no widths needed
            self.rounds_ = rounds
            self._fit_table(data.X, data.y, None, None)
            return self
        before = data.gap > self.horizon  # the rows a forecast made a horizon before the end could have learnt from
        if before.sum() >= MIN_ROWS and len(data.holdout_y):
            self._fit_table(data.X[before], data.y[before], data.holdout_X, data.holdout_y)
            self.widths_ = self._widths(data.holdout_y - self._predict_table(data.holdout_X), data.holdout_steps)
        self._fit_table(data.X, data.y, None, None)
        if self.widths_ is None:  # no holdout: widths from the fit's own errors
            self.widths_ = self._widths(data.y - self._predict_table(data.X), np.ones(len(data.y), int))
        return self

    def _widths(self, errors: np.ndarray, steps: np.ndarray) -> dict[int, np.ndarray]:
        """Per level, the (low, high) quantiles of the scaled errors for each step of the horizon: per third of the
        horizon when each third has MIN_ERRORS_PER_PART errors, else one pair for all steps."""
        parts = np.array_split(np.arange(1, self.horizon + 1), 3 if self.horizon >= 3 else 1)
        if any(np.isin(steps, part).sum() < MIN_ERRORS_PER_PART for part in parts):
            parts = [np.arange(1, self.horizon + 1)]
        widths = {}
        for level in self.levels:
            table = np.zeros((self.horizon, 2))
            for part in parts:
                chosen = errors[np.isin(steps, part)] if len(parts) > 1 else errors
                table[part - 1] = conformal_bounds(chosen, level) if len(chosen) else 0.0
            widths[level] = table
        return widths

    def predict(
        self,
        series: Sequence[np.ndarray],
        dates: Sequence[pd.DatetimeIndex],
        drivers: Sequence[np.ndarray | None] | None = None,
        level: Sequence[int] = (),
        explain: bool = False,
    ) -> list[Prediction]:
        """Per series, the forecast of the `horizon` periods after its end, with intervals for `level` (levels the
        model was fitted for) and, with `explain`, the contribution of each feature group in units (`"why-<group>"`,
        the level group holding the base value too)."""
        table = FeatureData(self.horizon, self.freq, self.layout, self.seed)
        table.driver_names, table.history_only = self.driver_names_, self.history_only_
        return self.predict_table(*table.future(series, dates, drivers), level=level, explain=explain)

    def predict_table(
        self, X: np.ndarray, scale: np.ndarray, level: Sequence[int] = (), explain: bool = False
    ) -> list[Prediction]:
        """`predict` from the rows `FeatureData.future` built (`horizon` rows per series, series after series)."""
        mean_scaled = self._predict_table(X)
        contributions = self._contributions(X) if explain else None
        out = []
        for position in range(len(X) // self.horizon):
            rows = slice(position * self.horizon, (position + 1) * self.horizon)
            mean = np.maximum(mean_scaled[rows] * scale[rows], 0.0)
            prediction: Prediction = {"mean": mean}
            for value in level:
                low, high = self.widths_[value].T
                prediction[f"lo-{value}"] = np.clip((mean_scaled[rows] + low) * scale[rows], 0.0, mean)
                prediction[f"hi-{value}"] = np.maximum((mean_scaled[rows] + high) * scale[rows], mean)
            if contributions is not None:
                for group, values in contributions.items():
                    prediction[f"why-{group}"] = values[rows] * scale[rows]
            out.append(prediction)
        return out

    def _contributions(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per feature group, what it adds to the scaled forecast (the level group holds the base value too): the
        features' contributions summed by group."""
        per_feature, base = self._feature_contributions(X)
        return self._by_group(per_feature, base)

    def _by_group(self, per_feature: np.ndarray, base: np.ndarray) -> dict[str, np.ndarray]:
        groups = feature_groups(self.layout, self.driver_names_, self.history_only_)
        out: dict[str, np.ndarray] = {}
        for column, name in enumerate(feature_names(self.layout, self.driver_names_, self.history_only_)):
            out[groups[name]] = out.get(groups[name], 0.0) + per_feature[:, column]
        out[LEVEL] = out.get(LEVEL, 0.0) + base
        return out

    def _fit_table(self, X, y, X_valid, y_valid) -> None:
        raise NotImplementedError

    def _predict_table(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _feature_contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class GlobalLightGBM(FeatureForecaster):
    """Gradient-boosted trees (LightGBM) on the feature table, squared error on the scaled target. The number of
    rounds is chosen on the holdout (early stopping) and reused for the refit on everything; deterministic for a
    seed."""

    alias = "lightgbm"
    MAX_ROUNDS = 600
    PATIENCE = 30

    def _params(self, rows: int) -> dict:
        return {
            "objective": "l2",
            "learning_rate": 0.05,
            "num_leaves": 63,
            # A leaf holds at least one 5,000th of the rows, between 5 and 40: with two bike-rental series (about
            # 1,200 rows when each day was read at one step) leaves of 40 rows averaged the weather away (RMSE 760
            # against 605 with 5), while on Rossmann's 300,000 rows 20, 40 or 50 made no difference (RMSPE 0.157,
            # 0.156, 0.156).
            "min_data_in_leaf": int(np.clip(rows // 5000, 5, 40)),
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.threads,
            "verbosity": -1,
        }

    def _fit_table(self, X, y, X_valid, y_valid) -> None:
        import lightgbm

        names = feature_names(self.layout, self.driver_names_, self.history_only_)
        data = lightgbm.Dataset(X, y, feature_name=names, free_raw_data=True)
        if X_valid is not None:
            valid = lightgbm.Dataset(X_valid, y_valid, reference=data)
            self.booster_ = lightgbm.train(
                self._params(len(y)),
                data,
                num_boost_round=self.MAX_ROUNDS,
                valid_sets=[valid],
                callbacks=[lightgbm.early_stopping(self.PATIENCE, verbose=False)],
            )
            self.rounds_ = max(self.booster_.best_iteration, 1)
        else:
            rounds = getattr(self, "rounds_", self.MAX_ROUNDS // 3)
            self.booster_ = lightgbm.train(self._params(len(y)), data, num_boost_round=rounds)

    def _predict_table(self, X: np.ndarray) -> np.ndarray:
        return self.booster_.predict(X, num_iteration=self.booster_.best_iteration or None)

    def _feature_contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        table = self.booster_.predict(X, pred_contrib=True)  # SHAP values per feature, then the base value
        return table[:, :-1], table[:, -1]


class GlobalRidge(FeatureForecaster):
    """Ridge regression on the feature table, in logarithms: the simple member. Drivers act on demand as factors (a
    promotion lifts sales by a share, each degree warmer by a share), so the model is fitted to log(y / scale +
    OFFSET) and a driver's coefficient is its effect in percent. A driver known ahead that takes more than two values
    (a temperature, a price; not a promotion's on and off) also enters squared about its mean, so that its effect may
    bend: bike rentals rise with the warmth and fall again in the heat, which a straight line in the temperature
    reads as ever more riders (on the bike rentals the ridge's RMSE with the weather fell from 1,100 to 897, and on
    Rossmann's promotions and holidays it stayed 0.221 RMSPE). Calendar fields enter as indicators (weekday, month)
    or as yearly sine and cosine waves (week, day of the year); a missing feature is its training mean plus an
    indicator that it was missing. The penalty is chosen on the holdout among a few, on standardised features; the
    mean is taken back from logarithms with the average factor of the training errors (Duan's smearing)."""

    alias = "ridge"
    PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0)  # per 1,000 rows, on standardised features: at most a 10% shrink
    CATEGORIES = {"weekday": 7, "month": 12, "quarter": 4}
    CYCLES = {"week": 52.18, "dayofyear": 365.25}
    OFFSET = 0.05  # in units of the series' level: keeps a period without sales finite in logarithms

    def _design(self, X: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(the regression's columns, for each the feature table column it comes from)."""
        names = feature_names(self.layout, self.driver_names_, self.history_only_)
        columns, sources = [], []
        for position, name in enumerate(names):
            values = X[:, position]
            if name in self.CATEGORIES:
                first = 0 if name == "weekday" else 1  # weekdays count from 0, months and quarters from 1
                for category in range(first + 1, first + self.CATEGORIES[name]):  # the first is the reference
                    columns.append((values == category).astype(float))
                    sources.append(position)
            elif name in self.CYCLES:
                for harmonic in (1, 2):
                    angle = 2 * np.pi * harmonic * np.nan_to_num(values) / self.CYCLES[name]
                    columns += [np.sin(angle), np.cos(angle)]
                    sources += [position, position]
            else:
                missing = np.isnan(values)
                fill = self.fill_[position] if hasattr(self, "fill_") else 0.0
                filled = np.where(missing, fill, values)
                columns.append(filled)
                sources.append(position)
                if self.curved_[position]:
                    columns.append((filled - fill) ** 2)
                    sources.append(position)
                if self.with_missing_[position]:
                    columns.append(missing.astype(float))
                    sources.append(position)
        return np.column_stack(columns), sources

    def _prepare(self, X: np.ndarray) -> None:
        known = ~np.isnan(X)
        counts = known.sum(axis=0)
        self.fill_ = np.where(counts > 0, np.where(known, X, 0.0).sum(axis=0) / np.maximum(counts, 1), 0.0)
        self.with_missing_ = np.isnan(X).any(axis=0)
        drivers = set(self.driver_names_) - set(self.history_only_)
        names = feature_names(self.layout, self.driver_names_, self.history_only_)
        self.curved_ = np.array(
            [name in drivers and len(np.unique(X[known[:, i], i])) > 2 for i, name in enumerate(names)], dtype=bool
        )
        design, self.sources_ = self._design(X)
        self.center_ = design.mean(axis=0)
        spread = design.std(axis=0)
        self.spread_ = np.where(spread > 1e-12, spread, 1.0)

    def _solve(self, design: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
        standard = (design - self.center_) / self.spread_
        gram = standard.T @ standard + penalty * np.eye(standard.shape[1])
        intercept = float(y.mean())
        coef = np.linalg.solve(gram, standard.T @ (y - intercept))
        return coef, intercept

    def _fit_table(self, X, y, X_valid, y_valid) -> None:
        logs = np.log(y + self.OFFSET)
        self._prepare(X)
        design = self._design(X)[0]
        if X_valid is not None:
            valid = self._design(X_valid)[0]
            errors = []
            for penalty in self.PENALTIES:
                coef, intercept = self._solve(design, logs, penalty * len(y) / 1000)
                self.smearing_ = float(np.mean(np.exp(logs - self._standard(design) @ coef - intercept)))
                predicted = self._from_logs(self._standard(valid) @ coef + intercept)
                errors.append(float(np.mean((predicted - y_valid) ** 2)))
            self.penalty_ = self.PENALTIES[int(np.argmin(errors))]
        self.coef_, self.intercept_ = self._solve(design, logs, getattr(self, "penalty_", 1.0) * len(y) / 1000)
        self.smearing_ = float(np.mean(np.exp(logs - self._standard(design) @ self.coef_ - self.intercept_)))

    def _standard(self, design: np.ndarray) -> np.ndarray:
        return (design - self.center_) / self.spread_

    def _from_logs(self, logs: np.ndarray) -> np.ndarray:
        return np.maximum(np.exp(logs) * self.smearing_ - self.OFFSET, 0.0)

    def _predict_table(self, X: np.ndarray) -> np.ndarray:
        return self._from_logs(self._standard(self._design(X)[0]) @ self.coef_ + self.intercept_)

    def _contributions(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per feature group, in scaled units: how much the forecast would fall without the group's effect (its
        factor taken out, the others kept); the level group holds the rest, so that the groups add up to the
        forecast."""
        terms = self._standard(self._design(X)[0]) * self.coef_
        per_feature = np.zeros((len(X), X.shape[1]))
        for column, source in enumerate(self.sources_):
            per_feature[:, source] += terms[:, column]
        logs = self._by_group(per_feature, np.zeros(len(X)))
        forecast = self._predict_table(X)
        out = {group: forecast * (1 - np.exp(-values)) for group, values in logs.items() if group != LEVEL}
        out[LEVEL] = forecast - sum(out.values(), np.zeros(len(X)))
        return out
