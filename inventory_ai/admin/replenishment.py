"""Admin for replenishment: class policies, restock suggestions, stock adjustments and the audit log."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from inventory_ai import selectors
from inventory_ai.admin.common import DecisionAdminMixin, ReadOnlyAdminMixin, export_csv
from inventory_ai.choices import AdjustmentReason, SuggestionStatus
from inventory_ai.models import (
    AutoApprovalRule,
    ClassPolicy,
    Location,
    PushAttempt,
    ReorderSuggestion,
    StockAdjustment,
)
from inventory_ai.services import audit, auto_approval, purchasing, push, replenishment


@admin.register(AutoApprovalRule)
class AutoApprovalRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "store", "active", "abc_classes", "supplier", "max_order_value", "quantity_band_percent",
                    "daily_value_cap", "approved_today")  # fmt: skip
    list_filter = ("store", "active")
    fields = ("store", "name", "active", "abc_classes", "supplier", "max_order_value", "quantity_band_percent",
              "daily_value_cap")  # fmt: skip

    @admin.display(description="Approved today")
    def approved_today(self, rule):
        return f"{auto_approval.approved_today(rule):,.2f}"


@admin.register(ClassPolicy)
class ClassPolicyAdmin(admin.ModelAdmin):
    list_display = ("store", "abc_class", "service_level", "review_period_days")
    list_filter = ("store", "abc_class")


class RiskFilter(admin.SimpleListFilter):
    """How soon the variant stocks out at the forecast rate, against when an order placed today could arrive."""

    title = "stock-out risk"
    parameter_name = "risk"

    def lookups(self, request, model_admin):
        return tuple(selectors.RISKS.items())

    def queryset(self, request, queryset):
        if self.value() in selectors.RISKS:
            return queryset.filter(selectors.risk_filter(self.value(), timezone.localdate()))
        return queryset


def _audit_trail(obj) -> str:
    entries = audit.history(obj)
    if not entries:
        return "-"
    return format_html(
        "<table><tr><th>When</th><th>Who</th><th>What</th><th>Before</th><th>After</th></tr>{}</table>",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (f"{e.at:%Y-%m-%d %H:%M}", e.actor_name or "system", e.get_action_display(), e.before, e.after)
                for e in entries
            ),
        ),
    )


@admin.register(ReorderSuggestion)
class ReorderSuggestionAdmin(DecisionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    decision_noun = "restock suggestions"
    quantity_label = "Order quantity"
    list_display = (
        "urgency",
        "sku",
        "title",
        "supplier",
        "status",
        "order_quantity",
        "available",
        "on_order",
        "cover",
        "stockout_date",
        "value",
        "abc_class",
        "store",
    )
    list_display_links = ("title",)
    list_filter = (
        RiskFilter,
        "status",
        "store",
        "location",
        "abc_class",
        "xyz_class",
        ("variant__supplier", admin.AllValuesFieldListFilter),
    )
    search_fields = ("variant__sku", "variant__title", "variant__product__title")
    list_select_related = ("variant__product", "store", "location")
    # what needs deciding first: the latest day an order can still be placed, then the sooner stock-out
    ordering = (F("order_by").asc(nulls_last=True), F("stockout_date").asc(nulls_last=True), "-created_at")
    actions = ["approve_selected", "reject_selected", export_csv]
    readonly_fields = ("audit_trail",)
    csv_columns = (
        ("id", lambda s: s.pk),
        ("store", lambda s: s.store.domain),
        ("sku", lambda s: s.variant.sku),
        ("title", lambda s: s.variant.display_title),
        ("location", lambda s: s.location.name),
        ("status", lambda s: s.status),
        ("suggested_qty", lambda s: s.suggested_qty),
        ("approved_qty", lambda s: s.approved_qty),
        ("available", lambda s: s.available),
        ("on_order", lambda s: s.on_order),
        ("reorder_point", lambda s: s.reorder_point),
        ("order_up_to", lambda s: s.order_up_to),
        ("stockout_date", lambda s: s.stockout_date),
        ("unit_cost", lambda s: s.unit_cost),
        ("value", lambda s: s.value),
        ("abc_class", lambda s: s.abc_class),
        ("supplier", lambda s: purchasing.supplier_name(s.variant)),
        ("days_of_cover", lambda s: s.days_of_cover),
        ("reason", lambda s: s.reason),
        ("created_at", lambda s: s.created_at.isoformat()),
    )

    def proposed_quantity(self, obj) -> int:
        return obj.quantity

    def decide(self, obj, approve, user, quantity) -> bool:
        return replenishment.decide_suggestion(obj, approve, user, quantity)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("variant__supplier_items__supplier")

    @admin.display(description="Urgency", ordering="order_by")
    def urgency(self, obj):
        if obj.status != SuggestionStatus.PENDING:
            return "-"
        today = timezone.localdate()
        risk = selectors.risk_of(obj.order_by, today)
        if risk == selectors.LATE:
            late = (today - obj.order_by).days
            detail = "an order placed today arrives after the stock-out" + (f" ({late} d too late)" if late else "")
            return format_html('<span class="risk risk-high" title="{}">Late</span>', detail)
        slack = (obj.order_by - today).days if obj.order_by else None
        if risk == selectors.THIS_WEEK:
            return format_html('<span class="risk risk-mid" title="Order within {} days">Order this week</span>', slack)
        return format_html('<span class="risk risk-low" title="{}">Fine</span>',
                           f"Order within {slack} days" if slack is not None else "No stock-out in sight")  # fmt: skip

    @admin.display(description="Supplier")
    def supplier(self, obj):
        return purchasing.supplier_name(obj.variant) or "-"

    @admin.display(description="Cover", ordering="days_of_cover")
    def cover(self, obj):
        return f"{obj.days_of_cover:,.0f} d" if obj.days_of_cover is not None else "-"

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, obj):
        url = reverse("admin:inventory_ai_variant_forecast", args=[obj.variant_id])
        return format_html('<a href="{}" title="Forecast and stock">{}</a>', url, obj.variant.sku or obj.variant_id)

    @admin.display(description="Product", ordering="variant__product__title")
    def title(self, obj):
        return obj.variant.display_title

    @admin.display(description="Order qty")
    def order_quantity(self, obj):
        if obj.approved_qty is not None and obj.approved_qty != obj.suggested_qty:
            return format_html("{} <small>(suggested {})</small>", obj.approved_qty, obj.suggested_qty)
        return obj.suggested_qty

    @admin.display(description="Value")
    def value(self, obj):
        return f"{obj.value:,.2f}" if obj.value is not None else "-"

    @admin.display(description="Audit trail")
    def audit_trail(self, obj):
        return _audit_trail(obj)

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        decide = self.admin_site.admin_view(self.decide_view)
        return [
            path("<int:object_id>/approve/", decide, {"approve": True}, name=f"{prefix}_approve"),
            path("<int:object_id>/reject/", decide, {"approve": False}, name=f"{prefix}_reject"),
            *super().get_urls(),
        ]

    def decide_view(self, request, object_id: int, approve: bool):
        """Approve or reject one suggestion through the same confirmation page as the bulk actions."""
        obj = get_object_or_404(ReorderSuggestion, pk=object_id)
        response = self.confirm_decision(request, ReorderSuggestion.objects.filter(pk=obj.pk), approve, single=True)
        if response is None:
            return HttpResponseRedirect(reverse("admin:inventory_ai_variant_forecast", args=[obj.variant_id]))
        return response


class AdjustmentForm(forms.ModelForm):
    """A manual adjustment: the new quantity, or a change (+/-) on the quantity last read from the store."""

    delta = forms.IntegerField(required=False, help_text="Or a change on the current quantity, e.g. +24 or -3")

    class Meta:
        model = StockAdjustment
        fields = ("variant", "location", "new_available", "delta", "reason", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # On the read-only page of an existing adjustment these fields are not part of the form.
        if "new_available" in self.fields:
            self.fields["new_available"].required = False
        if "reason" in self.fields:
            self.fields["reason"].initial = AdjustmentReason.MANUAL

    def clean(self):
        data = super().clean()
        if (data.get("new_available") is None) == (data.get("delta") is None):
            raise forms.ValidationError("Give either the new quantity or a change, not both.")
        variant, location = data.get("variant"), data.get("location")
        if variant and location and variant.store_id != location.store_id:
            raise forms.ValidationError("The location belongs to another store than the variant.")
        return data


class PushAttemptInline(admin.TabularInline):
    model = PushAttempt
    fields = (
        "number",
        "started_at",
        "outcome",
        "store_quantity_before",
        "store_quantity_after",
        "idempotency_key",
        "error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "push attempts"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(DecisionAdminMixin, admin.ModelAdmin):
    decision_noun = "stock adjustments"
    quantity_label = "New quantity"
    form = AdjustmentForm
    list_display = (
        "variant",
        "location",
        "expected_available",
        "new_available",
        "delta_display",
        "reason",
        "status",
        "created_by",
        "decided_by",
        "created_at",
        "store",
    )
    list_filter = ("status", "reason", "store", "location", ("variant__supplier", admin.AllValuesFieldListFilter))
    search_fields = ("variant__sku", "variant__title")
    list_select_related = ("variant", "location", "store", "created_by", "decided_by")
    autocomplete_fields = ("variant",)
    actions = ["approve_selected", "reject_selected", "retry_push", export_csv]
    inlines = [PushAttemptInline]
    csv_columns = (
        ("id", lambda a: a.pk),
        ("store", lambda a: a.store.domain),
        ("sku", lambda a: a.variant.sku),
        ("location", lambda a: a.location.name),
        ("expected_available", lambda a: a.expected_available),
        ("new_available", lambda a: a.new_available),
        ("delta", lambda a: a.delta),
        ("reason", lambda a: a.reason),
        ("status", lambda a: a.status),
        ("created_by", lambda a: a.created_by),
        ("decided_by", lambda a: a.decided_by),
        ("created_at", lambda a: a.created_at.isoformat()),
        ("error", lambda a: a.error),
    )

    def proposed_quantity(self, obj) -> int:
        return obj.new_available

    def decide(self, obj, approve, user, quantity) -> bool:
        return replenishment.decide_adjustment(obj, approve, user, quantity)

    def has_change_permission(self, request, obj=None):
        # An adjustment changes only through decisions (and pushes), each written to the audit log.
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("variant", "location", "new_available", "delta", "reason", "note")
        return (
            "variant",
            "location",
            "expected_available",
            "new_available",
            "reason",
            "note",
            "status",
            "created_by",
            "created_at",
            "decided_by",
            "decided_at",
            "pushed_at",
            "push_attempts",
            "store_quantity_before",
            "store_quantity_after",
            "follow_up",
            "error",
            "audit_trail",
        )

    def get_inlines(self, request, obj):
        return [PushAttemptInline] if obj is not None else []

    @admin.action(description="Retry the push of selected failed adjustments", permissions=["approve"])
    def retry_push(self, request, queryset):
        if not self.has_approve_permission(request):
            raise PermissionDenied
        retried = sum(push.retry_push(adjustment, request.user) for adjustment in queryset)
        self.message_user(request, f"{retried} failed adjustment(s) sent again; others were not failed.")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "location":
            kwargs["queryset"] = Location.objects.filter(active=True).select_related("store")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Created through the service: it reads the current level and writes the audit entry in one transaction.
        data = form.cleaned_data
        created = replenishment.create_adjustment(
            data["variant"],
            data["location"],
            request.user,
            new_available=data.get("new_available"),
            delta=data.get("delta"),
            reason=data["reason"],
            note=data.get("note", ""),
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.display(description="Change")
    def delta_display(self, obj):
        return f"{obj.delta:+d}"

    @admin.display(description="Audit trail")
    def audit_trail(self, obj):
        return _audit_trail(obj)
