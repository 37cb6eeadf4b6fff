"""Choosing each demand class's model from backtest evidence, and the store-wide level calibration fitted on it.

The evidence is plain JSON-ready data per series (`forecasting.pipeline.backtest_local`): the backtest cutoffs, the
actual values after each, the scales, and each candidate's predicted means. Scores are mean RMSSE per candidate; the
choice is made per demand class (smooth, intermittent) over thousands of series rather than per series.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from forecasting import metrics
from forecasting.calibration import LevelCalibration, year_end_signature
from forecasting.data import classify_demand
from forecasting.model_catalog import FEATURE_MODELS, GLOBAL_MODELS, LOCAL_PAIRS, PAIR
from forecasting.models.mstl import MIN_CYCLES
from forecasting.models.sarima import MAX_SEASONAL_PERIOD

logger = logging.getLogger(__name__)

# A global network needs a crowd to learn from: below this many series "auto" does not train one (nor calibrates).
GLOBAL_MIN_SERIES = 100
# The level calibration of "auto" learns from backtest windows of series with at least this much history before the
# window (a scale measured on fewer periods is noise), weighting each by its units sold in the periods before it.
CALIBRATION_MIN_PERIODS = 8
CALIBRATION_WEIGHT_PERIODS = 8
# The demand classes whose series may be given the global network (alone or in a pair).
NETWORK_CLASSES = ("smooth", "intermittent")
# The model of a class that had no evidence to choose from.
DEFAULT_MODELS = {"intermittent": "imapa", "smooth": "moving_average_8", "seasonal": "mstl"}


def demand_class(y: np.ndarray, cycles: Sequence[int] = ()) -> str:
    """ "intermittent" (intermittent or lumpy demand), "smooth" (smooth or erratic: the Syntetos-Boylan classes),
    "seasonal" (smooth, with a history that holds one of the long `cycles` — a year of weeks or of days — once and a
    quarter) or "inactive" (no sale at all: a prepared series holds only its last year when nothing sold in it).

    A seasonal series is forecast by a model that reads its yearly cycle (`LONG_CYCLE_CANDIDATES`), chosen among
    those by backtest. A backtest of the latest periods cannot show what a model that ignores the year does at the
    next peak: with a year and a half of history no earlier window reaches the same season with a year of history
    behind it. On Rossmann's weekly sales, a late-October choice among every candidate took the ARIMA with the
    network, 10% worse than the decomposition through Christmas."""
    kind = classify_demand(y)
    if kind == "zero":
        return "inactive"
    if kind in {"intermittent", "lumpy"}:
        return "intermittent"
    if any(cycle > MAX_SEASONAL_PERIOD and len(y) >= MIN_CYCLES * cycle for cycle in cycles):
        return "seasonal"
    return "smooth"


def network_learners(series_values: Iterable[np.ndarray], cycles: Sequence[int] = ()) -> int:
    """How many of these series the global network could be given (their demand class is in NETWORK_CLASSES).
    "auto" trains the network only when GLOBAL_MIN_SERIES of them can use it: seasonal series choose among models
    that read their year, and inactive ones are forecast zero."""
    return sum(demand_class(values, cycles) in NETWORK_CLASSES for values in series_values)


def merge_pair(pair: str, parts: dict[str, dict[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """The predicted means by cutoff of a pair ("lstm+imapa"): its members' average, at the cutoffs both have."""
    names = pair.split(PAIR)
    cutoffs = set.intersection(*(set(parts.get(name, {})) for name in names))
    return {cutoff: np.mean([parts[name][cutoff] for name in names], axis=0) for cutoff in cutoffs}


def choose_per_class(scored: list[tuple[str, dict[str, float]]]) -> dict[str, str]:
    """Per demand class: the model with the lowest mean backtest RMSSE over the series every candidate scored, or the
    average of it and another model when that pair does not score significantly worse (see `_prefer_pair`).

    Choosing per series from a short backtest mostly picks noise (on OR-weekly it lost to any single good method);
    choosing per class keeps the evidence of thousands of series behind each choice.
    """
    chosen: dict[str, str] = {}
    for demand_class in {kind for kind, _ in scored}:
        rows = [scores for kind, scores in scored if kind == demand_class and scores]
        if not rows:
            continue
        common = set.intersection(*(set(scores) for scores in rows))
        if common:
            order = list(rows[0])
            best = min(common, key=lambda name: (np.mean([r[name] for r in rows]), order.index(name)))
            chosen[demand_class] = _prefer_pair(best, common, rows, order)
    return chosen


