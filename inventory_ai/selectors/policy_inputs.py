"""The replenishment policy's inputs, read from a forecast run: its forecasts tracked against the sales recorded
since it, and a store-wide fill rate shared out over the items at the least stock value, its setting calibrated on
the store's recent runs (memoised in the cache, never written to the database). Used by
`inventory_ai.services.replenishment`.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db.models import Max

from forecasting.data import period_alias
from forecasting.policy import allocate_fill_rate, economic_order_quantity, round_order
from forecasting.protection import calibrate_fill_target
from forecasting.tracking import DEFAULT_PRIOR_UNITS, scale_ahead, tracking_factors
from inventory_ai.choices import RunStatus
from inventory_ai.conf import get_option
from inventory_ai.models import DailyDemand, Forecast, ForecastRun, Store, Variant
from inventory_ai.selectors.drivers import apply_overrides
from inventory_ai.selectors.forecasts import last_complete_day

logger = logging.getLogger(__name__)


def forecast_frame(run: ForecastRun, variant_ids: list[int] | None, overrides: bool = False) -> pd.DataFrame:
    """The run's forecasts (of `variant_ids`, or all) as `forecast_many` returns them: `unique_id` (the variant id),
    `ds` (the period's last day), `mean` and the interval bounds; with `overrides`, the planners' active overrides
    applied (`drivers.apply_overrides`)."""
    rows = Forecast.objects.filter(run=run)
    if variant_ids is not None:
        rows = rows.filter(variant_id__in=variant_ids)
    records = []
    for variant_id, period_end, mean, bounds in rows.values_list("variant_id", "period_end", "mean", "bounds"):
        records.append({"unique_id": variant_id, "ds": pd.Timestamp(period_end), "mean": mean, **bounds})
    frame = pd.DataFrame(records)
    if overrides and not frame.empty:
        frame = apply_overrides(frame, run.store, run.freq).drop(columns=["model_mean", "override"])
    return frame


def _sales_known_until(store: Store, run: ForecastRun) -> date | None:
    """The last day of the last complete period with sales recorded to its end, when later than the run's history."""
    if run.data_until is None:
        return None
    latest = DailyDemand.objects.filter(variant__store=store).aggregate(latest=Max("date"))["latest"]
    if latest is None or latest <= run.data_until:
        return None
    return min(last_complete_day(store, run.freq), latest)


def _sales_by_period(store: Store, after: date, until: date, freq: str, variant_ids: list[int]) -> pd.DataFrame:
    """Units sold per variant and period (`unique_id, ds, y`, `ds` the period's last day) from `after` (excluded)
    to `until`."""
    rows = DailyDemand.objects.filter(
        variant__store=store, date__gt=after, date__lte=until, variant_id__in=variant_ids
    ).values_list("variant_id", "date", "units")
    sold = pd.DataFrame(list(rows), columns=["unique_id", "date", "y"])
    sold["ds"] = pd.PeriodIndex(pd.to_datetime(sold["date"]), freq=period_alias(freq)).end_time.normalize()
    return sold.groupby(["unique_id", "ds"], as_index=False)["y"].sum()


def track_sales(store: Store, run: ForecastRun, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series | None]:
    """The run's forecasts tracked against the sales recorded since it (`forecasting.tracking`): the periods still
    ahead, each item's scaled by how its sales compared with its forecast over the periods ended since the run, and
    those factors (None when no period has ended).

    A period counts as ended when it is complete in the store's time zone and sales are recorded up to its last day:
    a store whose recorded history stops (imported data, a paused sync) is read as the run left it, not as a store
    that stopped selling.
    """
    known = _sales_known_until(store, run)
    if known is None or frame.empty:
        return frame, None
    if not (frame["ds"] <= pd.Timestamp(known)).any():
        return frame, None
    sold = _sales_by_period(store, run.data_until, known, run.freq, list(frame["unique_id"].unique()))
    factors = tracking_factors(frame, sold, pd.Timestamp(known))
    return scale_ahead(frame, factors, pd.Timestamp(known)), factors


# How long a store-wide share-out is reused (per worker process) for recomputations after stock changes: it depends
# on the forecast run and the items' settings, not on stock, and takes seconds for thousands of items.
SHARE_CACHE_SECONDS = 3600


# The calibration of a store-wide fill rate replays at least this span of sales (its first protection period being a
# warm-up): long enough to hold several reviews, short enough to read the store's current phase.
REPLAY_DAYS = 56


def _calibrated_setting(
    store: Store, run: ForecastRun, ids: list[int], group: pd.DataFrame, unit_value: pd.Series, period_days: float
) -> float:
    """The setting to ask of the share-out so that it serves the service level the items of `group` share: the policy
    replayed week by week over the store's recent runs against what then sold (`calibrate_fill_target`), as it runs
    here (tracking each run against the sales since it). Forecasts that fell short of demand lately, or intervals too
    narrow for its lumps, ask for more; without runs old enough to replay, the service level itself."""
    target = float(group["service"].iloc[0])
    known = _sales_known_until(store, run) or run.data_until
    if known is None:
        return target
    # the runs replayed: from the latest made at least REPLAY_DAYS before the sales known (the earliest kept when none
    # is that old) to this one, one per period (a review reads the latest run made before it)
    by_cutoff: dict[date, ForecastRun] = {}
    candidates = ForecastRun.objects.filter(
        store=store,
        status=RunStatus.SUCCEEDED,
        freq=run.freq,
        data_until__gte=known - timedelta(days=int(get_option("CALIBRATION_HISTORY_DAYS"))),
        data_until__lte=run.data_until,
    ).order_by("-data_until", "-finished_at", "-pk")
    for candidate in candidates.only("pk", "data_until"):
        by_cutoff.setdefault(candidate.data_until, candidate)
    cutoffs = sorted(by_cutoff)
    if not cutoffs:
        return target
    start = max((cutoff for cutoff in cutoffs if cutoff <= known - timedelta(days=REPLAY_DAYS)), default=cutoffs[0])
    chosen: list[date] = []
    for cutoff in (cutoff for cutoff in cutoffs if cutoff >= start):
        if chosen and (cutoff - chosen[-1]).days < period_days and cutoff != cutoffs[-1]:
            continue
        chosen.append(cutoff)
    past = {pd.Timestamp(cutoff): forecast_frame(by_cutoff[cutoff], ids) for cutoff in chosen}
    past = {cutoff: frame for cutoff, frame in past.items() if not frame.empty}
    if not past:
        return target
    sold = _sales_by_period(store, min(past).date(), known, run.freq, ids)
    found = calibrate_fill_target(
        past,
        sold,
        lead_time=max(0, round(float(group["lead_days"].median()) / period_days)),
        review_period=max(1, round(float(group["review_days"].median()) / period_days)),
        target=target,
        as_of=pd.Timestamp(known),
        unit_value=unit_value,
        runs=len(past),
        tracking_prior=DEFAULT_PRIOR_UNITS,
    )
    if found.n_windows:
        logger.info(
            "store %s: a %.1f%% fill rate is asked of the share-out as %.2f%% (served %.1f%% in %d replayed weeks)",
            store.pk,
            100 * target,
            100 * found.nominal_target,
            100 * found.backtest_fill,
            found.n_windows,
        )
    return found.nominal_target


def _shares(
    store: Store,
    run: ForecastRun,
    frame: pd.DataFrame,
    table: pd.DataFrame,
    unit_value: pd.Series,
    period_days: float,
) -> dict[int, tuple[int, float, float]]:
    """Per item: its order-up-to level, expected fill rate and the setting asked of the share-out when the items of
    each service level reach it together at the least stock value (`forecasting.policy.allocate_fill_rate`, its
    setting calibrated on the store's recent runs); cached per run, settings and tracked forecasts."""
    # the frame is in the key: tracked against the sales since the run, it changes as they are recorded
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(
            pd.concat([table[["lead_days", "review_days", "service"]], unit_value.rename("value")], axis=1)
        )
        .to_numpy()
        .tobytes()
    )
    digest.update(pd.util.hash_pandas_object(frame[["unique_id", "ds", "mean"]], index=False).to_numpy().tobytes())
    settings_digest = digest.hexdigest()[:24]
    key = f"inventory-ai:fill-share:{run.pk}:{period_days:g}:{settings_digest}"
    shares = cache.get(key)
    if shares is None:
        shares = {}
        for _, group in table.groupby("service"):
            setting = _calibrated_setting(store, run, list(group.index), group, unit_value[group.index], period_days)
            allocation = allocate_fill_rate(
                frame[frame["unique_id"].isin(group.index)],
                lead_time=group["lead_days"] / period_days,
                review_period=group["review_days"] / period_days,
                target=setting,
                unit_value=unit_value[group.index],
            )
            for pk, level, fill in allocation[["unique_id", "order_up_to", "expected_fill_rate"]].itertuples(
                index=False
            ):
                shares[int(pk)] = (int(level), float(fill), setting)
        cache.set(key, shares, SHARE_CACHE_SECONDS)
    return shares


