"""The forecasting pipeline: the steps from a demand history to chosen forecasts, defined once.

Two drivers run them: `forecasting.engine.forecast_many` in one process (with a pool of processes for the per-series
steps), and the product's retraining as Celery tasks over chunks of SKUs. Every step is a function of plain data
(series, JSON-ready evidence, a `Plan` and a `Choice`), so either driver can split it as it likes:

1. `prepare`: regular periods, each series' useful history, stock-outs imputed, outlier sale sizes capped;
2. `backtest_chunk` (per chunk of series): each series' local candidates on rolling origins, as evidence; beside it
   the global network's backtest (`forecasting.network`, once over all series);
3. `choose` (once, from all evidence): the model of each demand class and the store's level calibration;
4. `forecast_chunk` (per chunk): each series' model fitted and forecast, times its level factor, with its demand
   class, its candidates' backtest scores and the state a later run warm-starts from;
5. `to_frame`: the long forecast frame `unique_id, ds, mean, lo-<L>, hi-<L>..., model`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import metrics
from forecasting.calibration import year_end_signature
from forecasting.data import (
    OUTLIER_IQRS,
    cap_outliers,
    future_stamps,
    impute_censored,
    infer_season_length,
    season_cycles,
    to_regular,
    useful_start,
)
from forecasting.model_catalog import (
    DEFAULT_WINDOWS,
    INTERMITTENT_CANDIDATES,
    LONG_CYCLE_CANDIDATES,
    MODELS,
    PAIR,
    SEASONAL_CANDIDATES,
    SEASONAL_WINDOWS,
    SMOOTH_CANDIDATES,
    Series,
)
from forecasting.models import Naive
from forecasting.models.base import forecast_with_fallback
from forecasting.models.mstl import MIN_CYCLES
from forecasting.models.sarima import MAX_SEASONAL_PERIOD
from forecasting.regressors import extra_inputs, regressors
from forecasting.selection import (
    CALIBRATION_WEIGHT_PERIODS,
    calibration_applies,
    calibration_factor,
    candidate_accuracy,
    choose_models,
    demand_class,
    fit_calibration,
    model_for,
    model_for_class,
    rms_step,
    score_evidence,
)

logger = logging.getLogger(__name__)

OUTLIER_WINDOW_MIN = 25  # periods
WHY = "why-"  # a feature model's prediction keys that hold a driver group's contribution
STATES_FILE = "local_states.json"


@dataclass(frozen=True)
class Plan:
    """The settings every step of one forecasting run shares."""

    horizon: int
    freq: str
    level: tuple[int, ...] = (80, 95)
    season_length: int | None = None  # None: the frequency's natural cycle (`infer_season_length`)
    windows: int = DEFAULT_WINDOWS  # backtest windows per candidate
    country: str | None = None  # ISO code: its public holidays are a regressor of the models that take one
    calibrate: bool = True  # fit the store's level calibration where it applies

    @property
    def cycle(self) -> int:
        return self.season_length or infer_season_length(self.freq)


@dataclass(frozen=True)
class Choice:
    """What model choice decided: the model of each demand class, and the coefficients of the store's level
    calibration (empty: none). Both JSON-ready, so that a distributed run can keep them on its row."""

    per_class: dict[str, str]
    calibration: list[float] = field(default_factory=list)

    def model_for(self, values: np.ndarray, cycles: Sequence[int] = ()) -> str:
        return model_for(values, self.per_class, cycles)

    def factor(self, values: np.ndarray, index: pd.DatetimeIndex) -> float:
        return calibration_factor(self.calibration, values, index)


def local_candidates(y: np.ndarray, season_length: int, cycles: Sequence[int] = ()) -> tuple[str, ...]:
    """The local models a series is backtested with: those of its demand class (`demand_class`), and the seasonal
    ones of a short cycle (months, quarters, a week of days). A seasonal series (a long cycle in its history) has
    the models that read that cycle (`LONG_CYCLE_CANDIDATES`)."""
    kind = demand_class(y, cycles)
    if kind == "inactive":
        return ()  # nothing to choose: an inactive series is forecast as such
    if kind == "seasonal":
        return LONG_CYCLE_CANDIDATES
    names = INTERMITTENT_CANDIDATES if kind == "intermittent" else SMOOTH_CANDIDATES
    if 1 < season_length <= MAX_SEASONAL_PERIOD:
        names = tuple(dict.fromkeys((*names, *SEASONAL_CANDIDATES)))
    if len(y) < 2 * season_length:
        names = tuple(name for name in names if name != "seasonal_naive")
    if season_length > MAX_SEASONAL_PERIOD and len(y) < season_length + season_length // 4:
        # A long cycle (a year of weeks) is modelled by Fourier terms once a cycle and a bit is known; before
        # that an ARIMA adds nothing a moving average does not: don't spend fits on it.
        names = tuple(name for name in names if name != "sarima")
    return names


def _windows(length: int, horizon: int, windows: int) -> list[int]:
    """Backtest cutoffs (oldest first) that leave at least two periods to train on."""
    return [length - w * horizon for w in range(windows, 0, -1) if length - w * horizon >= 2]


def _cutoffs(values: np.ndarray, horizon: int, windows: int, cycles: Sequence[int]) -> list[int]:
    if demand_class(values, cycles) == "seasonal":
        return seasonal_cutoffs(len(values), horizon, max(windows, SEASONAL_WINDOWS), cycles)
    return _windows(len(values), horizon, windows)


def evidence_cutoffs(plan: Plan, series: Sequence[Series]) -> list[list[int]]:
    """Per series, the backtest cutoffs its evidence holds (`backtest_local`): where a global feature model must
    also forecast from, so that its backtest joins the local candidates'."""
    cycles = season_cycles(plan.freq, plan.season_length)
    return [_cutoffs(values, plan.horizon, plan.windows, cycles) for _, _, values in series]


