"""Stock levels and the daily demand series that forecasting reads."""

from __future__ import annotations

from django.db import models


class InventoryLevel(models.Model):
    """Stock of one variant at one location, at the platform's newest reported state.

    An update carrying an older `platform_updated_at` never overwrites a newer one
    (see `inventory_ai.services.inventory.record_inventory_level`).
    """

    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="inventory_levels")
    location = models.ForeignKey("inventory_ai.Location", on_delete=models.CASCADE, related_name="inventory_levels")
    available = models.IntegerField()
    on_hand = models.IntegerField(null=True, blank=True)
    incoming = models.PositiveIntegerField(
        default=0, help_text="Units on their way here by the store's own purchase orders and transfers (Shopify)"
    )
    platform_updated_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "location"], name="inventory_level_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.variant} @ {self.location}: {self.available}"


class DailyDemand(models.Model):
    """Net units sold of one variant at one location on one day (the store's local date).

    Maintained incrementally as orders, edits, cancellations and refunds arrive; `manage.py rebuild_demand`
    recomputes it from orders. `out_of_stock` marks days the variant had no stock there, so forecasting can treat
    them as censored (missing demand) rather than zero demand.
    """

    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="daily_demand")
    location = models.ForeignKey("inventory_ai.Location", on_delete=models.CASCADE, related_name="daily_demand")
    date = models.DateField()
    units = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    out_of_stock = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "location", "date"], name="daily_demand_unique"),
        ]
        indexes = [
            models.Index(fields=["date"], name="daily_demand_date"),
            # a run reads each chunk's variants over their useful history only (a window of dates): without it the
            # planner intersects the date index with the variant index, a scan of the whole table per chunk
            models.Index(fields=["variant", "date"], name="daily_demand_variant_date"),
        ]

    def __str__(self) -> str:
        return f"{self.variant} {self.date}: {self.units}"
