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
from django.db.models import Max, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from forecasting.policy import stock_flags
from inventory_ai.models import DailyDemand, InventoryLevel, Store, Variant
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.selectors.policy_inputs import forecast_frame
from inventory_ai.text import number

OVERSTOCK_DAYS = 180
DEAD_DAYS = 90


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
        if self.dead:
            return _("Dead stock: clear it (a markdown or a bundle), return it to the supplier, or write it off")
        if self.weeks_of_cover is None:
            return _("No demand forecast: stop reordering and review it")
        text = ngettext(
            "Stop reordering; %(units)s units beyond %(weeks)s weeks could be promoted",
            "Stop reordering; %(units)s units beyond %(weeks)s weeks could be promoted",
            self.excess_units,
        )
        return text % {"units": number(self.excess_units), "weeks": OVERSTOCK_DAYS // 7}


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
    flagged = flags[flags["overstock"] | flags["dead_stock"]].index
    variants = Variant.objects.select_related("product").in_bulk(list(flagged))
    rows = []
    for pk in flagged:
        variant, units, daily = variants[pk], int(held[pk]), float(rate[pk])
        cost = variant.unit_cost
        rows.append(
            StockRow(
                store=store,
                variant=variant,
                on_hand=units,
                weekly_demand=daily * 7,
                weeks_of_cover=units / (daily * 7) if daily > 0 else None,
                days_since_sale=None if math.isinf(since[pk]) else int(since[pk]),
                unit_cost=cost,
                value=(cost * units).quantize(Decimal("0.01")) if cost is not None else None,
                excess_units=max(units - math.ceil(daily * overstock_days), 0),
                dead=bool(flags.at[pk, "dead_stock"]),
                overstock=bool(flags.at[pk, "overstock"]),
            )
        )
    return rows
