"""The overstock and dead-stock report's rows as last computed (`inventory_ai.services.stock_health`).

Computing the report reads every stocked variant's forecast and last sale: seconds for a store of 50,000 SKUs. So it
is computed after each forecast run (the nightly retrain and the hourly refresh) and kept here, and the page reads it
a page at a time, sorted and totalled by the database.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from inventory_ai.text import number

OVERSTOCK_DAYS = 180
DEAD_DAYS = 90


def stock_action(dead: bool, weeks_of_cover: float | None, excess_units: int) -> str:
    """What to do about an overstocked or dead variant, in the active language."""
    if dead:
        return _("Dead stock: clear it (a markdown or a bundle), return it to the supplier, or write it off")
    if weeks_of_cover is None:
        return _("No demand forecast: stop reordering and review it")
    text = ngettext(
        "Stop reordering; %(units)s units beyond %(weeks)s weeks could be promoted",
        "Stop reordering; %(units)s units beyond %(weeks)s weeks could be promoted",
        excess_units,
    )
    return text % {"units": number(excess_units), "weeks": OVERSTOCK_DAYS // 7}


class StockHealthRow(models.Model):
    """One overstocked or dead variant: its stock, its rate of sale and the value it ties up."""

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=gettext_lazy("store"), on_delete=models.CASCADE,
        related_name="stock_health_rows",
    )  # fmt: skip
    variant = models.OneToOneField(
        "inventory_ai.Variant", verbose_name=gettext_lazy("variant"), on_delete=models.CASCADE,
        related_name="stock_health",
    )  # fmt: skip
    # the variant's SKU when computed: the page's second sort key, read from this table's index
    sku = models.CharField(verbose_name=gettext_lazy("sku"), max_length=255, blank=True)
    on_hand = models.IntegerField(verbose_name=gettext_lazy("on hand"))
    weekly_demand = models.FloatField(verbose_name=gettext_lazy("weekly demand"))
    weeks_of_cover = models.FloatField(verbose_name=gettext_lazy("weeks of cover"), null=True, blank=True)
    last_sale_on = models.DateField(verbose_name=gettext_lazy("last sale"), null=True, blank=True)
    unit_cost = models.DecimalField(
        verbose_name=gettext_lazy("unit cost"), max_digits=12, decimal_places=4, null=True, blank=True
    )
    value = models.DecimalField(
        verbose_name=gettext_lazy("value"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    excess_units = models.IntegerField(verbose_name=gettext_lazy("excess units"))
    dead = models.BooleanField(verbose_name=gettext_lazy("dead stock"))
    overstock = models.BooleanField(verbose_name=gettext_lazy("overstock"))

    class Meta:
        verbose_name = gettext_lazy("stock health row")
        verbose_name_plural = gettext_lazy("stock health rows")
        # the page's order within a store has its index on PostgreSQL (migration 0027: SQLite refuses NULLS LAST
        # in an index): its first rows are read from it, not sorted out of them all

    def __str__(self) -> str:
        return str(self.variant)

    def days_since_sale(self, today: datetime.date) -> int | None:
        return None if self.last_sale_on is None else (today - self.last_sale_on).days

    @property
    def action(self) -> str:
        return stock_action(self.dead, self.weeks_of_cover, self.excess_units)
