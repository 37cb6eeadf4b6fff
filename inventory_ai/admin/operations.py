"""Admin of the running services: heartbeats, and the store syncs (backfills, reconciliations)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.admin.common import ReadOnlyAdminMixin
from inventory_ai.models import (
    ServiceHeartbeat,
    SyncRun,
)


@admin.register(ServiceHeartbeat)
class ServiceHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "last_seen", "detail")


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Backfills and reconciliations: progress (pages, counts), what was corrected, errors."""

    list_display = ("id", "store", "kind", "status", "phase", "pages", "counts_display", "created_at", "finished_at")
    list_filter = ("kind", "status", "store")
    date_hierarchy = "created_at"
    readonly_fields = ("corrections_display",)
    exclude = ("corrections",)

    @admin.display(description=_("Counts"))
    def counts_display(self, obj):
        return ", ".join(f"{name.replace('_', ' ')} {value:,}" for name, value in sorted(obj.counts.items()) if value)

    # Translators: the stock levels a reconciliation corrected (ours differed from the store's).
    @admin.display(description=_("Corrections"))
    def corrections_display(self, obj):
        if not obj.corrections:
            return "-"
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            gettext("SKU"),
            gettext("Location"),
            # Translators: column header: the stock level Inventory AI had recorded before the correction.
            pgettext("sync correction", "Ours"),
            # Translators: column header: the stock level the store (Shopify, WooCommerce) reported.
            pgettext("sync correction", "Store"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((c["sku"], c["location"] or "-", c["ours"], c["store"]) for c in obj.corrections),
            ),
        )
