"""Admin for the demand drivers: events (with a month calendar), price changes, and the weather with its fetches."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.models import DemandEvent, ForecastOverride, PriceChange, RemovedEvent, WeatherDay, WeatherFetch
from inventory_ai.selectors.drivers import event_variants, override_score
from inventory_ai.services import drivers


class DemandEventForm(forms.ModelForm):
    class Meta:
        model = DemandEvent
        fields = (
            "store",
            "name",
            "kind",
            "starts_on",
            "ends_on",
            "scope",
            "products",
            "variants",
            "product_type",
            "vendor",
            "discount_percent",
            "expected_uplift_percent",
        )

    def clean(self):
        data = super().clean()
        if self.errors or not data.get("store"):
            return data
        try:
            drivers.validate_event(
                data["store"],
                data["starts_on"],
                data["ends_on"],
                data["scope"],
                data.get("products") or (),
                data.get("variants") or (),
                data.get("product_type") or "",
                data.get("vendor") or "",
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(DemandEvent)
class DemandEventAdmin(admin.ModelAdmin):
    """Planners record promotions and other events here; saving one re-forecasts the SKUs it moves at the next
    refresh (their history and horizon now read it), and so does deleting one (kept under *Removed events*)."""

    form = DemandEventForm
    list_display = ("name", "store", "kind", "starts_on", "ends_on", "scope", "discount_percent", "source", "skus")
    list_filter = ("store", "kind", "scope", "source")
    search_fields = ("name", "product_type", "vendor", "variants__sku", "products__title")
    date_hierarchy = "starts_on"
    autocomplete_fields = ("products", "variants")
    readonly_fields = ("source", "external_id", "created_by", "created_at", "updated_at")
    change_list_template = "admin/inventory_ai/demandevent/change_list.html"

    @admin.display(description=_("SKUs"))
    def skus(self, obj: DemandEvent) -> int:
        return event_variants(obj).count()

    def save_model(self, request, obj, form, change):
        obj.created_by = obj.created_by or request.user.get_username()

    def save_related(self, request, form, formsets, change):
        event = form.instance
        drivers.save_event(
            event, form.cleaned_data.get("products") or (), form.cleaned_data.get("variants") or (),
            request.user.get_username(),
        )  # fmt: skip
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        drivers.delete_event(obj, request.user.get_username())

    def delete_queryset(self, request, queryset):
        for event in queryset:
            drivers.delete_event(event, request.user.get_username())

    def get_urls(self):
        view = self.admin_site.admin_view(self.calendar_view)
        return [path("calendar/", view, name="inventory_ai_demandevent_calendar"), *super().get_urls()]

    def calendar_view(self, request):
        """A month of events, day by day (`?month=YYYY-MM`, `?store=<id>`)."""
        try:
            year, month = (int(part) for part in request.GET.get("month", "").split("-"))
            first = date(year, month, 1)
        except ValueError:
            first = date.today().replace(day=1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        events = self.get_queryset(request).filter(starts_on__lte=last, ends_on__gte=first).select_related("store")
        if request.GET.get("store", "").isdigit():
            events = events.filter(store_id=int(request.GET["store"]))
        weeks = []
        for week in calendar.Calendar().monthdatescalendar(first.year, first.month):
            weeks.append([(day, day.month == first.month, [e for e in events if e.starts_on <= day <= e.ends_on])
                          for day in week])  # fmt: skip
        previous = (first - timedelta(days=1)).replace(day=1)
        following = last + timedelta(days=1)
        context = {
            **self.admin_site.each_context(request),
            # Translators: the event calendar's title; %(month)s is a month and its year, e.g. "March 2025".
            "title": gettext("Events — %(month)s") % {"month": date_format(first, "YEAR_MONTH_FORMAT")},
            "opts": self.opts,
            "weeks": weeks,
            "previous": f"{previous:%Y-%m}",
            "following": f"{following:%Y-%m}",
            "change_url": reverse("admin:inventory_ai_demandevent_changelist"),
        }
        return TemplateResponse(request, "admin/inventory_ai/demandevent/calendar.html", context)


@admin.register(RemovedEvent)
class RemovedEventAdmin(admin.ModelAdmin):
    """Events deleted by planners or by the store, kept as a record: read only."""

    list_display = ("name", "store", "kind", "starts_on", "ends_on", "source", "removed_by", "removed_at", "skus")
    list_filter = ("store", "kind", "source")
    search_fields = ("name", "removed_by", "external_id")
    date_hierarchy = "removed_at"

    @admin.display(description=_("SKUs"))
    def skus(self, obj: RemovedEvent) -> int:
        return len(obj.variant_ids)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PriceChange)
class PriceChangeAdmin(admin.ModelAdmin):
    list_display = ("variant", "effective_from", "price", "compare_at_price", "on_sale", "currency", "source", "flag")
    list_filter = ("variant__store", "source")
    search_fields = ("variant__sku", "variant__title", "flag")
    date_hierarchy = "effective_from"
    list_select_related = ("variant",)

    @admin.display(boolean=True, description=_("On sale"))
    def on_sale(self, obj: PriceChange) -> bool:
        return obj.on_sale

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WeatherDay)
class WeatherDayAdmin(admin.ModelAdmin):
    list_display = ("location", "day", "kind", "temperature_min", "temperature_max", "precipitation_mm", "snowfall_cm")
    list_filter = ("location__store", "kind")
    date_hierarchy = "day"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WeatherFetch)
class WeatherFetchAdmin(admin.ModelAdmin):
    """Each call to the weather service: a failed one says why, and its days are fetched again later."""

    list_display = ("location", "kind", "first_day", "last_day", "ok", "days", "error", "started_at")
    list_filter = ("ok", "kind", "location__store")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ForecastOverrideForm(forms.ModelForm):
    class Meta:
        model = ForecastOverride
        fields = ("store", "scope", "variants", "product_type", "starts_on", "ends_on", "method", "value", "reason",
                  "active")  # fmt: skip

    def clean(self):
        """The service's rules (dates, scope, value, reason), reported on their fields before anything is saved."""
        data = super().clean()
        if self.errors:
            return data
        probe = ForecastOverride(**{k: v for k, v in data.items() if k != "variants"})
        try:
            drivers.check_override(probe, data.get("variants") or ())
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(ForecastOverride)
class ForecastOverrideAdmin(admin.ModelAdmin):
    """Planners correct the forecast of some SKUs or a product type over a date range (units per period, or a
    change in percent), with the reason; every change is audited, the suggestions are recomputed from the corrected
    forecast, and once the range has passed the override is scored against what sold beside the model."""

    form = ForecastOverrideForm
    list_display = ("__str__", "store", "scope", "starts_on", "ends_on", "active", "created_by", "score")
    list_filter = ("store", "active", "method", "scope")
    search_fields = ("reason", "product_type", "variants__sku")
    autocomplete_fields = ("variants",)
    readonly_fields = ("created_by", "created_at", "updated_at", "score")

    # Translators: how a forecast override fared against the units actually sold, beside the model's forecast.
    @admin.display(description=_("Against what sold"))
    def score(self, obj: ForecastOverride) -> str:
        if not obj.pk:
            return "-"
        result = override_score(obj)
        return result.text if result else gettext("not scored yet (no period of it has passed)")

    def save_model(self, request, obj, form, change):
        """Saved with its SKUs in `save_related`, through the audited service."""

    def save_related(self, request, form, formsets, change):
        try:
            drivers.save_override(form.instance, form.cleaned_data.get("variants") or (), request.user)
        except ValidationError as exc:  # the form checked the fields; a rule of the service is reported the same way
            self.message_user(request, "; ".join(m for ms in exc.message_dict.values() for m in ms), level="error")
            raise
