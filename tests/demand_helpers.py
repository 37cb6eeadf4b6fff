"""Test helpers: demand recomputed from orders, independently of the incremental path."""

from __future__ import annotations

from collections import defaultdict

from inventory_ai.models import DailyDemand, OrderLine, Store


def demand_from_orders(store: Store) -> dict[tuple[str, str], int]:
    """(sku, local date ISO) -> net units, computed line by line from the stored orders."""
    cells: dict[tuple[str, str], int] = defaultdict(int)
    lines = OrderLine.objects.filter(order__store=store).select_related("order", "variant")
    for line in lines:
        if line.order.status != "open":
            continue
        units = max(0, min(line.current_quantity, line.quantity - line.refunded_quantity))
        if units:
            day = line.order.created_at.astimezone(store.tzinfo).date().isoformat()
            cells[(line.variant.sku, day)] += units
    return dict(cells)


def stored_demand(store: Store) -> dict[tuple[str, str], int]:
    """(sku, date ISO) -> units as maintained incrementally, leaving out cells that netted to zero."""
    rows = DailyDemand.objects.filter(variant__store=store).select_related("variant")
    cells: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        cells[(row.variant.sku, row.date.isoformat())] += row.units
    return {key: units for key, units in cells.items() if units}
