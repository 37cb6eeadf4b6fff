"""Admin of connected stores: settings, secrets rotation, and starting retrains and syncs."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from inventory_ai.choices import Platform, RunKind
from inventory_ai.models import (
    Store,
    SyncRun,
    WebhookEvent,
)
from inventory_ai.services import retraining, shopify_install, subscriptions, sync_runs, woocommerce_connect
from inventory_ai.services.connect_refusal import ConnectRefused
from inventory_ai.services.stores import store_timezone_changed

# The ways to connect a store from the admin, one per platform (each module's `PLATFORM` and `start`).
CONNECT_FLOWS = (shopify_install, woocommerce_connect)


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("domain", "name", "platform", "timezone", "currency", "active", "variant_count", "created_at")
    list_filter = ("platform", "active")
    actions = ["retrain_full", "retrain_refresh", "backfill", "reconcile"]

    change_list_template = "admin/inventory_ai/store/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.connect_view)
        return [path("connect/", view, name="inventory_ai_store_connect"), *super().get_urls()]

    def connect_view(self, request):
        """Connect a store through the product's app: the shop's domain, then the platform's own approval page."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        flows = {flow.PLATFORM: flow for flow in CONNECT_FLOWS}
        error, shop = "", request.POST.get("shop", "")
        if request.method == "POST":
            flow = flows.get(request.POST.get("platform", ""))
            try:
                if flow is None:
                    raise ConnectRefused("Choose the store's platform.")
                return HttpResponseRedirect(flow.start(shop))
            except ConnectRefused as refusal:
                error = refusal.message
        context = {
            **self.admin_site.each_context(request),
            "title": "Connect a store",
            "opts": self.opts,
            "platforms": [(value, Platform(value).label) for value in flows],
            "shop": shop,
            "error": error,
        }
        return TemplateResponse(request, "admin/inventory_ai/store/connect.html", context, status=400 if error else 200)

    def has_retrain_permission(self, request) -> bool:
        return request.user.has_perm("inventory_ai.add_forecastrun")

    @admin.action(
        description="Retrain forecasts of selected stores (full, with model selection)", permissions=["retrain"]
    )
    def retrain_full(self, request, queryset):
        retrain_stores(self, request, queryset, RunKind.FULL)

    @admin.action(
        description="Refresh forecasts of selected stores (new data, current models)", permissions=["retrain"]
    )
    def retrain_refresh(self, request, queryset):
        retrain_stores(self, request, queryset, RunKind.REFRESH)

    def has_sync_permission(self, request) -> bool:
        return request.user.has_perm("inventory_ai.add_syncrun")

    @admin.action(description="Backfill selected stores (import catalogue, stock and orders)", permissions=["sync"])
    def backfill(self, request, queryset):
        _sync_stores(self, request, queryset, SyncRun.Kind.BACKFILL)

    @admin.action(description="Reconcile selected stores now (stock levels, recent orders)", permissions=["sync"])
    def reconcile(self, request, queryset):
        _sync_stores(self, request, queryset, SyncRun.Kind.RECONCILE)

    search_fields = ("domain", "name")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Secrets are encrypted at rest and never shown; `manage.py add_store` sets and rotates them.
    exclude = ("credentials", "webhook_secrets", "webhook_subscriptions")
    readonly_fields = (
        "secrets_summary", "connection", "subscriptions_summary", "activity", "created_at", "updated_at"
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("platform", "domain", "name", "active")}),
        (
            "API",
            {
                "fields": (
                    "api_base_url",
                    "api_version",
                    "secrets_summary",
                    "connection",
                    "subscriptions_summary",
                    "activity",
                )
            },
        ),  # fmt: skip
        ("Locale", {"fields": ("timezone", "currency", "country_code", "subdivision_code", "latitude", "longitude")}),
        (
            "Replenishment defaults",
            {
                "fields": (
                    "default_lead_time_days",
                    "default_review_period_days",
                    "default_service_level",
                    "service_measure",
                    "fill_rate_scope",
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

    @admin.display(description="Connection")
    def connection(self, obj):
        """The token's state: when it expires (renewed before), and the scopes granted, never the token."""
        credentials = obj.credentials
        if obj.connection_error:
            return f"FAILING: {obj.connection_error}"
        if not credentials.get("expires_at"):
            return "a token that does not expire (a legacy app's, or REST keys)" if credentials else "not connected"
        scopes = credentials.get("scopes") or "not recorded"
        text = f"token valid until {credentials['expires_at'][:16]} UTC, renewed before; scopes granted: {scopes}"
        missing = [scope for scope in settings.SHOPIFY_SCOPES if scope not in scopes.split(",")]
        if credentials.get("refresh_token") and missing:  # installed through the app: approve the rest there
            again = reverse("shopify-install") + "?" + urlencode({"shop": obj.domain})
            return format_html('{}; missing: {} (<a href="{}">approve them</a>)', text, ", ".join(missing), again)
        return text

    @admin.display(description="Activity")
    def activity(self, obj):
        """The backfill's progress, the last reconciliation and the last webhook delivery, each linked."""
        if not obj.pk:
            return "-"
        parts = []
        for kind in (SyncRun.Kind.BACKFILL, SyncRun.Kind.RECONCILE):
            run = SyncRun.objects.filter(store=obj, kind=kind).order_by("-pk").first()
            if run is not None:
                link = reverse("admin:inventory_ai_syncrun_change", args=[run.pk])
                when = run.finished_at or run.started_at or run.created_at
                parts.append(
                    format_html(
                        '<a href="{}">{} #{}</a>: {}, {} page(s), {}',
                        link,
                        run.get_kind_display(),
                        run.pk,
                        run.get_status_display(),
                        run.pages,
                        f"{when:%Y-%m-%d %H:%M}",
                    )
                )
        delivery = WebhookEvent.objects.filter(store=obj).order_by("-received_at").first()
        if delivery is not None:
            link = reverse("admin:inventory_ai_webhookevent_change", args=[delivery.pk])
            parts.append(format_html('last webhook: <a href="{}">{}</a> {}', link, delivery.topic,
                                     f"{delivery.received_at:%Y-%m-%d %H:%M}"))  # fmt: skip
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts)) if parts else "none yet"

    @admin.display(description="Webhook subscriptions")
    def subscriptions_summary(self, obj):
        report = obj.webhook_subscriptions or {}
        if not subscriptions.managed(obj):
            return "kept by the merchant (a store connected with a pasted token)"
        if not report:
            return "not checked yet: the next reconciliation subscribes them"
        states = Counter(report.get("topics", {}).values())
        found = subscriptions.problems(obj)
        text = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        text = f"{text} at {report.get('address')} (checked {report.get('checked_at', '')[:16]})"
        return f"{text}; problems: {'; '.join(found)}" if found else text


def retrain_stores(modeladmin, request, stores, kind):
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


def _sync_stores(modeladmin, request, stores, kind):
    for store in stores:
        try:
            run = sync_runs.start_sync(store, kind, trigger="admin")
        except sync_runs.SyncAlreadyRunning as exc:
            modeladmin.message_user(request, f"{store}: {exc}.", level="warning")
        else:
            modeladmin.message_user(request, f"{store}: {run.get_kind_display().lower()} queued as #{run.pk}.")