def _prefer_pair(best: str, common: set[str], rows: list[dict[str, float]], order: list[str]) -> str:
    """`best`, or the best-scoring pair that has `best` as a member when its mean RMSSE is within one standard error
    of the paired differences from `best`'s (the one-standard-error rule).

    A backtest of a couple of windows ranks close candidates by noise, and an average of two models is the safer bet
    out of sample (its errors vary less; the "forecast combination puzzle"). On the PBS monthly data the seasonal
    ARIMA led its pair with ETS by 1% of RMSSE in the backtest (0.4 standard errors) while the pair was 3% better in
    the year that followed.
    """
    if PAIR in best or len(rows) < 2:
        return best
    pairs = [name for name in common if PAIR in name and best in name.split(PAIR)]
    for pair in sorted(pairs, key=lambda name: (np.mean([r[name] for r in rows]), order.index(name))):
        differences = np.array([r[pair] - r[best] for r in rows])
        if differences.mean() <= differences.std(ddof=1) / np.sqrt(len(differences)):
            return pair
    return best


def _candidates(item: dict, global_backtest: dict | None) -> dict[str, dict[int, list]]:
    """Predicted means by cutoff of every candidate of one series: its local models and feature models (both in its
    evidence), the local pairs whose members it has, each feature model's pair with each local model, and with
    `global_backtest` the global network and its pair with each local model."""
    cutoffs = item["cutoffs"]
    candidates = {name: dict(zip(cutoffs, means, strict=True)) for name, means in item["predictions"].items()}
    for pair in LOCAL_PAIRS:
        if all(part in candidates for part in pair.split(PAIR)):
            candidates[pair] = merge_pair(pair, candidates)
    # a feature model (its backtest carried in the evidence) pairs with each local model: it reads drivers and the
    # crowd, they read the series alone
    local = [name for name in item["predictions"] if name not in FEATURE_MODELS]
    for name in [name for name in FEATURE_MODELS if name in item["predictions"]]:
        for other in local:
            candidates[f"{name}{PAIR}{other}"] = merge_pair(f"{name}{PAIR}{other}", candidates)
    for name in GLOBAL_MODELS:
        if global_backtest and item.get("class") in NETWORK_CLASSES:  # the network reads no yearly cycle
            candidates[name] = {int(cutoff): mean for cutoff, mean in global_backtest.items()}
            for other in [key for key in item["predictions"] if key not in GLOBAL_MODELS and key not in FEATURE_MODELS]:
                candidates[f"{name}{PAIR}{other}"] = merge_pair(f"{name}{PAIR}{other}", candidates)
    return candidates


def score_evidence(item: dict, global_backtest: dict | None = None) -> dict[str, float]:
    """Mean backtest RMSSE per candidate of one series' evidence (see `backtest_local`), with the global network and
    its pairs with each local model when `global_backtest` (the network's predicted means by cutoff) is given."""
    if "error" in item:
        return {}
    truth = dict(zip(item["cutoffs"], zip(item["actual"], item["scale"], strict=True), strict=True))
    scores = {}
    for name, by_cutoff in _candidates(item, global_backtest).items():
        per_cutoff = []
        for cutoff, mean in by_cutoff.items():
            if cutoff in truth:
                actual, scale = np.asarray(truth[cutoff][0], float), truth[cutoff][1]
                steps = min(len(actual), len(mean))
                per_cutoff.append(metrics.rmse(actual[:steps], np.asarray(mean, float)[:steps]) / scale)
        if per_cutoff:
            scores[name] = float(np.mean(per_cutoff))
    return scores


def candidate_accuracy(
    item: dict, values: np.ndarray, global_backtest: dict | None = None, season_length: int = 1
) -> dict[str, dict[str, float]]:
    """Per candidate of one series' evidence, its backtest errors over all its windows together: MSE, RMSE, MASE
    (scale: the in-sample naive error before each window, seasonal for a short season) and R² (on the windows'
    actuals pooled; NaN below two points). What the planner reads beside the RMSSE the choice is made on."""
    if not item or "error" in item:
        return {}
    lag = season_length if 1 < season_length < len(values) // 2 else 1
    windows = {
        cutoff: (np.asarray(actual, float), metrics.naive_scale(values[:cutoff], lag, 1))
        for cutoff, actual in zip(item["cutoffs"], item["actual"], strict=True)
    }
    out = {}
    for name, by_cutoff in _candidates(item, global_backtest).items():
        truths, means, scaled = [], [], []
        for cutoff, mean in by_cutoff.items():
            if cutoff not in windows:
                continue
            actual, scale = windows[cutoff]
            steps = min(len(actual), len(mean))
            truths.append(actual[:steps])
            means.append(np.asarray(mean, float)[:steps])
            scaled.append(metrics.mae(actual[:steps], means[-1]) / scale)
        if not truths:
            continue
        truth, mean = np.concatenate(truths), np.concatenate(means)
        out[name] = {
            "mse": metrics.mse(truth, mean),
            "rmse": metrics.rmse(truth, mean),
            "mase": float(np.mean(scaled)),
            "r2": metrics.r2(truth, mean) if len(truth) > 1 else float("nan"),
        }
    return out


