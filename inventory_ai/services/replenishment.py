"""Replenishment: restock suggestions from the current forecast, stock levels and each variant's policy.

Suggestions are recomputed after each retrain (all SKUs after a full run, so that ABC/XYZ classes follow the
latest sales) and when a variant's stock changes. A variant has at most one pending suggestion: a new computation
with other numbers supersedes it; the same numbers leave it as it is, so repeated recomputations are harmless.
"""

from __future__ import annotations

import logging
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from forecasting.policy import (
    abc_classes,
    reorder_levels,
    xyz_classes,
)
from inventory_ai.choices import (
    AdjustmentReason,
    AdjustmentStatus,
    AuditAction,
    AuditSource,
    FillRateScope,
    RunStatus,
    ServiceMeasure,
    SuggestionStatus,
)
from inventory_ai.models import (
    ClassPolicy,
    DailyDemand,
    ForecastRun,
    InventoryLevel,
    Location,
    ReorderSuggestion,
    StockAdjustment,
    Store,
    Variant,
)
from inventory_ai.services import audit, policy_inputs, push

logger = logging.getLogger(__name__)

CLASS_WEEKS = 8  # ABC by revenue over these last weeks
VARIABILITY_WEEKS = 26  # XYZ by the variability of weekly demand over these last weeks
PEAK_RATIO = 1.25  # a forecast week this far above the average is worth naming as a peak
TRACKING_NOTE = 0.1  # sales this far off the forecast since the run are worth naming in a suggestion's reason


def _current_run(store: Store) -> ForecastRun | None:
    return ForecastRun.objects.filter(store=store, status=RunStatus.SUCCEEDED).order_by("-finished_at", "-pk").first()


