"""The simulated store's memory: every order replayed so far, its lines, and the refunds applied to it.

The event builder is the only writer (on the replay's thread); the API server thread reads. Mutations and API reads
take `StoreState.lock`; the writer reads without it because nothing else writes.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from integrations.online_retail import OnlineRetailReader
from integrations.records import OrderLineRecord, OrderRecord, RefundRecord, RowProblem

Record = OrderRecord | RefundRecord | RowProblem
ONE_SECOND = timedelta(seconds=1)
DEFAULT_TZ = ZoneInfo("Europe/London")


class OrderState:
    """One order as the store holds it now: lines in order of creation, units refunded per line, refunds."""

    __slots__ = (
        "order_id",
        "number",
        "currency",
        "created_at",
        "updated_at",
        "lines",
        "line_index",
        "refunded",
        "refunds",
    )

    def __init__(self, record: OrderRecord) -> None:
        self.order_id = record.order_id
        self.number = record.number
        self.currency = record.currency
        self.created_at = record.created_at
        self.updated_at = record.updated_at
        self.lines: list[OrderLineRecord] = []
        self.line_index: dict[str, OrderLineRecord] = {}
        self.refunded: dict[str, int] = {}
        self.refunds: list[RefundRecord] = []

    def current_quantity(self, line: OrderLineRecord) -> int:
        return line.quantity - self.refunded.get(line.line_id, 0)

    def all_units_refunded(self) -> bool:
        return all(self.current_quantity(line) <= 0 for line in self.lines)

    def advance(self, when: datetime) -> datetime:
        # Every new snapshot must be strictly newer than the last one sent, or a receiver that keeps the newest
        # snapshot would rightly ignore it.
        self.updated_at = max(when, self.updated_at + ONE_SECOND)
        return self.updated_at


@dataclass
class SimulatedDiscount:
    """A discount the simulated merchant set up, in the terms of Shopify's discount types: `typename` is one of
    `DiscountAutomaticBasic`, `DiscountCodeBxgy`, ... (`Discount` union members); items are all of them, or the
    products, variants and collections named (`buys_*` for a buy-X-get-Y discount's other side)."""

    discount_id: str
    typename: str
    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    percentage: float | None = None  # a fraction (0.2 for 20% off), as Shopify answers it
    all_items: bool = False
    product_ids: tuple[str, ...] = ()
    variant_ids: tuple[str, ...] = ()
    collection_ids: tuple[str, ...] = ()
    buys_product_ids: tuple[str, ...] = ()
    context: str = "DiscountBuyerSelectionAll"
    usage_limit: int | None = None
    updated_at: datetime | None = None


@dataclass
class StoreState:
    """All orders of the simulated store, by order id; the merchant's discounts and collections."""

    tz: tzinfo = DEFAULT_TZ
    orders: dict[str, OrderState] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    discounts: dict[str, SimulatedDiscount] = field(default_factory=dict)
    collections: dict[str, tuple[str, ...]] = field(default_factory=dict)  # collection id -> product ids

    def apply_order(self, record: OrderRecord) -> tuple[OrderState, bool]:
        """Add an order snapshot's new lines; returns the order and whether it was new to the store."""
        with self.lock:
            order = self.orders.get(record.order_id)
            created = order is None
            if order is None:
                order = self.orders[record.order_id] = OrderState(record)
            else:
                order.advance(record.updated_at)
            for line in record.lines:
                if line.line_id not in order.line_index:
                    order.line_index[line.line_id] = line
                    order.lines.append(line)
        return order, created

    def apply_refund(self, refund: RefundRecord) -> OrderState | None:
        """Record a refund against its order; None when the order is unknown (the refund is then not replayed)."""
        with self.lock:
            order = self.orders.get(refund.order_id)
            if order is None:
                return None
            for line in refund.lines:
                if line.line_id in order.line_index:
                    order.refunded[line.line_id] = order.refunded.get(line.line_id, 0) + line.quantity
            order.refunds.append(refund)
            order.advance(refund.created_at)
        return order


@dataclass
class SourceTotals:
    """What a receiver should hold after a complete replay, counted from the records themselves."""

    order_ids: set[str] = field(default_factory=set)
    refund_ids: set[str] = field(default_factory=set)
    order_lines: int = 0
    units_ordered: int = 0
    units_refunded: int = 0
    refund_lines: int = 0
    rows_skipped: int = 0

    def add(self, record: Record) -> None:
        if isinstance(record, OrderRecord):
            self.order_ids.add(record.order_id)
            self.order_lines += len(record.lines)
            self.units_ordered += sum(line.quantity for line in record.lines)
        elif isinstance(record, RefundRecord):
            self.refund_ids.add(record.refund_id)
            self.refund_lines += len(record.lines)
            self.units_refunded += sum(line.quantity for line in record.lines)
        elif isinstance(record, RowProblem) and not record.partial:
            self.rows_skipped += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "orders": len(self.order_ids),
            "order_lines": self.order_lines,
            "units_ordered": self.units_ordered,
            "units_refunded": self.units_refunded,
            "net_units": self.units_ordered - self.units_refunded,
            "refunds": len(self.refund_ids),
            "refund_lines": self.refund_lines,
            "rows_skipped": self.rows_skipped,
        }


def source_totals(records: Iterable[Record]) -> dict[str, int]:
    """Orders, order lines, net units (ordered minus refunded) and refunds in `records`."""
    totals = SourceTotals()
    for record in records:
        totals.add(record)
    return totals.as_dict()


def counted(records: Iterable[Record], totals: SourceTotals) -> Iterator[Record]:
    """Pass records through unchanged while adding them to `totals` (so one read feeds both)."""
    for record in records:
        totals.add(record)
        yield record


def first_orders(records: Iterable[Record], limit: int | None) -> Iterator[Record]:
    """The file up to where its (limit + 1)-th distinct order starts: a prefix of the store's history, so refunds
    that come later in the file than that point are not included, and every refund included has its order."""
    if not limit:
        yield from records
        return
    seen: set[str] = set()
    for record in records:
        if isinstance(record, OrderRecord) and record.order_id not in seen:
            if len(seen) >= limit:
                return
            seen.add(record.order_id)
        yield record


def read_online_retail(path: str | Path, tz: tzinfo = DEFAULT_TZ, currency: str = "GBP") -> Iterator[Record]:
    """Stream an Online Retail file (.csv or .csv.gz) through the shared reader."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        yield from OnlineRetailReader(tz=tz, currency=currency).read(handle)
