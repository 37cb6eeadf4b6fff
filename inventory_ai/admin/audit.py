"""Admin of the audit log: every decision with who, when and from where (append-only)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from inventory_ai.admin.common import export_csv
from inventory_ai.models import (
    AuditEntry,
)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only for everybody: nobody adds, edits or deletes an entry here."""

    list_display = ("at", "actor_name", "source", "action", "target_link", "before", "after", "store")
    list_filter = ("action", "source", "target_type", "store")
    search_fields = ("target_repr", "actor_name", "note")
    date_hierarchy = "at"
    list_select_related = ("store",)
    actions = [export_csv]
    csv_columns = (
        ("at", lambda e: e.at.isoformat()),
        ("actor", lambda e: e.actor_name),
        ("source", lambda e: e.source),
        ("action", lambda e: e.action),
        ("target_type", lambda e: e.target_type),
        ("target_id", lambda e: e.target_id),
        ("target", lambda e: e.target_repr),
        ("before", lambda e: e.before),
        ("after", lambda e: e.after),
        ("note", lambda e: e.note),
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # Translators: column of the audit log: the record an entry is about (a suggestion, an adjustment...).
    @admin.display(description=_("What"), ordering="target_repr")
    def target_link(self, obj):
        model = {"suggestion": "reordersuggestion", "adjustment": "stockadjustment"}.get(obj.target_type)
        if model is None:
            return obj.target_repr
        url = reverse(f"admin:inventory_ai_{model}_change", args=[obj.target_id])
        return format_html('<a href="{}">{}</a>', url, obj.target_repr)