def update_classes(store: Store, until: date) -> dict[str, int]:
    """Set every live variant's ABC class (revenue in the last 8 weeks) and XYZ class (variability of weekly demand
    in the last 26 weeks); returns the count per ABC class."""
    weekly = pd.DataFrame(
        list(
            DailyDemand.objects.filter(
                variant__store=store, date__gt=until - timedelta(weeks=VARIABILITY_WEEKS), date__lte=until
            ).values_list("variant_id", "date", "units", "revenue")
        ),
        columns=["unique_id", "date", "units", "revenue"],
    )
    variants = list(Variant.objects.filter(store=store, deleted_at__isnull=True).only("pk"))
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
        variant.abc_class = abc.get(variant.pk, "C")
        variant.xyz_class = variability.get(variant.pk, "Z")
    Variant.objects.bulk_update(variants, ["abc_class", "xyz_class"], batch_size=1000)
    return dict(abc.value_counts())


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
    frame = policy_inputs.forecast_frame(run, None if store_wide else variant_ids)
    if frame.empty:
        return {"no_forecast": 1}
    frame, factors = policy_inputs.track_sales(store, run, frame)
    if frame.empty:
        return {"no_forecast": 1}
    ids = pd.Index(sorted(frame["unique_id"].unique()))
    variants = Variant.objects.in_bulk(list(ids))
    frame = frame[frame["unique_id"].isin([pk for pk, v in variants.items() if v.deleted_at is None])]
    ids = pd.Index(sorted(frame["unique_id"].unique()))
    if not len(ids):
        return {"no_forecast": 1}
    period_days = (
        7.0
        if len(frame["ds"].unique()) < 2
        else float(np.median(np.diff(np.sort(frame["ds"].unique())) / np.timedelta64(1, "D")))
    )
    classes = {policy.abc_class: policy for policy in ClassPolicy.objects.filter(store=store)}
    params = {}
    for pk in ids:
        variant = variants[pk]
        variant.store = store
        policy = classes.get(variant.abc_class)
        service = variant.service_level or (policy.service_level if policy and policy.service_level else None)
        review = variant.review_period_days or (
            policy.review_period_days if policy and policy.review_period_days else None
        )
        params[pk] = {
            "lead_days": variant.effective_lead_time_days,
            "review_days": review or store.default_review_period_days,
            "service": service or store.default_service_level,
            "moq": variant.effective_moq,
            "case_pack": variant.effective_case_pack,
        }
    if factors is not None:
        for pk in ids:
            params[pk]["tracking"] = (float(factors.get(pk, 1.0)), run.data_until)
    table = pd.DataFrame.from_dict(params, orient="index")
    all_frame = frame
    if wanted is not None and store_wide:
        # levels only for the items asked for; the others only take part in sharing out the fill rate
        frame = frame[frame["unique_id"].isin(wanted)]
        ids = pd.Index(sorted(frame["unique_id"].unique()))
        if not len(ids):
            return {"no_forecast": 1}
    available = dict(
        InventoryLevel.objects.filter(variant_id__in=list(ids), location__active=True)
        .values("variant_id")
        .annotate(total=Sum("available"))
        .values_list("variant_id", "total")
    )
    on_order = _on_order(store, list(ids), {pk: p["lead_days"] for pk, p in params.items()})
    stock = pd.Series({pk: max(available.get(pk, 0), 0) for pk in ids}, dtype=float)
    incoming = pd.Series({pk: on_order.get(pk, 0) for pk in ids}, dtype=float)
    holding = None
    if store.ordering_cost and store.holding_cost_rate:
        holding = pd.Series(
            {pk: float(variants[pk].unit_cost or 0) * store.holding_cost_rate for pk in ids}, dtype=float
        )
    levels = reorder_levels(
        frame,
        lead_time=table["lead_days"] / period_days,
        review_period=table["review_days"] / period_days,
        service_level=table["service"],
        service_measure=store.service_measure,
        on_hand=stock,
        on_order=incoming,
        moq=table["moq"],
        case_pack=table["case_pack"],
        ordering_cost=float(store.ordering_cost) if holding is not None else None,
        holding_cost=holding,
    ).set_index("unique_id")
    if store_wide:
        policy_inputs.share_fill_rate(store, run, levels, all_frame, table, variants, stock + incoming, period_days)
        for pk, item_fill, setting in table[["item_fill", "fill_setting"]].itertuples():
            params[pk]["item_fill"] = item_fill
            params[pk]["fill_setting"] = setting
    location = (
        Location.objects.filter(store=store, is_primary=True).first() or Location.objects.filter(store=store).first()
    )
    if location is None:
        return {"no_location": 1}
    counts = {"created": 0, "kept": 0, "superseded": 0, "none_needed": 0}
    peaks = frame.sort_values("ds").groupby("unique_id")
    for pk, row in levels.iterrows():
        if wanted is not None and pk not in wanted:
            continue
        variant, p = variants[pk], params[pk]
        weekly = row["protection_demand"] / ((p["lead_days"] + p["review_days"]) / 7.0)
        with transaction.atomic():
            pending = (
                ReorderSuggestion.objects.select_for_update()
                .filter(variant_id=pk, status=SuggestionStatus.PENDING)
                .first()
            )
            quantity = int(row["suggested_qty"])
            if pending is not None and (pending.suggested_qty, pending.order_up_to) == (quantity, row["order_up_to"]):
                counts["kept"] += 1
                continue
            if pending is not None:
                pending.status = SuggestionStatus.SUPERSEDED
                pending.save(update_fields=["status"])
                counts["superseded"] += 1
            if quantity <= 0:
                counts["none_needed"] += 1
                continue
            stockout = row["stockout_date"]
            stockout_date = None if stockout is None or pd.isna(stockout) else pd.Timestamp(stockout).date()
            ReorderSuggestion.objects.create(
                store=store,
                variant=variant,
                location=location,
                forecast_run=run,
                available=int(stock[pk]),
                on_order=int(incoming[pk]),
                reorder_point=int(row["reorder_point"]),
                order_up_to=int(row["order_up_to"]),
                suggested_qty=quantity,
                lead_time_days=p["lead_days"],
                review_period_days=p["review_days"],
                service_level=p["service"],
                service_measure=store.service_measure,
                abc_class=variant.abc_class,
                xyz_class=variant.xyz_class,
                weekly_demand=weekly,
                expected_fill_rate=float(row["expected_fill_rate"]),
                days_of_cover=None if math.isinf(row["days_of_cover"]) else float(row["days_of_cover"]),
                stockout_date=stockout_date,
                order_by=stockout_date - timedelta(days=p["lead_days"]) if stockout_date else None,
                unit_cost=variant.unit_cost,
                reason=explain(
                    variant,
                    row,
                    p,
                    store.service_measure,
                    int(stock[pk]),
                    int(incoming[pk]),
                    weekly,
                    peaks.get_group(pk),
                ),
            )
            counts["created"] += 1
    return counts


