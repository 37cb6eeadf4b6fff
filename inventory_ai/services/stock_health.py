"""Keeping the overstock and dead-stock report (`StockHealthRow`): computed after each forecast run, and for a store
whose report was never computed when its page is first opened."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from inventory_ai.models import StockHealthRow, Store
from inventory_ai.selectors.stock_health import stock_health


def refresh(store: Store) -> int:
    """Compute the store's report and replace the kept one; returns its number of rows."""
    today = store.local_today()
    kept = [
        StockHealthRow(
            store=store, variant=row.variant, sku=row.variant.sku, on_hand=row.on_hand, weekly_demand=row.weekly_demand,
            weeks_of_cover=row.weeks_of_cover,
            last_sale_on=None if row.days_since_sale is None else today - timedelta(days=row.days_since_sale),
            unit_cost=row.unit_cost, value=row.value, excess_units=row.excess_units, dead=row.dead,
            overstock=row.overstock,
        )
        for row in stock_health([store]).rows
    ]  # fmt: skip
    with transaction.atomic():
        StockHealthRow.objects.filter(store=store).delete()
        StockHealthRow.objects.bulk_create(kept, batch_size=2000)
        store.stock_health_at = timezone.now()
        Store.objects.filter(pk=store.pk).update(stock_health_at=store.stock_health_at)
    return len(kept)


def ensure(stores: list[Store]) -> None:
    """Compute the report of each of these stores that has none yet."""
    for store in stores:
        if store.stock_health_at is None:
            refresh(store)
