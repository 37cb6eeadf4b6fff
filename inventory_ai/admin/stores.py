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
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

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
                    raise ConnectRefused(gettext("Choose the store's platform."))
                return HttpResponseRedirect(flow.start(shop))
            except ConnectRefused as refusal:
                error = refusal.message
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Connect a store"),
            "opts": self.opts,
            "platforms": [(value, Platform(value).label) for value in flows],
            "shop": shop,
            "error": error,
        }
        return TemplateResponse(request, "admin/inventory_ai/store/connect.html", context, status=400 if error else 200)

    def has_retrain_permission(self, request) -> bool:
        return request.user.has_perm("inventory_ai.add_forecastrun")

    @admin.action(
        description=_("Retrain forecasts of selected stores (full, with model selection)"), permissions=["retrain"]
    )
    def retrain_full(self, request, queryset):
        retrain_stores(self, request, queryset, RunKind.FULL)

    @admin.action(
        description=_("Refresh forecasts of selected stores (new data, current models)"), permissions=["retrain"]
    )
    def retrain_refresh(self, request, queryset):
        retrain_stores(self, request, queryset, RunKind.REFRESH)

    def has_sync_permission(self, request) -> bool:
        return request.user.has_perm("inventory_ai.add_syncrun")

    @admin.action(description=_("Backfill selected stores (import catalogue, stock and orders)"), permissions=["sync"])
    def backfill(self, request, queryset):
        _sync_stores(self, request, queryset, SyncRun.Kind.BACKFILL)

    @admin.action(description=_("Reconcile selected stores now (stock levels, recent orders)"), permissions=["sync"])
    def reconcile(self, request, queryset):
        _sync_stores(self, request, queryset, SyncRun.Kind.RECONCILE)

    search_fields = ("domain", "name")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Secrets are encrypted at rest and never shown; `manage.py add_store` sets and rotates them.
    exclude = ("credentials", "webhook_secrets", "webhook_subscriptions")
    readonly_fields = (
        "secrets_summary", "connection", "subscriptions_summary", "activity", "uses_transfers", "created_at",
        "updated_at",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("platform", "domain", "name", "active")}),
        (
            # Translators: title of the store's connection fields (the platform's API).
            _("API"),
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
        (
            # Translators: title of the store's regional fields (time zone, currency, country, position).
            _("Locale"),
            {"fields": ("timezone", "currency", "country_code", "subdivision_code", "latitude", "longitude")},
        ),
        (
            _("Replenishment defaults"),
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
        # Translators: title of the store's purchasing fields (how deliveries are received).
        (_("Receiving"), {"fields": ("receiving", "uses_transfers")}),
        # Translators: title of the store's record dates (when it was created, last changed).
        (_("History"), {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_variant_count=Count("variants", distinct=True))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "timezone" in form.changed_data:
            store_timezone_changed(obj)
            changed = gettext("The time zone changed: daily demand was rebuilt on the new local days.")
            self.message_user(request, changed)

    @admin.display(description=_("Variants"), ordering="_variant_count")
    def variant_count(self, obj):
        return obj._variant_count

    @admin.display(description=_("Secrets"))
    def secrets_summary(self, obj):
        names = ", ".join(sorted(obj.credentials)) or gettext("no API credentials")
        count = len(obj.webhook_secrets)
        # Translators: %(names)s lists the names of the store's API credentials, or says there are none.
        summary = ngettext("%(count)s webhook secret(s); %(names)s (encrypted, not shown)",
                           "%(count)s webhook secret(s); %(names)s (encrypted, not shown)", count)  # fmt: skip
        return summary % {"count": count, "names": names}

    @admin.display(description=_("Connection"))
    def connection(self, obj):
        """The token's state: when it expires (renewed before), and the scopes granted, never the token."""
        credentials = obj.credentials
        if obj.connection_error:
            # Translators: the store's connection fails; %(error)s is the platform's answer.
            return gettext("FAILING: %(error)s") % {"error": obj.connection_error}
        if not credentials.get("expires_at"):
            if not credentials:
                return gettext("not connected")
            return gettext("a token that does not expire (a legacy app's, or REST keys)")
        recorded = credentials.get("scopes")
        # Translators: the access scopes the merchant granted were not recorded.
        scopes = recorded or gettext("not recorded")
        text = gettext("token valid until %(expires_at)s UTC, renewed before; scopes granted: %(scopes)s")
        text = text % {"expires_at": credentials["expires_at"][:16], "scopes": scopes}
        missing = [scope for scope in settings.SHOPIFY_SCOPES if scope not in (recorded or "").split(",")]
        if credentials.get("refresh_token") and missing:  # installed through the app: approve the rest there
            again = reverse("shopify-install") + "?" + urlencode({"shop": obj.domain})
            # Translators: {scopes} lists access scopes the app needs that the merchant has not granted yet.
            approve = gettext('{text}; missing: {scopes} (<a href="{url}">approve them</a>)')
            return format_html(approve, text=text, scopes=", ".join(missing), url=again)
        return text

    @admin.display(description=_("Activity"))
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
                line = ngettext(
                    # Translators: a store sync, e.g. "Backfill #12: Running, 40 page(s), 2025-03-01 10:00" (linked).
                    '<a href="{url}">{kind} #{number}</a>: {status}, {pages} page(s), {when}',
                    '<a href="{url}">{kind} #{number}</a>: {status}, {pages} page(s), {when}',
                    run.pages,
                )
                parts.append(
                    format_html(
                        line,
                        url=link,
                        kind=run.get_kind_display(),
                        number=run.pk,
                        status=run.get_status_display(),
                        pages=run.pages,
                        when=f"{when:%Y-%m-%d %H:%M}",
                    )
                )
        delivery = WebhookEvent.objects.filter(store=obj).order_by("-received_at").first()
        if delivery is not None:
            link = reverse("admin:inventory_ai_webhookevent_change", args=[delivery.pk])
            # Translators: the store's last webhook delivery: its topic (e.g. "orders/create", linked), then when.
            last = gettext('last webhook: <a href="{url}">{topic}</a> {when}')
            parts.append(format_html(last, url=link, topic=delivery.topic,
                                     when=f"{delivery.received_at:%Y-%m-%d %H:%M}"))  # fmt: skip
        if not parts:
            # Translators: the store has had no sync and no webhook delivery yet.
            return gettext("none yet")
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))

    @admin.display(description=_("Webhook subscriptions"))
    def subscriptions_summary(self, obj):
        report = obj.webhook_subscriptions or {}
        if not subscriptions.managed(obj):
            return gettext("kept by the merchant (a store connected with a pasted token)")
        if not report:
            return gettext("not checked yet: the next reconciliation subscribes them")
        states = Counter(report.get("topics", {}).values())
        found = subscriptions.problems(obj)
        counts = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        # Translators: %(states)s counts the webhook topics by state (e.g. "12 ok, 1 missing"), then the address.
        text = gettext("%(states)s at %(address)s (checked %(checked_at)s)") % {
            "states": counts,
            "address": report.get("address"),
            "checked_at": report.get("checked_at", "")[:16],
        }
        if not found:
            return text
        # Translators: %(summary)s is the subscriptions' summary, %(problems)s the problems found, "; "-separated.
        return gettext("%(summary)s; problems: %(problems)s") % {"summary": text, "problems": "; ".join(found)}


def retrain_stores(modeladmin, request, stores, kind):
    for store in stores:
        try:
            run = retraining.start_retrain(store, kind, trigger="admin", requested_by=request.user.get_username())
        except retraining.RetrainAlreadyRunning as exc:
            modeladmin.message_user(request, f"{store}: {exc}.", level="warning")
            continue
        if run is None:
            message = gettext("%(store)s: no new data since the current forecast.") % {"store": store}
            modeladmin.message_user(request, message, level="info")
        else:
            # Translators: e.g. "shop.example.com: full retrain queued as run #12."
            message = gettext("%(store)s: %(kind)s queued as run #%(number)s.")
            modeladmin.message_user(
                request, message % {"store": store, "kind": run.get_kind_display().lower(), "number": run.pk}
            )


def _sync_stores(modeladmin, request, stores, kind):
    for store in stores:
        try:
            run = sync_runs.start_sync(store, kind, trigger="admin")
        except sync_runs.SyncAlreadyRunning as exc:
            modeladmin.message_user(request, f"{store}: {exc}.", level="warning")
        else:
            # Translators: e.g. "shop.example.com: backfill queued as #12."
            message = gettext("%(store)s: %(kind)s queued as #%(number)s.")
            modeladmin.message_user(
                request, message % {"store": store, "kind": run.get_kind_display().lower(), "number": run.pk}
            )
