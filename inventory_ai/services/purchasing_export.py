"""Suppliers and purchase orders as CSV in the generic layout `purchasing_import` reads back (a round trip adds
nothing)."""

from __future__ import annotations

import csv
import io

from inventory_ai.models import PurchaseOrder, Store, Supplier
from inventory_ai.text import csv_safe


class _SafeWriter:
    """A CSV writer whose cells a spreadsheet will not run as formulas."""

    def __init__(self, out: io.StringIO) -> None:
        self.writer = csv.writer(out)

    def writerow(self, row) -> None:
        self.writer.writerow([csv_safe(value) for value in row])


SUPPLIER_EXPORT = ("name", "email", "currency", "lead_time_days", "lead_time_std_days", "review_period_days",
                   "min_order_value", "min_order_quantity", "case_pack", "payment_terms", "notes", "sku",
                   "supplier_sku", "unit_cost", "pack_size", "moq", "preferred")  # fmt: skip
ORDER_EXPORT = ("po_number", "supplier", "status", "location", "expected_on", "currency", "sku", "quantity",
                "received", "unit_cost", "notes")  # fmt: skip


def export_suppliers(store: Store) -> str:
    """Every supplier (a row per SKU it supplies, or one row without), in the generic layout import reads."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(SUPPLIER_EXPORT)
    for supplier in Supplier.objects.filter(store=store).order_by("name"):
        terms = ["" if getattr(supplier, name) is None else getattr(supplier, name) for name in SUPPLIER_EXPORT[:11]]
        items = list(supplier.items.select_related("variant").order_by("variant__sku"))
        for item in items or [None]:
            if item is None:
                writer.writerow([*terms, "", "", "", "", "", ""])
                continue
            cost = "" if item.unit_cost is None else item.unit_cost
            writer.writerow([*terms, item.variant.sku, item.supplier_sku, cost, item.pack_size or "", item.moq or "",
                             "yes" if item.preferred else ""])  # fmt: skip
    return out.getvalue()


def export_purchase_orders(store: Store) -> str:
    """Every purchase order, a row per line, in the generic layout import reads."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(ORDER_EXPORT)
    orders = PurchaseOrder.objects.filter(store=store).select_related("supplier", "location").order_by("number")
    for order in orders:
        for line in order.lines.select_related("variant").order_by("pk"):
            location = order.location.name or order.location.platform_id
            cost = "" if line.unit_cost is None else line.unit_cost
            writer.writerow([order.number, order.supplier.name, order.status, location, order.expected_on or "",
                             order.currency, line.variant.sku, line.quantity, line.received, cost,
                             order.notes])  # fmt: skip
    return out.getvalue()
