"""Purchase orders from approved suggestions to received stock.

- An approved suggestion goes on the open draft order of its variant's supplier for its location (a new draft when
  there is none); a variant already on that draft orders more on its line. The supplier is the variant's preferred
  one, else one named after the product's vendor (made on first use), else one named after the variant's supplier
  text, else the store's "No supplier yet".
- A draft is edited (quantities, costs, rounded up to packs) and sent: e-mailed to the supplier with the order as a PDF
  and a CSV, or marked sent without e-mail. An e-mail that cannot be sent leaves it a draft with the error kept.
  Sending sets the expected arrival: today plus the supplier's lead time (the store's default without one).
- Receiving takes a quantity per line: each becomes a receipt and an approved restock adjustment, pushed to the store
  exactly once like any other. More than ordered is refused unless confirmed; a cancelled or received order takes
  none. The order is partially received until every line has all it ordered.
- What open orders (draft, sent, partially received) still await is what the policy counts as on order.

Every change is written to the audit log, inside the transaction that makes it.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from decimal import Decimal

from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inventory_ai.choices import AdjustmentReason, AdjustmentStatus, AuditAction, AuditSource, PurchaseOrderStatus
from inventory_ai.models import (
    InventoryLevel,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReorderSuggestion,
    StockAdjustment,
    Store,
    Supplier,
    SupplierItem,
    Variant,
)
from inventory_ai.services import audit, inbound_transfers, purchase_documents, push

logger = logging.getLogger(__name__)

NO_SUPPLIER = "No supplier yet"  # a supplier's name, kept in the database: not translated


class PurchasingError(ValueError):
    """A change the order's state does not allow (the message says why)."""


class OverReceipt(PurchasingError):
    """More units than a line still awaits: received only when the planner confirms."""


# --- suppliers ----------------------------------------------------------------------------------------------------


def _chosen(items: list[SupplierItem]) -> SupplierItem | None:
    """Of what suppliers supply of one variant, the one it is ordered from: the preferred, else the only one."""
    return next((item for item in items if item.preferred), items[0] if len(items) == 1 else None)


def _vendor_name(variant: Variant) -> str:
    """The supplier a variant without supplier items is ordered from: its product's vendor, else its supplier text."""
    return (variant.product.vendor or variant.supplier or "").strip()[:255]


def supplier_for(variant: Variant) -> Supplier:
    """The supplier a variant is ordered from (see the module's docstring), made when it does not exist yet."""
    chosen = _chosen(list(SupplierItem.objects.filter(variant=variant).select_related("supplier")))
    if chosen is not None:
        return chosen.supplier
    name = _vendor_name(variant) or NO_SUPPLIER
    found = Supplier.objects.filter(store_id=variant.store_id, name__iexact=name).first()
    return found or Supplier.objects.create(store_id=variant.store_id, name=name)


def suppliers_of(store: Store, variants: list[Variant]) -> dict[int, tuple[Supplier, SupplierItem | None]]:
    """Each variant's supplier (as `supplier_for` chooses it, without making one) with what it supplies of it, by
    variant pk, in a few queries; a variant without one is left out."""
    items: dict[int, list[SupplierItem]] = {}
    for item in SupplierItem.objects.filter(variant__in=variants).select_related("supplier"):
        items.setdefault(item.variant_id, []).append(item)
    named = {s.name.lower(): s for s in Supplier.objects.filter(store=store)}
    found: dict[int, tuple[Supplier, SupplierItem | None]] = {}
    for variant in variants:
        chosen = _chosen(items.get(variant.pk, []))
        if chosen is not None:
            found[variant.pk] = (chosen.supplier, chosen)
            continue
        name = _vendor_name(variant).lower()
        if name in named:
            found[variant.pk] = (named[name], None)
    return found


def suppliers_from_vendors(store: Store) -> int:
    """A supplier for every vendor the store's catalogue names that has none yet (how a store's suppliers start);
    returns how many were made."""
    vendors = {
        vendor.strip()[:255]
        for vendor in Product.objects.filter(store=store, deleted_at__isnull=True).values_list("vendor", flat=True)
        if vendor and vendor.strip()
    }
    known = {name.lower() for name in Supplier.objects.filter(store=store).values_list("name", flat=True)}
    spellings: dict[str, str] = {}  # one supplier per name, however the catalogue capitalises it
    for vendor in sorted(vendors):
        if vendor.lower() not in known:
            spellings.setdefault(vendor.lower(), vendor)
    new = sorted(spellings.values())
    Supplier.objects.bulk_create([Supplier(store=store, name=name) for name in new], ignore_conflicts=True)
    return len(new)


