"""How far model choice can go on OR-weekly: every candidate, and every average of a few, scored in hindsight.

    python bench/choice_bound.py [--members 4] [--models lstm,imapa,...] [--n-jobs 2] [--shared ../shared/data]

At each origin of bench/accuracy.py's OR-weekly protocol (the same weeks, scope, weights and scale) the script runs
the steps of "auto" itself (`forecasting.pipeline`: data preparation, the local backtest, the global network, the
choice of each demand class's model and the store's level calibration), then forecasts every series with each of
`--models` alone, at the level factor the choice gives that series, as "auto" would have had it chosen that model.
Out of sample it scores, per demand class, each model and each equal-weight average of up to `--members` of them
(a "spec"), and prints:

- `auto` as chosen (the figure bench/accuracy.py prints for `--models auto`);
- per class, the five specs with the lowest contribution to the WRMSSE averaged over the origins;
- the best spec per class for all origins together, picked in hindsight: what the best fixed choice among these
  models scores;
- the best spec per class and per origin, picked in hindsight: what a perfect choice rule over these models scores;
- the best constant level per series (its mean over the horizon), in hindsight: what a perfect level would score.

The WRMSSE is a weighted sum over series, so a class's contribution is the sum over its series and the figures of
the classes add up. Series of other classes (inactive ones) keep "auto"'s forecast in every line. The gap between
`auto` and the second figure is what any selection or combination rule over these models could still gain; the gap
between that and the last is what only better models, or inputs the series do not hold, could.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import accuracy  # noqa: E402

from forecasting import metrics  # noqa: E402
from forecasting.engine import _Runner  # noqa: E402  (the engine's own pool of processes over chunks of series)
from forecasting.model_catalog import PAIR  # noqa: E402
from forecasting.network import fit_global  # noqa: E402
from forecasting.pipeline import Plan, backtest_chunk, choose, forecast_chunk, prepare  # noqa: E402

FREQ = "W-SUN"
MODELS = ("lstm", "imapa", "tsb", "moving_average_8", "croston_sba", "adida", "naive", "ets", "sarima")
TOP = 5


def spec_names(models: tuple[str, ...], members: int) -> list[str]:
    """Each model, and each equal-weight average of 2..`members` of them ("lstm+imapa"), in a stable order."""
    return [PAIR.join(group) for size in range(1, members + 1) for group in itertools.combinations(models, size)]


def contributions(
    actual: np.ndarray, scale: np.ndarray, weight: np.ndarray, forecasts: dict[str, np.ndarray], rows: np.ndarray,
    specs: list[str],
) -> dict[str, float]:  # fmt: skip
    """Per spec, the weighted RMSSE summed over the series in `rows` (a boolean mask) when they are forecast by it:
    the mean of its members' forecasts."""
    out = {}
    for spec in specs:
        mean = np.mean([forecasts[name][rows] for name in spec.split(PAIR)], axis=0)
        rmsse = np.sqrt(np.mean((actual[rows] - mean) ** 2, axis=1)) / scale[rows]
        out[spec] = float(np.dot(weight[rows], rmsse))
    return out


def bounds(by_origin: list[dict[str, dict[str, float]]], rest: list[float]) -> dict[str, object]:
    """From each origin's contributions by class and spec (and what the other series add at each origin): the best
    fixed spec per class over all origins with its mean WRMSSE, and the mean WRMSSE of the best spec per class and
    origin. A class absent at an origin adds nothing there."""
    classes = sorted({kind for origin in by_origin for kind in origin})
    specs = {kind: next(origin[kind] for origin in by_origin if kind in origin) for kind in classes}

    def part(origin: dict, kind: str, spec: str) -> float:
        return origin[kind][spec] if kind in origin else 0.0

    fixed = {
        kind: min(specs[kind], key=lambda spec: np.mean([part(origin, kind, spec) for origin in by_origin]))
        for kind in classes
    }
    pairs = list(zip(by_origin, rest, strict=True))
    fixed_score = np.mean([sum(part(origin, kind, fixed[kind]) for kind in classes) + other for origin, other in pairs])
    per_origin = np.mean([sum(min(scores.values()) for scores in origin.values()) + other for origin, other in pairs])
    return {"fixed": fixed, "fixed_score": float(fixed_score), "per_origin_score": float(per_origin)}


def _forecast(plan: Plan, choice, series, names, evidence, global_backtests, global_forecasts) -> list[dict]:
    return forecast_chunk(plan, series, choice, names, evidence, global_backtests, global_forecasts)


