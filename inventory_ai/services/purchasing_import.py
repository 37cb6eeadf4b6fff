"""Suppliers and purchase orders from spreadsheets: Stocky's exports and a documented generic layout, and back.

Columns are matched by name, case-insensitively, spaces, dashes and underscores alike: the generic layout's names
(`COLUMNS`), and with the `stocky` format also those of Stocky's exports (`STOCKY_COLUMNS`). A column the format does
not know is reported and ignored.

- Suppliers: one row per supplier, or per supplier and SKU (Stocky's variant report): a row with a SKU also records
  what that supplier supplies (supplier SKU, cost price, pack size, MOQ, preferred). Existing suppliers are matched
  by name and updated with the file's non-empty values.
- Purchase orders: one row per line; rows sharing a PO number are one order, which is written whole or not at all.
  Its supplier is matched by name (made when new), its location by name or platform id (the primary location when
  none is given). Received quantities are history: they set what each line has received without touching stock.
  Without a status, one follows from the quantities (nothing received: sent; some: partially received; all:
  received).

Every row not imported is reported with its line number and reason (in the active language; a column or field is
named as the file names it); the good rows are imported. Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory_ai.choices import PurchaseOrderStatus
from inventory_ai.models import Location, PurchaseOrder, PurchaseOrderLine, Store, Supplier, SupplierItem, Variant

SUPPLIERS, PURCHASE_ORDERS = "suppliers", "purchase-orders"
KINDS = (SUPPLIERS, PURCHASE_ORDERS)
FORMATS = ("generic", "stocky")
IGNORED = "-"  # columns read by people, not needed to import

# field -> the column names of the generic layout that hold it (its name first, then common spellings)
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    SUPPLIERS: {
        "name": ("name", "supplier", "supplier name", "company"),
        "email": ("email", "email address", "contact email"),
        "currency": ("currency", "currency code"),
        "lead_time_days": ("lead time days", "lead time"),
        "lead_time_std_days": ("lead time std days", "lead time variability"),
        "review_period_days": ("review period days", "review period"),
        "min_order_value": ("min order value", "minimum order value"),
        "min_order_quantity": ("min order quantity", "minimum order quantity"),
        "case_pack": ("case pack", "case size"),
        "payment_terms": ("payment terms",),
        "notes": ("notes", "note"),
        "sku": ("sku",),
        "supplier_sku": ("supplier sku",),
        "unit_cost": ("unit cost", "cost"),
        "pack_size": ("pack size",),
        "moq": ("moq",),
        "preferred": ("preferred",),
        IGNORED: ("product", "variant", "title"),
    },
    PURCHASE_ORDERS: {
        "number": ("po number", "number"),
        "supplier": ("supplier", "supplier name"),
        "sku": ("sku",),
        "quantity": ("quantity", "qty", "ordered"),
        "received": ("received", "qty received"),
        "unit_cost": ("unit cost", "cost"),
        "status": ("status",),
        "location": ("location",),
        "expected_on": ("expected on",),
        "currency": ("currency",),
        "notes": ("notes", "note"),
        IGNORED: ("product", "variant", "title", "supplier sku", "line total"),
    },
}

# What Stocky's exports call them besides: its variant report (supplier, SKU and cost per variant) and its purchase
# orders (a row per line with the order's fields repeated)
STOCKY_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    SUPPLIERS: {
        "unit_cost": ("cost price",),
        IGNORED: ("shopify id", "average cost", "stock", "available", "price", "barcode", "vendor"),
    },
    PURCHASE_ORDERS: {
        "number": ("purchase order", "purchase order number", "po"),
        "quantity": ("ordered quantity", "quantity ordered"),
        "received": ("received quantity", "quantity received"),
        "unit_cost": ("cost price",),
        "location": ("location to receive stock", "receive location"),
        "expected_on": ("expected date", "expected arrival", "expected"),
        IGNORED: (
            "shopify id",
            "ordered on",
            "created at",
            "order date",
            "total",
            "price",
            "average cost",
            "stock",
            "barcode",
            "vendor",
            "payment due on",
            "discount",
            "tax",
            "shipping",
        ),  # fmt: skip
    },
}

# Stocky's purchase order states, and ours, to ours
STATUSES = {
    "draft": PurchaseOrderStatus.DRAFT,
    "pending": PurchaseOrderStatus.DRAFT,
    "sent": PurchaseOrderStatus.SENT,
    "ordered": PurchaseOrderStatus.SENT,
    "confirmed": PurchaseOrderStatus.SENT,
    "partially received": PurchaseOrderStatus.PARTIALLY_RECEIVED,
    "partially_received": PurchaseOrderStatus.PARTIALLY_RECEIVED,
    "received": PurchaseOrderStatus.RECEIVED,
    "closed": PurchaseOrderStatus.RECEIVED,
    "archived": PurchaseOrderStatus.RECEIVED,
    "cancelled": PurchaseOrderStatus.CANCELLED,
    "canceled": PurchaseOrderStatus.CANCELLED,
}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, reason); line 1 is the header

    def problem(self, line: int, reason: str) -> None:
        self.problems.append((line, reason))


class ImportRefused(ValueError):
    """The file as a whole cannot be read (no header, no column this kind needs)."""


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def _header(fieldnames: Iterable[str] | None, kind: str, layout: str, report: ImportReport) -> dict[str, str]:
    """The file's column for each field it has; unknown columns are reported."""
    if not fieldnames:
        raise ImportRefused(_("the file has no header row"))
    aliases = {alias: name for name, names in COLUMNS[kind].items() for alias in names}
    if layout == "stocky":
        aliases.update({alias: name for name, names in STOCKY_COLUMNS[kind].items() for alias in names})
    columns: dict[str, str] = {}
    for column in fieldnames:
        name = aliases.get(_key(column or ""))
        if name is None:
            report.problem(1, _("unknown column %(column)s: ignored") % {"column": repr(column)})
        elif name not in columns and name != IGNORED:
            columns[name] = column
    needed = ("name",) if kind == SUPPLIERS else ("number", "sku", "quantity")
    missing = [name for name in needed if name not in columns]
    if missing:
        message = _("no column for %(fields)s (see the generic layout in the README)")
        raise ImportRefused(message % {"fields": ", ".join(missing)})
    return columns