def supplier_name(variant: Variant) -> str:
    """The name of the supplier a variant would be ordered from, without making one (reads prefetched items)."""
    chosen = _chosen(list(variant.supplier_items.all()))
    return chosen.supplier.name if chosen is not None else _vendor_name(variant)


def supplier_item(supplier: Supplier, variant: Variant) -> SupplierItem | None:
    return SupplierItem.objects.filter(supplier=supplier, variant=variant).first()


def pack_size(supplier: Supplier, variant: Variant) -> int:
    """The units a variant is ordered in from this supplier: its own pack, else the supplier's case, else the
    variant's (or the store's) case pack."""
    item = supplier_item(supplier, variant)
    return (item.pack_size if item and item.pack_size else None) or supplier.case_pack or variant.effective_case_pack


def _unit_cost(supplier: Supplier, variant: Variant) -> Decimal | None:
    item = supplier_item(supplier, variant)
    return item.unit_cost if item is not None and item.unit_cost is not None else variant.unit_cost


# --- drafts from approved suggestions ------------------------------------------------------------------------------


def add_to_draft(suggestion: ReorderSuggestion, user, source: str = AuditSource.ADMIN) -> PurchaseOrder:
    """Put an approved suggestion's quantity on its supplier's open draft for its location (inside the approving
    transaction)."""
    variant = Variant.objects.select_related("product", "store").get(pk=suggestion.variant_id)
    supplier = supplier_for(variant)
    with transaction.atomic():
        order = _open_draft(variant.store, supplier, suggestion.location_id, user, source)
        line, created = PurchaseOrderLine.objects.select_for_update().get_or_create(
            purchase_order=order,
            variant=variant,
            defaults={"quantity": suggestion.quantity, "unit_cost": _unit_cost(supplier, variant)},
        )
        before = 0 if created else line.quantity
        if not created:
            line.quantity += suggestion.quantity
            line.save(update_fields=["quantity"])
        line.suggestions.add(suggestion)
        audit.record(
            order, AuditAction.EDIT, user, source, before={"line": variant.sku, "quantity": before},
            after={"line": variant.sku, "quantity": line.quantity}, note=f"from suggestion #{suggestion.pk}",
        )  # fmt: skip
    return order


def _open_draft(store: Store, supplier: Supplier, location_id: int, user, source: str) -> PurchaseOrder:
    draft = (
        PurchaseOrder.objects.select_for_update()
        .filter(store=store, supplier=supplier, location_id=location_id, status=PurchaseOrderStatus.DRAFT)
        .order_by("pk")
        .first()
    )
    if draft is not None:
        return draft
    Store.objects.select_for_update().filter(pk=store.pk).first()  # one numbering at a time per store
    taken = PurchaseOrder.objects.filter(store=store).count()
    number = f"PO-{taken + 1:05d}"
    while PurchaseOrder.objects.filter(store=store, number=number).exists():
        taken += 1
        number = f"PO-{taken + 1:05d}"
    order = PurchaseOrder.objects.create(
        store=store, supplier=supplier, location_id=location_id, number=number,
        currency=supplier.effective_currency, created_by=_user(user),
    )  # fmt: skip
    audit.record(order, AuditAction.CREATE, user, source, after={"number": number, "supplier": supplier.name})
    return order


# --- editing a draft ----------------------------------------------------------------------------------------------


def edit_line(
    line: PurchaseOrderLine, user, quantity: int | None = None, unit_cost: Decimal | None = None,
    source: str = AuditSource.ADMIN,
) -> PurchaseOrderLine:  # fmt: skip
    """Change a draft's line (its quantity, its unit cost)."""
    if quantity is not None and quantity < 0:
        raise PurchasingError(_("a quantity cannot be negative"))
    if unit_cost is not None and unit_cost < 0:
        raise PurchasingError(_("a cost cannot be negative"))
    with transaction.atomic():
        order = PurchaseOrder.objects.select_for_update().get(pk=line.purchase_order_id)
        _require(order, (PurchaseOrderStatus.DRAFT,), "edit")
        current = PurchaseOrderLine.objects.select_for_update().get(pk=line.pk)
        before = {"line": current.variant.sku, "quantity": current.quantity, "unit_cost": _money(current.unit_cost)}
        if quantity is not None:
            current.quantity = quantity
        if unit_cost is not None:
            current.unit_cost = unit_cost
        current.save(update_fields=["quantity", "unit_cost"])
        after = {"line": current.variant.sku, "quantity": current.quantity, "unit_cost": _money(current.unit_cost)}
        audit.record(order, AuditAction.EDIT, user, source, before=before, after=after)
    return current


