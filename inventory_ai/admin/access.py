"""API tokens in the admin, for superusers: issue (the key is shown once), see when each was last used, revoke."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from inventory_ai.models import ApiToken
from inventory_ai.services.api_tokens import LOOKUP_LENGTH, digest, new_key


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("lookup", "user", "name", "created_at", "last_used_at")
    list_filter = ("user",)
    search_fields = ("lookup", "name", "user__username")
    fields = ("user", "name")
    readonly_fields = ("lookup", "created_at", "last_used_at")

    # Tokens act as their users: only superusers see, issue, rename or revoke them, whatever the groups say.
    @staticmethod
    def _superuser(request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request) -> bool:
        return self._superuser(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._superuser(request)

    def has_add_permission(self, request) -> bool:
        return self._superuser(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._superuser(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._superuser(request)

    def get_fields(self, request, obj=None):
        return ("user", "name") if obj is None else ("lookup", "user", "name", "created_at", "last_used_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("lookup", "user", "created_at", "last_used_at")

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            key = new_key()
            obj.lookup, obj.digest = key[:LOOKUP_LENGTH], digest(key)
            obj.issued_key = key  # shown once by response_add, never stored
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("API token issued"),
            "token": obj,
            "key": obj.issued_key,
        }
        return TemplateResponse(request, "admin/inventory_ai/apitoken/issued.html", context)