def run_origin(train: pd.DataFrame, models: tuple[str, ...], n_jobs: int) -> dict:
    """`auto`'s steps on one origin's training data, then each model's forecast at the choice's level factors."""
    plan = Plan(accuracy.HORIZON, FREQ, level=(80,))
    series = prepare(train[["unique_id", "ds", "y"]], FREQ)
    count = len(series)
    runner = _Runner(n_jobs, count)
    try:
        evidence = runner.map(partial(backtest_chunk, plan), series)
        global_backtests, network = fit_global(series, plan.horizon, FREQ, plan.level, plan.windows)
        globals_ = [{"lstm": forecast} if forecast is not None else {} for forecast in network or [None] * count]
        choice = choose(plan, evidence, global_backtests)
        step = partial(_forecast, plan, choice)
        auto = runner.map(step, series, [None] * count, evidence, global_backtests, globals_)
        forecasts = {
            name: runner.map(step, series, [name] * count, [None] * count, [None] * count, globals_) for name in models
        }
    finally:
        runner.close()

    def means(results: list[dict]) -> np.ndarray:
        return np.array([result["prediction"]["mean"] for result in results], float)

    return {
        "ids": [str(unique_id) for unique_id, _, _ in series],
        "classes": np.array([result["class"] for result in auto]),
        "auto": means(auto),
        "forecasts": {name: means(results) for name, results in forecasts.items()},
        "choice": choice,
    }


def score_inputs(weekly: pd.DataFrame, origin: pd.Timestamp, ids: list[str]) -> tuple[np.ndarray, ...]:
    """Actuals, RMSSE scales and weights of the series `ids` at `origin`, as bench/accuracy.py's `evaluate`."""
    train = weekly[weekly.ds <= origin]
    weeks = pd.date_range(origin, periods=accuracy.HORIZON + 1, freq=FREQ)[1:]
    actual = accuracy.weekly_units(weekly, ids, weeks).to_numpy()
    recent = train[train.ds > origin - pd.Timedelta(weeks=accuracy.WEIGHT_WEEKS)].groupby("unique_id").revenue.sum()
    weight = recent.reindex(ids).fillna(0.0).to_numpy()
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(len(ids), 1.0 / len(ids))
    history = {uid: frame.sort_values("ds") for uid, frame in train[train.unique_id.isin(ids)].groupby("unique_id")}
    scale = np.array(
        [
            metrics.naive_scale(
                history[uid].set_index("ds").y.reindex(pd.date_range(history[uid].ds.min(), origin, freq=FREQ))
                .fillna(0.0).to_numpy()
            )
            for uid in ids
        ]
    )  # fmt: skip
    return actual, scale, weight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--members", type=int, default=4, help="the most models one average holds")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    specs = spec_names(models, args.members)
    weekly = accuracy.weekly_demand(args.shared / "online_retail.csv.gz")
    print(f"OR-weekly, {len(models)} models, {len(specs)} specs per class (averages of up to {args.members})")
    by_origin, rest, auto_scores, constant_scores = [], [], [], []
    for origin in accuracy.ORIGINS:
        train = weekly[weekly.ds <= origin]
        sale_weeks = train[train.y > 0].groupby("unique_id").ds.nunique()
        scope = sale_weeks[sale_weeks >= accuracy.MIN_SALE_WEEKS].index
        started = time.perf_counter()
        run = run_origin(train[train.unique_id.isin(scope)], models, args.n_jobs)
        actual, scale, weight = score_inputs(weekly, origin, run["ids"])
        forecasts = {**run["forecasts"], "auto": run["auto"]}
        everyone = np.ones(len(run["ids"]), bool)
        auto_scores.append(contributions(actual, scale, weight, forecasts, everyone, ["auto"])["auto"])
        constant = np.repeat(actual.mean(axis=1, keepdims=True), actual.shape[1], axis=1)
        constant_scores.append(
            contributions(actual, scale, weight, {"constant": constant}, everyone, ["constant"])["constant"]
        )
        chosen = [kind for kind in run["choice"].per_class if np.any(run["classes"] == kind)]
        by_origin.append(
            {kind: contributions(actual, scale, weight, forecasts, run["classes"] == kind, specs) for kind in chosen}
        )
        others = ~np.isin(run["classes"], chosen)
        rest.append(contributions(actual, scale, weight, forecasts, others, ["auto"])["auto"] if others.any() else 0.0)
        print(
            f"{origin.date()}: {len(run['ids']):,} series, auto chose {run['choice'].per_class}, "
            f"WRMSSE {auto_scores[-1]:.4f} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    print(f"\nauto as chosen: WRMSSE {np.mean(auto_scores):.4f} ({' '.join(f'{s:.3f}' for s in auto_scores)})")
    for kind in sorted({kind for origin in by_origin for kind in origin}):
        print(f"{kind}: contribution to the WRMSSE, mean over origins (by origin)")
        ranked = sorted(specs, key=lambda spec: np.mean([origin.get(kind, {}).get(spec, 0.0) for origin in by_origin]))
        for spec in ranked[:TOP]:
            values = [origin.get(kind, {}).get(spec, 0.0) for origin in by_origin]
            print(f"  {spec:<44}{np.mean(values):.4f}  ({' '.join(f'{v:.3f}' for v in values)})")
    found = bounds(by_origin, rest)
    print(f"best fixed spec per class, in hindsight: {found['fixed']}: WRMSSE {found['fixed_score']:.4f}")
    print(f"best spec per class and origin, in hindsight: WRMSSE {found['per_origin_score']:.4f}")
    print(f"best constant level per series, in hindsight: WRMSSE {np.mean(constant_scores):.4f}")


if __name__ == "__main__":
    main()