def round_to_packs(order: PurchaseOrder, user, source: str = AuditSource.ADMIN) -> int:
    """Round every line of a draft up to whole packs; returns how many lines changed."""
    changed = 0
    for line in order.lines.select_related("variant__store"):
        pack = pack_size(order.supplier, line.variant)
        rounded = math.ceil(line.quantity / pack) * pack if pack > 1 else line.quantity
        if rounded != line.quantity:
            edit_line(line, user, quantity=rounded, source=source)
            changed += 1
    return changed


def totals(order: PurchaseOrder) -> dict:
    """The order's units and value (lines without a cost are counted apart), and whether it meets the supplier's
    minimum order value and quantity."""
    lines = list(order.lines.all())
    value = sum((line.value for line in lines if line.value is not None), Decimal("0"))
    units = sum(line.quantity for line in lines)
    supplier = order.supplier
    return {
        "units": units,
        "value": value.quantize(Decimal("0.01")),
        "lines_without_cost": sum(1 for line in lines if line.unit_cost is None),
        "below_min_value": supplier.min_order_value is not None and value < supplier.min_order_value,
        "below_min_quantity": supplier.min_order_quantity is not None and units < supplier.min_order_quantity,
    }


# --- sending ------------------------------------------------------------------------------------------------------


def send(order: PurchaseOrder, user, email: bool = True, source: str = AuditSource.ADMIN) -> PurchaseOrder:
    """Send a draft: e-mail it to the supplier with its PDF and CSV (or, `email=False`, mark it sent). A failed
    e-mail leaves the order a draft with the error in `send_error`, and raises PurchasingError."""
    with transaction.atomic():
        current = PurchaseOrder.objects.select_for_update().select_related("supplier", "store").get(pk=order.pk)
        _require(current, (PurchaseOrderStatus.DRAFT,), "send")
        if not current.lines.filter(quantity__gt=0).exists():
            raise PurchasingError(_("%(order)s has no line to order") % {"order": current})
        error = _email(current) if email else ""
        if not error:
            _mark_sent(current, user, source, email)
    if error:
        PurchaseOrder.objects.filter(pk=order.pk).update(send_error=error, updated_at=timezone.now())
        order.refresh_from_db()
        raise PurchasingError(error)
    order.refresh_from_db()
    return order


def _mark_sent(order: PurchaseOrder, user, source: str, emailed: bool) -> None:
    order.status, order.sent_at, order.send_error = PurchaseOrderStatus.SENT, timezone.now(), ""
    if order.expected_on is None:
        lead = order.supplier.lead_time_days
        order.expected_on = order.store.local_today() + timedelta(
            days=lead if lead is not None else order.store.default_lead_time_days
        )
    order.lines.filter(quantity=0).delete()
    order.save()
    inbound_transfers.after_send(order)
    audit.record(order, AuditAction.SEND, user, source, before={"status": PurchaseOrderStatus.DRAFT},
                 after={"status": order.status, "expected_on": str(order.expected_on),
                        "to": order.supplier.email if emailed else ""})  # fmt: skip


def _email(order: PurchaseOrder) -> str:
    """Send the order to its supplier; the reason it could not be sent, or "" once it was."""
    supplier = order.supplier
    if not supplier.email:
        return _("%(supplier)s has no e-mail address: add one, or mark the order sent without e-mail") % {
            "supplier": supplier
        }
    store = order.store
    # written in the sending planner's language (the active one)
    subject = _("Purchase order %(number)s from %(store)s") % {
        "number": order.number,
        "store": store.name or store.domain,
    }
    message = EmailMessage(
        subject=subject,
        body=purchase_documents.email_body(order),
        to=[supplier.email],
    )
    message.attach(f"{order.number}.pdf", purchase_documents.pdf(order), "application/pdf")
    message.attach(f"{order.number}.csv", purchase_documents.csv_text(order), "text/csv")
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # any backend's failure: SMTP, a refused address, a timeout
        logger.warning("purchase order %s could not be e-mailed to %s: %s", order.number, supplier.email, exc)
        error = _("the e-mail to %(address)s could not be sent: %(error)s") % {
            "address": supplier.email,
            "error": f"{exc.__class__.__name__}: {exc}",
        }
        return error[:1000]
    return ""