def choose_models(evidence: Sequence[dict], global_backtests: Sequence[dict | None] | None = None) -> dict[str, str]:
    """Per demand class: the single model or the pair (the global network with a local model) with the lowest mean
    backtest RMSSE. `global_backtests`: per series, the network's predicted means by cutoff (None: not trained)."""
    glob = global_backtests or [None] * len(evidence)
    scored = [
        (item["class"], score_evidence(item, by_cutoff))
        for item, by_cutoff in zip(evidence, glob, strict=True)
        if "error" not in item
    ]
    return choose_per_class(scored)


def model_for(values: np.ndarray, per_class: dict[str, str], cycles: Sequence[int] = ()) -> str:
    """The model a series gets under a per-class choice (a default when its class had no evidence)."""
    return model_for_class(demand_class(values, cycles), per_class)


def model_for_class(kind: str, per_class: dict[str, str]) -> str:
    if kind == "inactive":
        return "inactive"
    return per_class.get(kind, DEFAULT_MODELS.get(kind, "moving_average_8"))


def fit_calibration(
    evidence: Sequence[dict], global_backtests: Sequence[dict | None] | None, per_class: dict[str, str]
) -> list[float] | None:
    """The coefficients of the store's level calibration (`forecasting.calibration`), fitted on the backtest windows
    of the model each series is given; None when there is too little evidence (fewer than GLOBAL_MIN_SERIES series
    or backtest rows) or the fit fails."""
    usable = [item for item in evidence if "error" not in item and item["class"] != "inactive"]
    if len(usable) < GLOBAL_MIN_SERIES:
        return None
    rows = []  # (periods before the end, level, actual, signature, scale, units sold before the window)
    for item, by_cutoff_global in zip(evidence, global_backtests or [None] * len(evidence), strict=True):
        if "error" in item:
            continue
        name = model_for_class(item["class"], per_class)
        predictions = _candidates(item, by_cutoff_global).get(name, {})
        # The signature each window is fitted with is the one known at its cutoff, as at the origin the forecast's
        # factor uses the signature known then. The whole series' signature would let the window's own sales leak
        # into it (they raise the mean it divides by), understating how a signature read beforehand plays out.
        # Evidence from before per-cutoff signatures were kept falls back to the whole series' one.
        signatures = item.get("signatures") or [item["signature"]] * len(item["cutoffs"])
        window = dict(
            zip(
                item["cutoffs"],
                zip(item["actual"], item["level_scale"], item["units"], signatures, strict=True),
                strict=True,
            )
        )
        for cutoff, mean in predictions.items():
            if cutoff < CALIBRATION_MIN_PERIODS or cutoff not in window:
                continue
            actual, scale, units, signature = window[cutoff]
            steps = min(len(actual), len(mean))
            rows.append(
                (item["length"] - cutoff, float(np.mean(mean[:steps])), float(np.mean(actual[:steps])),
                 signature, scale, units)
            )  # fmt: skip
    if not rows:
        return None
    table = np.array(rows)
    # Each backtest window counts once, whatever the store sold in it.
    window_units = {window: table[table[:, 0] == window, 5].sum() for window in np.unique(table[:, 0])}
    weights = table[:, 5] / np.maximum([window_units[window] for window in table[:, 0]], 1e-12)
    try:
        calibration = LevelCalibration(min_rows=GLOBAL_MIN_SERIES).fit(
            table[:, 1], table[:, 2], table[:, 3], table[:, 4], weights
        )
    except ValueError as exc:
        logger.info("no level calibration: %s", exc)
        return None
    logger.info("level calibration %s from %d backtest rows", np.round(calibration.coef_, 3), calibration.n_rows_)
    return [float(value) for value in calibration.coef_]


def calibration_applies(horizon: int, season_length: int) -> bool:
    """Whether a level calibration is fitted for forecasts `horizon` periods ahead of series with a `season_length`
    cycle: only when the horizon is shorter than the cycle.

    The calibration corrects a store's near-term phase (ramping into its peak season) that local models, each
    reading one series, lag behind. Over a horizon of a whole cycle the forecast's level is the yearly level that
    the seasonal models estimate from years of history, and a store-wide factor fitted on a couple of earlier cycles
    is noise: on the PBS monthly data (12 months ahead) it moved the mean MASE from 0.916 to 0.952.
    """
    return season_length <= 1 or horizon < season_length


def calibration_factor(coefficients: Sequence[float] | None, values: np.ndarray, index: pd.DatetimeIndex) -> float:
    """The level factor of one series under the store's calibration (1.0 without one)."""
    if not coefficients:
        return 1.0
    calibration = LevelCalibration()
    calibration.coef_ = np.asarray(coefficients, float)
    return float(calibration.factor([year_end_signature(values, index)])[0])


def rms_step(history: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(history) ** 2))) if len(history) > 1 else 0.0
