"""Admin for products and variants, with each variant's forecast page."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from inventory_ai import selectors
from inventory_ai.charts import drivers_chart, forecast_chart
from inventory_ai.models import Location, Product, ReorderSuggestion, Variant
from inventory_ai.selectors.drivers import period_drivers


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
    readonly_fields = ("store", "product", "platform_id", "inventory_item_id", "platform_updated_at", "deleted_at")
    fieldsets = (
        (None, {"fields": ("store", "product", "sku", "title", "price", "is_placeholder")}),
        (
            "Replenishment (empty: the store's default)",
            {
                "fields": (
                    "unit_cost",
                    "supplier",
                    "lead_time_days",
                    "review_period_days",
                    "service_level",
                    "moq",
                    "case_pack",
                )
            },
        ),
        ("Platform", {"fields": ("platform_id", "inventory_item_id", "platform_updated_at", "deleted_at")}),
    )

    change_form_template = "admin/inventory_ai/variant/change_form.html"

    @admin.display(description="Forecast")
    def forecast_link(self, obj):
        url = reverse("admin:inventory_ai_variant_forecast", args=[obj.pk])
        return format_html('<a href="{}">chart</a>', url)

    def get_urls(self):
        forecast = self.admin_site.admin_view(self.forecast_view)
        return [
            path("<int:object_id>/forecast/", forecast, name="inventory_ai_variant_forecast"),
            *super().get_urls(),
        ]

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
            "subtitle": "Forecast",
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