# --- receiving and cancelling -------------------------------------------------------------------------------------


def receive(
    order: PurchaseOrder, quantities: dict[int, int], user, allow_over: bool = False,
    source: str = AuditSource.ADMIN,
) -> list[Receipt]:  # fmt: skip
    """Receive units per line (line id -> units): each a receipt and a restock pushed to the store once."""
    if not quantities:
        raise PurchasingError(_("say how many units of which line arrived"))
    if any(quantity <= 0 for quantity in quantities.values()):
        raise PurchasingError(_("a received quantity must be at least 1"))
    receipts = []
    with transaction.atomic():
        current = PurchaseOrder.objects.select_for_update().get(pk=order.pk)
        _require(current, (PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED), "receive")
        lines = {
            line.pk: line
            for line in PurchaseOrderLine.objects.select_for_update()
            .select_related("variant")
            .filter(purchase_order=current, pk__in=list(quantities))
        }
        unknown = sorted(set(quantities) - set(lines))
        if unknown:
            missing = ", ".join(map(str, unknown))
            raise PurchasingError(_("%(order)s has no line %(lines)s") % {"order": current, "lines": missing})
        over = [_("%(variant)s (%(quantity)s > %(awaited)s awaited)")
                % {"variant": lines[pk].variant, "quantity": quantity, "awaited": lines[pk].outstanding}
                for pk, quantity in quantities.items() if quantity > lines[pk].outstanding]  # fmt: skip
        if over and not allow_over:
            # Translators: the lines joined by "; " (as in "ABC-1 (12 > 10 awaited); ABC-2 (5 > 0 awaited)")
            message = _("more than ordered: %(lines)s. Confirm to receive them anyway.")
            raise OverReceipt(message % {"lines": "; ".join(over)})
        for pk, quantity in quantities.items():
            line = lines[pk]
            receipts.append(_receive_line(current, line, quantity, user, source))
        before = current.status
        awaited = current.lines.filter(received__lt=F("quantity")).exists()
        current.status = PurchaseOrderStatus.PARTIALLY_RECEIVED if awaited else PurchaseOrderStatus.RECEIVED
        current.received_at = None if awaited else timezone.now()
        current.save(update_fields=["status", "received_at", "updated_at"])
        received = {lines[pk].variant.sku: quantity for pk, quantity in quantities.items()}
        audit.record(current, AuditAction.RECEIVE, user, source, before={"status": before},
                     after={"status": current.status, "received": received})  # fmt: skip
    return receipts


def _receive_line(order: PurchaseOrder, line: PurchaseOrderLine, quantity: int, user, source: str) -> Receipt:
    """A receipt, pushed as a restock: accepted on the line's shipment where it ships on an inbound transfer (up to
    what the shipment still awaits; units beyond it are an addition), else an addition."""
    on_shipment = min(quantity, line.outstanding) if line.shipment_line_id else 0
    held = (
        InventoryLevel.objects.filter(variant_id=line.variant_id, location_id=order.location_id)
        .values_list("available", flat=True)
        .first()
    ) or 0
    first = None
    # the addition expects the quantity after the shipment's part (pushed first, in the order they are queued)
    for units, shipment, expected in ((on_shipment, True, held), (quantity - on_shipment, False, held + on_shipment)):
        if units > 0:
            adjustment = _restock(order, line, units, shipment, expected, user, source)
            first = first or adjustment
    line.received += quantity
    line.save(update_fields=["received"])
    return Receipt.objects.create(line=line, quantity=quantity, adjustment=first, received_by=_user(user))


