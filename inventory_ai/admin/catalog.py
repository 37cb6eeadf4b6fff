"""Admin for products and variants, with each variant's forecast page."""

from __future__ import annotations

import csv
import secrets
from dataclasses import astuple

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from inventory_ai import selectors
from inventory_ai.charts import drivers_chart, forecast_chart
from inventory_ai.models import Location, Product, ReorderSuggestion, Store, Variant
from inventory_ai.selectors.drivers import period_drivers
from inventory_ai.selectors.stock_health import stored_rows, stored_totals
from inventory_ai.services import planning_settings
from inventory_ai.services import stock_health as stock_health_service
from inventory_ai.text import csv_safe

STOCK_HEALTH_PAGE = 100  # rows of the overstock page at a time


class VariantInline(admin.TabularInline):
    model = Variant
    fields = ("sku", "title", "price", "unit_cost", "supplier", "lead_time_days", "is_placeholder")
    readonly_fields = ("sku", "title", "price", "is_placeholder")
    extra = 0
    show_change_link = True
    can_delete = False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "platform_id", "store", "vendor", "status", "deleted_at")
    list_filter = ("store", "status")
    search_fields = ("title", "platform_id", "variants__sku")
    inlines = [VariantInline]
    readonly_fields = ("store", "platform_id", "platform_updated_at", "deleted_at")


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = (
        "sku",
        "title",
        "store",
        "price",
        "unit_cost",
        "supplier",
        "lead_time_days",
        "abc_class",
        "xyz_class",
        "forecast_link",
    )
    list_filter = ("store", "abc_class", "xyz_class", "is_placeholder", "supplier")
    search_fields = ("sku", "title", "platform_id", "product__title")
    list_select_related = ("store",)
    # A search or a filter counts its own rows once; not the whole catalogue's again (50,000 rows) beside it.
    show_full_result_count = False
    readonly_fields = ("store", "product", "platform_id", "inventory_item_id", "platform_updated_at", "deleted_at")
    fieldsets = (
        (None, {"fields": ("store", "product", "sku", "title", "price", "is_placeholder")}),
        (
            _("Replenishment (empty: the store's default)"),
            {
                "fields": (
                    "unit_cost",
                    "supplier",
                    "lead_time_days",
                    "review_period_days",
                    "service_level",
                    "moq",
                    "case_pack",
                    "abc_class_override",
                )
            },
        ),
        # Translators: title of the variant's fields as the e-commerce platform (Shopify, WooCommerce) knows them.
        (_("Platform"), {"fields": ("platform_id", "inventory_item_id", "platform_updated_at", "deleted_at")}),
    )

    change_form_template = "admin/inventory_ai/variant/change_form.html"

    @admin.display(description=_("Forecast"))
    def forecast_link(self, obj):
        url = reverse("admin:inventory_ai_variant_forecast", args=[obj.pk])
        # Translators: link text to a variant's forecast chart, in the "Forecast" column of the variant list.
        return format_html('<a href="{}">{}</a>', url, gettext("chart"))

    def get_urls(self):
        forecast = self.admin_site.admin_view(self.forecast_view)
        health = self.admin_site.admin_view(self.stock_health_view)
        settings_page = self.admin_site.admin_view(self.planning_settings_view)
        return [
            path("planning-settings/", settings_page, name="inventory_ai_variant_planning_settings"),
            path("<int:object_id>/forecast/", forecast, name="inventory_ai_variant_forecast"),
            path("stock-health/", health, name="inventory_ai_variant_stock_health"),
            *super().get_urls(),
        ]

    def planning_settings_view(self, request):
        """Every SKU's planning settings as CSV or Excel, and back: an uploaded file is previewed, then applied."""
        store = Store.objects.filter(pk=request.GET.get("store") or request.POST.get("store") or 0).first()
        store = store or Store.objects.order_by("domain").first()
        if store is None or not self.has_view_permission(request):
            raise PermissionDenied
        kind = request.GET.get("export")
        if kind in (planning_settings.CSV, planning_settings.XLSX):
            content_type = "text/csv; charset=utf-8" if kind == "csv" else (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
            response = HttpResponse(planning_settings.export(store, kind), content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="planning-settings-{store.pk}.{kind}"'
            return response
        context = {**self.admin_site.each_context(request), "title": gettext("Planning settings"), "opts": self.opts,
                   "store": store, "stores": Store.objects.order_by("domain"),
                   "can_change": request.user.has_perm("inventory_ai.change_planning_settings")}  # fmt: skip
        if request.method == "POST":
            if not request.user.has_perm("inventory_ai.change_planning_settings"):
                raise PermissionDenied
            if request.POST.get("token"):
                pending = request.session.pop(f"planning-settings-{request.POST['token']}", None)
                if pending is None or pending["store"] != store.pk:
                    expired = gettext("That preview has expired: upload the file again.")
                    self.message_user(request, expired, messages.ERROR)
                else:
                    changes = [planning_settings.Change(*row) for row in pending["changes"]]
                    written, stale = planning_settings.apply(store, changes, request.user)
                    # The English keeps "setting(s)" for any count; the plural forms are there for the translations.
                    changed = ngettext("%(count)s setting(s) changed.", "%(count)s setting(s) changed.", written)
                    self.message_user(request, changed % {"count": f"{written:,}"})
                    for line in stale[:20]:
                        self.message_user(request, line, messages.WARNING)
                return HttpResponseRedirect(f"{request.path}?store={store.pk}")
            upload = request.FILES.get("file")
            if upload is None:
                context["error"] = gettext("Choose a CSV or Excel file.")
            else:
                kind = planning_settings.XLSX if upload.name.lower().endswith(".xlsx") else planning_settings.CSV
                try:
                    found = planning_settings.preview(store, upload.read(), kind)
                except ValueError as exc:
                    context["error"] = str(exc)
                else:
                    token = secrets.token_urlsafe(12)
                    request.session[f"planning-settings-{token}"] = {
                        "store": store.pk, "changes": [list(astuple(change)) for change in found.changes]}  # fmt: skip
                    context.update(preview=found, token=token)
        return TemplateResponse(request, "admin/inventory_ai/variant/planning_settings.html", context)

    def stock_health_view(self, request):
        """Overstock and dead stock: the value each ties up, its weeks of cover and what to do (CSV with ?csv=1)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        stores = Store.objects.order_by("domain")
        chosen = request.GET.get("store")
        if chosen and chosen.isdigit():
            stores = stores.filter(pk=int(chosen))
        stores = list(stores)
        # the report kept since the last forecast run, read a page at a time; computed now for a store without one
        stock_health_service.ensure(stores)
        rows = stored_rows(stores)
        if request.GET.get("csv"):
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="overstock-and-dead-stock.csv"'
            writer = csv.writer(response)
            writer.writerow(["store", "sku", "product", "on_hand", "weekly_demand", "weeks_of_cover", "days_since_sale",
                             "unit_cost", "value", "currency", "excess_units", "dead", "action"])  # fmt: skip
            for row in rows.iterator(chunk_size=2000):
                days = row.days_since_sale(row.store.local_today())
                writer.writerow([csv_safe(value) for value in (
                    row.store.domain, row.variant.sku, row.variant.display_title, row.on_hand,
                    round(row.weekly_demand, 2), "" if row.weeks_of_cover is None else round(row.weeks_of_cover, 1),
                    "" if days is None else days, row.unit_cost or "", row.value or "",
                    row.store.currency, row.excess_units, "yes" if row.dead else "", row.action)])  # fmt: skip
            return response
        page = Paginator(rows, STOCK_HEALTH_PAGE).get_page(request.GET.get("page"))
        for row in page.object_list:
            row.days_ago = row.days_since_sale(row.store.local_today())
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Overstock and dead stock"),
            "opts": self.opts,
            "totals": stored_totals(stores),
            "computed_at": min((store.stock_health_at for store in stores), default=None),
            # the dearest rows a page at a time (the totals and the CSV cover them all)
            "page": page,
            "stores": Store.objects.order_by("domain"),
            "chosen": chosen or "",
        }
        return TemplateResponse(request, "admin/inventory_ai/variant/stock_health.html", context)

    def forecast_view(self, request, object_id: int):
        """The variant's demand history with its forecast, bands and stock plan; the chosen model against the
        alternatives; the current suggestion with its explanation; stock per location."""
        variant = get_object_or_404(Variant.objects.select_related("store", "product"), pk=object_id)
        if not self.has_view_permission(request, variant):
            raise PermissionDenied
        overview = selectors.variant_overview(variant)
        suggestion = overview.suggestion
        chart = forecast_chart(
            overview.history,
            overview.forecast,
            reorder_point=suggestion.reorder_point if suggestion else None,
            order_up_to=suggestion.order_up_to if suggestion else None,
            available=overview.available if suggestion or overview.levels else None,
            event_spans=event_spans(overview),
        )
        periods = [(p.start, p.end) for p in overview.history] + [(p.start, p.end) for p in overview.forecast]
        origin = overview.history[-1].end if overview.history else timezone.localdate()
        drivers = drivers_chart(len(overview.history), period_drivers(variant, periods, origin))
        suggestion_admin = self.admin_site.get_model_admin(ReorderSuggestion)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{variant.sku or variant.platform_id} — {variant.display_title}",
            "subtitle": gettext("Forecast"),
            "opts": self.opts,
            "original": variant,
            "overview": overview,
            "chart": chart,
            "drivers_chart": drivers,
            "can_decide": suggestion is not None
            and suggestion.status == "pending"
            and suggestion_admin.has_approve_permission(request),
        }
        return TemplateResponse(request, "admin/inventory_ai/variant/forecast.html", context)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "platform_id", "store", "is_primary", "active", "latitude", "longitude")
    list_filter = ("store", "is_primary", "active")
    search_fields = ("name", "platform_id")


def event_spans(overview) -> list[tuple[int, int]]:
    """The (first, last) chart positions of the periods each of the SKU's events overlaps."""
    periods = [(p.start, p.end) for p in overview.history] + [(p.start, p.end) for p in overview.forecast]
    spans = []
    for event in overview.events:
        touched = [i for i, (start, end) in enumerate(periods) if start <= event.ends_on and end >= event.starts_on]
        if touched:
            spans.append((touched[0], touched[-1]))
    return spans
