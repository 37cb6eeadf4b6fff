"""A push through a real worker process that is SIGKILLed after the store applied the change: applied once."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.utils import timezone

from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import Faults, InventoryStore
from integrations.simulator.state import StoreState
from inventory_ai.choices import AdjustmentReason, AdjustmentStatus
from inventory_ai.models import InventoryLevel, Location, Product, StockAdjustment, Variant
from inventory_ai.services import replenishment
from inventory_ai.services.stores import upsert_store

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(message)


def test_a_worker_killed_mid_push_applies_the_change_exactly_once(start_worker, planner):
    # given a Shopify store on the simulator that applies a write, then takes 4 s to answer
    inventory = InventoryStore(faults=Faults(delay_after_write=4.0))
    inventory.set_level("1001", "77", 5)
    with ApiServer(StoreState(), inventory=inventory, access_token="shpat_kill") as server:
        server.start()
        store, _ = upsert_store(
            "shopify", "kill-test.myshopify.com", credentials={"access_token": "shpat_kill"}, api_base_url=server.url
        )
        product = Product.objects.create(store=store, platform_id="1", title="Kettle")
        variant = Variant.objects.create(store=store, product=product, platform_id="2", inventory_item_id="1001")
        location = Location.objects.create(store=store, platform_id="77", name="Main", is_primary=True)
        InventoryLevel.objects.create(
            variant=variant, location=location, available=5, platform_updated_at=timezone.now()
        )
        worker = start_worker(pool="prefork", concurrency=1)

        # when a planner approves a received restock of 12, and the worker dies while waiting for the answer
        adjustment = replenishment.create_adjustment(
            variant, location, planner, delta=12, reason=AdjustmentReason.RESTOCK
        )
        replenishment.decide_adjustment(adjustment, approve=True, user=planner)
        wait_for(lambda: inventory.applied, 60, "the push never reached the store")
        children = worker.children()
        assert children, "the worker has no pool process"
        os.kill(children[0], signal.SIGKILL)

        # then the task is delivered again, the retry reuses the key, and the store applied the restock once
        wait_for(
            lambda: StockAdjustment.objects.get(pk=adjustment.pk).status == AdjustmentStatus.PUSHED,
            90,
            f"the adjustment was not pushed after the kill:\n{worker.log[-3000:]}",
        )
    adjustment.refresh_from_db()
    assert inventory.level("1001", "77") == 17
    assert len(inventory.applied) == 1
    assert adjustment.push_attempts >= 2
    assert adjustment.store_quantity_after == 17