def _restock(
    order: PurchaseOrder, line: PurchaseOrderLine, units: int, on_shipment: bool, held: int, user, source: str
) -> StockAdjustment:
    now = timezone.now()
    adjustment = StockAdjustment.objects.create(
        store_id=order.store_id, variant_id=line.variant_id, location_id=order.location_id,
        expected_available=held, new_available=held + units, reason=AdjustmentReason.RESTOCK,
        note=f"{units:,} received on {order}", status=AdjustmentStatus.APPROVED,
        created_by=_user(user), decided_at=now, decided_by=_user(user),
        shipment_id=line.shipment_id if on_shipment else "",
        shipment_line_id=line.shipment_line_id if on_shipment else "",
    )  # fmt: skip
    where = f"{order.number}'s transfer shipment" if on_shipment else order.number
    audit.record(adjustment, AuditAction.APPROVE, user, source, after={"status": "approved", "delta": units},
                 note=f"received on {where}")  # fmt: skip
    push.enqueue_push(adjustment.pk)
    return adjustment


def cancel(order: PurchaseOrder, user, source: str = AuditSource.ADMIN) -> PurchaseOrder:
    """Cancel an order not yet fully received: what it still awaited is no longer on order."""
    with transaction.atomic():
        current = PurchaseOrder.objects.select_for_update().get(pk=order.pk)
        _require(current, PurchaseOrderStatus.open(), "cancel")
        before = current.status
        current.status, current.cancelled_at = PurchaseOrderStatus.CANCELLED, timezone.now()
        current.save(update_fields=["status", "cancelled_at", "updated_at"])
        inbound_transfers.after_cancel(current)
        audit.record(current, AuditAction.CANCEL, user, source, before={"status": before},
                     after={"status": current.status})  # fmt: skip
    order.refresh_from_db()
    return order


# --- on order -----------------------------------------------------------------------------------------------------


def on_order(variant_ids: list[int]) -> dict[int, int]:
    """Units still awaited per variant, each counted once: on our open orders (ordered minus received, never below
    zero per line), and on their way by the store's own purchase orders and transfers (Shopify's `incoming` at
    active locations) less what is ours in it (the shipments of our orders' inbound transfers)."""
    open_lines = PurchaseOrderLine.objects.filter(
        variant_id__in=variant_ids, purchase_order__status__in=PurchaseOrderStatus.open(), received__lt=F("quantity")
    )
    ours_in_transit: dict[tuple[int, int], int] = {}
    for row in (
        open_lines.exclude(shipment_line_id="")
        .values("variant_id", "purchase_order__location_id")
        .annotate(units=Sum(F("quantity") - F("received")))
    ):
        ours_in_transit[(row["variant_id"], row["purchase_order__location_id"])] = int(row["units"])
    awaited: dict[int, int] = {}
    incoming = InventoryLevel.objects.filter(variant_id__in=variant_ids, location__active=True, incoming__gt=0)
    for variant_id, location_id, units in incoming.values_list("variant_id", "location_id", "incoming"):
        theirs = units - ours_in_transit.get((variant_id, location_id), 0)
        if theirs > 0:
            awaited[variant_id] = awaited.get(variant_id, 0) + theirs
    for row in open_lines.values("variant_id").annotate(awaited=Sum(F("quantity") - F("received"))):
        awaited[row["variant_id"]] = awaited.get(row["variant_id"], 0) + int(row["awaited"])
    return awaited


def late(store: Store) -> list[PurchaseOrder]:
    """Sent orders whose expected arrival has passed with units still awaited."""
    return list(
        PurchaseOrder.objects.filter(
            store=store,
            status__in=(PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED),
            expected_on__lt=store.local_today(),
        ).select_related("supplier")
    )


# what an order's state may refuse, by action: "<order> is <its status>: it cannot ..."
REFUSALS = {
    "edit": gettext_lazy("%(order)s is %(status)s: it cannot be edited"),
    "send": gettext_lazy("%(order)s is %(status)s: it cannot be sent"),
    "receive": gettext_lazy("%(order)s is %(status)s: it cannot be received"),
    "cancel": gettext_lazy("%(order)s is %(status)s: it cannot be cancelled"),
}


def _require(order: PurchaseOrder, allowed: tuple[str, ...], action: str) -> None:
    """Refuse the action (a key of `REFUSALS`) unless the order's status is one of `allowed`."""
    if order.status not in allowed:
        raise PurchasingError(REFUSALS[action] % {"order": order, "status": order.get_status_display().lower()})


def _user(user):
    return user if user is not None and user.is_authenticated else None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
