"""Admin for retraining runs, per-SKU results and forecasts."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.admin.common import ReadOnlyAdminMixin
from inventory_ai.admin.stores import retrain_stores
from inventory_ai.models import (
    Forecast,
    ForecastResult,
    ForecastRun,
)
from inventory_ai.selectors.model_names import demand_class_label, model_label


class _LabelledValues(admin.SimpleListFilter):
    """The field's values found in the list, each under its label for a person."""

    field = ""
    label = staticmethod(str)

    def lookups(self, request, model_admin):
        values = model_admin.get_queryset(request).order_by().values_list(self.field, flat=True).distinct()
        return [(value, self.label(value)) for value in sorted(v for v in values if v)]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class ModelFilter(_LabelledValues):
    title = _("model")
    parameter_name = field = "model"
    label = staticmethod(model_label)


class DemandClassFilter(_LabelledValues):
    title = _("demand class")
    parameter_name = field = "demand_class"
    label = staticmethod(demand_class_label)


@admin.display(description=_("model"), ordering="model")
def model_in_words(obj) -> str:
    return model_label(obj.model)


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

    @admin.action(
        description=_("Re-run selected runs (a new run of the same kind for each store)"), permissions=["rerun"]
    )
    def rerun_runs(self, request, queryset):
        latest = {}
        for run in queryset.select_related("store").order_by("created_at"):
            latest[run.store_id] = run
        for run in latest.values():
            retrain_stores(self, request, [run.store], run.kind)

    @admin.display(description=_("Progress"))
    def progress_display(self, obj):
        return f"{obj.skus_done + obj.skus_failed:,}/{obj.skus_total:,} ({obj.progress:.0%})"

    @admin.display(description=_("demand class"), ordering="demand_class")
    def demand_class_in_words(self, obj) -> str:
        return demand_class_label(obj.demand_class)

    # Translators: RMSSE (root mean squared scaled error) is the name of an accuracy measure; keep the acronym.
    @admin.display(description=_("Backtest RMSSE"))
    def accuracy_display(self, obj):
        overall = (obj.accuracy or {}).get("all")
        return f"{overall['rmsse']:.3f}" if overall else "-"

    @admin.display(description=_("Duration"))
    def duration_display(self, obj):
        seconds = obj.duration_seconds
        if seconds is None:
            return "-"
        # Translators: a run's duration; "s" is the abbreviation of seconds.
        return gettext("%(seconds)s s") % {"seconds": f"{seconds:.0f}"}

    def get_urls(self):
        schedule = path("schedule/", self.admin_site.admin_view(self.schedule_view), name="inventory_ai_schedule")
        return [schedule, *super().get_urls()]

    def schedule_view(self, request):
        """The Celery beat schedule, as configured in settings."""
        entries = [
            {"name": name, "task": entry["task"], "schedule": entry["schedule"], "kwargs": entry.get("kwargs", {})}
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            # Translators: title of the page listing the periodic tasks (Celery beat schedule).
            "title": gettext("Schedule"),
            "entries": entries,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/inventory_ai/schedule.html", context)


@admin.register(ForecastResult)
class ForecastResultAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "variant", "run", "ok", model_in_words, "demand_class_in_words", "rmsse_display", "changed", "error"
    )  # fmt: skip
    list_filter = ("ok", "changed", DemandClassFilter, ModelFilter, "run__store")
    search_fields = ("variant__sku", "variant__title", "=run__id")
    list_select_related = ("variant", "run")
    show_full_result_count = False

    @admin.display(description=_("demand class"), ordering="demand_class")
    def demand_class_in_words(self, obj) -> str:
        return demand_class_label(obj.demand_class)

    # Translators: RMSSE (root mean squared scaled error) is the name of an accuracy measure; keep the acronym.
    @admin.display(description=_("Backtest RMSSE"))
    def rmsse_display(self, obj):
        value = (obj.backtest or {}).get(obj.model)
        return f"{value:.3f}" if value is not None else "-"


@admin.register(Forecast)
class ForecastAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("variant", "period_start", "period_end", "mean", "bounds_display", model_in_words, "run_link")
    list_filter = ("run__store", ModelFilter)
    search_fields = ("variant__sku", "variant__title", "=run__id")
    date_hierarchy = "period_start"
    list_select_related = ("variant", "run")
    show_full_result_count = False

    # Translators: column of the forecast list: the prediction intervals (e.g. "80%: 1.0..4.0").
    @admin.display(description=_("Intervals"))
    def bounds_display(self, obj):
        levels = sorted({key.split("-")[1] for key in obj.bounds}, key=int)
        return ", ".join(
            f"{level}%: {obj.bounds[f'lo-{level}']:.1f}..{obj.bounds[f'hi-{level}']:.1f}" for level in levels
        )

    # Translators: column of the forecast list: the retraining run (a noun) that produced the forecast.
    @admin.display(description=_("Run"))
    def run_link(self, obj):
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:inventory_ai_forecastrun_change", args=[obj.run_id]), obj.run_id
        )
