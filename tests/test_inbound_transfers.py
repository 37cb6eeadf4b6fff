"""Purchase orders of a Shopify store that keeps inventory transfers: sent, an order becomes an inbound transfer in
transit (the store counts it as incoming), each receipt is accepted once on its shipment line, a cancellation
cancels what it still awaited, and on order counts every unit once across our orders and the store's own."""

from __future__ import annotations

import pytest

from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import InventoryStore
from integrations.simulator.state import StoreState
from inventory_ai import dispatch
from inventory_ai.choices import AdjustmentStatus, PurchaseOrderStatus, ReceivingMethod
from inventory_ai.gateways import store_gateway
from inventory_ai.models import (
    InventoryLevel,
    Location,
    StockAdjustment,
)
from inventory_ai.services import inbound_transfers, purchasing, push
from inventory_ai.services.records import apply_records
from tests.conftest import read_all
from tests.purchasing_helpers import ITEM, LOCATION, sent_order, stocked_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_tasks(monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda name, *args, **kw: sent.append((name, *args)))
    return sent


@pytest.fixture
def simulator():
    with ApiServer(StoreState(), inventory=InventoryStore(), access_token="shpat_tr") as server:
        server.start()
        yield server


@pytest.fixture
def stocked(simulator):
    """A Shopify store holding 5 of one variant, whose merchant already uses transfers and has 12 on the way."""
    store, variant, location = stocked_store(simulator, "transfers.myshopify.com", "shpat_tr")
    simulator.inventory.set_incoming(ITEM, LOCATION, 12)
    simulator.transfers.add_merchant_transfer(LOCATION, {ITEM: 12})
    return store, variant, location


def reconcile_levels(store) -> None:
    apply_records(store, read_all(store_gateway(store).read_stock_levels, location_ids=[LOCATION])[0])


def incoming(variant, location) -> int:
    return InventoryLevel.objects.get(variant=variant, location=location).incoming


