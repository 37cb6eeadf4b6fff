"""Replenishment: restock suggestions from the current forecast, stock levels and each variant's policy.

Suggestions are recomputed after each retrain (all SKUs after a full run, so that ABC/XYZ classes follow the
latest sales) and when a variant's stock changes. A variant has at most one pending suggestion: a new computation
with other numbers supersedes it; the same numbers leave it as it is, so repeated recomputations are harmless.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Sum
from django.utils import translation
from pandas.api.typing import DataFrameGroupBy

from forecasting.policy import (
    abc_classes,
    reorder_levels,
    xyz_classes,
)
from inventory_ai.choices import FillRateScope, RunStatus, ServiceMeasure, SuggestionStatus
from inventory_ai.models import (
    ClassPolicy,
    DailyDemand,
    ForecastRun,
    InventoryLevel,
    Location,
    ReorderSuggestion,
    Store,
    Variant,
)
from inventory_ai.selectors import policy_inputs, reasons

# Decisions on suggestions and adjustments live in their own module; the admin, the API and the tests still reach
# them here.
from inventory_ai.services import auto_approval, purchasing, stock_health
from inventory_ai.services.decisions import create_adjustment, decide_adjustment, decide_suggestion  # noqa: F401

logger = logging.getLogger(__name__)

CLASS_WEEKS = 8  # ABC by revenue over these last weeks
VARIABILITY_WEEKS = 26  # XYZ by the variability of weekly demand over these last weeks
PEAK_RATIO = 1.25  # a forecast week this far above the average is worth naming as a peak
TRACKING_NOTE = 0.1  # sales this far off the forecast since the run are worth naming in a suggestion's reason


def _current_run(store: Store) -> ForecastRun | None:
    return ForecastRun.objects.filter(store=store, status=RunStatus.SUCCEEDED).order_by("-finished_at", "-pk").first()


def update_classes(store: Store, until: date) -> dict[str, int]:
    """Set every live variant's ABC class (revenue in the last 8 weeks, unless a planner set one) and XYZ class
    (variability of weekly demand in the last 26 weeks); returns the count per computed ABC class."""
    weekly = pd.DataFrame(
        list(
            DailyDemand.objects.filter(
                variant__store=store, date__gt=until - timedelta(weeks=VARIABILITY_WEEKS), date__lte=until
            ).values_list("variant_id", "date", "units", "revenue")
        ),
        columns=["unique_id", "date", "units", "revenue"],
    )
    variants = list(Variant.objects.filter(store=store, deleted_at__isnull=True).only("pk", "abc_class_override"))
    ids = pd.Index([v.pk for v in variants])
    if weekly.empty:
        revenue = pd.Series(0.0, index=ids)
        variability = pd.Series("Z", index=ids)
    else:
        weekly["date"] = pd.to_datetime(weekly["date"])
        weekly["revenue"] = weekly["revenue"].astype(float)
        recent = weekly[weekly["date"] > pd.Timestamp(until - timedelta(weeks=CLASS_WEEKS))]
        revenue = recent.groupby("unique_id")["revenue"].sum().reindex(ids).fillna(0.0)
        weeks = pd.date_range(end=pd.Timestamp(until), periods=VARIABILITY_WEEKS, freq="7D")
        weekly["week"] = weeks.searchsorted(weekly["date"])
        grid = (
            weekly.groupby(["unique_id", "week"])["units"].sum().unstack(fill_value=0).reindex(index=ids, fill_value=0)
        )
        grid = grid.reindex(columns=range(VARIABILITY_WEEKS), fill_value=0)
        long = grid.stack().rename("y").reset_index().rename(columns={"level_0": "unique_id"})
        long.columns = ["unique_id", "week", "y"]
        variability = xyz_classes(long).reindex(ids).fillna("Z")
    abc = abc_classes(revenue)
    for variant in variants:
        variant.abc_class = variant.abc_class_override or abc.get(variant.pk, "C")
        variant.xyz_class = variability.get(variant.pk, "Z")
    Variant.objects.bulk_update(variants, ["abc_class", "xyz_class"], batch_size=1000)
    return dict(abc.value_counts())


def recompute_store_suggestions(
    store_id: int, run_id: int | None = None, variant_ids: list[int] | None = None
) -> dict[str, int]:
    """`recompute_suggestions` by ids, as a task names them (the run: the current one when None). After a forecast
    run (`run_id` given), the store's overstock and dead-stock report is computed again too."""
    store = Store.objects.get(pk=store_id)
    run = ForecastRun.objects.filter(pk=run_id).first() if run_id else None
    counts = recompute_suggestions(store, variant_ids, run) if variant_ids != [] else {}
    if run is not None:
        counts["stock_health_rows"] = stock_health.refresh(store)
    return counts


