"""Stock levels and the daily demand series that forecasting reads."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class InventoryLevel(models.Model):
    """Stock of one variant at one location, at the platform's newest reported state.

    An update carrying an older `platform_updated_at` never overwrites a newer one
    (see `inventory_ai.services.inventory.record_inventory_level`).
    """

    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="inventory_levels"
    )
    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="inventory_levels"
    )
    available = models.IntegerField(verbose_name=_("available"))
    on_hand = models.IntegerField(verbose_name=_("on hand"), null=True, blank=True)
    incoming = models.PositiveIntegerField(
        verbose_name=_("incoming"),
        default=0,
        help_text=_("Units on their way here by the store's own purchase orders and transfers (Shopify)"),
    )
    platform_updated_at = models.DateTimeField(verbose_name=_("platform updated at"))
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"), auto_now=True)

    class Meta:
        verbose_name = _("inventory level")
        verbose_name_plural = _("inventory levels")
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

    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="daily_demand"
    )
    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="daily_demand"
    )
    date = models.DateField(verbose_name=_("date"))
    units = models.IntegerField(verbose_name=_("units"), default=0)
    revenue = models.DecimalField(verbose_name=_("revenue"), max_digits=14, decimal_places=2, default=0)
    out_of_stock = models.BooleanField(verbose_name=_("out of stock"), default=False)

    class Meta:
        verbose_name = _("daily demand")
        verbose_name_plural = _("daily demands")
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
