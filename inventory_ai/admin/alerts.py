"""Alert digests in the admin: a planner subscribes to a store's daily digest (their own subscriptions only)."""

from __future__ import annotations

from django.contrib import admin

from inventory_ai.models import AlertSubscription


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("store", "user", "active", "last_sent_on", "last_error")
    list_filter = ("store", "active")
    readonly_fields = ("last_sent_on", "last_error")

    def get_fields(self, request, obj=None):
        fields = ["store", "active", "last_sent_on", "last_error"]
        return ["user", *fields] if request.user.is_superuser else fields

    def get_queryset(self, request):
        subscriptions = super().get_queryset(request).select_related("store", "user")
        return subscriptions if request.user.is_superuser else subscriptions.filter(user=request.user)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser or obj.user_id is None:
            obj.user = request.user  # a planner subscribes themselves; the digest goes to their e-mail address
        super().save_model(request, obj, form, change)