def add_feature_evidence(evidence: Sequence[dict], name: str, backtests: Sequence[dict | None]) -> None:
    """A feature model's backtest (per series, its predicted means by cutoff) joins the local candidates of each
    series whose every cutoff it has."""
    for item, by_cutoff in zip(evidence, backtests, strict=True):
        if not by_cutoff or "error" in item or not item["predictions"]:
            continue
        means = {int(cutoff): mean for cutoff, mean in by_cutoff.items()}
        if all(cutoff in means for cutoff in item["cutoffs"]):
            item["predictions"][name] = [np.asarray(means[cutoff], float).tolist() for cutoff in item["cutoffs"]]


def seasonal_cutoffs(length: int, horizon: int, windows: int, cycles: Sequence[int]) -> list[int]:
    """The backtest cutoffs of a seasonal series (oldest first): of the latest `windows` horizons and the window one
    long cycle before the end (the season the forecast must cross, a year earlier), those whose history holds the
    longest cycle once and a quarter (`MIN_CYCLES`), as the forecast's does.

    The latest windows alone judge a model on the weeks just before the origin, not on the season after it: in May
    they are the winter's weeks. A window with less history than that judges the decomposition without its yearly
    component, which the forecast will have."""
    longest = max((cycle for cycle in cycles if cycle > MAX_SEASONAL_PERIOD), default=0)
    cutoffs = {*_windows(length, horizon, windows), length - longest}
    return sorted(cutoff for cutoff in cutoffs if cutoff >= max(MIN_CYCLES * longest, 2) and cutoff < length)


def _local_backtest(
    chunk, extras, names, horizon, season_length, windows, cycles=(), cutoffs=None
) -> list[dict[str, dict]]:
    """Per series: {model: {cutoff: predicted mean}} for every backtest cutoff, and under "_state" the fitted state
    of the last cutoff for models that warm-start (a seasonal ARIMA searches its order once, at the first cutoff, and
    later fits start from there). `names=None`: the series' own candidates. `cutoffs`: these cutoffs rather than the
    latest `windows` horizons."""
    out = []
    for (_, _, values), extra in zip(chunk, extras, strict=True):
        predictions: dict[str, dict] = {"_state": {}}
        for name in names or local_candidates(values, season_length, cycles):
            predictions[name] = {}
            state = (extra or {}).get(f"{name}_start")
            for cutoff in _windows(len(values), horizon, windows) if cutoffs is None else cutoffs:
                train = values[:cutoff]
                steps = min(horizon, len(values) - cutoff)
                X, X_future = regressors(extra, name, 0, cutoff, steps)
                model = MODELS[name](season_length, cycles or (season_length,))
                if state and hasattr(model, "start"):
                    model.start = state
                prediction, alias = forecast_with_fallback(model, Naive(), train, steps, X=X, X_future=X_future)
                if alias == name and getattr(model, "state_", None):
                    state = model.state_
                predictions[name][cutoff] = prediction["mean"]
            if state:
                predictions["_state"][name] = state
        out.append(predictions)
    return out