def _rows(text: str, kind: str, layout: str, report: ImportReport) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = _header(reader.fieldnames, kind, layout, report)
    rows = []
    for row in reader:
        values = {name: (row.get(column) or "").strip() for name, column in columns.items()}
        if any(values.values()):
            rows.append((reader.line_num, values))
    return rows


def _int(value: str, what: str) -> int | None:
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise ValueError(_("%(what)s %(value)s is not a number") % {"what": what, "value": repr(value)}) from None
    if number != number.to_integral_value() or number < 0:
        message = _("%(what)s %(value)s is not a whole number of %(least)s or more")
        raise ValueError(message % {"what": what, "value": repr(value), "least": 0})
    return int(number)


def _money(value: str, what: str = "cost") -> Decimal | None:
    """A cost as spreadsheets write it: "$12.50", "12.50 GBP", "1,299.00", "1.299,00"."""
    if not value:
        return None
    text = re.sub(r"[^\d,.\-]", "", value)
    if "," in text and "." in text:
        text = text.replace(",", "") if text.rfind(".") > text.rfind(",") else text.replace(".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", ".") if len(text.split(",")[-1]) == 2 else text.replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("%(what)s %(value)s is not an amount") % {"what": what, "value": repr(value)}) from None
    if amount < 0:
        raise ValueError(_("%(what)s %(value)s is negative") % {"what": what, "value": repr(value)})
    return amount


