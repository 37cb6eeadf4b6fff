"""Admin of the audit log: every decision with who, when and from where (append-only)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from inventory_ai.admin.common import export_csv
from inventory_ai.models import AuditEntry
from inventory_ai.services.audit import TARGET_TYPES

MODELS = {name: model for model, name in TARGET_TYPES.items()}
# Names in entries that are not a field of the record they are about.
OTHER_KEYS = {
    "line": _("line"),
    "lines": _("lines"),
    "transfer": _("transfer"),
    "to": _("to"),
    "delta": _("change"),
    "store_quantity": _("the store's quantity"),
}


class TargetTypeFilter(admin.SimpleListFilter):
    """The kinds of record the log speaks of, by their names."""

    title = _("target type")
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        return [(name, model._meta.verbose_name) for name, model in MODELS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(target_type=self.value()) if self.value() else queryset


def changes(entry: AuditEntry, values: dict) -> str:
    """An entry's before or after in the reader's words: each name as its field's label and each coded value (a
    status, a reason) as its choice's label; other values as they were written."""
    model = MODELS.get(entry.target_type)
    parts = []
    for key, value in (values or {}).items():
        label, shown = OTHER_KEYS.get(key, key.replace("_", " ")), value
        try:
            field = model._meta.get_field(key) if model is not None else None
        except FieldDoesNotExist:
            field = None
        if field is not None:
            label = field.verbose_name
            shown = dict(field.flatchoices).get(value, value) if field.choices else value
        parts.append(f"{label}: {shown}")
    return "; ".join(parts)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only for everybody: nobody adds, edits or deletes an entry here."""

    list_display = ("at", "actor_name", "source", "action", "target_link", "before_display", "after_display", "store")
    list_filter = ("action", "source", TargetTypeFilter, "store")
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

    @admin.display(description=_("Before"))
    def before_display(self, obj) -> str:
        return changes(obj, obj.before)

    @admin.display(description=_("After"))
    def after_display(self, obj) -> str:
        return changes(obj, obj.after)

    # Translators: column of the audit log: the record an entry is about (a suggestion, an adjustment...).
    @admin.display(description=_("What"), ordering="target_repr")
    def target_link(self, obj):
        model = {"suggestion": "reordersuggestion", "adjustment": "stockadjustment"}.get(obj.target_type)
        if model is None:
            return obj.target_repr
        url = reverse(f"admin:inventory_ai_{model}_change", args=[obj.target_id])
        return format_html('<a href="{}">{}</a>', url, obj.target_repr)