def prepare(
    history: pd.DataFrame, freq: str, end: pd.Timestamp | None = None, outlier_iqrs: float | None = OUTLIER_IQRS
) -> list[Series]:
    """`(unique_id, period ends, values)` per series, sorted by id: regular periods up to `end` (default: the last
    period of the whole history), cut to their useful history (`forecasting.data.useful_start`: at most a few years,
    from the end of the last year-long silence; a series with no sale in its last year is inactive and keeps that
    year of zeros), stock-out periods imputed, outlier sale sizes capped. Phases of one run that read the history
    separately must pass the same `end`."""
    regular = to_regular(history, freq, end=end)
    # "usual" sale sizes are read over two seasonal cycles around each period, and at least OUTLIER_WINDOW_MIN periods
    window = max(2 * infer_season_length(freq) + 1, OUTLIER_WINDOW_MIN)
    series = []
    for unique_id, frame in regular.groupby("unique_id", sort=True):
        start = useful_start(frame["y"].to_numpy(float), freq)
        frame = frame.iloc[start:]
        values = impute_censored(frame["y"].to_numpy(float), frame["censored"].to_numpy(bool))
        if outlier_iqrs is not None:
            values = cap_outliers(values, outlier_iqrs, window=window)
        series.append((unique_id, pd.DatetimeIndex(frame["ds"]), values))
    return series


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def backtest_local(
    series: Sequence[Series],
    horizon: int,
    freq: str,
    season_length: int,
    windows: int = DEFAULT_WINDOWS,
    country: str | None = None,
    starts: Sequence[dict | None] | None = None,
    drivers: Sequence[np.ndarray | None] | None = None,
) -> list[dict]:
    """The evidence that model choice needs, per series, as plain JSON-ready data: the demand class, the backtest
    cutoffs with the actual values after each and the RMSSE scale before it, each local candidate's predicted means
    at each cutoff. `starts`: per series, the saved state of an earlier run per model (a warm start). `drivers`: per
    series its driver matrix (`forecasting.drivers`), regressors of the models that take them. A series whose
    backtest raises gets `{"error": ...}` instead; the others are unaffected."""
    out = []
    cycles = season_cycles(freq, season_length)
    rows = zip(series, starts or [None] * len(series), drivers or [None] * len(series), strict=True)
    for item, start, matrix in rows:
        _, index, values = item
        try:
            extra = extra_inputs(index, horizon, freq, country, start, matrix)
            kind = demand_class(values, cycles)
            cutoffs = _cutoffs(values, horizon, windows, cycles)
            [predictions] = _local_backtest([item], [extra], None, horizon, season_length, windows, cycles, cutoffs)
            out.append(
                {
                    "class": kind,
                    "cutoffs": cutoffs,
                    "actual": [values[cutoff : cutoff + horizon].tolist() for cutoff in cutoffs],
                    "scale": [metrics.naive_scale(values[:cutoff], 1, 2) for cutoff in cutoffs],
                    "predictions": {
                        name: [np.asarray(by_cutoff[cutoff], float).tolist() for cutoff in cutoffs]
                        for name, by_cutoff in predictions.items()
                        if name != "_state"
                    },
                    # for the level calibration: the series' length and year-end signature, and per cutoff the
                    # signature as it read at that cutoff, the one-step naive RMSE before it (unfloored) and the
                    # units sold in the periods just before it
                    "length": len(values),
                    "signature": year_end_signature(values, index),
                    "signatures": [year_end_signature(values[:cutoff], index[:cutoff]) for cutoff in cutoffs],
                    "level_scale": [rms_step(values[:cutoff]) for cutoff in cutoffs],
                    "units": [float(values[:cutoff][-CALIBRATION_WEIGHT_PERIODS:].sum()) for cutoff in cutoffs],
                }
            )
        except Exception as exc:  # one series must not sink the others: reported per series
            logger.exception("backtest of series %s failed", item[0])
            out.append({"error": _error(exc)})
    return out


