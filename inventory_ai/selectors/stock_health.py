"""Overstock and dead stock: what a store's stock ties up beyond what it sells, with what to do about it.

A variant with stock on hand is overstocked when that stock covers more than `overstock_days` at its forecast rate
(or it has no forecast demand at all), and dead when nothing sold for `dead_days` (`forecasting.policy.stock_flags`).
Each row carries its value at unit cost, its weeks of cover, the units beyond the overstock horizon and a suggested
action. Totals are per currency, never summed across currencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from django.db.models import Count, F, Max, Q, Sum

from forecasting.policy import stock_flags
from inventory_ai.models import DailyDemand, InventoryLevel, StockHealthRow, Store, Variant
from inventory_ai.models.stock_health import DEAD_DAYS, OVERSTOCK_DAYS, stock_action
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.selectors.policy_inputs import forecast_frame


@dataclass(frozen=True)
class StockRow:
    store: Store
    variant: Variant
    on_hand: int
    weekly_demand: float
    weeks_of_cover: float | None  # None: no forecast demand
    days_since_sale: int | None  # None: never sold
    unit_cost: Decimal | None
    value: Decimal | None
    excess_units: int
    dead: bool
    overstock: bool

    @property
    def action(self) -> str:
        """What to do about it, in the active language."""
        return stock_action(self.dead, self.weeks_of_cover, self.excess_units)


@dataclass
class StockHealth:
    rows: list[StockRow] = field(default_factory=list)
    # currency -> {"value", "units", "skus", "dead_value", "without_cost"}
    totals: dict[str, dict] = field(default_factory=dict)


def stock_health(stores: list[Store], overstock_days: int = OVERSTOCK_DAYS, dead_days: int = DEAD_DAYS) -> StockHealth:
    """The overstocked and dead variants of these stores, dearest first."""
    health = StockHealth()
    for store in stores:
        health.rows += _store_rows(store, overstock_days, dead_days)
    health.rows.sort(key=lambda row: (row.value is None, -(row.value or 0), row.variant.sku))
    for row in health.rows:
        totals = health.totals.setdefault(
            row.store.currency, {"value": Decimal("0"), "units": 0, "skus": 0, "dead_value": Decimal("0"),
                                 "without_cost": 0},
        )  # fmt: skip
        totals["units"] += row.on_hand
        totals["skus"] += 1
        if row.value is None:
            totals["without_cost"] += 1
            continue
        totals["value"] += row.value
        if row.dead:
            totals["dead_value"] += row.value
    return health


def _store_rows(store: Store, overstock_days: int, dead_days: int) -> list[StockRow]:
    held = dict(
        InventoryLevel.objects.filter(variant__store=store, variant__deleted_at__isnull=True, location__active=True)
        .values("variant_id")
        .annotate(total=Sum("available"))
        .filter(total__gt=0)
        .values_list("variant_id", "total")
    )
    if not held:
        return []
    ids = list(held)
    rate = pd.Series(0.0, index=pd.Index(ids))
    run = current_run(store)
    if run is not None:
        frame = forecast_frame(run, ids)
        if not frame.empty:
            dates = sorted(frame["ds"].unique())
            period_days = (dates[1] - dates[0]) / pd.Timedelta(days=1) if len(dates) > 1 else 7.0
            means = frame.groupby("unique_id")["mean"].mean() / period_days
            rate = means.reindex(ids).fillna(0.0).clip(lower=0.0)
    today = store.local_today()
    last_sale = dict(
        DailyDemand.objects.filter(variant_id__in=ids)
        .filter(Q(units__gt=0))
        .values("variant_id")
        .annotate(last=Max("date"))
        .values_list("variant_id", "last")
    )
    since = pd.Series({pk: (today - last_sale[pk]).days if pk in last_sale else math.inf for pk in ids})
    on_hand = pd.Series(held, dtype=float)
    flags = stock_flags(on_hand, rate, since, overstock_days=overstock_days, dead_days=dead_days)
    flags = flags[flags["overstock"] | flags["dead_stock"]]
    variants = Variant.objects.select_related("product").in_bulk(list(flags.index))
    daily_rates, days_since = rate.reindex(flags.index).to_numpy(), since.reindex(flags.index).to_numpy()
    rows = []
    for pk, dead, overstock, daily, days in zip(
        flags.index, flags["dead_stock"], flags["overstock"], daily_rates, days_since, strict=True
    ):
        variant, units, daily = variants[pk], int(held[pk]), float(daily)
        cost = variant.unit_cost
        rows.append(
            StockRow(
                store=store,
                variant=variant,
                on_hand=units,
                weekly_demand=daily * 7,
                weeks_of_cover=units / (daily * 7) if daily > 0 else None,
                days_since_sale=None if math.isinf(days) else int(days),
                unit_cost=cost,
                value=(cost * units).quantize(Decimal("0.01")) if cost is not None else None,
                excess_units=max(units - math.ceil(daily * overstock_days), 0),
                dead=bool(dead),
                overstock=bool(overstock),
            )
        )
    return rows


def stored_rows(stores: list[Store]):
    """The kept report's rows of these stores, store by store, dearest first (a queryset: the page reads a slice of
    it, in the order of the table's index)."""
    return (
        StockHealthRow.objects.filter(store__in=stores)
        .select_related("store", "variant__product")
        .order_by("store_id", F("value").desc(nulls_last=True), "sku", "pk")
    )


def stored_totals(stores: list[Store]) -> dict[str, dict]:
    """The kept report's totals per currency, as `StockHealth.totals`."""
    totals = {}
    for row in (
        StockHealthRow.objects.filter(store__in=stores)
        .values("store__currency")
        .annotate(
            units=Sum("on_hand"), skus=Count("pk"), tied=Sum("value"),
            dead_tied=Sum("value", filter=Q(dead=True)), without_cost=Count("pk", filter=Q(value__isnull=True)),
        )
        .order_by("store__currency")
    ):  # fmt: skip
        currency = row.pop("store__currency")
        totals[currency] = {
            "units": row["units"], "skus": row["skus"], "without_cost": row["without_cost"],
            "value": row["tied"] or Decimal("0"), "dead_value": row["dead_tied"] or Decimal("0"),
        }  # fmt: skip
    return totals
