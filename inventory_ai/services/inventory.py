"""Stock levels."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from inventory_ai.models import InventoryLevel


def record_inventory_level(
    variant_id: int, location_id: int, available: int, updated_at: datetime, on_hand: int | None = None
) -> bool:
    """Store a stock level unless a newer one is already stored. Returns whether this update was applied.

    One statement (insert, or update guarded by the timestamp) so that two concurrent deliveries of different ages
    can never leave the older value behind.
    """
    table = connection.ops.quote_name(InventoryLevel._meta.db_table)
    sql = (
        f"INSERT INTO {table} (variant_id, location_id, available, on_hand, platform_updated_at, recorded_at) "
        "VALUES (%s, %s, %s, %s, %s, CURRENT_TIMESTAMP) "
        "ON CONFLICT (variant_id, location_id) DO UPDATE SET available = excluded.available, "
        "on_hand = excluded.on_hand, platform_updated_at = excluded.platform_updated_at, "
        "recorded_at = excluded.recorded_at "
        f"WHERE {table}.platform_updated_at < excluded.platform_updated_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [variant_id, location_id, available, on_hand, updated_at])
        return cursor.rowcount == 1
