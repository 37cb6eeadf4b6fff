"""The global network's steps in a run: its backtest at each origin, its final fit on the whole history, forecasts
of a saved network, and loading one.

The network is trained once across all series, not per series, so these steps run once per run (beside the local
models' per-chunk work in `forecasting.engine`); their results are plain JSON-ready lists so that a distributed run can
pass them between workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from forecasting.data import future_periods
from forecasting.model_catalog import DEFAULT_WINDOWS, GLOBAL_MODELS, Series
from forecasting.models.lstm import GlobalLSTM

logger = logging.getLogger(__name__)

# Epochs when the network continues from the previous backtest origin (or a saved run) instead of starting cold.
WARM_EPOCHS = 3


def _model(name, horizon, level, seed, history_only=()):
    model = GLOBAL_MODELS[name](horizon, tuple(level), seed)
    model.history_only = tuple(history_only)
    return model


def _cut(matrix: np.ndarray | None, length: int, horizon: int) -> np.ndarray | None:
    """A series' driver rows for its first `length` periods and the `horizon` after them."""
    return None if matrix is None else matrix[: length + horizon]


def _kept(series, cut: int) -> list[int]:
    """The positions of the series a backtest origin `cut` periods before the end reads: two periods left, a sale."""
    return [position for position, (_, _, values) in enumerate(series) if len(values) - cut >= 2 and values.any()]


def _cut_inputs(series, kept, cut, horizon, drivers):
    values = [series[position][2][:-cut] for position in kept]
    dates = [series[position][1][:-cut] for position in kept]
    futures = [series[position][1][len(v) : len(v) + horizon] for position, v in zip(kept, values, strict=True)]
    kept_drivers = (
        None
        if drivers is None
        else [_cut(drivers[position], len(v), horizon) for position, v in zip(kept, values, strict=True)]
    )
    return values, dates, futures, kept_drivers


def backtest_networks(series, name, horizon, windows, level, seed, drivers=None, driver_names=(),
                      history_only=()) -> list[tuple[int, GlobalLSTM]]:  # fmt: skip
    """The networks of the backtest origins, oldest first, as (periods cut from every series' end, network): each
    trained on `series` cut there, warm-starting from the one before (the first cold). `drivers`: per series
    its periods and horizon by driver (`forecasting.drivers.driver_matrices`)."""
    networks: list[tuple[int, GlobalLSTM]] = []
    previous = None
    for w in range(windows, 0, -1):
        cut = w * horizon
        kept = _kept(series, cut)
        if not kept:
            continue
        values, dates, _, kept_drivers = _cut_inputs(series, kept, cut, horizon, drivers)
        model = _model(name, horizon, level, seed, history_only)
        try:
            model.fit(values, dates, warm_start=previous, epochs=WARM_EPOCHS if previous else None,
                      drivers=kept_drivers, driver_names=driver_names)  # fmt: skip
        except ValueError as exc:
            logger.info("%s backtest at %d periods before the end skipped: %s", name, cut, exc)
            continue
        previous = model
        networks.append((cut, model))
    return networks


def predict_backtests(
    networks: Sequence[tuple[int, GlobalLSTM]],
    series: Sequence[Series],
    horizon: int,
    drivers: Sequence[np.ndarray | None] | None = None,
    driver_names: Sequence[str] = (),
) -> list[dict[int, list[float]]]:
    """Per series, the predicted means of the `backtest_networks` by cutoff (periods of history before the window).
    Each series is predicted on its own: the networks may have been trained on other series (a store's sample), and
    any batch of series gives the same numbers."""
    out: list[dict[int, list[float]]] = [{} for _ in series]
    for cut, model in networks:
        kept = _kept(series, cut)
        if not kept:
            continue
        values, dates, futures, kept_drivers = _cut_inputs(series, kept, cut, horizon, drivers)
        predictions = model.predict(values, dates, futures, drivers=kept_drivers, driver_names=driver_names)
        for position, prediction in zip(kept, predictions, strict=True):
            mean = np.asarray(prediction["mean"][: min(horizon, cut)], float)
            out[position][len(series[position][2]) - cut] = mean.tolist()
    return out


