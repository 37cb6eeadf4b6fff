"""The order service: upserts by platform id, ordering by updated_at, refunds once, demand kept in step."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from integrations.records import (
    ORDER_CANCELLED,
    ORDER_OPEN,
    OrderLineRecord,
    OrderRecord,
    RefundLineRecord,
    RefundRecord,
    VariantRef,
)
from inventory_ai.choices import OrderSource
from inventory_ai.models import InventoryLevel, Order, OrderLine, Variant
from inventory_ai.services.inventory import record_inventory_level
from inventory_ai.services.orders import apply_order_records, apply_refund_records
from inventory_ai.services.stores import primary_location
from tests.demand_helpers import demand_from_orders, stored_demand

T0 = datetime(2024, 11, 29, 10, 0, tzinfo=UTC)
MUG = VariantRef(product_id="10", variant_id="101", sku="MUG", title="Mug", product_title="Mug", price=Decimal("8"))
CAP = VariantRef(product_id="20", variant_id="201", sku="CAP", title="Cap", product_title="Cap", price=Decimal("12"))


def order(order_id="1", *, updated=T0, status=ORDER_OPEN, lines=None, created=T0):
    lines = lines if lines is not None else [("11", MUG, 3, 3)]
    return OrderRecord(
        order_id=order_id,
        number=f"#{order_id}",
        created_at=created,
        updated_at=updated,
        status=status,
        platform_status=status,
        currency="GBP",
        lines=tuple(OrderLineRecord(lid, ref, qty, cur, ref.price) for lid, ref, qty, cur in lines),
    )


def apply(store, *records):
    return apply_order_records(store, list(records), source=OrderSource.WEBHOOK)


@pytest.mark.django_db
def test_same_snapshot_twice_is_a_no_op(shop):
    apply(shop, order())
    result = apply(shop, order())
    assert result.orders_unchanged == 1
    assert stored_demand(shop) == {("MUG", "2024-11-29"): 3}


@pytest.mark.django_db
def test_older_snapshot_never_overwrites_newer(shop):
    # given the order was cancelled (newer) and the original create is retried afterwards (older)
    apply(shop, order(updated=T0 + timedelta(hours=1), status=ORDER_CANCELLED))
    apply(shop, order(updated=T0))

    # then it stays cancelled with no demand
    assert Order.objects.get().status == "cancelled"
    assert stored_demand(shop) == {}


@pytest.mark.django_db
def test_cancel_and_edit_move_demand(shop):
    apply(shop, order(lines=[("11", MUG, 3, 3), ("12", CAP, 1, 1)]))
    # an edit removes one mug
    apply(shop, order(updated=T0 + timedelta(minutes=5), lines=[("11", MUG, 3, 2), ("12", CAP, 1, 1)]))
    assert stored_demand(shop) == {("MUG", "2024-11-29"): 2, ("CAP", "2024-11-29"): 1}
    # a cancellation removes everything
    apply(shop, order(updated=T0 + timedelta(minutes=9), status=ORDER_CANCELLED, lines=[("11", MUG, 3, 2)]))
    assert stored_demand(shop) == {}
    # the known cap line is kept (lines are never removed by omission)
    assert OrderLine.objects.count() == 2


@pytest.mark.django_db
def test_refund_is_counted_once_whether_or_not_the_order_update_reflects_it(shop):
    apply(shop, order(lines=[("11", MUG, 5, 5)]))
    refund = RefundRecord("r1", "1", T0 + timedelta(days=1), (RefundLineRecord("11", 2, "return"),))
    # the refund arrives first, twice (a retry)
    apply_refund_records(shop, [refund])
    assert apply_refund_records(shop, [refund]).refunds_unchanged == 1
    assert stored_demand(shop) == {("MUG", "2024-11-29"): 3}
    # then the order update whose current_quantity already excludes the refunded units
    apply(shop, order(updated=T0 + timedelta(days=1), lines=[("11", MUG, 5, 3)]))
    assert stored_demand(shop) == {("MUG", "2024-11-29"): 3}


@pytest.mark.django_db
def test_refund_for_unknown_order_is_reported_not_recorded(shop):
    result = apply_refund_records(shop, [RefundRecord("r9", "404", T0, (RefundLineRecord("1", 1),))])
    assert result.refunds_created == 0
    assert result.problems == ["refund r9: order 404 is not known yet"]


@pytest.mark.django_db
def test_unknown_variant_becomes_a_placeholder(shop):
    from inventory_ai.services.catalog import CatalogCache

    apply_order_records(
        shop,
        [order(lines=[("11", CAP, 1, 1)])],
        source=OrderSource.WEBHOOK,
        catalog=CatalogCache(shop, placeholders=True),
    )
    variant = Variant.objects.get()
    assert variant.is_placeholder
    assert variant.sku == "CAP"


@pytest.mark.django_db
def test_demand_day_is_the_stores_local_date(shop):
    late = datetime(2024, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 July in London (summer time)
    apply(shop, order(created=late, updated=late))
    assert stored_demand(shop) == {("MUG", "2024-07-02"): 3}


@pytest.mark.django_db
def test_random_event_sequences_keep_incremental_demand_equal_to_a_rebuild(shop):
    # given a random interleaving of creates, edits, cancellations, restores, stale retries and refunds
    rng = random.Random(7)
    refs = [MUG, CAP]
    events = []
    for order_number in range(1, 16):
        oid = str(order_number)
        created = T0 + timedelta(days=rng.randint(0, 3), hours=rng.randint(0, 23))
        lines = [(f"{oid}-{i}", rng.choice(refs), rng.randint(1, 6)) for i in range(rng.randint(1, 3))]
        snapshots = []
        for version in range(rng.randint(1, 4)):
            status = rng.choice([ORDER_OPEN, ORDER_OPEN, ORDER_CANCELLED])
            shown = [(lid, ref, qty, rng.randint(0, qty)) for lid, ref, qty in lines]
            snapshots.append(
                order(oid, created=created, updated=created + timedelta(minutes=version), status=status, lines=shown)
            )
        events.extend(("order", snapshot) for snapshot in snapshots)
        events.append(("order", snapshots[0]))  # a stale retry
        if rng.random() < 0.5:
            lid, _, qty = lines[0]
            events.append(
                ("refund", RefundRecord(f"r{oid}", oid, created, (RefundLineRecord(lid, rng.randint(1, qty)),)))
            )
    rng.shuffle(events)

    # when they are applied in that order, in small batches
    for index in range(0, len(events), 3):
        chunk = events[index : index + 3]
        apply(shop, *[record for kind, record in chunk if kind == "order"])
        apply_refund_records(shop, [record for kind, record in chunk if kind == "refund"])
    # (refunds that came before their order are delivered again, as a platform retry would)
    apply_refund_records(shop, [record for kind, record in events if kind == "refund"])

    # then the incrementally kept demand equals demand recomputed from the final orders
    assert stored_demand(shop) == demand_from_orders(shop)


@pytest.mark.django_db
def test_older_inventory_level_never_overwrites_newer(shop):
    apply(shop, order())
    variant = Variant.objects.get()
    location = primary_location(shop)
    assert record_inventory_level(variant.pk, location.pk, 7, T0 + timedelta(hours=2))
    assert not record_inventory_level(variant.pk, location.pk, 99, T0 + timedelta(hours=1))
    assert record_inventory_level(variant.pk, location.pk, 5, T0 + timedelta(hours=3))
    assert InventoryLevel.objects.get().available == 5
