"""Admin of stock levels and daily demand (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Sum
from django.utils.translation import ngettext

from inventory_ai.admin.common import ReadOnlyAdminMixin
from inventory_ai.models import (
    DailyDemand,
    InventoryLevel,
)


@admin.register(InventoryLevel)
class InventoryLevelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("variant", "location", "available", "on_hand", "platform_updated_at")
    list_filter = ("location__store", "location")
    search_fields = ("variant__sku", "variant__title")
    list_select_related = ("variant", "location")


@admin.register(DailyDemand)
class DailyDemandAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("date", "variant", "location", "units", "revenue", "out_of_stock")
    list_filter = ("location__store", "out_of_stock")
    search_fields = ("variant__sku", "variant__title")
    date_hierarchy = "date"
    list_select_related = ("variant", "location")
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            totals = response.context_data["cl"].queryset.aggregate(units=Sum("units"), revenue=Sum("revenue"))
            units, revenue = totals["units"] or 0, totals["revenue"] or 0
            title = ngettext(
                # Translators: the daily demand list's title, with the total units sold and revenue of the rows shown.
                "Daily demand: %(units)s units, %(revenue)s revenue",
                "Daily demand: %(units)s units, %(revenue)s revenue",
                units,
            )
            response.context_data["title"] = title % {"units": f"{units:,}", "revenue": f"{revenue:,.2f}"}
        return response
