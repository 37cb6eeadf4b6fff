"""Stock levels, and the out-of-stock days they imply for demand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import connection, transaction

from inventory_ai.models import DailyDemand, InventoryLevel, Store

# A level that stayed at zero longer than this is not back-filled day by day from a single event (the daily sweep
# marks ongoing stock-outs instead).
MAX_BACKFILL_DAYS = 366


def apply_inventory_level(
    store: Store, variant_id: int, location_id: int, available: int, updated_at: datetime, on_hand: int | None = None
) -> bool:
    """Store a stock level unless a newer one is stored, and mark out-of-stock days. Returns whether it applied.

    A day counts as out of stock when the variant had no stock there at any time that day: the day a level drops to
    zero or below, every day it stays there, and the day it comes back.
    """
    tz = store.tzinfo
    with transaction.atomic():
        previous = InventoryLevel.objects.select_for_update().filter(variant_id=variant_id, location_id=location_id)
        previous = previous.values_list("available", "platform_updated_at").first()
        if not record_inventory_level(variant_id, location_id, available, updated_at, on_hand):
            return False
        today = updated_at.astimezone(tz).date()
        days: list[date] = []
        if available <= 0:
            days.append(today)
        if previous is not None and previous[0] <= 0:
            start = max(previous[1].astimezone(tz).date(), today - timedelta(days=MAX_BACKFILL_DAYS))
            days.extend(start + timedelta(days=offset) for offset in range((today - start).days + 1))
        mark_out_of_stock(variant_id, location_id, sorted(set(days)))
    return True


def record_inventory_level(
    variant_id: int, location_id: int, available: int, updated_at: datetime, on_hand: int | None = None
) -> bool:
    """Store a stock level unless a newer one is already stored. Returns whether this update was applied.

    One statement (insert, or update guarded by the timestamp) so that two concurrent deliveries of different ages
    can never leave the older value behind.
    """
    table = connection.ops.quote_name(InventoryLevel._meta.db_table)
    sql = (
        # `incoming` is only read by reconciliations (`records`): a new level starts with none on its way
        f"INSERT INTO {table} (variant_id, location_id, available, on_hand, incoming, platform_updated_at, "
        "recorded_at) VALUES (%s, %s, %s, %s, 0, %s, CURRENT_TIMESTAMP) "
        "ON CONFLICT (variant_id, location_id) DO UPDATE SET available = excluded.available, "
        "on_hand = excluded.on_hand, platform_updated_at = excluded.platform_updated_at, "
        "recorded_at = excluded.recorded_at "
        f"WHERE {table}.platform_updated_at < excluded.platform_updated_at"
    )
    with connection.cursor() as cursor:
        # Adapted as the ORM would: on SQLite timestamps are compared as text, so they must all be naive UTC.
        cursor.execute(
            sql, [variant_id, location_id, available, on_hand, connection.ops.adapt_datetimefield_value(updated_at)]
        )
        return cursor.rowcount == 1


def mark_out_of_stock(variant_id: int, location_id: int, days: list[date]) -> None:
    """Flag the days as out of stock (creating zero-demand rows where none exist)."""
    if not days:
        return
    table = connection.ops.quote_name(DailyDemand._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (variant_id, location_id, date, units, revenue, out_of_stock) "
            "VALUES (%s, %s, %s, 0, 0, %s) ON CONFLICT (variant_id, location_id, date) DO UPDATE SET out_of_stock = %s",
            [(variant_id, location_id, day, True, True) for day in days],
        )


def mark_current_stockouts() -> int:
    """Flag today for every level that is out of stock now (run daily: covers stock-outs with no new events)."""
    count = 0
    levels = InventoryLevel.objects.filter(available__lte=0).select_related("variant__store")
    for level in levels.iterator():
        store = level.variant.store
        today = datetime.now(store.tzinfo).date()
        mark_out_of_stock(level.variant_id, level.location_id, [today])
        count += 1
    return count
