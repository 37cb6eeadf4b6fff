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
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

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
from inventory_ai.selectors.reasons import reason_text
from inventory_ai.services import audit, auto_approval, purchasing, push, replenishment


@admin.register(AutoApprovalRule)
class AutoApprovalRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "store", "active", "abc_classes", "supplier", "max_order_value", "quantity_band_percent",
                    "daily_value_cap", "approved_today")  # fmt: skip
    list_filter = ("store", "active")
    fields = ("store", "name", "active", "abc_classes", "supplier", "max_order_value", "quantity_band_percent",
              "daily_value_cap")  # fmt: skip

    # Translators: the value of the orders a rule has approved automatically today.
    @admin.display(description=_("Approved today"))
    def approved_today(self, rule):
        return f"{auto_approval.approved_today(rule):,.2f}"


@admin.register(ClassPolicy)
class ClassPolicyAdmin(admin.ModelAdmin):
    list_display = ("store", "abc_class", "service_level", "review_period_days")
    list_filter = ("store", "abc_class")


class RiskFilter(admin.SimpleListFilter):
    """How soon the variant stocks out at the forecast rate, against when an order placed today could arrive."""

    title = _("stock-out risk")
    parameter_name = "risk"

    def lookups(self, request, model_admin):
        return tuple(selectors.RISKS.items())

    def queryset(self, request, queryset):
        if self.value() in selectors.RISKS:
            return queryset.filter(selectors.risk_filter(self.value(), timezone.localdate()))
        return queryset


class XyzFilter(admin.SimpleListFilter):
    """The three variability classes, listed without reading every suggestion for their distinct values."""

    title = _("xyz class")
    parameter_name = "xyz_class"

    def lookups(self, request, model_admin):
        return (("X", "X"), ("Y", "Y"), ("Z", "Z"))

    def queryset(self, request, queryset):
        return queryset.filter(xyz_class=self.value()) if self.value() in {"X", "Y", "Z"} else queryset


def _audit_trail(obj) -> str:
    entries = audit.history(obj)
    if not entries:
        return "-"
    # Translators: who made a change the product made itself (a scheduled task, an automatic approval).
    system = gettext("system")
    return format_html(
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
        gettext("When"),
        gettext("Who"),
        # Translators: column of the audit trail: what was done (approved, rejected, pushed...).
        gettext("What"),
        # Translators: column of the audit trail: the value before the change.
        gettext("Before"),
        # Translators: column of the audit trail: the value after the change.
        gettext("After"),
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (f"{e.at:%Y-%m-%d %H:%M}", e.actor_name or system, e.get_action_display(), e.before, e.after)
                for e in entries
            ),
        ),
    )