def _on_order(store: Store, variant_ids: list[int], lead_days: dict[int, int]) -> dict[int, int]:
    """Approved restocks still on their way: approved within the variant's lead time (after it, the goods are
    expected in the store's stock levels)."""
    horizon = timezone.now() - timedelta(days=max(lead_days.values(), default=0))
    out: dict[int, int] = {}
    approved = ReorderSuggestion.objects.filter(
        variant_id__in=variant_ids, status=SuggestionStatus.APPROVED, decided_at__gte=horizon
    )
    for suggestion in approved:
        if suggestion.decided_at >= timezone.now() - timedelta(days=lead_days.get(suggestion.variant_id, 0)):
            out[suggestion.variant_id] = out.get(suggestion.variant_id, 0) + suggestion.quantity
    return out


def explain(variant, row, params, measure, available, on_order, weekly, forecast) -> str:
    """The suggestion in a store admin's words."""
    parts = [f"Sells ~{weekly:,.1f}/week" if weekly < 10 else f"Sells ~{weekly:,.0f}/week"]
    means = forecast["mean"].to_numpy(float)
    if len(means) and means.mean() > 0 and means.max() >= PEAK_RATIO * means.mean():
        peak = pd.Timestamp(forecast["ds"].iloc[int(np.argmax(means))])
        parts[0] += f", peaking in the week to {peak:%d %b}"
    factor, since = params.get("tracking", (1.0, None))
    if since is not None and abs(factor - 1.0) >= TRACKING_NOTE:
        parts[0] += f" (sales since {since:%d %b} ran at {factor:.1f}× the forecast)"
    lead_weeks = params["lead_days"] / 7
    parts.append(
        f"{lead_weeks:g}-week lead time" if params["lead_days"] % 7 == 0 else f"{params['lead_days']}-day lead time"
    )
    what = "fill rate" if measure == "fill_rate" else "cycle service"
    item_fill = params.get("item_fill")
    if item_fill is not None and not math.isnan(item_fill):
        asked = ""
        setting = params.get("fill_setting", params["service"])
        if setting - params["service"] >= 0.0005:
            asked = f" (asked of the forecasts as {setting:.1%}: lately they served less than they promised)"
        parts.append(
            f"{params['service']:.0%} fill rate over the store's items{asked}, {item_fill:.0%} of this one's demand: "
            f"{int(row['order_up_to']):,} on hand or on order"
        )
    else:
        parts.append(f"{params['service']:.0%} {what} needs {int(row['order_up_to']):,} on hand or on order")
    have = f"you have {available:,}" + (f" (+{on_order:,} on order)" if on_order else "")
    quantity = int(row["suggested_qty"])
    pack = params["case_pack"]
    packs = f" ({quantity // pack} cases of {pack})" if pack > 1 else ""
    return "; ".join(parts) + f"; {have} → order {quantity:,}{packs}"


def decide_suggestion(
    suggestion: ReorderSuggestion,
    approve: bool,
    user,
    quantity: int | None = None,
    source: str = AuditSource.ADMIN,
    note: str = "",
) -> bool:
    """Approve (optionally with an edited quantity) or reject a pending suggestion, and log it in the audit log.

    Returns whether it changed: a suggestion already decided or superseded (a newer forecast replaced it while the
    planner looked) is left alone.
    """
    if quantity is not None and quantity < 0:
        raise ValueError("a quantity cannot be negative")
    with transaction.atomic():
        current = ReorderSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if current.status != SuggestionStatus.PENDING:
            return False
        if approve and quantity is not None and quantity != current.quantity:
            _record_edit(current, "quantity", current.quantity, quantity, user, source, note)
            current.approved_qty = quantity
        before = {"status": current.status, "quantity": current.quantity}
        _stamp_decision(current, SuggestionStatus.APPROVED if approve else SuggestionStatus.REJECTED, user)
        current.save(update_fields=["status", "approved_qty", "decided_at", "decided_by"])
        audit.record(
            current,
            AuditAction.APPROVE if approve else AuditAction.REJECT,
            user,
            source,
            before=before,
            after={"status": current.status, "quantity": current.quantity},
            note=note,
        )
        if approve and current.quantity > 0:
            _expect_restock(current, user, source)
    suggestion.refresh_from_db()
    return True


def _held_stock(variant_id: int, location_id: int) -> int | None:
    """The stock we hold for a variant at a location (kept current by the store's webhooks), or None."""
    levels = InventoryLevel.objects.filter(variant_id=variant_id, location_id=location_id)
    return levels.values_list("available", flat=True).first()


def _record_edit(target, field: str, before: int, after: int, user, source: str, note: str) -> None:
    audit.record(target, AuditAction.EDIT, user, source, before={field: before}, after={field: after}, note=note)


