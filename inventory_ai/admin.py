"""The Django admin: the product's face for store admins."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db import models
from django.db.models import Count, Sum
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from inventory_ai.choices import RunKind
from inventory_ai.models import (
    ClassPolicy,
    DailyDemand,
    Forecast,
    ForecastResult,
    ForecastRun,
    InventoryLevel,
    Location,
    Order,
    OrderLine,
    Product,
    Refund,
    RefundLine,
    ReorderSuggestion,
    ServiceHeartbeat,
    StockAdjustment,
    Store,
    Variant,
    WebhookEvent,
)
from inventory_ai.services import retraining
from inventory_ai.services.stores import store_timezone_changed
from inventory_ai.services.webhooks import requeue_failed_events


class ReadOnlyAdminMixin:
    """For records that come from the stores: staff inspect them, the sync keeps them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("domain", "name", "platform", "timezone", "currency", "active", "variant_count", "created_at")
    list_filter = ("platform", "active")
    actions = ["retrain_full", "retrain_refresh"]

    def has_retrain_permission(self, request) -> bool:
        return request.user.has_perm("inventory_ai.add_forecastrun")

    @admin.action(
        description="Retrain forecasts of selected stores (full, with model selection)", permissions=["retrain"]
    )
    def retrain_full(self, request, queryset):
        _retrain_stores(self, request, queryset, RunKind.FULL)

    @admin.action(
        description="Refresh forecasts of selected stores (new data, current models)", permissions=["retrain"]
    )
    def retrain_refresh(self, request, queryset):
        _retrain_stores(self, request, queryset, RunKind.REFRESH)

    search_fields = ("domain", "name")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Secrets are encrypted at rest and never shown; `manage.py add_store` sets and rotates them.
    exclude = ("credentials", "webhook_secrets")
    readonly_fields = ("secrets_summary", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("platform", "domain", "name", "active")}),
        ("API", {"fields": ("api_base_url", "api_version", "secrets_summary")}),
        ("Locale", {"fields": ("timezone", "currency", "country_code")}),
        (
            "Replenishment defaults",
            {
                "fields": (
                    "default_lead_time_days",
                    "default_review_period_days",
                    "default_service_level",
                    "default_moq",
                    "default_case_pack",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_variant_count=Count("variants", distinct=True))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "timezone" in form.changed_data:
            store_timezone_changed(obj)
            self.message_user(request, "The time zone changed: daily demand was rebuilt on the new local days.")

    @admin.display(description="Variants", ordering="_variant_count")
    def variant_count(self, obj):
        return obj._variant_count

    @admin.display(description="Secrets")
    def secrets_summary(self, obj):
        names = ", ".join(sorted(obj.credentials)) or "no API credentials"
        return f"{len(obj.webhook_secrets)} webhook secret(s); {names} (encrypted, not shown)"


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "platform_id", "store", "is_primary", "active")
    list_filter = ("store", "is_primary", "active")
    search_fields = ("name", "platform_id")


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
    list_display = ("sku", "title", "store", "price", "unit_cost", "supplier", "lead_time_days", "is_placeholder")
    list_filter = ("store", "is_placeholder", "supplier")
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


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("platform_id", "variant", "quantity", "current_quantity", "refunded_quantity", "unit_price")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "store", "created_at", "status", "platform_status", "source", "line_count")
    list_filter = ("store", "status", "source")
    search_fields = ("number", "platform_id")
    date_hierarchy = "created_at"
    inlines = [OrderLineInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("store").annotate(_line_count=Count("lines"))

    @admin.display(description="Lines", ordering="_line_count")
    def line_count(self, obj):
        return obj._line_count


class RefundLineInline(admin.TabularInline):
    model = RefundLine
    fields = ("order_line", "quantity", "restock_type")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("platform_id", "order", "store", "created_at")
    list_filter = ("store",)
    search_fields = ("platform_id", "order__number")
    inlines = [RefundLineInline]


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
            response.context_data["title"] = (
                f"Daily demand: {totals['units'] or 0:,} units, {totals['revenue'] or 0:,.2f} revenue"
            )
        return response


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "store", "platform", "topic", "resource_id", "status", "attempts", "last_error")
    list_filter = ("status", "platform", "topic", "store")
    search_fields = ("delivery_id", "event_id", "topic", "resource_id")
    date_hierarchy = "received_at"
    exclude = ("body",)
    readonly_fields = ("body_text",)
    actions = ["requeue_failed"]

    def has_requeue_permission(self, request) -> bool:
        # Records stay read-only in forms; re-queueing needs the model's change permission all the same.
        return request.user.has_perm("inventory_ai.change_webhookevent")

    @admin.action(description="Re-queue selected failed events", permissions=["requeue"])
    def requeue_failed(self, request, queryset):
        count = requeue_failed_events(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} failed event(s) re-queued for processing.")

    @admin.display(description="Body")
    def body_text(self, obj):
        return bytes(obj.body).decode("utf-8", errors="replace")


@admin.register(ServiceHeartbeat)
class ServiceHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "last_seen", "detail")