def recompute_suggestions(
    store: Store, variant_ids: list[int] | None = None, run: ForecastRun | None = None
) -> dict[str, int]:
    """Recompute the restock suggestions of the store's variants (all, or `variant_ids`) from the current forecast;
    returns counts of what happened."""
    run = run or _current_run(store)
    if run is None:
        return {"no_forecast": 1}
    if variant_ids is None:
        update_classes(store, run.data_until)
    store_wide = store.service_measure == ServiceMeasure.FILL_RATE and store.fill_rate_scope == FillRateScope.STORE
    # A store-wide fill rate is shared out over all the items of a service level: recomputing a few of them still
    # needs all the others, though only the few are written.
    wanted = None if variant_ids is None else set(variant_ids)
    live = _live_forecast(store, run, None if store_wide else variant_ids)
    if live is None:
        return {"no_forecast": 1}
    all_frame, factors, variants = live
    period_days = _period_days(all_frame)
    params = _variant_params(store, run, all_frame, variants, factors)
    table = pd.DataFrame.from_dict(params, orient="index")
    frame = all_frame
    if wanted is not None and store_wide:
        # levels only for the items asked for; the others only take part in sharing out the fill rate
        frame = frame[frame["unique_id"].isin(wanted)]
        if frame.empty:
            return {"no_forecast": 1}
    items = _items(store, frame, variants, params)
    levels = _levels(store, items, table, period_days)
    if store_wide:
        _share_store_fill_rate(store, run, levels, all_frame, table, items, period_days)
    location = (
        Location.objects.filter(store=store, is_primary=True).first() or Location.objects.filter(store=store).first()
    )
    if location is None:
        return {"no_location": 1}
    counts = _write_suggestions(store, run, location, levels, items, wanted)
    # the store's rules approve what they allow (none does until a planner turns one on)
    approved = auto_approval.apply_rules(store, None if wanted is None else sorted(wanted))
    if approved:
        counts["auto_approved"] = approved
    return counts


def _live_forecast(
    store: Store, run: ForecastRun, variant_ids: list[int] | None
) -> tuple[pd.DataFrame, pd.Series | None, dict[int, Variant]] | None:
    """The run's forecast (of `variant_ids`, or all) tracked against the sales since the run, kept to the variants
    not deleted; with the tracking factors and the variants it names (by pk). None when no forecast is left."""
    frame = policy_inputs.forecast_frame(run, variant_ids, overrides=True)  # the planners' corrections apply
    if frame.empty:
        return None
    frame, factors = policy_inputs.track_sales(store, run, frame)
    if frame.empty:
        return None
    variants = Variant.objects.select_related("product").in_bulk(list(pd.Index(sorted(frame["unique_id"].unique()))))
    frame = frame[frame["unique_id"].isin([pk for pk, v in variants.items() if v.deleted_at is None])]
    if frame.empty:
        return None
    return frame, factors, variants


def _period_days(frame: pd.DataFrame) -> float:
    """The length of a forecast period in days: the median gap between the forecast's dates (a week for one date)."""
    if len(frame["ds"].unique()) < 2:
        return 7.0
    return float(np.median(np.diff(np.sort(frame["ds"].unique())) / np.timedelta64(1, "D")))


def _variant_params(
    store: Store, run: ForecastRun, frame: pd.DataFrame, variants: dict[int, Variant], factors: pd.Series | None
) -> dict[int, dict]:
    """Each forecast variant's policy settings by pk: lead and review days, service level, MOQ and case pack (its own,
    else its supplier's terms where they have one, else its ABC class's, else the store's), and how its sales
    tracked the forecast since the run."""
    classes = {policy.abc_class: policy for policy in ClassPolicy.objects.filter(store=store)}
    ids = pd.Index(sorted(frame["unique_id"].unique()))
    suppliers = purchasing.suppliers_of(store, [variants[pk] for pk in ids])
    params = {}
    for pk in ids:
        variant = variants[pk]
        variant.store = store
        policy = classes.get(variant.abc_class)
        supplier, item = suppliers.get(pk, (None, None))
        service = variant.service_level or (policy.service_level if policy and policy.service_level else None)
        review = (
            variant.review_period_days
            or (supplier.review_period_days if supplier else None)
            or (policy.review_period_days if policy and policy.review_period_days else None)
        )
        params[pk] = {
            "lead_days": variant.lead_time_days
            or (supplier.lead_time_days if supplier else None)
            or store.default_lead_time_days,
            "review_days": review or store.default_review_period_days,
            # how much the supplier's lead time varies (days): the item-by-item levels protect against it
            "lead_std_days": (supplier.lead_time_std_days if supplier and supplier.lead_time_std_days else 0.0)
            if not variant.lead_time_days
            else 0.0,
            "service": service or store.default_service_level,
            "moq": variant.moq or (item.moq if item else None) or store.default_moq,
            "case_pack": variant.case_pack
            or (item.pack_size if item else None)
            or (supplier.case_pack if supplier else None)
            or store.default_case_pack,
        }
    if factors is not None:
        for pk in ids:
            params[pk]["tracking"] = (float(factors.get(pk, 1.0)), run.data_until)
    return params


