"""The UCI "Online Retail" transaction file, read as a store's order history.

Columns: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country. One row per
invoice line; an invoice is an order. Invoices starting with `C` are cancellations/returns: they do not name the
invoice they reverse, so each returned unit is matched to the customer's most recent earlier purchase of the same
stock code and becomes a refund of that order line. The CSV import and the store simulator both read the file
through this module, so the two produce the same orders, lines and refunds with the same ids.

Rows that are not sales of stock are reported (line number and reason), never silently dropped: postage, fees and
other non-product codes, negative quantities on sales invoices (stock write-offs), malformed values, and returns
that match no earlier purchase in the file.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from integrations.purchase_book import PurchaseBook
from integrations.records import (
    ORDER_OPEN,
    OrderLineRecord,
    OrderRecord,
    RefundLineRecord,
    RefundRecord,
    RowProblem,
    VariantRef,
)

REQUIRED_COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
# Codes that are charges, postage or bookkeeping rather than stock (see the data set's documentation).
NON_PRODUCT_CODES = frozenset({"POST", "DOT", "M", "D", "S", "B", "C2", "CRUK", "PADS", "AMAZONFEE", "BANK CHARGES"})
NON_PRODUCT_PREFIXES = ("GIFT_", "DCGS")
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M")
# Invoices have at most ~1,100 lines; line ids are invoice * LINE_ID_FACTOR + position, so they are integers like
# the platforms' own ids and stable across reads of the same file.
LINE_ID_FACTOR = 10_000
REFUND_ID_FACTOR = 1_000_000


def normalize_stock_code(code: str) -> str:
    """Stock codes are case-insensitive in this data set (`85049a` and `85049A` are one item)."""
    return code.strip().upper()


def is_non_product_code(code: str) -> bool:
    code = normalize_stock_code(code)
    return code in NON_PRODUCT_CODES or code.startswith(NON_PRODUCT_PREFIXES)


def _stable_id(kind: str, code: str) -> str:
    # A 12-digit integer derived from the code: deterministic, so every reader (import, simulator) agrees.
    return str(int(hashlib.sha256(f"{kind}:{code}".encode()).hexdigest()[:10], 16) % 10**12 + 10**11)


@lru_cache(maxsize=16384)
def product_id_for(code: str) -> str:
    return _stable_id("product", normalize_stock_code(code))


@lru_cache(maxsize=16384)
def variant_id_for(code: str) -> str:
    return _stable_id("variant", normalize_stock_code(code))


def line_id_for(invoice: str, position: int) -> str:
    return str(int(invoice) * LINE_ID_FACTOR + position)


def refund_id_for(cancellation_invoice: str, order_id: str) -> str:
    return str(int(cancellation_invoice.lstrip("Cc")) * REFUND_ID_FACTOR + int(order_id))


@lru_cache(maxsize=4096)
def _parse_naive_datetime(value: str) -> datetime:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ValueError(f"unreadable InvoiceDate {value!r}")


@dataclass(slots=True)
class _Row:
    line_number: int
    code: str
    description: str
    quantity: int
    when: datetime
    price: Decimal
    customer: str


@dataclass
class OnlineRetailReader:
    """Streams an Online Retail file as OrderRecord, RefundRecord and RowProblem items, in file order.

    `tz` is the time zone of the file's InvoiceDate values (local shop time). The purchases kept for matching
    returns live in a `PurchaseBook` (SQLite's temporary database), so memory does not grow with the file.
    """

    tz: tzinfo
    currency: str = "GBP"
    rows_read: int = 0
    # Rows that became an order line, or a return applied to one (wholly or partly).
    rows_imported: int = 0
    _book: PurchaseBook = field(default_factory=PurchaseBook)

    def read(self, lines: Iterable[str]) -> Iterator[OrderRecord | RefundRecord | RowProblem]:
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None:
            return
        header = [name.strip().lstrip("\ufeff") for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise ValueError(f"Not an Online Retail file: missing column(s) {', '.join(missing)}")
        index = {name: header.index(name) for name in REQUIRED_COLUMNS}
        width = max(index.values()) + 1

        invoice: str | None = None
        group: list[_Row] = []
        for raw in reader:
            line_number = reader.line_num
            self.rows_read += 1
            if len(raw) < width:
                yield RowProblem(line_number, f"expected at least {width} columns, found {len(raw)}")
                continue
            row_invoice = raw[index["InvoiceNo"]].strip()
            if row_invoice != invoice:
                if group:
                    yield from self._flush(invoice, group)
                invoice, group = row_invoice, []
            parsed = self._parse_row(line_number, row_invoice, raw, index)
            if isinstance(parsed, RowProblem):
                yield parsed
            else:
                group.append(parsed)
        if group:
            yield from self._flush(invoice, group)
        self._book.close()

    def _parse_row(self, line_number: int, invoice: str, raw: list[str], index: dict[str, int]) -> _Row | RowProblem:
        is_cancellation = invoice[:1] in {"C", "c"}
        digits = invoice[1:] if is_cancellation else invoice
        if not digits.isdigit():
            return RowProblem(line_number, f"invoice number {invoice!r} is not numeric (an accounting entry)")
        code = normalize_stock_code(raw[index["StockCode"]])
        if not code:
            return RowProblem(line_number, "empty StockCode")
        if is_non_product_code(code):
            return RowProblem(line_number, f"non-product code {code!r} (postage, fee or adjustment, not stock)")
        try:
            quantity_decimal = Decimal(raw[index["Quantity"]].strip())
            price = Decimal(raw[index["UnitPrice"]].strip())
        except InvalidOperation:
            return RowProblem(line_number, "Quantity or UnitPrice is not a number")
        if not quantity_decimal.is_finite() or quantity_decimal != quantity_decimal.to_integral_value():
            return RowProblem(line_number, f"Quantity {raw[index['Quantity']]!r} is not a whole number")
        if not price.is_finite() or price < 0:
            return RowProblem(line_number, f"UnitPrice {raw[index['UnitPrice']]!r} is not a non-negative amount")
        quantity = int(quantity_decimal)
        price = price.quantize(Decimal("0.01"))
        if quantity == 0:
            return RowProblem(line_number, "Quantity is 0")
        if is_cancellation and quantity > 0:
            return RowProblem(line_number, "positive Quantity on a cancellation invoice")
        if not is_cancellation and quantity < 0:
            return RowProblem(line_number, "negative Quantity on a sales invoice (a stock write-off, not a sale)")
        try:
            when = _parse_naive_datetime(raw[index["InvoiceDate"]].strip())
        except ValueError as exc:
            return RowProblem(line_number, str(exc))
        customer = raw[index["CustomerID"]].strip()
        if customer.endswith(".0"):
            customer = customer[:-2]
        return _Row(line_number, code, raw[index["Description"]].strip(), quantity, when, price, customer)

    def _aware(self, naive: datetime) -> datetime:
        return naive.replace(tzinfo=self.tz)

    def _flush(self, invoice: str, rows: list[_Row]) -> Iterator[OrderRecord | RefundRecord | RowProblem]:
        if invoice[:1] in {"C", "c"}:
            yield from self._flush_cancellation(invoice, rows)
        else:
            yield self._flush_sale(invoice, rows)

    def _flush_sale(self, invoice: str, rows: list[_Row]) -> OrderRecord:
        # An invoice can reappear later in the file: its positions continue, so its line ids stay unique.
        position = self._book.line_count(invoice)
        lines = []
        self.rows_imported += len(rows)
        for row in rows:
            position += 1
            line_id = line_id_for(invoice, position)
            variant = VariantRef(
                product_id=product_id_for(row.code),
                variant_id=variant_id_for(row.code),
                sku=row.code,
                title=row.description,
                product_title=row.description,
                price=row.price,
            )
            lines.append(OrderLineRecord(line_id, variant, row.quantity, row.quantity, row.price))
            if row.customer:
                self._book.add(row.customer, row.code, invoice, line_id, row.quantity)
        self._book.set_line_count(invoice, position)
        return OrderRecord(
            order_id=invoice,
            number=f"#{invoice}",
            created_at=self._aware(min(row.when for row in rows)),
            updated_at=self._aware(max(row.when for row in rows)),
            status=ORDER_OPEN,
            platform_status="invoiced",
            currency=self.currency,
            lines=tuple(lines),
        )

    def _flush_cancellation(self, invoice: str, rows: list[_Row]) -> Iterator[RefundRecord | RowProblem]:
        # (order id) -> (line id) -> units returned
        returned: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in rows:
            wanted = -row.quantity
            if not row.customer:
                yield RowProblem(row.line_number, "cancellation without a CustomerID cannot be matched to its order")
                continue
            need = wanted
            # Most recent purchase first: a return usually reverses the latest order of that item.
            for order_id, line_id, units in self._book.take(row.customer, row.code, wanted):
                returned[order_id][line_id] += units
                need -= units
            if need < wanted:
                self.rows_imported += 1
            if need == wanted:
                yield RowProblem(
                    row.line_number, f"returns {wanted} unit(s) that match no earlier purchase in the file"
                )
            elif need:
                yield RowProblem(
                    row.line_number,
                    f"{need} of {wanted} returned unit(s) match no earlier purchase in the file; the rest were applied",
                    partial=True,
                )
        created_at = self._aware(min(row.when for row in rows))
        for order_id, line_units in returned.items():
            yield RefundRecord(
                refund_id=refund_id_for(invoice, order_id),
                order_id=order_id,
                created_at=created_at,
                lines=tuple(RefundLineRecord(line_id, units, "return") for line_id, units in line_units.items()),
            )