def _retrain_stores(modeladmin, request, stores, kind):
    for store in stores:
        try:
            run = retraining.start_retrain(store, kind, trigger="admin", requested_by=request.user.get_username())
        except retraining.RetrainAlreadyRunning as exc:
            modeladmin.message_user(request, f"{store}: {exc}.", level="warning")
            continue
        if run is None:
            modeladmin.message_user(request, f"{store}: no new data since the current forecast.", level="info")
        else:
            modeladmin.message_user(request, f"{store}: {run.get_kind_display().lower()} queued as run #{run.pk}.")


@admin.register(ForecastRun)
class ForecastRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "store",
        "kind",
        "status",
        "phase",
        "progress_display",
        "skus_failed",
        "global_backtest_status",
        "global_status",
        "accuracy_display",
        "created_at",
        "duration_display",
        "trigger",
    )
    list_filter = ("status", "kind", "store")
    date_hierarchy = "created_at"
    list_select_related = ("store",)
    exclude = ("warm_start_run",)
    actions = ["rerun_runs"]
    change_list_template = "admin/inventory_ai/forecastrun/change_list.html"

    def has_rerun_permission(self, request) -> bool:
        return request.user.has_perm("inventory_ai.change_forecastrun")

    @admin.action(description="Re-run selected runs (a new run of the same kind for each store)", permissions=["rerun"])
    def rerun_runs(self, request, queryset):
        latest = {}
        for run in queryset.select_related("store").order_by("created_at"):
            latest[run.store_id] = run
        for run in latest.values():
            _retrain_stores(self, request, [run.store], run.kind)

    @admin.display(description="Progress")
    def progress_display(self, obj):
        return f"{obj.skus_done + obj.skus_failed:,}/{obj.skus_total:,} ({obj.progress:.0%})"

    @admin.display(description="Backtest RMSSE")
    def accuracy_display(self, obj):
        overall = (obj.accuracy or {}).get("all")
        return f"{overall['rmsse']:.3f}" if overall else "-"

    @admin.display(description="Duration")
    def duration_display(self, obj):
        seconds = obj.duration_seconds
        return f"{seconds:.0f} s" if seconds is not None else "-"

    def get_urls(self):
        schedule = path("schedule/", self.admin_site.admin_view(self.schedule_view), name="inventory_ai_schedule")
        return [schedule, *super().get_urls()]

    def schedule_view(self, request):
        """The Celery beat schedule, as configured in settings."""
        entries = [
            {"name": name, "task": entry["task"], "schedule": entry["schedule"], "kwargs": entry.get("kwargs", {})}
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        ]
        context = {**self.admin_site.each_context(request), "title": "Schedule", "entries": entries, "opts": self.opts}
        return TemplateResponse(request, "admin/inventory_ai/schedule.html", context)


@admin.register(ForecastResult)
class ForecastResultAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("variant", "run", "ok", "model", "demand_class", "rmsse_display", "changed", "error")
    list_filter = ("ok", "changed", "demand_class", "model", "run__store")
    search_fields = ("variant__sku", "variant__title", "=run__id")
    list_select_related = ("variant", "run")
    show_full_result_count = False

    @admin.display(description="Backtest RMSSE")
    def rmsse_display(self, obj):
        value = (obj.backtest or {}).get(obj.model)
        return f"{value:.3f}" if value is not None else "-"


@admin.register(Forecast)
class ForecastAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("variant", "period_start", "period_end", "mean", "bounds_display", "model", "run_link")
    list_filter = ("run__store", "model")
    search_fields = ("variant__sku", "variant__title", "=run__id")
    date_hierarchy = "period_start"
    list_select_related = ("variant", "run")
    show_full_result_count = False

    @admin.display(description="Intervals")
    def bounds_display(self, obj):
        levels = sorted({key.split("-")[1] for key in obj.bounds}, key=int)
        return ", ".join(
            f"{level}%: {obj.bounds[f'lo-{level}']:.1f}..{obj.bounds[f'hi-{level}']:.1f}" for level in levels
        )

    @admin.display(description="Run")
    def run_link(self, obj):
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:inventory_ai_forecastrun_change", args=[obj.run_id]), obj.run_id
        )


@admin.register(ClassPolicy)
class ClassPolicyAdmin(admin.ModelAdmin):
    list_display = ("store", "abc_class", "service_level", "review_period_days")
    list_filter = ("store", "abc_class")


@admin.register(ReorderSuggestion)
class ReorderSuggestionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "variant",
        "status",
        "suggested_qty",
        "available",
        "on_order",
        "reorder_point",
        "order_up_to",
        "stockout_date",
        "abc_class",
        "reason",
        "created_at",
    )
    list_filter = ("status", "store", "abc_class", "xyz_class", "variant__supplier")
    search_fields = ("variant__sku", "variant__title", "variant__product__title")
    list_select_related = ("variant",)


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("variant", "location", "expected_available", "new_available", "reason", "status", "created_at")
    list_filter = ("status", "reason", "store")
    search_fields = ("variant__sku", "variant__title")
    list_select_related = ("variant", "location")