def backtest_global(
    series: Sequence[Series],
    horizon: int,
    level: Sequence[int],
    windows: int = DEFAULT_WINDOWS,
    seed: int = 0,
    name: str = "lstm",
    drivers: Sequence[np.ndarray | None] | None = None,
    driver_names: Sequence[str] = (),
    history_only: Sequence[str] = (),
) -> tuple[list[dict[int, list[float]]], GlobalLSTM | None]:
    """The global network's backtest: per series, its predicted means by cutoff, and the last network trained.

    The network is trained cold at the oldest origin and warm-started from one origin to the next. It never starts
    from a saved network: that one has seen the periods the backtest forecasts, and would flatter itself."""
    networks = backtest_networks(series, name, horizon, windows, level, seed, drivers, driver_names, history_only)
    latest = networks[-1][1] if networks else None
    return predict_backtests(networks, series, horizon, drivers, driver_names), latest


def fit_global(
    series: Sequence[Series],
    horizon: int,
    freq: str,
    level: Sequence[int],
    windows: int = DEFAULT_WINDOWS,
    seed: int = 0,
    warm: GlobalLSTM | None = None,
    model_dir: str | os.PathLike | None = None,
    name: str = "lstm",
    drivers: Sequence[np.ndarray | None] | None = None,
    driver_names: Sequence[str] = (),
    history_only: Sequence[str] = (),
) -> tuple[list[dict[int, list[float]]], list[dict] | None]:
    """`backtest_global`, then the network trained on the whole history (`train_final_network`, continuing from
    `warm`, a saved network, or else from the last backtest origin's) and its forecasts per series (None when it
    could not be trained), in one process. `windows=0`: no backtest."""
    reading = (drivers, driver_names, history_only)
    if windows:
        backtests, latest = backtest_global(series, horizon, level, windows, seed, name, *reading)
    else:
        backtests, latest = [{} for _ in series], None
    model = train_final_network(series, horizon, tuple(level), seed, warm or latest, model_dir, name, *reading)
    if model is None:
        return backtests, None
    names = driver_names if drivers is not None else ()
    return backtests, predict_global(model, series, horizon, freq, level, drivers, names)


def predict_global(
    network: GlobalLSTM,
    series: Sequence[Series],
    horizon: int,
    freq: str,
    level: Sequence[int],
    drivers: Sequence[np.ndarray | None] | None = None,
    driver_names: Sequence[str] = (),
) -> list[dict] | None:
    """Forecasts of a saved network on (newer) histories, without training: the cheap refresh between full runs.
    None when the network does not fit the request (another horizon, missing interval levels). The drivers are
    matched to those it was trained on by name."""
    if network.horizon != horizon or not set(level) <= set(network.levels) or not series:
        return None
    values = [item[2] for item in series]
    dates = [item[1] for item in series]
    futures = [future_periods(index[-1], horizon, freq) for index in dates]
    predictions = network.predict(values, dates, futures, tuple(level), drivers=drivers, driver_names=driver_names)
    return [{key: np.asarray(array, float).tolist() for key, array in p.items()} for p in predictions]


def load_network(model_dir) -> GlobalLSTM | None:
    if model_dir is None or not (Path(model_dir) / "config.json").exists():
        return None
    try:
        return GlobalLSTM.load(model_dir)
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("the saved network in %s cannot be loaded (%s); training from scratch", model_dir, exc)
        return None


def train_final_network(
    series: Sequence[Series],
    horizon: int,
    level: Sequence[int],
    seed: int = 0,
    warm: GlobalLSTM | None = None,
    model_dir: str | os.PathLike | None = None,
    name: str = "lstm",
    drivers: Sequence[np.ndarray | None] | None = None,
    driver_names: Sequence[str] = (),
    history_only: Sequence[str] = (),
) -> GlobalLSTM | None:
    """The global network trained on the whole history of `series` (continuing from `warm` when compatible: same
    horizon, levels and drivers), saved in `model_dir` when given; None when it could not be trained. Its forecasts
    of any series are `predict_global`'s."""
    model = _model(name, horizon, tuple(level), seed, history_only)
    # inactive series (no sale in their last year) are forecast as such: windows of zeros would only dilute training
    active = [position for position, (_, _, values) in enumerate(series) if values.any()]
    names = list(driver_names) if drivers is not None else []
    try:
        compatible = (
            warm is not None
            and warm.horizon == horizon
            and set(level) <= set(warm.levels)
            and warm.reads_drivers(names)
        )
        model.fit(
            [series[position][2] for position in active],
            [series[position][1] for position in active],
            warm_start=warm if compatible else None,
            epochs=WARM_EPOCHS if compatible else None,
            drivers=None if drivers is None else [drivers[position] for position in active],
            driver_names=names,
        )
    except ValueError as exc:
        logger.info("the global network was not trained: %s", exc)
        return None
    if model_dir is not None:
        model.save(model_dir)
    return model
