"""Daily demand: what each order line contributes, and atomic incremental updates of `DailyDemand`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, tzinfo
from decimal import Decimal

from inventory_ai.models import DailyDemand, Order, OrderLine
from inventory_ai.services.bulk import upsert_add

# (variant pk, location pk, local date) -> [units, revenue]
DemandKey = tuple[int, int, date]


def line_net_units(line: OrderLine) -> int:
    """Units a line of an open order contributes to demand.

    Shopify's `current_quantity` already excludes units removed by edits and refunds; a refund can also arrive
    before the order update that reflects it. Taking the smaller of the two views counts each removal once.
    """
    return max(0, min(line.current_quantity, line.quantity - line.refunded_quantity))


def order_contribution(order: Order, lines: Iterable[OrderLine], tz: tzinfo) -> dict[DemandKey, list]:
    """The demand an order contributes, per (variant, location, local order date)."""
    contribution: dict[DemandKey, list] = {}
    if not order.counts_as_demand:
        return contribution
    day = order.created_at.astimezone(tz).date()
    for line in lines:
        units = line_net_units(line)
        if units:
            key = (line.variant_id, order.location_id, day)
            cell = contribution.setdefault(key, [0, Decimal(0)])
            cell[0] += units
            cell[1] += units * Decimal(line.unit_price)
    return contribution


class DemandDeltas:
    """Accumulates changes of demand and applies them in one statement per batch."""

    def __init__(self) -> None:
        self._cells: dict[DemandKey, list] = defaultdict(lambda: [0, Decimal(0)])

    def add(self, after: dict[DemandKey, list], before: dict[DemandKey, list] | None = None) -> None:
        """Add `after - before` (two contributions of the same order)."""
        for key, (units, revenue) in after.items():
            cell = self._cells[key]
            cell[0] += units
            cell[1] += revenue
        for key, (units, revenue) in (before or {}).items():
            cell = self._cells[key]
            cell[0] -= units
            cell[1] -= revenue

    def __len__(self) -> int:
        return len(self._cells)

    def apply(self) -> int:
        """Write the accumulated changes as atomic increments; returns the number of cells changed.

        `units = units + delta` row by row is correct under concurrency (two workers adding to one day never lose
        an update), unlike recomputing a cell from orders in READ COMMITTED. Cells are written in key order so that
        concurrent transactions lock rows in the same order and cannot deadlock.
        """
        rows = [
            (variant, location, day, units, revenue)
            for (variant, location, day), (units, revenue) in sorted(self._cells.items())
            if units or revenue
        ]
        upsert_add(
            DailyDemand._meta.db_table,
            ["variant_id", "location_id", "date"],
            ["units", "revenue"],
            rows,
            column_types=["bigint", "bigint", "date", "integer", "numeric"],
            insert_defaults={"out_of_stock": False},
        )
        self._cells.clear()
        return len(rows)


def rebuild_demand(store) -> int:
    """Recompute the store's daily demand from its orders; returns the number of non-zero cells.

    Out-of-stock flags are kept. Runs in one transaction; on PostgreSQL the demand table is locked against
    concurrent writers for the duration, so an order applied meanwhile waits and then adds its change on top.
    """
    from django.db import connection, transaction

    tz = store.tzinfo
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {connection.ops.quote_name(DailyDemand._meta.db_table)} IN EXCLUSIVE MODE")
        rows = DailyDemand.objects.filter(variant__store=store)
        rows.update(units=0, revenue=0)
        deltas = DemandDeltas()
        orders = Order.objects.filter(store=store, status="open").in_bulk()
        lines_by_order: dict[int, list] = defaultdict(list)
        for line in OrderLine.objects.filter(order__store=store, order__status="open").only(
            "order_id", "variant_id", "quantity", "current_quantity", "refunded_quantity", "unit_price"
        ):
            lines_by_order[line.order_id].append(line)
        for order_pk, lines in lines_by_order.items():
            deltas.add(order_contribution(orders[order_pk], lines, tz))
        changed = deltas.apply()
        rows.filter(units=0, revenue=0, out_of_stock=False).delete()
    return changed
