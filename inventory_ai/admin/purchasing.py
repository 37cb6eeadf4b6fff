"""Suppliers (with what each supplies) and purchase orders in the admin.

A draft's lines are edited in place (quantity, unit cost); the list's actions round drafts to packs, send them by
e-mail or mark them sent, receive what sent orders still await, and cancel. Each goes through `services.purchasing`,
so the permissions, the state rules and the audit log are those of the API.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import DecimalField, F, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext, ngettext_lazy, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import PurchaseOrderStatus
from inventory_ai.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierItem
from inventory_ai.services import purchase_documents, purchasing
from inventory_ai.text import number


class SupplierItemInline(admin.TabularInline):
    model = SupplierItem
    extra = 0
    autocomplete_fields = ("variant",)
    fields = ("variant", "supplier_sku", "unit_cost", "pack_size", "moq", "preferred")


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "store", "email", "lead_time_days", "min_order_value", "case_pack")
    list_filter = ("store",)
    search_fields = ("name", "email")
    inlines = (SupplierItemInline,)
    fieldsets = (
        (None, {"fields": ("store", "name", "email", "currency", "payment_terms")}),
        (
            pgettext_lazy("a supplier's terms", "Ordering"),
            {
                "fields": (
                    "lead_time_days",
                    "lead_time_std_days",
                    "review_period_days",
                    "order_weekday",
                    "min_order_value",
                    "min_order_quantity",
                    "case_pack",
                )
            },
        ),  # fmt: skip
        (None, {"fields": ("notes",)}),
    )


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    fields = ("variant", "quantity", "unit_cost", "received")
    readonly_fields = ("variant", "received")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # a draft's lines are edited; a sent order's are what the supplier was sent
        return obj is not None and obj.status == PurchaseOrderStatus.DRAFT and super().has_change_permission(request)


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ("number", "supplier", "location", "status", "expected_on", "units", "value", "send_error")
    list_filter = ("status", "store", "supplier")
    search_fields = ("number", "supplier__name")
    inlines = (PurchaseOrderLineInline,)
    actions = ("round_to_packs", "send_by_email", "mark_sent", "receive_all", "cancel_orders")
    fields = ("number", "store", "supplier", "location", "status", "currency", "expected_on", "notes", "send_error",
              "transfer_id", "transfer_error", "totals", "documents", "created_at", "sent_at", "received_at",
              "cancelled_at")  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        editable = ("expected_on", "notes") if obj is not None and obj.status in PurchaseOrderStatus.open() else ()
        return [name for name in self.fields if name not in editable]

    def has_add_permission(self, request, obj=None):
        return False  # orders come from approved suggestions (or an import)

    def get_queryset(self, request):
        # each order's units and value summed by the database for the whole page, instead of every line loaded
        line_value = Sum(
            F("lines__quantity") * F("lines__unit_cost"), output_field=DecimalField(max_digits=20, decimal_places=4)
        )
        return (
            super()
            .get_queryset(request)
            .select_related("supplier", "location", "store")
            .annotate(line_units=Coalesce(Sum("lines__quantity"), 0), line_value=Coalesce(line_value, Decimal("0")))
        )

    @admin.display(description=_("Units"))
    def units(self, order: PurchaseOrder) -> int:
        return order.line_units

    @admin.display(description=_("Value"))
    def value(self, order: PurchaseOrder) -> str:
        return f"{number(order.line_value.quantize(Decimal('0.01')), 2)} {order.currency}"

    @admin.display(description=_("Totals"))
    def totals(self, order: PurchaseOrder) -> str:
        totals = purchasing.totals(order)
        notes = []
        if totals["below_min_value"]:
            minimum = number(order.supplier.min_order_value, 2)
            notes.append(gettext("below the supplier's minimum order value (%(value)s)") % {"value": minimum})
        if totals["below_min_quantity"]:
            minimum = number(order.supplier.min_order_quantity)
            notes.append(gettext("below the supplier's minimum quantity (%(quantity)s)") % {"quantity": minimum})
        if count := totals["lines_without_cost"]:
            without = ngettext("%(count)s line(s) without a cost", "%(count)s line(s) without a cost", count)
            notes.append(without % {"count": count})
        text = ngettext(
            "%(units)s units, %(value)s %(currency)s", "%(units)s units, %(value)s %(currency)s", totals["units"]
        )
        text %= {"units": number(totals["units"]), "value": number(totals["value"], 2), "currency": order.currency}
        # Translators: an order's totals, then what they fall short of, joined by "; "
        return gettext("%(totals)s — %(notes)s") % {"totals": text, "notes": "; ".join(notes)} if notes else text

    @admin.display(description=_("Documents"))
    def documents(self, order: PurchaseOrder) -> str:
        links = [
            format_html('<a href="{}">{}</a>', reverse("admin:purchaseorder_document", args=[order.pk, kind]), label)
            for kind, label in (("pdf", "PDF"), ("csv", "CSV"))
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    def save_formset(self, request, form, formset, change):
        # edited lines go through the service: only a draft's, each change audited
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for line_form in formset.forms:
            if not line_form.has_changed() or line_form.instance.pk is None:
                continue
            data = line_form.cleaned_data
            try:
                purchasing.edit_line(PurchaseOrderLine.objects.get(pk=line_form.instance.pk), request.user,
                                     quantity=data.get("quantity"), unit_cost=data.get("unit_cost"))  # fmt: skip
            except purchasing.PurchasingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            formset.changed_objects.append((line_form.instance, line_form.changed_data))

    def _each(self, request, queryset, permission: str, work, done: str) -> None:
        """Do `work` to each order (a transaction each), then say how many it did (`DONE[done]`) and what failed."""
        if not request.user.has_perm(f"inventory_ai.{permission}"):
            raise PermissionDenied
        count, errors = 0, []
        for order in queryset:
            try:
                with transaction.atomic():
                    work(order)
                count += 1
            except purchasing.PurchasingError as exc:
                errors.append(gettext("%(order)s: %(error)s") % {"order": order.number, "error": exc})
        if count:
            self.message_user(request, DONE[done] % {"count": count})
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    @admin.action(description=_("Round the selected drafts up to whole packs"))
    def round_to_packs(self, request, queryset):
        self._each(request, queryset.filter(status=PurchaseOrderStatus.DRAFT), "change_purchaseorder",
                   lambda order: purchasing.round_to_packs(order, request.user), "round")  # fmt: skip

    @admin.action(description=_("Send the selected drafts to their suppliers by e-mail (PDF and CSV)"))
    def send_by_email(self, request, queryset):
        self._each(request, queryset, "send_purchaseorder", lambda order: purchasing.send(order, request.user),
                   "send")  # fmt: skip

    @admin.action(description=_("Mark the selected drafts sent (ordered some other way)"))
    def mark_sent(self, request, queryset):
        self._each(request, queryset, "send_purchaseorder",
                   lambda order: purchasing.send(order, request.user, email=False), "mark-sent")  # fmt: skip

    @admin.action(description=_("Receive everything the selected orders still await (pushed to the store)"))
    def receive_all(self, request, queryset):
        def receive(order: PurchaseOrder) -> None:
            awaited = {line.pk: line.outstanding for line in order.lines.all() if line.outstanding > 0}
            purchasing.receive(order, awaited, request.user)

        self._each(request, queryset, "receive_purchaseorder", receive, "receive")

    @admin.action(description=_("Cancel the selected orders"))
    def cancel_orders(self, request, queryset):
        self._each(request, queryset, "change_purchaseorder", lambda order: purchasing.cancel(order, request.user),
                   "cancel")  # fmt: skip

    def get_urls(self):
        document = self.admin_site.admin_view(self.document)
        receive = self.admin_site.admin_view(self.receive_view)
        step = self.admin_site.admin_view(self.step_view)
        return [
            path("<int:pk>/document.<str:kind>", document, name="purchaseorder_document"),
            path("<int:pk>/receive/", receive, name="purchaseorder_receive"),
            path("<int:pk>/step/<str:step>/", step, name="purchaseorder_step"),
            *super().get_urls(),
        ]

    def step_view(self, request, pk: int, step: str):
        """One step of an order from its page: round to packs, send by e-mail, mark sent, cancel."""
        if request.method != "POST" or step not in STEPS:
            raise PermissionDenied
        permission, work = STEPS[step]
        if not request.user.has_perm(f"inventory_ai.{permission}"):
            raise PermissionDenied
        order = get_object_or_404(PurchaseOrder, pk=pk)
        try:
            work(order, request.user)
        except purchasing.PurchasingError as exc:
            error = gettext("%(order)s: %(error)s") % {"order": order.number, "error": exc}
            self.message_user(request, error, messages.ERROR)
        else:
            self.message_user(request, DONE_ONE[step] % {"order": order.number})
        return HttpResponseRedirect(reverse("admin:inventory_ai_purchaseorder_change", args=[pk]))

    def receive_view(self, request, pk: int):
        """What arrived, line by line: each line's units become a receipt pushed to the store once."""
        if not request.user.has_perm("inventory_ai.receive_purchaseorder"):
            raise PermissionDenied
        order = get_object_or_404(PurchaseOrder.objects.select_related("location", "supplier"), pk=pk)
        lines = list(order.lines.select_related("variant__product").order_by("pk"))
        error, over = "", False
        if request.method == "POST":
            quantities, error = {}, ""
            for line in lines:
                text = request.POST.get(f"line-{line.pk}", "").strip()
                line.entered = text
                if not text:
                    continue
                if not text.isdigit():
                    error = gettext("%(sku)s: %(value)s is not a whole number") % {
                        "sku": line.variant.sku,
                        "value": repr(text),
                    }
                elif int(text) > 0:
                    quantities[line.pk] = int(text)
            if not error:
                try:
                    purchasing.receive(order, quantities, request.user, allow_over=bool(request.POST.get("allow_over")))
                except purchasing.OverReceipt as exc:
                    error, over = str(exc), True
                except purchasing.PurchasingError as exc:
                    error = str(exc)
                else:
                    order.refresh_from_db()
                    units = sum(quantities.values())
                    received = ngettext(
                        "%(units)s units received on %(order)s: it is now %(status)s.",
                        "%(units)s units received on %(order)s: it is now %(status)s.",
                        units,
                    )
                    status = order.get_status_display().lower()
                    figures = {"units": number(units), "order": order.number, "status": status}
                    self.message_user(request, received % figures)
                    return HttpResponseRedirect(reverse("admin:inventory_ai_purchaseorder_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Receive %(order)s") % {"order": order.number},
            "opts": self.opts,
            "order": order,
            "lines": lines,
            "error": error,
            "over": over,
        }
        return TemplateResponse(request, "admin/inventory_ai/purchaseorder/receive.html", context)

    def document(self, request, pk: int, kind: str):
        """The order as the supplier receives it: its PDF or its CSV."""
        order = PurchaseOrder.objects.select_related("supplier", "store", "location").filter(pk=pk).first()
        if order is None or not self.has_view_permission(request, order) or kind not in ("pdf", "csv"):
            raise PermissionDenied
        if kind == "pdf":
            response = HttpResponse(purchase_documents.pdf(order), content_type="application/pdf")
        else:
            response = HttpResponse(purchase_documents.csv_text(order), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{order.number}.{kind}"'
        return response


# step -> (the permission it needs, what it does); what its message says is `DONE_ONE[step]`
STEPS = {
    "round": ("change_purchaseorder", lambda order, user: purchasing.round_to_packs(order, user)),
    "send": ("send_purchaseorder", lambda order, user: purchasing.send(order, user)),
    "mark-sent": ("send_purchaseorder", lambda order, user: purchasing.send(order, user, email=False)),
    "cancel": ("change_purchaseorder", lambda order, user: purchasing.cancel(order, user)),
}
# what a step says it did to its order
DONE_ONE = {
    "round": _("%(order)s rounded to packs."),
    "send": _("%(order)s sent by e-mail."),
    "mark-sent": _("%(order)s marked sent."),
    "cancel": _("%(order)s cancelled."),
}
# what an action of the list says it did, by how many orders
DONE = {
    "round": ngettext_lazy(
        "%(count)s purchase order(s) rounded to packs.", "%(count)s purchase order(s) rounded to packs.", "count"
    ),
    "send": ngettext_lazy(
        "%(count)s purchase order(s) sent by e-mail.", "%(count)s purchase order(s) sent by e-mail.", "count"
    ),
    "mark-sent": ngettext_lazy(
        "%(count)s purchase order(s) marked sent.", "%(count)s purchase order(s) marked sent.", "count"
    ),
    "receive": ngettext_lazy("%(count)s purchase order(s) received.", "%(count)s purchase order(s) received.", "count"),
    "cancel": ngettext_lazy(
        "%(count)s purchase order(s) cancelled.", "%(count)s purchase order(s) cancelled.", "count"
    ),
}
