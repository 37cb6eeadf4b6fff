"""A purchase order as the supplier receives it: a PDF (ReportLab's page layout, not drawn by hand), a CSV of its
lines, and the e-mail's text."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from inventory_ai.models import PurchaseOrder, SupplierItem
from inventory_ai.text import csv_safe

CSV_COLUMNS = ("po_number", "supplier", "sku", "supplier_sku", "product", "quantity", "unit_cost", "line_total",
               "currency", "expected_on")  # fmt: skip


def _rows(order: PurchaseOrder) -> list[dict]:
    items = {
        item.variant_id: item.supplier_sku
        for item in SupplierItem.objects.filter(
            supplier_id=order.supplier_id, variant__purchase_order_lines__purchase_order=order
        )
    }
    rows = []
    for line in order.lines.select_related("variant__product").order_by("pk"):
        variant = line.variant
        title = variant.display_title
        rows.append(
            {
                "po_number": order.number,
                "supplier": order.supplier.name,
                "sku": variant.sku,
                "supplier_sku": items.get(variant.pk, ""),
                "product": title,
                "quantity": line.quantity,
                "unit_cost": "" if line.unit_cost is None else f"{line.unit_cost:.2f}",
                "line_total": "" if line.value is None else f"{line.value:.2f}",
                "currency": order.currency,
                "expected_on": order.expected_on.isoformat() if order.expected_on else "",
            }
        )
    return rows


def csv_text(order: PurchaseOrder) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows({key: csv_safe(value) for key, value in row.items()} for row in _rows(order))
    return out.getvalue()


def email_body(order: PurchaseOrder) -> str:
    store = order.store
    rows = _rows(order)
    units = sum(row["quantity"] for row in rows)
    lines = [
        f"Hello {order.supplier.name},",
        "",
        f"Please find attached purchase order {order.number} from {store.name or store.domain}: "
        f"{len(rows)} line(s), {units:,} unit(s).",
    ]
    if order.expected_on:
        lines.append(f"We expect delivery by {order.expected_on:%d %B %Y}.")
    if order.notes:
        lines += ["", order.notes]
    lines += ["", "The order is attached as a PDF and as a CSV."]
    return "\n".join(lines)


def pdf(order: PurchaseOrder) -> bytes:
    """The order on A4: who orders from whom, when it is expected, and its lines with their totals."""
    styles = getSampleStyleSheet()
    store, supplier = order.store, order.supplier
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm, bottomMargin=18 * mm,
        title=f"Purchase order {order.number}", author=store.name or store.domain,
    )  # fmt: skip
    rows = _rows(order)
    total = sum((Decimal(row["line_total"]) for row in rows if row["line_total"]), Decimal("0"))
    table = [["SKU", "Supplier SKU", "Product", "Qty", f"Unit ({order.currency})", f"Total ({order.currency})"]]
    for row in rows:
        product = Paragraph(_escape(row["product"]), styles["BodyText"])
        table.append([row["sku"], row["supplier_sku"], product, f"{row['quantity']:,}", row["unit_cost"],
                      row["line_total"]])  # fmt: skip
    table.append(["", "", "Total", f"{sum(row['quantity'] for row in rows):,}", "", f"{total:,.2f}"])
    grid = Table(table, colWidths=[28 * mm, 28 * mm, 58 * mm, 16 * mm, 22 * mm, 24 * mm], repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf2")),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.grey),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
            ]
        )
    )
    facts = [
        f"<b>From:</b> {_escape(store.name or store.domain)}",
        f"<b>To:</b> {_escape(supplier.name)}" + (f" ({_escape(supplier.email)})" if supplier.email else ""),
        f"<b>Deliver to:</b> {_escape(order.location.name or order.location.platform_id)}",
        f"<b>Date:</b> {(order.sent_at or order.created_at):%d %B %Y}",
    ]
    if order.expected_on:
        facts.append(f"<b>Expected by:</b> {order.expected_on:%d %B %Y}")
    if supplier.payment_terms:
        facts.append(f"<b>Payment terms:</b> {_escape(supplier.payment_terms)}")
    story = [Paragraph(f"Purchase order {_escape(order.number)}", styles["Title"])]
    story += [Paragraph(fact, styles["BodyText"]) for fact in facts]
    story += [Spacer(1, 6 * mm), grid]
    if order.notes:
        story += [Spacer(1, 6 * mm), Paragraph(_escape(order.notes), styles["BodyText"])]
    document.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    """Text for ReportLab's paragraph markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