def share_fill_rate(
    store: Store,
    run: ForecastRun,
    levels: pd.DataFrame,
    frame: pd.DataFrame,
    table: pd.DataFrame,
    variants: dict[int, Variant],
    position: pd.Series,
    period_days: float,
) -> None:
    """Replace the levels of the items in `levels` (in place) by their share of a fill rate reached by all the items
    of `table` with the same service level together. `table` gains `item_fill`."""
    unit_value = pd.Series({pk: float(variants[pk].unit_cost or 0) for pk in table.index}, dtype=float)
    shares = _shares(store, run, frame, table, unit_value, period_days)
    table["item_fill"] = np.nan
    table["fill_setting"] = np.nan
    for pk in levels.index:
        if pk not in shares:
            continue
        order_up_to, item_fill, setting = shares[pk]
        row, params = levels.loc[pk], table.loc[pk]
        need = order_up_to - position[pk]
        periods = (params["lead_days"] + params["review_days"]) / period_days
        eoq = 0.0
        if store.ordering_cost and store.holding_cost_rate and periods > 0:
            per_year = row["protection_demand"] / periods * 365.0 / period_days
            holding = float(variants[pk].unit_cost or 0) * store.holding_cost_rate
            eoq = economic_order_quantity(per_year, float(store.ordering_cost), holding)
        levels.loc[pk, "order_up_to"] = order_up_to
        levels.loc[pk, "reorder_point"] = min(int(row["reorder_point"]), order_up_to)
        levels.loc[pk, "safety_stock"] = max(order_up_to - row["protection_demand"], 0.0)
        levels.loc[pk, "suggested_qty"] = round_order(
            max(need, eoq) if need > 0 else 0.0, int(params["moq"]), int(params["case_pack"])
        )
        levels.loc[pk, "expected_fill_rate"] = item_fill
        table.loc[pk, "item_fill"] = item_fill
        table.loc[pk, "fill_setting"] = setting
