"""Applying orders and refunds (from webhooks, API backfill or a CSV import) and keeping demand in step.

Both functions take batches: a webhook is a batch of one, an import passes hundreds of orders per transaction. The
rules are the same for every source:

- an order is upserted by (store, platform id); a snapshot older than or as old as the stored one does not change
  the order or its known lines (platforms retry with the original payload and deliver out of order);
- a line id never seen before is always added: lines are never removed by omission, so a new line is news whatever
  the snapshot's age;
- a refund is applied once, by (store, refund id);
- every change of an order's demand contribution is applied to `DailyDemand` as an increment in the same
  transaction, so the incremental series always equals a rebuild from orders.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from decimal import Decimal

from django.db import IntegrityError, transaction

from integrations.records import (
    ORDER_CANCELLED,
    ORDER_DELETED,
    OrderEditRemovals,
    OrderLineRecord,
    OrderRecord,
    RefundRecord,
)
from inventory_ai.choices import OrderStatus
from inventory_ai.models import Order, OrderLine, Refund, RefundLine, Store
from inventory_ai.services.bulk import insert_rows
from inventory_ai.services.catalog import CatalogCache
from inventory_ai.services.demand import DemandDeltas, order_contribution

logger = logging.getLogger(__name__)

STATUS_FROM_RECORD = {ORDER_CANCELLED: OrderStatus.CANCELLED, ORDER_DELETED: OrderStatus.DELETED}
# A concurrent writer can insert the same new order between our read and our insert; the retry then sees it.
MAX_ATTEMPTS = 3


@dataclass
class ApplyResult:
    orders_created: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    lines_created: int = 0
    refunds_created: int = 0
    refunds_unchanged: int = 0
    demand_cells_changed: int = 0
    problems: list[str] = field(default_factory=list)
    missing_orders: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def merge(self, other: ApplyResult) -> None:
        for name in (
            "orders_created",
            "orders_updated",
            "orders_unchanged",
            "lines_created",
            "refunds_created",
            "refunds_unchanged",
            "demand_cells_changed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems)
        self.missing_orders.extend(other.missing_orders)
        self.notes.extend(other.notes)


@dataclass(slots=True)
class NewLine:
    """A line about to be inserted: the attributes demand needs, without a model instance per line."""

    order: Order
    platform_id: str
    variant_id: int
    quantity: int
    current_quantity: int
    unit_price: Decimal
    refunded_quantity: int = 0

    @classmethod
    def from_record(cls, order: Order, record: OrderLineRecord, variant_pks: dict[str, int]) -> NewLine:
        return cls(
            order=order,
            platform_id=record.line_id,
            variant_id=variant_pks[record.variant.variant_id],
            quantity=record.quantity,
            current_quantity=record.current_quantity,
            unit_price=record.unit_price,
        )


def _insert_lines(lines: list[NewLine]) -> None:
    # An import inserts ~500k lines: building a model instance and compiling SQL per row (bulk_create) costs more
    # than the database work itself, so lines go in as plain rows (COPY on PostgreSQL).
    insert_rows(
        OrderLine._meta.db_table,
        ["order_id", "platform_id", "variant_id", "quantity", "current_quantity", "refunded_quantity", "unit_price"],
        [
            (
                line.order.pk,
                line.platform_id,
                line.variant_id,
                line.quantity,
                line.current_quantity,
                line.refunded_quantity,
                line.unit_price,
            )
            for line in lines
        ],
    )


def _waves(records: Sequence[OrderRecord]) -> list[list[OrderRecord]]:
    """Split a batch so that each wave names an order at most once (keeping file order per order)."""
    waves: list[list[OrderRecord]] = []
    seen_in: dict[str, int] = {}
    for record in records:
        index = seen_in.get(record.order_id, -1) + 1
        if index == len(waves):
            waves.append([])
        waves[index].append(record)
        seen_in[record.order_id] = index
    return waves


def apply_order_records(
    store: Store, records: Sequence[OrderRecord], *, source: str, catalog: CatalogCache | None = None
) -> ApplyResult:
    """Upsert orders and their lines and update daily demand. Safe to repeat and to run concurrently."""
    catalog = catalog or CatalogCache(store)
    result = ApplyResult()
    for wave in _waves(records):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                result.merge(_apply_order_wave(store, wave, source, catalog))
                break
            except IntegrityError:
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.info("Concurrent insert of an order in store %s; retrying (attempt %d)", store.pk, attempt)
    return result


def _record_status(record: OrderRecord) -> str:
    return STATUS_FROM_RECORD.get(record.status, OrderStatus.OPEN)


def _lines_by_order(orders: Sequence[Order]) -> dict[int, dict[str, OrderLine]]:
    """The stored lines of `orders`, by order pk and then by platform line id (a default dict: empty for others)."""
    lines: dict[int, dict[str, OrderLine]] = defaultdict(dict)
    if orders:
        for line in OrderLine.objects.filter(order__in=list(orders)):
            lines[line.order_id][line.platform_id] = line
    return lines


@dataclass
class _WaveChanges:
    """What one wave writes, gathered while its records are compared with the stored orders: orders to create (with
    their records, whose lines go in once the orders have pks), orders and lines to update, lines to add, and the
    change of demand."""

    tz: tzinfo
    variant_pks: dict[str, int]
    new_orders: list[tuple[Order, OrderRecord]] = field(default_factory=list)
    changed_orders: list[Order] = field(default_factory=list)
    changed_lines: list[OrderLine] = field(default_factory=list)
    added_lines: list[NewLine] = field(default_factory=list)
    deltas: DemandDeltas = field(default_factory=DemandDeltas)


def _apply_order_wave(store: Store, wave: list[OrderRecord], source: str, catalog: CatalogCache) -> ApplyResult:
    """Apply one wave (each order named once) in one transaction: lock the stored orders it names, compare each
    record with its order, then write the changes and move demand by the difference."""
    result = ApplyResult()
    changes = _WaveChanges(
        tz=store.tzinfo, variant_pks=catalog.variant_pks(line.variant for record in wave for line in record.lines)
    )
    with transaction.atomic():
        existing = {
            order.platform_id: order
            for order in Order.objects.select_for_update().filter(
                store=store, platform_id__in=[record.order_id for record in wave]
            )
        }
        known_lines: dict[int, dict[str, OrderLine | NewLine]] = _lines_by_order(list(existing.values()))
        for record in wave:
            order = existing.get(record.order_id)
            if order is None:
                changes.new_orders.append((_new_order(store, record, source, catalog), record))
            elif _merge_snapshot(changes, order, record, known_lines[order.pk]):
                result.orders_updated += 1
            else:
                result.orders_unchanged += 1
        _write_wave(changes, result)
        result.demand_cells_changed += changes.deltas.apply()
    return result


def _new_order(store: Store, record: OrderRecord, source: str, catalog: CatalogCache) -> Order:
    """An order not stored yet, built from its record (saved later, with the wave's other new orders)."""
    return Order(
        store=store,
        platform_id=record.order_id,
        number=record.number,
        created_at=record.created_at,
        cancelled_at=record.cancelled_at,
        status=_record_status(record),
        platform_status=record.platform_status,
        currency=record.currency,
        location_id=catalog.location_pk(record.location_id),
        source=source,
        platform_updated_at=record.updated_at,
    )


def _merge_snapshot(
    changes: _WaveChanges, order: Order, record: OrderRecord, lines: dict[str, OrderLine | NewLine]
) -> bool:
    """Bring a stored order and its `lines` up to a record: the order's fields and its known lines' quantities only
    from a newer snapshot, new lines from any. Adds the change of the order's demand to `changes`; returns whether
    the order changed."""
    before = order_contribution(order, lines.values(), changes.tz)
    newer = record.updated_at > order.platform_updated_at
    if newer:
        _take_order_fields(order, record)
        changes.changed_orders.append(order)
    added = _merge_lines(changes, order, record, lines, newer)
    if not (newer or added):
        return False
    changes.deltas.add(order_contribution(order, lines.values(), changes.tz), before)
    return True


def _take_order_fields(order: Order, record: OrderRecord) -> None:
    """Copy a newer snapshot's number, cancellation, status and update time onto the stored order."""
    order.number = record.number or order.number
    order.cancelled_at = record.cancelled_at
    # A deleted order stays deleted: no platform brings one back, and an update sent before the deletion can arrive
    # after it.
    if order.status != OrderStatus.DELETED:
        order.status = _record_status(record)
    order.platform_status = record.platform_status
    order.platform_updated_at = record.updated_at


def _merge_lines(
    changes: _WaveChanges, order: Order, record: OrderRecord, lines: dict[str, OrderLine | NewLine], newer: bool
) -> int:
    """Add the record's lines not known yet (to `lines` and `changes`) and, from a newer snapshot, take the current
    quantities of the known ones; returns how many lines were added."""
    added = 0
    for line_record in record.lines:
        line = lines.get(line_record.line_id)
        if line is None:
            line = NewLine.from_record(order, line_record, changes.variant_pks)
            lines[line_record.line_id] = line
            changes.added_lines.append(line)
            added += 1
        elif newer and (line.quantity, line.current_quantity) != (line_record.quantity, line_record.current_quantity):
            line.quantity = line_record.quantity
            line.current_quantity = line_record.current_quantity
            changes.changed_lines.append(line)
    return added


def _write_wave(changes: _WaveChanges, result: ApplyResult) -> None:
    """Write a wave's changes: create the new orders (then their lines and their demand, which need the orders'
    pks), update the changed orders and lines, insert the added lines."""
    if changes.new_orders:
        Order.objects.bulk_create([order for order, _ in changes.new_orders], batch_size=500)
        for order, record in changes.new_orders:
            new_lines = [NewLine.from_record(order, line_record, changes.variant_pks) for line_record in record.lines]
            changes.added_lines.extend(new_lines)
            changes.deltas.add(order_contribution(order, new_lines, changes.tz))
        result.orders_created += len(changes.new_orders)
    if changes.changed_orders:
        Order.objects.bulk_update(
            changes.changed_orders, ["number", "cancelled_at", "status", "platform_status", "platform_updated_at"]
        )
    if changes.changed_lines:
        OrderLine.objects.bulk_update(changes.changed_lines, ["quantity", "current_quantity"], batch_size=500)
    if changes.added_lines:
        _insert_lines(changes.added_lines)
        result.lines_created += len(changes.added_lines)


# A refund about to be recorded, with what it applies to each of its order's tracked lines: (line, quantity, restock).
_NewRefund = tuple[Refund, list[tuple[OrderLine, int, str]]]


def apply_refund_records(store: Store, records: Sequence[RefundRecord]) -> ApplyResult:
    """Apply refunds once each: raise the refunded quantity of their lines and update daily demand.

    A refund whose order is not known yet is reported in `problems` and not recorded, so that it can be applied
    when it is delivered or replayed again after its order.
    """
    result = ApplyResult()
    if not records:
        return result
    tz = store.tzinfo
    deltas = DemandDeltas()
    with transaction.atomic():
        # Lock the orders first, then read which refunds are recorded: a concurrent worker applying the same refund
        # holds the order's lock until it commits, so the read below sees its refund.
        orders = {
            order.platform_id: order
            for order in Order.objects.select_for_update()
            .filter(store=store, platform_id__in={record.order_id for record in records})
            .order_by("pk")
        }
        todo = _unrecorded_refunds(store, records, result)
        if not todo:
            return result
        lines_by_order = _lines_by_order(list(orders.values()))
        new_refunds: list[_NewRefund] = []
        touched_lines: dict[int, OrderLine] = {}
        for record in todo.values():
            order = orders.get(record.order_id)
            if order is None:
                result.missing_orders.append(record.order_id)
                result.problems.append(f"refund {record.refund_id}: order {record.order_id} is not known yet")
                continue
            lines = lines_by_order[order.pk]
            before = order_contribution(order, lines.values(), tz)
            applied = _apply_refund_to_lines(record, lines, touched_lines, result)
            deltas.add(order_contribution(order, lines.values(), tz), before)
            refund = Refund(store=store, order=order, platform_id=record.refund_id, created_at=record.created_at)
            new_refunds.append((refund, applied))
        if new_refunds:
            _write_refunds(new_refunds, touched_lines)
            result.refunds_created += len(new_refunds)
        result.demand_cells_changed += deltas.apply()
    return result


def _unrecorded_refunds(store: Store, records: Sequence[RefundRecord], result: ApplyResult) -> dict[str, RefundRecord]:
    """The refunds of `records` not recorded yet, by refund id (the first of a batch's repeats); counts the others as
    unchanged in `result`. Read under the orders' locks (see `apply_refund_records`)."""
    recorded = set(
        Refund.objects.filter(store=store, platform_id__in=[r.refund_id for r in records]).values_list(
            "platform_id", flat=True
        )
    )
    todo: dict[str, RefundRecord] = {}
    for record in records:
        if record.refund_id in recorded or record.refund_id in todo:
            result.refunds_unchanged += 1
        else:
            todo[record.refund_id] = record
    return todo


def _apply_refund_to_lines(
    record: RefundRecord, lines: dict[str, OrderLine], touched_lines: dict[int, OrderLine], result: ApplyResult
) -> list[tuple[OrderLine, int, str]]:
    """Raise the refunded quantity of the order's tracked `lines` that a refund names (and gather them in
    `touched_lines`); returns what was applied to each, as (line, quantity, restock type). A line we do not track
    is noted in `result`."""
    applied: list[tuple[OrderLine, int, str]] = []
    for refund_line in record.lines:
        line = lines.get(refund_line.line_id)
        if line is None:
            # A line we do not track (a custom item, a gift card, a deleted product): nothing to reduce.
            result.notes.append(
                f"refund {record.refund_id}: line {refund_line.line_id} is not a tracked line of order "
                f"{record.order_id}"
            )
            continue
        line.refunded_quantity += refund_line.quantity
        touched_lines[line.pk] = line
        applied.append((line, refund_line.quantity, refund_line.restock_type))
    return applied


def _write_refunds(new_refunds: list[_NewRefund], touched_lines: dict[int, OrderLine]) -> None:
    """Record the new refunds and their lines (one refund line per refund and order line, quantities summed) and
    save the refunded quantities of the lines they touched."""
    Refund.objects.bulk_create([refund for refund, _ in new_refunds], batch_size=500)
    refund_lines: dict[tuple[int, int], RefundLine] = {}
    for refund, applied in new_refunds:
        for line, quantity, restock_type in applied:
            existing = refund_lines.get((refund.pk, line.pk))
            if existing:
                existing.quantity += quantity
            else:
                refund_lines[(refund.pk, line.pk)] = RefundLine(
                    refund=refund, order_line=line, quantity=quantity, restock_type=restock_type
                )
    RefundLine.objects.bulk_create(list(refund_lines.values()), batch_size=1000)
    OrderLine.objects.bulk_update(list(touched_lines.values()), ["refunded_quantity"], batch_size=500)


def _change_order(store: Store, order_id: str, change) -> str | None:
    """Lock an order, apply `change(order, lines)` and move demand by the difference. None if the order is unknown."""
    tz = store.tzinfo
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(store=store, platform_id=order_id).first()
        if order is None:
            return None
        lines = list(order.lines.all())
        before = order_contribution(order, lines, tz)
        note = change(order, lines)
        deltas = DemandDeltas()
        deltas.add(order_contribution(order, lines, tz), before)
        deltas.apply()
        return note


def delete_order(store: Store, order_id: str) -> bool:
    """Mark an order deleted (its demand goes); returns whether the order was known."""

    def change(order: Order, lines: list[OrderLine]) -> str:
        order.status = OrderStatus.DELETED
        order.save(update_fields=["status"])
        return ""

    return _change_order(store, order_id, change) is not None


def apply_order_edit(store: Store, edit: OrderEditRemovals) -> str:
    """Apply the removals of an order edit unless the stored order snapshot is already as new as the edit.

    The order update that Shopify sends with every edit carries the absolute current quantities; whichever of the
    two arrives first wins, and the other is then older or equal and changes nothing.
    """

    def change(order: Order, lines: list[OrderLine]) -> str:
        if edit.committed_at <= order.platform_updated_at:
            return "the stored order already includes this edit"
        by_id = {line.platform_id: line for line in lines}
        changed = []
        for line_id, removed in edit.removals:
            line = by_id.get(line_id)
            if line is not None and removed:
                line.current_quantity = max(0, line.current_quantity - removed)
                changed.append(line)
        OrderLine.objects.bulk_update(changed, ["current_quantity"])
        order.platform_updated_at = edit.committed_at
        order.save(update_fields=["platform_updated_at"])
        return ""

    note = _change_order(store, edit.order_id, change)
    if note is None:
        # The order update that accompanies every edit brings the same change with the full order.
        return f"order {edit.order_id} is not known yet; its update will carry the edit"
    return note
