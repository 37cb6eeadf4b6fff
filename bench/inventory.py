"""Inventory replay on real demand: our policy against a min/max rule, the seed article's LSTM and perfect foresight.

    python bench/inventory.py --data ../shared/data/online_retail.csv.gz [--cache var/bench-forecasts]

OR-weekly data as in `bench/accuracy.py` (same cleaning; SKUs in scope at the first origin). From the week after
2011-08-07 to the week ending 2011-12-04 every SKU is reviewed weekly; an order arrives 2 weeks later; demand is the
actual weekly sales and what cannot be served is lost. Forecasts (`forecast_many(models="auto")`) are refreshed at the
four benchmark origins; each policy orders up to its level S whenever the position is below it, and starts with S on
hand. Policies, all at a 95% fill-rate target (`--fill`) and the library's correlation of the weeks' forecast errors
(`--correlation`):

(a) the public policy API, item by item: at each review `reorder_levels(forecast, lead_time=2, review_period=1,
    service_level=0.95, service_measure="fill_rate")` on the latest run's weeks from the review on,
    - uncalibrated: as the call above stands;
    - calibrated: with `calibration=fit_fill_calibration(...)` (`forecasting.fill_calibration`), fitted at each
      origin on the forecast runs made before it and the weeks sold up to it (runs at the backtest cutoffs
      2011-06-12 and 2011-07-10 before the first origin, then the earlier origins' own runs);
    - tracked, calibrated: the run tracked against the weeks sold since it (`forecasting.tracking.track_forecasts`,
      as the product does) before the call, and the calibration fitted on runs read alike;
(p) the product's path: `allocate_fill_rate` at 95% over all SKUs together at the least stock value, its setting
    calibrated at each origin on the same earlier runs (`calibrate_fill_target`), each weekly review tracking the run
    against the weeks sold since it (`forecasting.tracking`, prior `--tracking-prior` units; 0 turns it off), and
    the replay tracking alike;
(b) min/max (Odoo, ERPNext): min = mean weekly demand of the last 8 weeks x lead time x k, max = min + mean x review
    period, order up to max when the position is at or below min; k is searched so that (b)'s fill rate equals that
    of each of our policies in turn;
(c) the seed article: an LSTM point forecast (our global network's mean) ordered up to, with no safety stock;
(d) perfect foresight: each week's demand arrives just in time (the lower bound of stock for a 100% fill rate).

With `--purchase-orders` every order is a purchase order whose lead time is drawn around the mean (a week early 20%
of the time, a week late 20%) and 30% of them arrive in two parts (70%, then the rest a week later), the same draws
for every policy; the position counts what open orders still await, as the product's on-order does.

Prints fill rate, average on-hand units and value (at each SKU's median unit price; on hand averaged over the start
and the end of each week), and stock-out weeks, for all SKUs and per ABC class (revenue in the 8 weeks before the
first origin); then, for each of our policies, its stock value against (b) at the same fill rate and against (d).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import MIN_SALE_WEEKS, ORIGINS, weekly_demand, weekly_units  # noqa: E402

from forecasting.distribution import DEFAULT_CORRELATION  # noqa: E402
from forecasting.engine import forecast_many  # noqa: E402
from forecasting.fill_calibration import fit_fill_calibration  # noqa: E402
from forecasting.policy import abc_classes, allocate_fill_rate, reorder_levels  # noqa: E402
from forecasting.protection import calibrate_fill_target  # noqa: E402
from forecasting.tracking import DEFAULT_PRIOR_UNITS, track_forecasts  # noqa: E402

LEAD_TIME, REVIEW = 2, 1
END = pd.Timestamp("2011-12-04")
HORIZON = 8  # an origin's forecast covers the weeks to the next origin plus the protection period
TARGET_FILL = 0.95
# Forecast runs before the first origin, only to calibrate the policy at that origin (4 and 8 weeks before it).
BACKTEST_CUTOFFS = [pd.Timestamp(day) for day in ("2011-06-12", "2011-07-10")]


def forecasts(
    weekly: pd.DataFrame, model: str, cache: Path | None, n_jobs: int, origins: list[pd.Timestamp] = ORIGINS
) -> dict[pd.Timestamp, pd.DataFrame]:
    out = {}
    for origin in origins:
        path = cache / f"{model}-{origin.date()}.csv" if cache else None
        if path and path.exists():
            out[origin] = pd.read_csv(path, parse_dates=["ds"], dtype={"unique_id": str})
            continue
        train = weekly[weekly.ds <= origin]
        started = time.perf_counter()
        frame = forecast_many(
            train[["unique_id", "ds", "y"]], HORIZON, "W-SUN", level=(80, 95), models=model, n_jobs=n_jobs
        )
        print(f"  {model} forecast at {origin.date()}: {time.perf_counter() - started:.0f} s", flush=True)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(path, index=False)
        out[origin] = frame
    return out


@dataclass(frozen=True)
class Deliveries:
    """How each week's purchase order arrives, per SKU and week: its lead time in weeks, and the share of it that
    arrives then (the rest a week later: a partial delivery)."""

    lead: np.ndarray  # int weeks
    first_share: np.ndarray  # 1.0: delivered whole

    @classmethod
    def drawn(cls, skus: int, weeks: int, seed: int) -> Deliveries:
        """Lead times around the mean (one week early 20% of the time, late 20%), 30% of orders delivered in two
        parts (70% first), the same draws for every policy."""
        rng = np.random.default_rng(seed)
        lead = LEAD_TIME + rng.choice([-1, 0, 1], size=(skus, weeks), p=[0.2, 0.6, 0.2])
        first = np.where(rng.random((skus, weeks)) < 0.3, 0.7, 1.0)
        return cls(np.maximum(lead, 1), first)

    @classmethod
    def fixed(cls, skus: int, weeks: int) -> Deliveries:
        return cls(np.full((skus, weeks), LEAD_TIME), np.ones((skus, weeks)))


def simulate(
    demand: np.ndarray,
    targets: np.ndarray,
    triggers: np.ndarray,
    start: np.ndarray,
    deliveries: Deliveries | None = None,
) -> dict[str, np.ndarray]:
    """Weekly review with lost sales. demand, targets (order-up-to) and triggers (order when the position is at or
    below) are (SKUs x weeks); an order placed at the start of week t arrives at the start of week t + its lead time,
    whole or in two parts (`deliveries`; by default whole, after LEAD_TIME). The position counts everything ordered
    and not yet received, as open purchase orders do."""
    skus, weeks = demand.shape
    deliveries = deliveries or Deliveries.fixed(skus, weeks)
    rows = np.arange(skus)
    on_hand = start.astype(float).copy()
    pipeline = np.zeros((skus, weeks + LEAD_TIME + 3))
    served = np.zeros((skus, weeks))
    average = np.zeros((skus, weeks))
    for week in range(weeks):
        on_hand += pipeline[:, week]
        position = on_hand + pipeline[:, week + 1 :].sum(axis=1)
        order = np.ceil(np.where(position <= triggers[:, week], np.maximum(targets[:, week] - position, 0.0), 0.0))
        arrives = week + deliveries.lead[:, week]
        first = np.floor(order * deliveries.first_share[:, week])
        np.add.at(pipeline, (rows, arrives), first)
        np.add.at(pipeline, (rows, arrives + 1), order - first)
        served[:, week] = np.minimum(on_hand, demand[:, week])
        begin = on_hand.copy()
        on_hand -= served[:, week]
        average[:, week] = (begin + on_hand) / 2.0
    return {"served": served, "on_hand": average}


def summary(name: str, demand: np.ndarray, result: dict, prices: np.ndarray, classes: np.ndarray) -> list[dict]:
    rows = []
    for label in ("all", "A", "B", "C"):
        mask = np.ones(len(classes), bool) if label == "all" else classes == label
        total = demand[mask].sum()
        rows.append(
            {
                "policy": name,
                "class": label,
                "skus": int(mask.sum()),
                "fill": result["served"][mask].sum() / total if total else 1.0,
                "units": result["on_hand"][mask].sum(axis=0).mean(),
                "value": (result["on_hand"][mask] * prices[mask, None]).sum(axis=0).mean(),
                "stockout_weeks": int(((demand[mask] - result["served"][mask]) > 1e-9).sum()),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "online_retail.csv.gz")
    parser.add_argument("--cache", type=Path, help="Folder to keep forecasts in between runs")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--fill", type=float, default=TARGET_FILL, help="Fill-rate target of our policies")
    parser.add_argument(
        "--correlation",
        type=float,
        default=DEFAULT_CORRELATION,
        help="Correlation of the weeks' forecast errors (the library's default unless given)",
    )
    parser.add_argument(
        "--tracking-prior",
        type=float,
        default=DEFAULT_PRIOR_UNITS,
        help="Prior units of the product's tracking of each run against the weeks sold since it (0: no tracking)",
    )
    parser.add_argument(
        "--purchase-orders",
        action="store_true",
        help="Replay through purchase orders: lead times drawn around the mean, some delivered in two parts",
    )
    parser.add_argument("--seed", type=int, default=7, help="Draws of the purchase orders' deliveries")
    args = parser.parse_args()
    tracking = args.tracking_prior if args.tracking_prior > 0 else None

    weekly = weekly_demand(args.data)
    first = ORIGINS[0]
    train = weekly[weekly.ds <= first]
    sale_weeks = train[train.y > 0].groupby("unique_id").ds.nunique()
    skus = pd.Index(sorted(sale_weeks[sale_weeks >= MIN_SALE_WEEKS].index), name="unique_id")
    weeks = pd.date_range(first + pd.Timedelta(weeks=1), END, freq="W-SUN")
    demand = weekly_units(weekly, skus, weeks).to_numpy()
    raw_prices = weekly[weekly.unique_id.isin(skus)].assign(price=lambda f: f.revenue / f.y)
    prices = raw_prices.groupby("unique_id").price.median().reindex(skus).fillna(0.0).to_numpy()
    recent = train[train.ds > first - pd.Timedelta(weeks=8)].groupby("unique_id").revenue.sum()
    classes = abc_classes(recent.reindex(skus).fillna(0.0)).to_numpy()
    print(f"{len(skus):,} SKUs, {len(weeks)} weeks ({weeks[0].date()}..{weeks[-1].date()}), lead time {LEAD_TIME}")
    deliveries = Deliveries.drawn(len(skus), len(weeks), args.seed) if args.purchase_orders else None
    if deliveries is not None:
        split = (deliveries.first_share < 1).mean()
        print(f"  through purchase orders: lead times {np.bincount(deliveries.lead.ravel())[1:]} (1, 2, 3 weeks), "
              f"{split:.0%} delivered in two parts, weekly order day")  # fmt: skip

    ours = forecasts(weekly, "auto", args.cache, args.n_jobs)
    seed = forecasts(weekly, "lstm", args.cache, args.n_jobs)
    price_by_sku = pd.Series(prices, index=skus)
    sold = weekly[weekly.unique_id.isin(skus)][["unique_id", "ds", "y"]]
    runs = {**forecasts(weekly, "auto", args.cache, args.n_jobs, BACKTEST_CUTOFFS), **ours}
    runs = {cutoff: frame[frame.unique_id.isin(skus)] for cutoff, frame in runs.items()}
    fill_calibrations, settings = {}, {}
    for origin in ORIGINS:
        # only what was known at the origin: the runs made before it and the weeks sold up to it
        earlier = {cutoff: frame for cutoff, frame in runs.items() if cutoff < origin}
        for tracked in (False, True) if tracking is not None else (False,):
            started = time.perf_counter()
            fill_calibrations[origin, tracked] = found = fit_fill_calibration(
                earlier,
                sold,
                LEAD_TIME,
                REVIEW,
                args.fill,
                as_of=origin,
                correlation=args.correlation,
                tracking_prior=tracking if tracked else None,
            )
            shape = found.distribution
            corrected = (
                f"mean x{shape.mean_factor:.2f}, spread x{shape.spread_factor:.2f}, dispersion {shape.dispersion:.1f}"
                if shape is not None
                else "forecasts as they are"
            )
            print(
                f"  fill calibration{', tracked' if tracked else ''} at {origin.date()}: {corrected}, shortage"
                f" x{found.shortage_factor:.2f} (asks {found.setting(args.fill):.2%}); replayed"
                f" {found.uncalibrated_fill:.1%} uncalibrated, {found.backtest_fill:.1%} calibrated,"
                f" {found.n_windows} weeks ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        started = time.perf_counter()
        target = calibrate_fill_target(
            earlier,
            sold,
            LEAD_TIME,
            REVIEW,
            args.fill,
            as_of=origin,
            unit_value=price_by_sku,
            correlation=args.correlation,
            tracking_prior=tracking,
        )
        settings[origin] = target.nominal_target
        print(
            f"  store-wide setting at {origin.date()}: {target.nominal_target:.2%} served {target.backtest_fill:.1%}"
            f" in {target.n_windows} replayed weeks ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )

    def latest_origin(week):
        return max(o for o in ORIGINS if o < week)

    def policy_levels(frames, level_of):
        targets = np.zeros((len(skus), len(weeks)))
        for column, week in enumerate(weeks):
            origin = latest_origin(week)
            target = level_of(frames[origin], origin, week)
            targets[:, column] = target.reindex(skus).fillna(0.0).to_numpy()
        return targets

    def item_levels(calibrated, tracked=False):
        def level_of(frame, origin, week):
            options = {"calibration": fill_calibrations[origin, tracked]} if calibrated else {}
            if tracked:
                frame = track_forecasts(frame, sold, week - pd.Timedelta(weeks=1), prior_units=tracking)
            table = reorder_levels(
                frame[frame.ds >= week],
                LEAD_TIME,
                REVIEW,
                args.fill,
                service_measure="fill_rate",
                correlation=args.correlation,
                **options,
            )
            return table.set_index("unique_id").order_up_to

        return level_of

    def product_levels(frame, origin, week):
        if tracking is not None:
            frame = track_forecasts(frame, sold, week - pd.Timedelta(weeks=1), prior_units=tracking)
        else:
            frame = frame[frame.ds >= week]
        table = allocate_fill_rate(
            frame, LEAD_TIME, REVIEW, settings[origin], unit_value=price_by_sku, correlation=args.correlation
        )
        return table.set_index("unique_id").order_up_to

    def seed_levels(frame, origin, week):
        frame = frame[frame.ds >= week]
        protection = (
            frame.sort_values("ds").groupby("unique_id")["mean"].apply(lambda m: m.iloc[: LEAD_TIME + REVIEW].sum())
        )
        return np.ceil(protection.clip(lower=0.0))

    ours_policies = {
        "(a) reorder_levels, uncalibrated": item_levels(calibrated=False),
        "(a) reorder_levels, calibrated": item_levels(calibrated=True),
        **({"(a) reorder_levels, tracked, calibrated": item_levels(True, tracked=True)} if tracking else {}),
        "(p) product: store-wide, calibrated": product_levels,
    }
    results = {}
    for name, level_of in ours_policies.items():
        started = time.perf_counter()
        targets = policy_levels(ours, level_of)
        # periodic review up to S: order whenever the position is below S
        results[name] = simulate(demand, targets, targets - 1, targets[:, 0], deliveries)
        print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)

    # (b) min/max from the 8-week mean before each week, k searched to match each of our policies' fill rates
    history = weekly[weekly.unique_id.isin(skus)].pivot_table(
        index="unique_id", columns="ds", values="y", aggfunc="sum"
    )
    history = history.reindex(index=skus, columns=pd.date_range(weekly.ds.min(), END, freq="W-SUN")).fillna(0.0)
    mean8 = np.stack(
        [history.loc[:, : week - pd.Timedelta(weeks=1)].iloc[:, -8:].mean(axis=1).to_numpy() for week in weeks], axis=1
    )

    def min_max(k):
        low = mean8 * LEAD_TIME * k
        high = low + mean8 * REVIEW
        return simulate(demand, np.ceil(high), np.ceil(low), np.ceil(low[:, 0]), deliveries)

    matched = {}
    for name in ours_policies:
        fill = results[name]["served"].sum() / demand.sum()
        lo_k, hi_k = 0.0, 64.0
        for _ in range(40):
            k = (lo_k + hi_k) / 2
            reached = min_max(k)["served"].sum() / demand.sum()
            lo_k, hi_k = (k, hi_k) if reached < fill else (lo_k, k)
        matched[name] = f"(b) min/max k={hi_k:.2f}"
        results[matched[name]] = min_max(hi_k)

    targets_c = policy_levels(seed, seed_levels)
    results["(c) LSTM, no safety stock"] = simulate(demand, targets_c, targets_c - 1, targets_c[:, 0], deliveries)
    results["(d) perfect foresight"] = {"served": demand.copy(), "on_hand": demand / 2.0}

    rows = [row for name, result in results.items() for row in summary(name, demand, result, prices, classes)]
    header = f"{'policy':<42}{'class':<7}{'SKUs':>6}{'fill':>8}{'on-hand units':>15}{'on-hand value':>15}"
    print(f"\n{header}{'stock-out wks':>15}")
    for row in rows:
        print(
            f"{row['policy']:<42}{row['class']:<7}{row['skus']:>6}{row['fill']:>8.1%}{row['units']:>15,.0f}"
            f"{row['value']:>15,.0f}{row['stockout_weeks']:>15,}"
        )
    overall = pd.DataFrame(rows).query("`class` == 'all'").set_index("policy")
    foresight = overall.loc["(d) perfect foresight", "value"]
    print(f"\nAt a {args.fill:.0%} fill-rate target:")
    for name in ours_policies:
        value, fill = overall.loc[name, "value"], overall.loc[name, "fill"]
        rule = overall.loc[matched[name], "value"]
        than = f"{1 - value / rule:.1%} less" if value <= rule else f"{value / rule - 1:.1%} more"
        print(
            f"  {name}: realised fill {fill:.1%}, stock value {value / 1e6:.2f}M, {than} than min/max at the same"
            f" fill ({rule / 1e6:.2f}M), {value / foresight:.1f}x perfect foresight"
        )


if __name__ == "__main__":
    main()