def _date(value: str, what: str) -> date | None:
    if not value:
        return None
    for parse in (date.fromisoformat, lambda text: date.fromisoformat(text[:10])):
        try:
            return parse(value)
        except ValueError:
            continue
    for pattern in (r"(\d{1,2})/(\d{1,2})/(\d{4})",):
        match = re.fullmatch(pattern, value)
        if match:  # day/month/year, as most exports outside the US write it
            day, month, year = (int(part) for part in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                break
    raise ValueError(_("%(what)s %(value)s is not a date (YYYY-MM-DD)") % {"what": what, "value": repr(value)})


def _variants(store: Store, skus: Iterable[str]) -> dict[str, Variant]:
    found: dict[str, Variant] = {}
    for variant in Variant.objects.filter(store=store, sku__in=set(skus), deleted_at__isnull=True).order_by("pk"):
        found.setdefault(variant.sku, variant)
    return found


# --- suppliers ----------------------------------------------------------------------------------------------------

SUPPLIER_TERMS = ("email", "currency", "lead_time_days", "lead_time_std_days", "review_period_days",
                  "min_order_value", "min_order_quantity", "case_pack", "payment_terms", "notes")  # fmt: skip


def import_suppliers(store: Store, text: str, layout: str = "generic") -> ImportReport:
    report = ImportReport()
    rows = _rows(text, SUPPLIERS, layout, report)
    variants = _variants(store, (values.get("sku", "") for _line, values in rows))
    for line, values in rows:
        try:
            terms = _supplier_terms(values)
            item = _item_terms(values, variants) if values.get("sku") else None
        except ValueError as exc:
            report.problem(line, str(exc))
            continue
        with transaction.atomic():
            supplier = Supplier.objects.filter(store=store, name__iexact=values["name"]).first()
            if supplier is None:
                supplier = Supplier.objects.create(store=store, name=values["name"][:255], **terms)
                report.created += 1
            else:
                changed = {name: value for name, value in terms.items() if getattr(supplier, name) != value}
                for name, value in changed.items():
                    setattr(supplier, name, value)
                if changed:
                    supplier.save()
                report.updated += bool(changed)
                report.unchanged += not changed and item is None
            if item is not None:
                _keep_item(supplier, item, report)
    return report


def _supplier_terms(values: dict[str, str]) -> dict:
    if not values.get("name"):
        raise ValueError(_("no supplier name"))
    terms: dict = {}
    if values.get("email"):
        try:
            validate_email(values["email"])
        except ValidationError:
            raise ValueError(_("e-mail %(value)s is not an address") % {"value": repr(values["email"])}) from None
        terms["email"] = values["email"]
    if values.get("currency"):
        if not re.fullmatch(r"[A-Za-z]{3}", values["currency"]):
            raise ValueError(_("currency %(value)s is not a 3-letter code") % {"value": repr(values["currency"])})
        terms["currency"] = values["currency"].upper()
    for name in ("lead_time_days", "review_period_days", "min_order_quantity", "case_pack"):
        number = _int(values.get(name, ""), name.replace("_", " "))
        if number is not None:
            terms[name] = number
    if values.get("lead_time_std_days"):
        terms["lead_time_std_days"] = float(_money(values["lead_time_std_days"], "lead time variability"))
    if values.get("min_order_value"):
        terms["min_order_value"] = _money(values["min_order_value"], "minimum order value")
    for name in ("payment_terms", "notes"):
        if values.get(name):
            terms[name] = values[name][: 100 if name == "payment_terms" else 10000]
    if terms.get("case_pack") == 0:
        raise ValueError(_("case pack must be at least 1"))
    return terms


def _item_terms(values: dict[str, str], variants: dict[str, Variant]) -> dict:
    variant = variants.get(values["sku"])
    if variant is None:
        raise ValueError(_("unknown SKU %(sku)s") % {"sku": repr(values["sku"])})
    item: dict = {"variant": variant}
    if values.get("supplier_sku"):
        item["supplier_sku"] = values["supplier_sku"][:255]
    if values.get("unit_cost"):
        item["unit_cost"] = _money(values["unit_cost"])
    for name in ("pack_size", "moq"):
        number = _int(values.get(name, ""), name.replace("_", " "))
        if number is not None:
            item[name] = number
    if item.get("pack_size") == 0:
        raise ValueError(_("pack size must be at least 1"))
    if values.get("preferred"):
        item["preferred"] = values["preferred"].strip().lower() in ("1", "yes", "true", "y", "x")
    return item


def _keep_item(supplier: Supplier, item: dict, report: ImportReport) -> None:
    variant = item.pop("variant")
    if item.get("preferred"):
        SupplierItem.objects.filter(variant=variant, preferred=True).exclude(supplier=supplier).update(preferred=False)
    existing = SupplierItem.objects.filter(supplier=supplier, variant=variant).first()
    if existing is None:
        SupplierItem.objects.create(supplier=supplier, variant=variant, **item)
        report.created += 1
        return
    changed = {name: value for name, value in item.items() if getattr(existing, name) != value}
    for name, value in changed.items():
        setattr(existing, name, value)
    if changed:
        existing.save()
        report.updated += 1
    else:
        report.unchanged += 1


# --- purchase orders ----------------------------------------------------------------------------------------------


def import_purchase_orders(store: Store, text: str, layout: str = "generic") -> ImportReport:
    report = ImportReport()
    rows = _rows(text, PURCHASE_ORDERS, layout, report)
    variants = _variants(store, (values.get("sku", "") for _line, values in rows))
    orders: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for line, values in rows:
        if not values.get("number"):
            report.problem(line, _("no PO number"))
            continue
        orders[values["number"]].append((line, values))
    for number, lines in orders.items():
        try:
            order, parsed = _parse_order(store, number, lines, variants)
        except _OrderRefused as exc:
            for line, reason in exc.problems:
                report.problem(line, reason)
            continue
        _write_order(store, number, order, parsed, report)
    return report


class _OrderRefused(Exception):
    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


def _parse_order(store, number, lines, variants) -> tuple[dict, list[dict]]:
    problems: list[tuple[int, str]] = []
    suppliers = {values.get("supplier", "").strip().lower() for _line, values in lines} - {""}
    if len(suppliers) > 1:
        message = _("PO %(number)s names more than one supplier (%(suppliers)s)")
        message %= {"number": number, "suppliers": ", ".join(sorted(suppliers))}
        raise _OrderRefused([(line, message) for line, _values in lines])
    first = lines[0][1]
    supplier_name = next((values["supplier"] for _line, values in lines if values.get("supplier")), "")
    existing = PurchaseOrder.objects.filter(store=store, number=number).select_related("supplier").first()
    if existing is not None and supplier_name and existing.supplier.name.lower() != supplier_name.lower():
        message = _("PO %(number)s is already %(supplier)s's, not %(named)s's")
        message %= {"number": number, "supplier": existing.supplier.name, "named": supplier_name}
        raise _OrderRefused([(line, message) for line, _values in lines])
    if existing is None and not supplier_name:
        message = _("PO %(number)s names no supplier") % {"number": number}
        raise _OrderRefused([(line, message) for line, _values in lines])
    order: dict = {"supplier": supplier_name, "existing": existing}
    try:
        order["expected_on"] = _date(first.get("expected_on", ""), "expected date")
        status = first.get("status", "").strip().lower()
        if status and status not in STATUSES:
            message = _("status %(value)s is not one of %(statuses)s")
            raise ValueError(message % {"value": repr(first["status"]), "statuses": ", ".join(sorted(set(STATUSES)))})
        order["status"] = STATUSES.get(status)
        order["location"] = _location(store, first.get("location", ""))
        currency = first.get("currency", "")
        if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise ValueError(_("currency %(value)s is not a 3-letter code") % {"value": repr(currency)})
        order["currency"] = currency.upper()
        order["notes"] = first.get("notes", "")
    except ValueError as exc:
        raise _OrderRefused([(lines[0][0], str(exc))]) from None
    parsed, seen = [], set()
    for line, values in lines:
        try:
            variant = variants.get(values["sku"]) if values.get("sku") else None
            if variant is None:
                raise ValueError(
                    _("unknown SKU %(sku)s") % {"sku": repr(values["sku"])} if values.get("sku") else _("no SKU")
                )
            if variant.pk in seen:
                raise ValueError(
                    _("SKU %(sku)s is on PO %(number)s twice") % {"sku": repr(variant.sku), "number": number}
                )
            quantity = _int(values.get("quantity", ""), "quantity")
            if quantity is None:
                raise ValueError(_("no quantity"))
            received = _int(values.get("received", ""), "received quantity") or 0
            parsed.append({"variant": variant, "quantity": quantity, "received": received,
                           "unit_cost": _money(values.get("unit_cost", ""))})  # fmt: skip
            seen.add(variant.pk)
        except ValueError as exc:
            problems.append((line, str(exc)))
    if problems:
        # an order is written whole or not at all: its good lines are reported too
        good = {line for line, _values in lines} - {line for line, _reason in problems}
        message = _("PO %(number)s has lines that cannot be imported") % {"number": number}
        raise _OrderRefused(problems + [(line, message) for line in good])
    return order, parsed


def _location(store: Store, value: str) -> Location:
    locations = Location.objects.filter(store=store)
    if value:
        found = locations.filter(name__iexact=value).first() or locations.filter(platform_id=value).first()
        if found is None:
            raise ValueError(_("unknown location %(value)s") % {"value": repr(value)})
        return found
    found = locations.filter(is_primary=True).first() or locations.filter(active=True).order_by("pk").first()
    if found is None:
        raise ValueError(_("the store has no location to receive at"))
    return found


def _derived_status(parsed: list[dict]) -> str:
    received = sum(min(line["received"], line["quantity"]) for line in parsed)
    if received == 0:
        return PurchaseOrderStatus.SENT
    if all(line["received"] >= line["quantity"] for line in parsed):
        return PurchaseOrderStatus.RECEIVED
    return PurchaseOrderStatus.PARTIALLY_RECEIVED


def _write_order(store: Store, number: str, order: dict, parsed: list[dict], report: ImportReport) -> None:
    status = order["status"] or _derived_status(parsed)
    now = timezone.now()
    with transaction.atomic():
        existing = order["existing"]
        if existing is None:
            supplier, _created = Supplier.objects.get_or_create(store=store, name__iexact=order["supplier"],
                                                         defaults={"name": order["supplier"][:255]})  # fmt: skip
            purchase = PurchaseOrder.objects.create(
                store=store, supplier=supplier, location=order["location"], number=number[:64], status=status,
                currency=order["currency"] or supplier.effective_currency, expected_on=order["expected_on"],
                notes=order["notes"], sent_at=None if status == PurchaseOrderStatus.DRAFT else now,
                received_at=now if status == PurchaseOrderStatus.RECEIVED else None,
                cancelled_at=now if status == PurchaseOrderStatus.CANCELLED else None,
            )  # fmt: skip
            PurchaseOrderLine.objects.bulk_create(
                PurchaseOrderLine(purchase_order=purchase, variant=line["variant"], quantity=line["quantity"],
                                  received=line["received"], unit_cost=line["unit_cost"]) for line in parsed
            )  # fmt: skip
            report.created += 1
            return
        purchase = PurchaseOrder.objects.select_for_update().get(pk=existing.pk)
        changed = purchase.status != status or (order["expected_on"] and purchase.expected_on != order["expected_on"])
        purchase.status = status
        purchase.expected_on = order["expected_on"] or purchase.expected_on
        for line in parsed:
            current = PurchaseOrderLine.objects.filter(purchase_order=purchase, variant=line["variant"]).first()
            fields = {"quantity": line["quantity"], "received": line["received"], "unit_cost": line["unit_cost"]}
            if current is None:
                PurchaseOrderLine.objects.create(purchase_order=purchase, variant=line["variant"], **fields)
                changed = True
            elif any(getattr(current, name) != value for name, value in fields.items()):
                PurchaseOrderLine.objects.filter(pk=current.pk).update(**fields)
                changed = True
        if changed:
            purchase.save()
            report.updated += 1
        else:
            report.unchanged += 1
