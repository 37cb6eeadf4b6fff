"""Admin for what the stores send us: orders, refunds, stock levels, daily demand, webhook events."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Sum

from inventory_ai.admin.common import ReadOnlyAdminMixin
from inventory_ai.models import (
    DailyDemand,
    InventoryLevel,
    Order,
    OrderLine,
    Refund,
    RefundLine,
    ServiceHeartbeat,
    WebhookEvent,
)
from inventory_ai.services.webhooks import requeue_failed_events


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
