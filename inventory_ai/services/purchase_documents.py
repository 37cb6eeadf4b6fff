"""A purchase order as the supplier receives it: a PDF (ReportLab's page layout, not drawn by hand), a CSV of its
lines, and the e-mail's text.

The PDF and the e-mail are written in the active language (the planner's who sends the order); the CSV keeps its
column names in every language, since spreadsheets and our own import (`purchasing_import`) read them."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from reportlab.lib import colors
from reportlab.lib.fonts import addMapping
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from inventory_ai.models import PurchaseOrder, SupplierItem
from inventory_ai.text import csv_safe, full_date, number

# The PDF's font for a language whose script Helvetica lacks: one of Adobe's CID fonts, which PDF readers bring
# (nothing is embedded); it has no bold, so headings keep it too.
CID_FONTS = {"zh": "STSong-Light", "ja": "HeiseiMin-W3", "ko": "HYSMyeongJo-Medium"}
# Column names a spreadsheet or our import reads: the same in every language.
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
    attached = ngettext(
        "Please find attached purchase order %(number)s from %(store)s: %(lines)s line(s), %(units)s unit(s).",
        "Please find attached purchase order %(number)s from %(store)s: %(lines)s line(s), %(units)s unit(s).",
        len(rows),
    )
    figures = {"number": order.number, "store": store.name or store.domain, "lines": len(rows), "units": number(units)}
    lines = [_("Hello %(supplier)s,") % {"supplier": order.supplier.name}, "", attached % figures]
    if order.expected_on:
        lines.append(_("We expect delivery by %(date)s.") % {"date": full_date(order.expected_on)})
    if order.notes:
        lines += ["", order.notes]
    lines += ["", _("The order is attached as a PDF and as a CSV.")]
    return "\n".join(lines)


def _fonts() -> tuple[str, str]:
    """The PDF's (regular, bold) fonts for the active language."""
    font = CID_FONTS.get((translation.get_language() or "en").split("-")[0])
    if font is None:
        return "Helvetica", "Helvetica-Bold"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(font, bold, italic, font)  # <b> in a paragraph stays in the font (it has no bold)
    return font, font


def pdf(order: PurchaseOrder) -> bytes:
    """The order on A4: who orders from whom, when it is expected, and its lines with their totals."""
    styles = getSampleStyleSheet()
    regular, bold = _fonts()
    styles["BodyText"].fontName, styles["Title"].fontName = regular, bold
    store, supplier = order.store, order.supplier
    title = _("Purchase order %(number)s") % {"number": order.number}
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm, bottomMargin=18 * mm,
        title=title, author=store.name or store.domain,
    )  # fmt: skip
    rows = _rows(order)
    total = sum((Decimal(row["line_total"]) for row in rows if row["line_total"]), Decimal("0"))
    currency = {"currency": order.currency}
    table = [[_("SKU"), _("Supplier SKU"), _("Product"), pgettext("a column: the quantity ordered", "Qty"),
              _("Unit (%(currency)s)") % currency, _("Total (%(currency)s)") % currency]]  # fmt: skip
    for row in rows:
        product = Paragraph(_escape(row["product"]), styles["BodyText"])
        table.append([row["sku"], row["supplier_sku"], product, number(row["quantity"]), row["unit_cost"],
                      row["line_total"]])  # fmt: skip
    table.append(["", "", pgettext("the sum of an order's lines", "Total"),
                  number(sum(row["quantity"] for row in rows)), "", number(total, 2)])  # fmt: skip
    grid = Table(table, colWidths=[28 * mm, 28 * mm, 58 * mm, 16 * mm, 22 * mm, 24 * mm], repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf2")),
                ("FONTNAME", (0, 0), (-1, -1), regular),
                ("FONTNAME", (0, 0), (-1, 0), bold),
                ("FONTNAME", (0, -1), (-1, -1), bold),
                ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.grey),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
            ]
        )
    )
    to = _escape(supplier.name) + (f" ({_escape(supplier.email)})" if supplier.email else "")
    facts = [
        _fact(_("From:"), _escape(store.name or store.domain)),
        _fact(_("To:"), to),
        _fact(_("Deliver to:"), _escape(order.location.name or order.location.platform_id)),
        _fact(_("Date:"), full_date(order.sent_at or order.created_at)),
    ]
    if order.expected_on:
        facts.append(_fact(_("Expected by:"), full_date(order.expected_on)))
    if supplier.payment_terms:
        facts.append(_fact(_("Payment terms:"), _escape(supplier.payment_terms)))
    story = [Paragraph(_escape(title), styles["Title"])]
    story += [Paragraph(fact, styles["BodyText"]) for fact in facts]
    story += [Spacer(1, 6 * mm), grid]
    if order.notes:
        story += [Spacer(1, 6 * mm), Paragraph(_escape(order.notes), styles["BodyText"])]
    document.build(story)
    return buffer.getvalue()


def _fact(label: str, value: str) -> str:
    """One line of the order's head in paragraph markup: its label in bold, then its (escaped) value."""
    return f"<b>{_escape(label)}</b> {value}"


def _escape(text: str) -> str:
    """Text for ReportLab's paragraph markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
