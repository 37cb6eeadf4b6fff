"""Admin of the webhook inbox: events as received, their status, and re-queueing failed ones."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from inventory_ai.admin.common import ReadOnlyAdminMixin
from inventory_ai.models import (
    WebhookEvent,
)
from inventory_ai.services.webhooks import requeue_failed_events


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

    @admin.action(description=_("Re-queue selected failed events"), permissions=["requeue"])
    def requeue_failed(self, request, queryset):
        count = requeue_failed_events(list(queryset.values_list("pk", flat=True)))
        # The English keeps "event(s)" for any count; the plural forms are there for the translations.
        message = ngettext(
            "%(count)s failed event(s) re-queued for processing.",
            "%(count)s failed event(s) re-queued for processing.",
            count,
        )
        self.message_user(request, message % {"count": count})

    # Translators: the webhook event's payload, as the store sent it.
    @admin.display(description=_("Body"))
    def body_text(self, obj):
        return bytes(obj.body).decode("utf-8", errors="replace")