def forecast_chosen(
    series: Sequence[Series],
    names: Sequence[str],
    horizon: int,
    freq: str,
    season_length: int,
    level: Sequence[int],
    country: str | None = None,
    starts: Sequence[dict | None] | None = None,
    global_forecasts: Sequence[dict | None] | None = None,
    factors: Sequence[float] | None = None,
    drivers: Sequence[np.ndarray | None] | None = None,
) -> list[dict]:
    """Per series: `{"model": alias, "prediction": {"mean": [...], "lo-80": [...], ...}, "state": {...},
    "explanation": {group: [...]}}` from its named model or pair (a global part, the network's or a feature model's,
    comes from `global_forecasts`, per series a dict by model name; where it has none the local part stands alone)
    times its level factor (`factors`, see `fit_calibration`), or `{"error": ...}` when even the fallback failed.
    The explanation is empty unless a feature model is part of the forecast."""
    out = []
    cycles = season_cycles(freq, season_length)
    glob = global_forecasts or [None] * len(series)
    factors = factors or [1.0] * len(series)
    rows = zip(
        series, names, starts or [None] * len(series), glob, factors, drivers or [None] * len(series), strict=True
    )
    for item, name, start, global_prediction, factor, matrix in rows:
        _, index, values = item
        try:
            local_names = [part for part in name.split(PAIR) if part in MODELS]
            global_names = [part for part in name.split(PAIR) if (global_prediction or {}).get(part) is not None]
            if not local_names and not global_names:
                local_names = [_default(values)]
            extra = extra_inputs(index, horizon, freq, country, start, matrix)
            [forecasts] = _local_forecasts([item], [extra], [local_names], horizon, season_length, tuple(level), cycles)
            parts = [(global_prediction[part], part) for part in global_names]
            parts += [forecasts[part] for part in local_names]
            keys = [key for key in parts[0][0] if not key.startswith(WHY)]
            prediction = {
                key: (np.mean([np.asarray(p[key], float) for p, _ in parts], axis=0) * factor).tolist() for key in keys
            }
            out.append(
                {
                    "model": PAIR.join(alias for _, alias in parts),
                    "prediction": prediction,
                    "state": forecasts["_state"],
                    "explanation": _explanation(parts, factor),
                }
            )
        except Exception as exc:  # one series must not sink the others: reported per series
            logger.exception("forecast of series %s failed", item[0])
            out.append({"error": _error(exc)})
    return out


def _explanation(parts: list[tuple[dict, str]], factor: float) -> dict[str, list[float]]:
    """What each driver group adds to the forecast per period, in units (`why-<group>` of a feature model), at the
    feature model's share of the forecast: in a pair the other half is the local model's reading of the series,
    reported as that model's contribution."""
    share = factor / len(parts)
    explained = [any(key.startswith(WHY) for key in prediction) for prediction, _ in parts]
    if not any(explained):
        return {}
    out: dict[str, list[float]] = {}
    for (prediction, alias), has_reasons in zip(parts, explained, strict=True):
        if has_reasons:
            for key, values in prediction.items():
                if key.startswith(WHY):
                    group = key.removeprefix(WHY)
                    out[group] = (np.add(out.get(group, 0.0), np.asarray(values, float) * share)).tolist()
        else:
            out[alias] = (np.asarray(prediction["mean"], float) * share).tolist()
    return out


def _local_forecasts(chunk, extras, names_per_series, horizon, season_length, level, cycles=()) -> list[dict]:
    """Per series: {model: (prediction, alias)} for each of its models, and "_state": what a warm start reuses."""
    out = []
    for (_, _, values), extra, names in zip(chunk, extras, names_per_series, strict=True):
        forecasts: dict = {"_state": {}}
        for name in names:
            model = MODELS[name](season_length, cycles or (season_length,))
            if (extra or {}).get(f"{name}_start") and hasattr(model, "start"):
                model.start = extra[f"{name}_start"]
            X, X_future = regressors(extra, name, 0, len(values), horizon)
            forecasts[name] = forecast_with_fallback(model, Naive(), values, horizon, level, X=X, X_future=X_future)
            if getattr(model, "state_", None) and forecasts[name][1] == name:
                forecasts["_state"][name] = model.state_
        out.append(forecasts)
    return out


def to_frame(
    series: Sequence[Series],
    results: Sequence[dict],
    horizon: int,
    freq: str,
    level: Sequence[int],
    explain: bool = False,
) -> pd.DataFrame:
    """The long forecast frame of `forecast_chosen` results (series with an error are left out); with `explain`, a
    column `why-<group>` per driver group holding its contribution in units (NaN where a model gave none)."""
    rows = []
    groups: dict[str, None] = {}
    for (unique_id, index, _), result in zip(series, results, strict=True):
        if "error" in result:
            continue
        reasons = result.get("explanation") or {} if explain else {}
        groups.update(dict.fromkeys(reasons))
        for step, ds in enumerate(future_stamps(index[-1], horizon, freq)):
            row = {"unique_id": unique_id, "ds": ds, "model": result["model"]}
            row.update({key: float(values[step]) for key, values in result["prediction"].items()})
            row.update({f"{WHY}{group}": float(values[step]) for group, values in reasons.items()})
            rows.append(row)
    columns = ["unique_id", "ds", "mean"] + [f"{side}-{value}" for value in level for side in ("lo", "hi")] + ["model"]
    return pd.DataFrame(rows, columns=columns + [f"{WHY}{group}" for group in groups])