def _stamp_decision(target: ReorderSuggestion | StockAdjustment, status: str, user) -> None:
    target.status = status
    target.decided_at = timezone.now()
    target.decided_by = user if user is not None and user.is_authenticated else None


def _expect_restock(suggestion: ReorderSuggestion, user, source: str) -> StockAdjustment:
    """The approved order, waiting to be received: a pending restock adjustment of its quantity at its location.
    Approving it when the goods arrive adds them to the store's stock (rebased on the stock held then)."""
    held = _held_stock(suggestion.variant_id, suggestion.location_id)
    expected = held if held is not None else suggestion.available
    adjustment = StockAdjustment.objects.create(
        store_id=suggestion.store_id,
        variant_id=suggestion.variant_id,
        location_id=suggestion.location_id,
        suggestion=suggestion,
        expected_available=expected,
        new_available=expected + suggestion.quantity,
        reason=AdjustmentReason.RESTOCK,
        note=f"Order of {suggestion.quantity:,} approved from suggestion #{suggestion.pk}: approve when it arrives.",
        created_by=user if user is not None and user.is_authenticated else None,
    )
    audit.record(
        adjustment,
        AuditAction.CREATE,
        user,
        source,
        after={"expected_available": expected, "new_available": adjustment.new_available, "reason": "restock"},
        note=f"from suggestion #{suggestion.pk}",
    )
    return adjustment


def create_adjustment(
    variant: Variant,
    location: Location,
    user,
    new_available: int | None = None,
    delta: int | None = None,
    reason: str = AdjustmentReason.MANUAL,
    note: str = "",
    source: str = AuditSource.ADMIN,
) -> StockAdjustment:
    """Propose a stock change at a location, as a new quantity or as a delta on the quantity we last read.

    The quantity read now is kept as `expected_available`: the push applies only if the store still holds it.
    """
    if (new_available is None) == (delta is None):
        raise ValueError("give either a new quantity or a delta")
    if variant.store_id != location.store_id:
        raise ValueError("the variant and the location belong to different stores")
    level = InventoryLevel.objects.filter(variant=variant, location=location).first()
    expected = level.available if level is not None else 0
    target = new_available if new_available is not None else expected + delta
    if target < 0:
        raise ValueError(f"the new quantity would be negative ({expected} {delta:+d})")
    with transaction.atomic():
        adjustment = StockAdjustment.objects.create(
            store_id=variant.store_id,
            variant=variant,
            location=location,
            expected_available=expected,
            new_available=target,
            reason=reason,
            note=note,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        audit.record(
            adjustment,
            AuditAction.CREATE,
            user,
            source,
            after={"expected_available": expected, "new_available": target, "reason": reason},
            note=note,
        )
    return adjustment


def decide_adjustment(
    adjustment: StockAdjustment,
    approve: bool,
    user,
    new_available: int | None = None,
    source: str = AuditSource.ADMIN,
    note: str = "",
) -> bool:
    """Approve (optionally with an edited quantity) or reject a pending adjustment, and log it in the audit log."""
    if new_available is not None and new_available < 0:
        raise ValueError("a quantity cannot be negative")
    with transaction.atomic():
        current = StockAdjustment.objects.select_for_update().get(pk=adjustment.pk)
        if current.status != AdjustmentStatus.PENDING:
            return False
        if approve and new_available is not None and new_available != current.new_available:
            _record_edit(current, "new_available", current.new_available, new_available, user, source, note)
            current.new_available = new_available
        before = {"status": current.status, "expected_available": current.expected_available}
        if approve and current.reason == AdjustmentReason.RESTOCK:
            # A received restock adds units: it is rebased on the stock we hold now (kept current by the store's
            # webhooks), since a restock proposed days ago would otherwise always meet a stale quantity.
            held = _held_stock(current.variant_id, current.location_id)
            if held is not None and held != current.expected_available:
                delta = current.delta
                current.expected_available, current.new_available = held, max(held + delta, 0)
        _stamp_decision(current, AdjustmentStatus.APPROVED if approve else AdjustmentStatus.REJECTED, user)
        current.save(update_fields=["status", "expected_available", "new_available", "decided_at", "decided_by"])
        audit.record(
            current,
            AuditAction.APPROVE if approve else AuditAction.REJECT,
            user,
            source,
            before=before,
            after={
                "status": current.status,
                "expected_available": current.expected_available,
                "new_available": current.new_available,
            },
            note=note,
        )
        if approve:
            push.enqueue_push(current.pk)
    adjustment.refresh_from_db()
    return True