@dataclass
class _Items:
    """The variants whose levels are computed, with what a suggestion records of each (by pk): their forecast, the
    variants, their settings, the stock held at active locations and the stock on order."""

    frame: pd.DataFrame
    ids: pd.Index
    variants: dict[int, Variant]
    params: dict[int, dict]
    stock: pd.Series
    incoming: pd.Series


def _items(store: Store, frame: pd.DataFrame, variants: dict[int, Variant], params: dict[int, dict]) -> _Items:
    """The variants of `frame` with their stock: available at the store's active locations (never below 0) and on
    order (what open purchase orders still await)."""
    ids = pd.Index(sorted(frame["unique_id"].unique()))
    available = dict(
        InventoryLevel.objects.filter(variant_id__in=list(ids), location__active=True)
        .values("variant_id")
        .annotate(total=Sum("available"))
        .values_list("variant_id", "total")
    )
    on_order = purchasing.on_order(list(ids))
    stock = pd.Series({pk: max(available.get(pk, 0), 0) for pk in ids}, dtype=float)
    incoming = pd.Series({pk: on_order.get(pk, 0) for pk in ids}, dtype=float)
    return _Items(frame, ids, variants, params, stock, incoming)


def _levels(store: Store, items: _Items, table: pd.DataFrame, period_days: float) -> pd.DataFrame:
    """The reorder point, order-up-to level and suggested quantity of each item (indexed by pk), from its forecast,
    settings (`table`, in days, turned into periods) and stock; with the ordering economics when the store sets
    them."""
    holding = None
    if store.ordering_cost and store.holding_cost_rate:
        holding = pd.Series(
            {pk: float(items.variants[pk].unit_cost or 0) * store.holding_cost_rate for pk in items.ids}, dtype=float
        )
    return reorder_levels(
        items.frame,
        lead_time=table["lead_days"] / period_days,
        review_period=table["review_days"] / period_days,
        lead_time_std=table["lead_std_days"] / period_days,
        service_level=table["service"],
        service_measure=store.service_measure,
        on_hand=items.stock,
        on_order=items.incoming,
        moq=table["moq"],
        case_pack=table["case_pack"],
        ordering_cost=float(store.ordering_cost) if holding is not None else None,
        holding_cost=holding,
    ).set_index("unique_id")


def _share_store_fill_rate(
    store: Store,
    run: ForecastRun,
    levels: pd.DataFrame,
    all_frame: pd.DataFrame,
    table: pd.DataFrame,
    items: _Items,
    period_days: float,
) -> None:
    """Replace the items' levels (in place) by their share of the store-wide fill rate, reached by all the items of
    `all_frame` together, and keep each item's share and the fill rate asked of its forecast in its settings (for
    the reason)."""
    position = items.stock + items.incoming
    policy_inputs.share_fill_rate(store, run, levels, all_frame, table, items.variants, position, period_days)
    for pk, item_fill, setting in table[["item_fill", "fill_setting"]].itertuples():
        items.params[pk]["item_fill"] = item_fill
        items.params[pk]["fill_setting"] = setting


def _write_suggestions(
    store: Store, run: ForecastRun, location: Location, levels: pd.DataFrame, items: _Items, wanted: set[int] | None
) -> dict[str, int]:
    """Bring the pending suggestion of each item (of `wanted`, or all) in line with its levels; returns how many
    suggestions were created, kept and superseded, and for how many items none was needed."""
    counts = {"created": 0, "kept": 0, "superseded": 0, "none_needed": 0}
    peaks = items.frame.sort_values("ds").groupby("unique_id")
    for pk, row in levels.iterrows():
        if wanted is not None and pk not in wanted:
            continue
        for outcome in _replace_suggestion(store, run, location, pk, row, items, peaks):
            counts[outcome] += 1
    return counts


