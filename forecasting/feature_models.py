"""The global feature models' steps in a run (`forecasting.models.trees`): their backtest at every cutoff the local
candidates were scored at, and their final fit on the whole history.

A feature model is trained once across all series per backtest origin: series of different lengths share a cutoff
when they share its distance from their end, so one fit per distinct distance covers every series' cutoffs (two for
the latest windows, a few more for seasonal series with their year-ago window). Its backtest predictions join the
local candidates' in each series' evidence, and selection treats them alike (`forecasting.selection`).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.data import future_periods, holiday_counts
from forecasting.features import Layout
from forecasting.model_catalog import FEATURE_MODELS, Series
from forecasting.models.trees import FeatureData

logger = logging.getLogger(__name__)

HOLIDAY_DRIVER = "holiday"


def with_holidays(
    series: Sequence[Series],
    names: list[str],
    matrices: list[np.ndarray | None],
    horizon: int,
    freq: str,
    country: str | None,
) -> tuple[list[str], list[np.ndarray | None]]:
    """The drivers with the country's public holidays per period added as one more (`HOLIDAY_DRIVER`), read once
    for every period any series has."""
    if not country or not series or HOLIDAY_DRIVER in names:
        return names, matrices
    periods = [index.append(future_periods(index[-1], horizon, freq)) for _, index, _ in series]
    stamps = pd.DatetimeIndex(sorted(set().union(*(set(p) for p in periods))))
    counts = pd.Series(holiday_counts(stamps, freq, country), index=stamps)
    out = []
    for p, matrix in zip(periods, matrices, strict=True):
        column = counts.reindex(p).to_numpy(float)[:, None]
        base = matrix if matrix is not None else np.full((len(p), len(names)), np.nan)
        out.append(np.hstack([base, column]))
    return [*names, HOLIDAY_DRIVER], out


def _model(name, horizon, freq, level, seed, season_length, threads):
    return FEATURE_MODELS[name](horizon, freq, tuple(level) or (80,), seed, season_length, threads)


def backtest_features(
    series: Sequence[Series],
    drivers: Sequence[np.ndarray | None],
    driver_names: Sequence[str],
    cutoffs: Sequence[Sequence[int]],
    names: Sequence[str],
    horizon: int,
    freq: str,
    season_length: int | None = None,
    seed: int = 0,
    threads: int = 1,
    history_only: Sequence[str] = (),
) -> dict[str, list[dict[int, np.ndarray]]]:
    """Per model of `names`, per series, its predicted means at each of the series' `cutoffs` (the local
    candidates' cutoffs): one fit per distinct distance from the series' end, on every series cut there, the
    feature table built once per distance for all the models. A fit that fails leaves its cutoffs out.
    `history_only`: the drivers known only up to an origin."""
    lengths = [len(values) for _, _, values in series]
    distances = {length - cutoff for length, cuts in zip(lengths, cutoffs, strict=True) for cutoff in cuts}
    fitted = train_backtests(
        series, drivers, driver_names, distances, names, horizon, freq, season_length, seed, threads, history_only
    )
    return predict_backtests(fitted, series, drivers, cutoffs, names, horizon)


def _trained_at(series: Series, distance: int) -> bool:
    """Whether a series has a history at this cut that sold something in it (an idle one teaches nothing)."""
    length = len(series[2])
    return length - distance >= 2 and bool(series[2][: length - distance].any())


def train_backtests(
    series: Sequence[Series],
    drivers: Sequence[np.ndarray | None],
    driver_names: Sequence[str],
    distances: set[int],
    names: Sequence[str],
    horizon: int,
    freq: str,
    season_length: int | None = None,
    seed: int = 0,
    threads: int = 1,
    history_only: Sequence[str] = (),
) -> dict[int, tuple[FeatureData, dict]]:
    """The backtest fits: per distance from the series' end, each model of `names` trained on these series cut
    there (a store's sample of them, beyond a size), with the feature layout that predicts from any series cut
    there (`predict_backtests`)."""
    # The oldest origin's fit sizes each model on its own holdout, and the later ones reuse that size: a later fit
    # may know what an earlier one knew, never the reverse.
    rounds: dict[str, int | None] = dict.fromkeys(names)
    layout = Layout.of(freq, season_length)
    fitted = {}
    for distance in sorted(distances, reverse=True):
        members = [position for position, item in enumerate(series) if _trained_at(item, distance)]
        if not members:
            continue
        cut = [len(series[p][2]) - distance for p in members]
        data = FeatureData(horizon, freq, layout, seed).build(
            [series[p][2][:end] for p, end in zip(members, cut, strict=True)],
            [series[p][1][:end] for p, end in zip(members, cut, strict=True)],
            [None if drivers[p] is None else drivers[p][: end + horizon] for p, end in zip(members, cut, strict=True)],
            driver_names, history_only,
        )  # fmt: skip
        models = {}
        for name in names:
            model = _model(name, horizon, freq, (), seed, season_length, threads)
            try:
                model.fit([], [], rounds=rounds[name], intervals=False, data=data)
            except ValueError as exc:
                logger.info("%s backtest at %d periods before the end skipped: %s", name, distance, exc)
                continue
            rounds[name] = getattr(model, "rounds_", None)
            models[name] = model
        data.forget_training()
        fitted[distance] = (data, models)
    return fitted


def predict_backtests(
    fitted: dict[int, tuple[FeatureData, dict]],
    series: Sequence[Series],
    drivers: Sequence[np.ndarray | None],
    cutoffs: Sequence[Sequence[int]],
    names: Sequence[str],
    horizon: int,
) -> dict[str, list[dict[int, np.ndarray]]]:
    """Per model, per series, the backtest fits' predicted means at the series' `cutoffs` (any series, trained on
    or not, a batch at a time)."""
    out = {name: [{} for _ in series] for name in names}
    lengths = [len(values) for _, _, values in series]
    for distance, (data, models) in fitted.items():
        wanted = [
            p for p, cuts in enumerate(cutoffs) if lengths[p] - distance in cuts and _trained_at(series[p], distance)
        ]
        if not wanted or not models:
            continue
        future = data.future(
            [series[p][2][: lengths[p] - distance] for p in wanted],
            [series[p][1][: lengths[p] - distance] for p in wanted],
            [None if drivers[p] is None else drivers[p][: lengths[p] - distance + horizon] for p in wanted],
        )
        for name, model in models.items():
            for p, prediction in zip(wanted, model.predict_table(*future), strict=True):
                out[name][p][lengths[p] - distance] = prediction["mean"][: min(horizon, distance)]
    return out


def fit_final_features(
    series: Sequence[Series],
    drivers: Sequence[np.ndarray | None],
    driver_names: Sequence[str],
    names: Sequence[str],
    horizon: int,
    freq: str,
    level: Sequence[int],
    season_length: int | None = None,
    seed: int = 0,
    threads: int = 1,
    explain: bool = True,
    history_only: Sequence[str] = (),
) -> dict[str, list[dict] | None]:
    """Per model of `names`, trained on every series' whole history (the feature table built once for all): its
    forecasts per series (with each driver group's contribution, `why-<group>`, when `explain`), or None when it
    could not be trained."""
    trained = train_final(
        series, drivers, driver_names, names, horizon, freq, level, season_length, seed, threads, history_only
    )
    return predict_final(trained, series, drivers, level, explain)


def train_final(
    series: Sequence[Series],
    drivers: Sequence[np.ndarray | None],
    driver_names: Sequence[str],
    names: Sequence[str],
    horizon: int,
    freq: str,
    level: Sequence[int],
    season_length: int | None = None,
    seed: int = 0,
    threads: int = 1,
    history_only: Sequence[str] = (),
) -> tuple[FeatureData, dict]:
    """The final fits: each model of `names` trained on these series' whole history (None when it could not be)."""
    active = [position for position, (_, _, values) in enumerate(series) if values.any()]
    data = FeatureData(horizon, freq, Layout.of(freq, season_length), seed).build(
        [series[p][2] for p in active], [series[p][1] for p in active], [drivers[p] for p in active], driver_names,
        history_only,
    )  # fmt: skip
    models = {}
    for name in names:
        model = _model(name, horizon, freq, level, seed, season_length, threads)
        try:
            model.fit([], [], data=data)
        except ValueError as exc:
            logger.info("%s was not trained: %s", name, exc)
            models[name] = None
            continue
        models[name] = model
    data.forget_training()
    return data, models


def predict_final(
    trained: tuple[FeatureData, dict],
    series: Sequence[Series],
    drivers: Sequence[np.ndarray | None],
    level: Sequence[int],
    explain: bool = True,
    names: Sequence[str] | None = None,
) -> dict[str, list[dict] | None]:
    """Per model (of `names`, default all), the final fits' forecasts of these series (any series, trained on or
    not, a batch at a time; `drivers` laid out in the training's order of driver names, `final_driver_names`)."""
    data, models = trained
    future = None
    out: dict[str, list[dict] | None] = {}
    for name, model in models.items():
        if names is not None and name not in names:
            continue
        if model is None:
            out[name] = None
            continue
        if future is None:
            future = data.future([values for _, _, values in series], [index for _, index, _ in series], list(drivers))
        predictions = model.predict_table(*future, level=level, explain=explain)
        out[name] = [{key: np.asarray(values, float).tolist() for key, values in p.items()} for p in predictions]
    return out


def final_driver_names(trained: tuple[FeatureData, dict]) -> list[str]:
    """The driver names the final fits read, in their order."""
    return list(trained[0].driver_names)


def save_final(trained: tuple[FeatureData, dict]) -> bytes:
    """The final fits as bytes, for the processes that forecast the series to read back with `load_final` (pickled:
    a LightGBM booster pickles as its model text, the ridge as its arrays)."""
    return pickle.dumps(trained, protocol=pickle.HIGHEST_PROTOCOL)


def load_final(blob: bytes) -> tuple[FeatureData, dict]:
    """The final fits `save_final` wrote. Only for bytes the product wrote itself (its model registry): unpickling
    runs code named in the bytes."""
    return pickle.loads(blob)
