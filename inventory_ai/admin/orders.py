"""Admin of orders and refunds as the stores sent them (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from inventory_ai.admin.common import ReadOnlyAdminMixin
from inventory_ai.models import (
    Order,
    OrderLine,
    Refund,
    RefundLine,
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

    # Translators: column of the order list: how many lines (items) an order has.
    @admin.display(description=_("Lines"), ordering="_line_count")
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