def backtest_chunk(
    plan: Plan,
    series: Sequence[Series],
    starts: Sequence[dict | None] | None = None,
    drivers: Sequence[np.ndarray | None] | None = None,
) -> list[dict]:
    """Step 2: the evidence of each series' local candidates (`backtest_local`) under `plan`. `starts`: per series,
    the state an earlier run saved per model (a warm start of the backtest's fits); `drivers`: per series, its
    driver matrix."""
    return backtest_local(
        series,
        plan.horizon,
        plan.freq,
        plan.cycle,
        windows=plan.windows,
        country=plan.country,
        starts=starts,
        drivers=drivers,
    )


def choose(plan: Plan, evidence: Sequence[dict], global_backtests: Sequence[dict | None] | None = None) -> Choice:
    """Step 3: per demand class the model (or pair) with the lowest backtest RMSSE over all series' evidence, and the
    level calibration fitted on it when the plan asks for one and it applies (`calibration_applies`).
    `global_backtests`: per series, the network's predicted means by cutoff (None: no network)."""
    per_class = choose_models(evidence, global_backtests)
    calibration = []
    if plan.calibrate and calibration_applies(plan.horizon, plan.cycle):
        calibration = fit_calibration(evidence, global_backtests, per_class) or []
    return Choice(per_class, calibration)


def chosen_models(
    plan: Plan, series: Sequence[Series], choice: Choice, names: Sequence[str | None] | None = None
) -> list[str]:
    """Per series, the model `forecast_chunk` uses: `names[i]` where given, else the choice's for its class."""
    cycles, names = season_cycles(plan.freq, plan.season_length), names or [None] * len(series)
    return [name or choice.model_for(values, cycles) for name, (_, _, values) in zip(names, series, strict=True)]


def forecast_chunk(
    plan: Plan,
    series: Sequence[Series],
    choice: Choice | None = None,
    names: Sequence[str | None] | None = None,
    evidence: Sequence[dict | None] | None = None,
    global_backtests: Sequence[dict | None] | None = None,
    global_forecasts: Sequence[dict | None] | None = None,
    states: Sequence[dict | None] | None = None,
    drivers: Sequence[np.ndarray | None] | None = None,
) -> list[dict]:
    """Step 4: per series, `forecast_chosen`'s result with its demand class (`"class"`) and, where `evidence` is
    given, the backtest RMSSE of every candidate (`"scores"`, the network's too with `global_backtests`) and its MSE,
    RMSE, MASE and R² (`"accuracy"`).

    The model is `names[i]` where given (a fixed model; a refresh keeping a series' current model), else the choice's
    model for its demand class. `states`: per series, what its models start from (an earlier run's order and
    parameters). A run that has just chosen its models passes none: the backtest's last fit read the history up to a
    horizon ago, and a fresh order search on the whole history forecasts better (PBS monthly: mean MASE 0.906
    against 0.916 when started from the backtest's order)."""
    choice = choice or Choice({})
    cycles = season_cycles(plan.freq, plan.season_length)
    results = forecast_chosen(
        series,
        chosen_models(plan, series, choice, names),
        plan.horizon,
        plan.freq,
        plan.cycle,
        plan.level,
        country=plan.country,
        starts=states,
        global_forecasts=global_forecasts,
        factors=[choice.factor(values, index) for _, index, values in series],
        drivers=drivers,
    )
    evidence = evidence or [None] * len(series)
    global_backtests = global_backtests or [None] * len(series)
    for (_, _, values), result, item, by_cutoff in zip(series, results, evidence, global_backtests, strict=True):
        result["class"] = demand_class(values, cycles)
        result["scores"] = score_evidence(item, by_cutoff) if item else {}
        result["accuracy"] = candidate_accuracy(item, values, by_cutoff, plan.cycle) if item else {}
    return results


def _default(values: np.ndarray) -> str:
    return model_for_class(demand_class(values), {})


def load_states(model_dir) -> dict[str, dict]:
    """The per-series fitted states saved in `model_dir` ({} when there are none or they cannot be read)."""
    path = Path(model_dir) / STATES_FILE if model_dir is not None else None
    if path is None or not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        logger.warning("the saved model states in %s cannot be read (%s); fitting from scratch", path, exc)
        return {}


def save_states(model_dir, states: dict[str, dict]) -> None:
    """Write the per-series fitted states (what the next run warm-starts from) into `model_dir`."""
    folder = Path(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATES_FILE).write_text(json.dumps(states))
