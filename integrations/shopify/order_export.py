"""Shopify's order-export CSV (Admin > Orders > Export), read as order history.

One row per line item; rows of one order are consecutive and share `Name`, and the order-level columns (Id,
Created at, Cancelled at, Financial Status, Currency) are filled on its first row only. The export carries no
variant or line ids, so a line is identified by its order and position and its variant by SKU (else by name): the
core app matches such variants to the store's catalogue by SKU. A fully refunded order counts no units; partial
refunds are not itemised in the export and are left to the refunds the API or webhooks report.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from integrations.records import ORDER_CANCELLED, ORDER_OPEN, OrderLineRecord, OrderRecord, RowProblem, VariantRef

REQUIRED_COLUMNS = ("Name", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku")
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z")
SKU_KEY_PREFIX = "sku:"
NAME_KEY_PREFIX = "name:"


def parse_export_datetime(value: str) -> datetime:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(f"unreadable date {value!r} (expected like 2024-01-15 10:23:45 -0500)")


def variant_key(sku: str, name: str) -> str:
    """The variant id used for an export line: the SKU when there is one, else the line item's name."""
    return f"{SKU_KEY_PREFIX}{sku}" if sku else f"{NAME_KEY_PREFIX}{name}"


@dataclass
class ShopifyOrderExportReader:
    """Streams a Shopify order export as OrderRecord and RowProblem items."""

    default_currency: str = ""
    rows_read: int = 0
    rows_imported: int = 0

    def read(self, lines: Iterable[str]) -> Iterator[OrderRecord | RowProblem]:
        reader = csv.DictReader(lines)
        fieldnames = [name.strip().lstrip("\ufeff") for name in (reader.fieldnames or [])]
        reader.fieldnames = fieldnames
        missing = [name for name in REQUIRED_COLUMNS if name not in fieldnames]
        if missing:
            raise ValueError(f"Not a Shopify order export: missing column(s) {', '.join(missing)}")
        name: str | None = None
        head: dict[str, str] = {}
        rows: list[tuple[int, dict[str, str]]] = []
        for row in reader:
            self.rows_read += 1
            line_number = reader.line_num
            row_name = (row.get("Name") or "").strip()
            if not row_name:
                yield RowProblem(line_number, "empty Name (order number)")
                continue
            if row_name != name:
                if rows:
                    yield from self._flush(head, rows)
                name, head, rows = row_name, row, []
            rows.append((line_number, row))
        if rows:
            yield from self._flush(head, rows)

    def _flush(
        self, head: dict[str, str], rows: list[tuple[int, dict[str, str]]]
    ) -> Iterator[OrderRecord | RowProblem]:
        name = head["Name"].strip()
        try:
            created_at = parse_export_datetime(head.get("Created at") or "")
            cancelled_raw = (head.get("Cancelled at") or "").strip()
            cancelled_at = parse_export_datetime(cancelled_raw) if cancelled_raw else None
        except ValueError as exc:
            for line_number, _ in rows:
                yield RowProblem(line_number, f"order {name}: {exc}")
            return
        order_id = (head.get("Id") or "").strip() or name.lstrip("#")
        financial_status = (head.get("Financial Status") or "").strip().lower()
        fully_refunded = financial_status == "refunded"
        lines: list[OrderLineRecord] = []
        for position, (line_number, row) in enumerate(rows, start=1):
            try:
                quantity = int((row.get("Lineitem quantity") or "").strip())
                price = Decimal((row.get("Lineitem price") or "0").strip() or "0")
            except (ValueError, InvalidOperation):
                yield RowProblem(line_number, "Lineitem quantity or Lineitem price is not a number")
                continue
            if quantity <= 0 or not price.is_finite() or price < 0:
                yield RowProblem(line_number, "Lineitem quantity must be positive and Lineitem price non-negative")
                continue
            sku = (row.get("Lineitem sku") or "").strip()
            title = (row.get("Lineitem name") or "").strip()
            if not sku and not title:
                yield RowProblem(line_number, "line item has neither a SKU nor a name")
                continue
            key = variant_key(sku, title)
            variant = VariantRef(product_id=key, variant_id=key, sku=sku, title=title, product_title=title, price=price)
            current = 0 if fully_refunded else quantity
            lines.append(OrderLineRecord(f"{order_id}:{position}", variant, quantity, current, price))
        if not lines:
            return
        self.rows_imported += len(lines)
        status = ORDER_CANCELLED if cancelled_at else ORDER_OPEN
        yield OrderRecord(
            order_id=order_id,
            number=name,
            created_at=created_at,
            updated_at=cancelled_at or created_at,
            status=status,
            platform_status=financial_status or ("cancelled" if cancelled_at else ""),
            currency=(head.get("Currency") or "").strip() or self.default_currency,
            lines=tuple(lines),
            cancelled_at=cancelled_at,
        )