def _replace_suggestion(
    store: Store, run: ForecastRun, location: Location, pk: int, row: pd.Series, items: _Items, peaks: DataFrameGroupBy
) -> list[str]:
    """Keep the variant's pending suggestion if it has the same numbers; else supersede it and create one when an
    order is needed. Returns what happened ("kept", or "superseded" and/or "created" or "none_needed")."""
    with transaction.atomic():
        pending = (
            ReorderSuggestion.objects.select_for_update().filter(variant_id=pk, status=SuggestionStatus.PENDING).first()
        )
        quantity = int(row["suggested_qty"])
        if pending is not None and (pending.suggested_qty, pending.order_up_to) == (quantity, row["order_up_to"]):
            return ["kept"]
        outcomes = []
        if pending is not None:
            pending.status = SuggestionStatus.SUPERSEDED
            pending.save(update_fields=["status"])
            outcomes.append("superseded")
        if quantity <= 0:
            return [*outcomes, "none_needed"]
        ReorderSuggestion.objects.create(**_suggestion_fields(store, run, location, pk, row, items, peaks))
        return [*outcomes, "created"]


def _suggestion_fields(
    store: Store, run: ForecastRun, location: Location, pk: int, row: pd.Series, items: _Items, peaks: DataFrameGroupBy
) -> dict:
    """The fields of a new suggestion for the variant `pk`: its levels, the stock and settings they came from, the
    dates by which it runs out and must be ordered, and the reason in words."""
    variant, p = items.variants[pk], items.params[pk]
    weekly = row["protection_demand"] / ((p["lead_days"] + p["review_days"]) / 7.0)
    available, on_order = int(items.stock[pk]), int(items.incoming[pk])
    stockout = row["stockout_date"]
    stockout_date = None if stockout is None or pd.isna(stockout) else pd.Timestamp(stockout).date()
    figures = reason_figures(row, p, store.service_measure, available, on_order, weekly, peaks.get_group(pk))
    return {
        "store": store,
        "variant": variant,
        "location": location,
        "forecast_run": run,
        "available": available,
        "on_order": on_order,
        "reorder_point": int(row["reorder_point"]),
        "order_up_to": int(row["order_up_to"]),
        "suggested_qty": int(row["suggested_qty"]),
        "lead_time_days": p["lead_days"],
        "review_period_days": p["review_days"],
        "service_level": p["service"],
        "service_measure": store.service_measure,
        "abc_class": variant.abc_class,
        "xyz_class": variant.xyz_class,
        "weekly_demand": weekly,
        "expected_fill_rate": float(row["expected_fill_rate"]),
        "days_of_cover": None if math.isinf(row["days_of_cover"]) else float(row["days_of_cover"]),
        "stockout_date": stockout_date,
        "order_by": stockout_date - timedelta(days=p["lead_days"]) if stockout_date else None,
        "unit_cost": variant.unit_cost,
        "reason": explain(figures),
        "reason_data": figures,
    }


def reason_figures(row, params, measure, available, on_order, weekly, forecast) -> dict:
    """The figures a suggestion's reason is written from (`ReorderSuggestion.reason_data`, shape in
    `selectors.reasons`): its demand (and a peak week, and sales off the forecast, when worth naming), lead time,
    service level, stock and order."""
    means = forecast["mean"].to_numpy(float)
    peak = None
    if len(means) and means.mean() > 0 and means.max() >= PEAK_RATIO * means.mean():
        peak = pd.Timestamp(forecast["ds"].iloc[int(np.argmax(means))]).date().isoformat()
    factor, since = params.get("tracking", (1.0, None))
    tracked = since is not None and abs(factor - 1.0) >= TRACKING_NOTE
    item_fill = params.get("item_fill")
    shared = item_fill is not None and not math.isnan(item_fill)
    setting = params.get("fill_setting", params["service"])
    return {
        "version": reasons.VERSION,
        "weekly": _json_number(weekly),
        "peak_week": peak,
        "tracking_factor": _json_number(factor) if tracked else None,
        "tracking_since": pd.Timestamp(since).date().isoformat() if tracked else None,
        "lead_days": int(params["lead_days"]),
        "measure": str(measure),
        "service": _json_number(params["service"]),
        "item_fill": _json_number(item_fill) if shared else None,
        "fill_setting": _json_number(setting) if shared and setting - params["service"] >= 0.0005 else None,
        "order_up_to": int(row["order_up_to"]),
        "available": int(available),
        "on_order": int(on_order),
        "quantity": int(row["suggested_qty"]),
        "case_pack": int(params["case_pack"]),
    }


def _json_number(value) -> float | str:
    """A float JSON can hold: a number that is not finite as its text ("nan", "inf"), which `float()` reads back."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def explain(figures: dict) -> str:
    """The suggestion in a store admin's words, in English (the stored `reason`); `selectors.reasons.reason_text`
    writes the same in a reader's language."""
    with translation.override("en"):
        return reasons.render(figures)
