"""Admin building blocks shared by the model admins: read-only records, CSV export, and decisions (approve or
reject) behind a confirmation page where the quantity can still be edited."""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.text import csv_safe


class ReadOnlyAdminMixin:
    """For records that come from the stores or from services: staff inspect them, the product writes them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.action(description=_("Export selected to CSV"), permissions=["view"])
def export_csv(modeladmin, request, queryset):
    """The selected rows with the admin's `csv_columns` ((header, function of the row) pairs)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{modeladmin.opts.model_name}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow([header for header, _column in modeladmin.csv_columns])
    for row in queryset:
        writer.writerow([csv_safe(column(row)) for _header, column in modeladmin.csv_columns])
    return response


class DecisionAdminMixin:
    """Approve / Reject actions for pending records, each through a confirmation page (like Django's own
    delete_selected) that lists what will change and lets the planner edit the quantity before approving.

    Deciding needs the model's `approve_<model>` permission, checked again when the action runs, so a forged POST
    from a user without it is refused. Subclasses set `decision_noun` (plural, lazily translated: it is the `items`
    of whole translated sentences) and implement `proposed_quantity` and `decide`.
    """

    # Translators: what a decision page approves or rejects, as in "Approve records" or "3 records approved."
    decision_noun = _("records")
    quantity_label = _("Quantity")

    def has_approve_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.approve_{self.opts.model_name}")

    def reason_of(self, obj) -> str:
        """Why the record is proposed, in the reader's words ("": the template says it otherwise)."""
        return ""

    def proposed_quantity(self, obj) -> int:
        raise NotImplementedError

    def decide(self, obj, approve: bool, user, quantity: int | None) -> bool:
        raise NotImplementedError

    @admin.action(description=_("Approve selected…"), permissions=["approve"])
    def approve_selected(self, request, queryset):
        return self.confirm_decision(request, queryset, approve=True)

    @admin.action(description=_("Reject selected…"), permissions=["approve"])
    def reject_selected(self, request, queryset):
        return self.confirm_decision(request, queryset, approve=False)

    def confirm_decision(self, request, queryset, approve: bool, single: bool = False):
        """Show the confirmation page; on its POST ("post": "yes"), decide and return None (the admin redirects)."""
        if not self.has_approve_permission(request):
            raise PermissionDenied
        pending = list(queryset.filter(status="pending").select_related("variant", "store"))
        skipped = queryset.count() - len(pending)
        if not pending:
            message = gettext("None of the selected %(items)s is pending.") % {"items": self.decision_noun}
            self.message_user(request, message, messages.WARNING)
            return None
        errors: dict[int, str] = {}
        if request.method == "POST" and request.POST.get("post") == "yes":
            quantities = {}
            if approve:
                for obj in pending:
                    raw = request.POST.get(f"quantity-{obj.pk}", "").strip()
                    try:
                        quantities[obj.pk] = int(raw)
                        if quantities[obj.pk] < 0:
                            raise ValueError
                    except ValueError:
                        errors[obj.pk] = gettext("Enter a whole number, 0 or more.")
            if not errors:
                changed = sum(self.decide(obj, approve, request.user, quantities.get(obj.pk)) for obj in pending)
                # The English keeps one form for any count; the plural forms are there for the translations.
                if approve:
                    # Translators: e.g. "3 restock suggestions approved."; %(items)s is the records' plural noun.
                    done = ngettext("%(count)s %(items)s approved.", "%(count)s %(items)s approved.", changed)
                else:
                    # Translators: e.g. "3 restock suggestions rejected."; %(items)s is the records' plural noun.
                    done = ngettext("%(count)s %(items)s rejected.", "%(count)s %(items)s rejected.", changed)
                self.message_user(request, done % {"count": changed, "items": self.decision_noun}, messages.SUCCESS)
                if skipped or changed < len(pending):
                    left = skipped + len(pending) - changed
                    message = ngettext(
                        "%(count)s were no longer pending and were left as they are.",
                        "%(count)s were no longer pending and were left as they are.",
                        left,
                    )
                    self.message_user(request, message % {"count": left}, messages.WARNING)
                return None
        rows = [
            {
                "obj": obj,
                "reason": self.reason_of(obj),
                "quantity": request.POST.get(f"quantity-{obj.pk}", self.proposed_quantity(obj)),
                "error": errors.get(obj.pk),
            }
            for obj in pending
        ]
        # Translators: the confirmation page's title, e.g. "Approve restock suggestions".
        title = gettext("Approve %(items)s") if approve else gettext("Reject %(items)s")
        context = {
            **self.admin_site.each_context(request),
            "title": title % {"items": self.decision_noun},
            "opts": self.opts,
            "rows": rows,
            "approve": approve,
            "skipped": skipped,
            "single": single,
            "quantity_label": self.quantity_label,
            "decision_noun": self.decision_noun,
            "action_name": "approve_selected" if approve else "reject_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/inventory_ai/confirm_decision.html", context)