def test_a_sent_order_is_received_on_its_transfer_once_and_counted_on_order_once(
    simulator, stocked, planner, sent_tasks
):
    store, variant, location = stocked
    reconcile_levels(store)
    assert incoming(variant, location) == 12
    order = sent_order(store, variant, location, planner)
    assert ("open_inbound_transfer_task", order.pk) in sent_tasks
    assert inbound_transfers.open_inbound_transfer(order.pk).startswith("transfer ")
    assert inbound_transfers.open_inbound_transfer(order.pk) == "nothing to do"
    order.refresh_from_db()
    store.refresh_from_db()
    assert order.transfer_id
    assert store.uses_transfers
    line = order.lines.get()
    assert line.shipment_id
    assert line.shipment_line_id
    ours = simulator.transfers.transfers[order.transfer_id]
    assert (ours.destination, ours.origin, ours.items, ours.reference) == (LOCATION, None, {ITEM: 30}, order.number)
    # the store now counts our 30 as incoming with the merchant's 12; a reconciliation reads 42, on order stays 42
    assert simulator.inventory.incoming[(ITEM, LOCATION)] == 42
    assert incoming(variant, location) == 42
    reconcile_levels(store)
    assert incoming(variant, location) == 42
    assert purchasing.on_order([variant.pk]) == {variant.pk: 42}

    # 12 arrive: accepted on the shipment line, once however often the push runs
    [receipt] = purchasing.receive(order, {line.pk: 12}, planner)
    adjustment = receipt.adjustment
    assert (adjustment.shipment_id, adjustment.shipment_line_id) == (line.shipment_id, line.shipment_line_id)
    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.PUSHED
    push.push_adjustment(adjustment.pk)
    adjustment.refresh_from_db()
    assert adjustment.store_quantity_after == 17
    assert simulator.inventory.level(ITEM, LOCATION) == 17
    assert len(simulator.inventory.applied) == 1
    assert simulator.inventory.incoming[(ITEM, LOCATION)] == 30
    assert incoming(variant, location) == 30
    assert purchasing.on_order([variant.pk]) == {variant.pk: 18 + 12}
    # the same attempt repeated at the store (a lost answer) receives nothing more
    store_gateway(store).write_stock(push._change(adjustment))
    assert simulator.inventory.level(ITEM, LOCATION) == 17

    # 20 more than the 18 awaited, confirmed: 18 on the shipment, 2 as an addition
    purchasing.receive(order, {line.pk: 20}, planner, allow_over=True)
    waiting = StockAdjustment.objects.filter(store=store, status=AdjustmentStatus.APPROVED)
    [on_shipment, extra] = sorted(waiting, key=lambda a: -a.delta)
    assert (on_shipment.delta, bool(on_shipment.shipment_line_id)) == (18, True)
    assert (extra.delta, extra.shipment_line_id) == (2, "")
    for pending in (on_shipment, extra):
        assert push.push_adjustment(pending.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 37
    assert simulator.transfers.transfers[order.transfer_id].status == "TRANSFERRED"
    assert simulator.inventory.incoming[(ITEM, LOCATION)] == 12
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED
    reconcile_levels(store)
    assert purchasing.on_order([variant.pk]) == {variant.pk: 12}


def test_a_cancelled_order_cancels_what_its_shipment_still_awaited(simulator, stocked, planner, sent_tasks):
    store, variant, location = stocked
    reconcile_levels(store)
    order = sent_order(store, variant, location, planner, quantity=20)
    inbound_transfers.open_inbound_transfer(order.pk)
    line = order.lines.get()
    [receipt] = purchasing.receive(order, {line.pk: 5}, planner)
    push.push_adjustment(receipt.adjustment.pk)
    assert simulator.inventory.incoming[(ITEM, LOCATION)] == 12 + 15

    purchasing.cancel(order, planner)
    assert ("cancel_inbound_transfer_task", order.pk) in sent_tasks
    assert inbound_transfers.cancel_inbound_transfer(order.pk) == "1 lines cancelled in the store"
    assert inbound_transfers.cancel_inbound_transfer(order.pk) == "0 lines cancelled in the store"
    assert simulator.inventory.incoming[(ITEM, LOCATION)] == 12
    assert incoming(variant, location) == 12
    assert simulator.inventory.level(ITEM, LOCATION) == 10
    assert purchasing.on_order([variant.pk]) == {variant.pk: 12}


def test_without_transfers_in_the_store_or_by_choice_receipts_are_additions(simulator, stocked, planner, sent_tasks):
    store, variant, location = stocked
    simulator.transfers.transfers.clear()
    order = sent_order(store, variant, location, planner, quantity=10)
    assert inbound_transfers.open_inbound_transfer(order.pk) == "the store keeps no transfers: receipts are additions"
    order.refresh_from_db()
    assert order.transfer_id == ""
    [receipt] = purchasing.receive(order, {order.lines.get().pk: 10}, planner)
    assert receipt.adjustment.shipment_line_id == ""
    assert push.push_adjustment(receipt.adjustment.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 15

    # a store set to additions never asks
    store.receiving = ReceivingMethod.ADDITION
    store.save()
    sent_tasks.clear()
    sent_order(store, variant, location, planner, quantity=10)
    assert not [task for task in sent_tasks if task[0] == "open_inbound_transfer_task"]


def test_a_refused_transfer_is_kept_on_the_order_and_a_repeated_request_makes_one_transfer(
    simulator, stocked, planner, sent_tasks
):
    from integrations.gateway import InboundLine

    store, variant, location = stocked
    gateway = store_gateway(store)  # kept for the process, as the workers keep it
    first = gateway.create_inbound_transfer("PO-X", LOCATION, [InboundLine(1, ITEM, 4)], "key-1")
    again = gateway.create_inbound_transfer("PO-X", LOCATION, [InboundLine(1, ITEM, 4)], "key-1")
    assert first == again
    assert len(simulator.transfers.transfers) == 2  # the merchant's and this one
    assert simulator.inventory.incoming[(ITEM, LOCATION)] == 16

    # a location the store does not know: refused for good, kept on the order, receipts are additions
    order = sent_order(store, variant, location, planner, quantity=10)
    Location.objects.filter(pk=location.pk).update(platform_id="999")
    assert inbound_transfers.open_inbound_transfer(order.pk).startswith("refused")
    order.refresh_from_db()
    assert "destination location does not exist" in order.transfer_error
    assert order.transfer_id == ""