@admin.register(ReorderSuggestion)
class ReorderSuggestionAdmin(DecisionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # Translators: plural noun in "Approve restock suggestions", "3 restock suggestions approved."
    decision_noun = _("restock suggestions")
    quantity_label = _("Order quantity")
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
        XyzFilter,
        ("variant__supplier", admin.AllValuesFieldListFilter),
    )
    search_fields = ("variant__sku", "variant__title", "variant__product__title")
    list_select_related = ("variant__product", "store", "location")
    # what needs deciding first: the latest day an order can still be placed, then the sooner stock-out
    ordering = (F("order_by").asc(nulls_last=True), F("stockout_date").asc(nulls_last=True), "-created_at")
    actions = ["approve_selected", "reject_selected", export_csv]
    # the reason in the reader's language instead of the stored English and its figures
    exclude = ("reason", "reason_data")
    readonly_fields = ("reason_in_words", "audit_trail")
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
        ("reason", reason_text),
        ("created_at", lambda s: s.created_at.isoformat()),
    )

    def proposed_quantity(self, obj) -> int:
        return obj.quantity

    def decide(self, obj, approve, user, quantity) -> bool:
        return replenishment.decide_suggestion(obj, approve, user, quantity)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("variant__supplier_items__supplier")

    @admin.display(description=_("Urgency"), ordering="order_by")
    def urgency(self, obj):
        if obj.status != SuggestionStatus.PENDING:
            return "-"
        today = timezone.localdate()
        risk = selectors.risk_of(obj.order_by, today)
        if risk == selectors.LATE:
            late = (today - obj.order_by).days
            if late:
                detail = ngettext(
                    # Translators: hover text of the "Late" urgency; "d" is the abbreviation of days.
                    "an order placed today arrives after the stock-out (%(days)s d too late)",
                    "an order placed today arrives after the stock-out (%(days)s d too late)",
                    late,
                ) % {"days": late}
            else:
                detail = gettext("an order placed today arrives after the stock-out")
            # Translators: urgency of a restock suggestion: an order placed today arrives after the stock-out.
            return format_html('<span class="risk risk-high" title="{}">{}</span>', detail, pgettext("urgency", "Late"))
        slack = (obj.order_by - today).days if obj.order_by else None
        if slack is None:
            hint = gettext("No stock-out in sight")
        else:
            # Translators: hover text of the urgency: the latest day an order can be placed, counted from today.
            hint = ngettext("Order within %(days)s days", "Order within %(days)s days", slack) % {"days": slack}
        if risk == selectors.THIS_WEEK:
            # Translators: urgency of a restock suggestion: the order must be placed within seven days.
            label = gettext("Order this week")
            return format_html('<span class="risk risk-mid" title="{}">{}</span>', hint, label)
        # Translators: urgency of a restock suggestion: no hurry, nothing stocks out before an order could arrive.
        fine = pgettext("urgency", "Fine")
        return format_html('<span class="risk risk-low" title="{}">{}</span>', hint, fine)

    @admin.display(description=_("Supplier"))
    def supplier(self, obj):
        return purchasing.supplier_name(obj.variant) or "-"

    # Translators: days of cover: how long the stock on hand and on order lasts at the forecast rate.
    @admin.display(description=_("Cover"), ordering="days_of_cover")
    def cover(self, obj):
        if obj.days_of_cover is None:
            return "-"
        # Translators: a number of days of cover; "d" is the abbreviation of days.
        return gettext("%(days)s d") % {"days": f"{obj.days_of_cover:,.0f}"}

    @admin.display(description=_("SKU"), ordering="variant__sku")
    def sku(self, obj):
        url = reverse("admin:inventory_ai_variant_forecast", args=[obj.variant_id])
        # Translators: hover text of the link from a suggestion's SKU to the SKU's forecast page.
        hint = gettext("Forecast and stock")
        return format_html('<a href="{}" title="{}">{}</a>', url, hint, obj.variant.sku or obj.variant_id)

    @admin.display(description=_("Product"), ordering="variant__product__title")
    def title(self, obj):
        return obj.variant.display_title

    # Translators: short column header: the order quantity.
    @admin.display(description=_("Order qty"))
    def order_quantity(self, obj):
        if obj.approved_qty is not None and obj.approved_qty != obj.suggested_qty:
            # Translators: after an approved quantity that differs from the suggested one, e.g. "12 (suggested 10)".
            suggested = gettext("(suggested %(quantity)s)") % {"quantity": obj.suggested_qty}
            return format_html("{} <small>{}</small>", obj.approved_qty, suggested)
        return obj.suggested_qty

    @admin.display(description=_("Value"))
    def value(self, obj):
        return f"{obj.value:,.2f}" if obj.value is not None else "-"

    @admin.display(description=_("Reason"))
    def reason_in_words(self, obj) -> str:
        return reason_text(obj)

    def reason_of(self, obj) -> str:
        return reason_text(obj)

    @admin.display(description=_("Audit trail"))
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

    delta = forms.IntegerField(
        required=False,
        # Translators: label of the field for a change (+/-) on the current quantity.
        label=_("Delta"),
        help_text=_("Or a change on the current quantity, e.g. +24 or -3"),
    )

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
            raise forms.ValidationError(gettext("Give either the new quantity or a change, not both."))
        variant, location = data.get("variant"), data.get("location")
        if variant and location and variant.store_id != location.store_id:
            raise forms.ValidationError(gettext("The location belongs to another store than the variant."))
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
    verbose_name_plural = _("push attempts")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(DecisionAdminMixin, admin.ModelAdmin):
    # Translators: plural noun in "Approve stock adjustments", "3 stock adjustments approved."
    decision_noun = _("stock adjustments")
    quantity_label = _("New quantity")
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

    @admin.action(description=_("Retry the push of selected failed adjustments"), permissions=["approve"])
    def retry_push(self, request, queryset):
        if not self.has_approve_permission(request):
            raise PermissionDenied
        retried = sum(push.retry_push(adjustment, request.user) for adjustment in queryset)
        # The English keeps "adjustment(s)" for any count; the plural forms are there for the translations.
        message = ngettext(
            "%(count)s failed adjustment(s) sent again; others were not failed.",
            "%(count)s failed adjustment(s) sent again; others were not failed.",
            retried,
        )
        self.message_user(request, message % {"count": retried})

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

    # Translators: column of the stock adjustment list: the change (+/-) in quantity, a noun.
    @admin.display(description=pgettext_lazy("stock adjustment", "Change"))
    def delta_display(self, obj):
        return f"{obj.delta:+d}"

    @admin.display(description=_("Audit trail"))
    def audit_trail(self, obj):
        return _audit_trail(obj)
