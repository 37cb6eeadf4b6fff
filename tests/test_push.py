"""Pushing approved stock adjustments to the store simulator: compare-and-set, idempotency keys, retries, conflicts.

The simulator runs on loopback with the platforms' documented semantics; the database is the real one.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import Faults, InventoryStore, WooItem
from integrations.simulator.state import StoreState
from integrations.woocommerce.constants import PUSH_MARKER_KEY
from inventory_ai.choices import AdjustmentReason, AdjustmentStatus, AuditAction
from inventory_ai.models import AuditEntry, InventoryLevel, Location, Product, PushAttempt, StockAdjustment, Variant
from inventory_ai.services import push, replenishment
from inventory_ai.services.stores import upsert_store

pytestmark = pytest.mark.django_db

ITEM, LOCATION = "808950810", "655441491"


@pytest.fixture
def simulator():
    inventory = InventoryStore(faults=Faults(seed=7))
    with ApiServer(StoreState(), inventory=inventory, access_token="shpat_push", consumer_key="ck_push") as server:
        server.start()
        yield server


@pytest.fixture
def shopify(simulator, planner):
    """A Shopify store on the simulator with one variant stocked 5 at one location, known to both sides."""
    store, _ = upsert_store(
        "shopify",
        "push-test.myshopify.com",
        webhook_secret="hush",
        credentials={"access_token": "shpat_push"},
        api_base_url=simulator.url,
    )
    product = Product.objects.create(store=store, platform_id="632910392", title="IPod Nano - 8GB")
    variant = Variant.objects.create(
        store=store, product=product, platform_id="808950810", sku="IPOD2008PINK", inventory_item_id=ITEM
    )
    location = Location.objects.create(store=store, platform_id=LOCATION, name="Ottawa Store", is_primary=True)
    InventoryLevel.objects.create(variant=variant, location=location, available=5, platform_updated_at=timezone.now())
    simulator.inventory.set_level(ITEM, LOCATION, 5)
    return store, variant, location


def approved(variant, location, planner, **change) -> StockAdjustment:
    """An adjustment proposed from the level we hold and approved by the planner (the push task is not run)."""
    adjustment = replenishment.create_adjustment(variant, location, planner, **change)
    replenishment.decide_adjustment(adjustment, approve=True, user=planner)
    adjustment.refresh_from_db()
    return adjustment


def push_until_done(adjustment_id: int, limit: int = 50) -> str:
    """Run the push as the task would, retrying at once what it says to retry later."""
    for _ in range(limit):
        try:
            return push.push_adjustment(adjustment_id)
        except push.RetryLater:
            continue
    raise AssertionError("the push kept asking to retry")


def test_an_approved_correction_is_set_with_compare_and_set_and_an_idempotency_key(simulator, shopify, planner):
    _, variant, location = shopify
    adjustment = approved(variant, location, planner, new_available=12, reason=AdjustmentReason.MANUAL)

    status = push.push_adjustment(adjustment.pk)

    assert status == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 12
    adjustment.refresh_from_db()
    assert (adjustment.store_quantity_before, adjustment.store_quantity_after) == (5, 12)
    [applied] = simulator.inventory.applied
    assert applied["key"] == adjustment.push_key
    assert applied["reference"] == f"inventory-ai://stock-adjustment/{adjustment.pk}"
    attempt = PushAttempt.objects.get(adjustment=adjustment)
    assert attempt.outcome == PushAttempt.Outcome.APPLIED
    assert attempt.request["mutation"] == "inventorySetQuantities"
    assert attempt.request["change_from"] == 5
    entry = AuditEntry.objects.filter(target_id=adjustment.pk, action=AuditAction.PUSH).get()
    assert entry.after["store_quantity"] == 12
    assert entry.source == "system"


def test_a_received_restock_is_a_delta(simulator, shopify, planner):
    _, variant, location = shopify
    adjustment = approved(variant, location, planner, delta=24, reason=AdjustmentReason.RESTOCK)

    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.PUSHED

    assert simulator.inventory.level(ITEM, LOCATION) == 29
    attempt = PushAttempt.objects.get(adjustment=adjustment)
    assert attempt.request["mutation"] == "inventoryAdjustQuantities"
    assert attempt.request["delta"] == 24


def test_an_order_arriving_before_the_push_makes_a_conflict_and_a_new_proposal(simulator, shopify, planner):
    _, variant, location = shopify
    adjustment = approved(variant, location, planner, delta=24, reason=AdjustmentReason.RESTOCK)
    # an order takes 2 units at the store after we read 5
    simulator.inventory.sell(ITEM, LOCATION, 2)

    status = push.push_adjustment(adjustment.pk)

    # nothing is overwritten: the store keeps its 3, our change is re-proposed from 3 for a planner to approve
    assert status == AdjustmentStatus.CONFLICT
    assert simulator.inventory.level(ITEM, LOCATION) == 3
    assert simulator.inventory.applied == []
    adjustment.refresh_from_db()
    assert "held 3, not the 5" in adjustment.error
    follow_up = adjustment.follow_up
    assert (follow_up.status, follow_up.expected_available, follow_up.new_available) == ("pending", 3, 27)
    # approving the new proposal applies it
    replenishment.decide_adjustment(follow_up, approve=True, user=planner)
    assert push.push_adjustment(follow_up.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 27


def test_a_push_retried_after_a_timeout_applies_once(simulator, shopify, planner, settings):
    _, variant, location = shopify
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "STORE_API_TIMEOUT_SECONDS": 0.3}
    simulator.inventory.faults.delay_after_write = 1.0  # the store applies, then answers too late
    adjustment = approved(variant, location, planner, delta=10, reason=AdjustmentReason.RESTOCK)

    with pytest.raises(push.RetryLater):
        push.push_adjustment(adjustment.pk)
    assert simulator.inventory.level(ITEM, LOCATION) == 15  # applied although we saw a timeout
    simulator.inventory.faults.delay_after_write = 0.0
    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.PUSHED

    # the retry reused the key: Shopify answered the first result and applied nothing again
    assert simulator.inventory.level(ITEM, LOCATION) == 15
    assert len(simulator.inventory.applied) == 1
    outcomes = list(adjustment.push_log.order_by("number").values_list("outcome", "idempotency_key"))
    assert [o for o, _ in outcomes] == [PushAttempt.Outcome.RETRY, PushAttempt.Outcome.APPLIED]
    assert len({key for _, key in outcomes}) == 1
    adjustment.refresh_from_db()
    assert adjustment.store_quantity_after == 15


def test_a_storm_of_429s_and_5xx_pushes_every_adjustment_once(simulator, shopify, planner):
    store, _, location = shopify
    product = Product.objects.get(store=store)
    adjustments = []
    for number in range(12):
        item = f"4000{number}"
        variant = Variant.objects.create(
            store=store, product=product, platform_id=f"9000{number}", sku=f"STORM-{number}", inventory_item_id=item
        )
        InventoryLevel.objects.create(
            variant=variant, location=location, available=number, platform_updated_at=timezone.now()
        )
        simulator.inventory.set_level(item, LOCATION, number)
        adjustments.append(approved(variant, location, planner, delta=5, reason=AdjustmentReason.RESTOCK))
    simulator.inventory.faults.rate_429 = 0.4
    simulator.inventory.faults.rate_5xx = 0.2

    statuses = [push_until_done(adjustment.pk) for adjustment in adjustments]

    assert statuses == [AdjustmentStatus.PUSHED] * 12
    assert [simulator.inventory.level(f"4000{n}", LOCATION) for n in range(12)] == [n + 5 for n in range(12)]
    assert len(simulator.inventory.applied) == 12
    outcomes = set(PushAttempt.objects.values_list("outcome", flat=True))
    assert {PushAttempt.Outcome.RETRY, PushAttempt.Outcome.THROTTLED} <= outcomes  # the faults really happened


def test_a_worker_dying_after_the_write_does_not_double_it(simulator, shopify, planner, monkeypatch):
    _, variant, location = shopify
    adjustment = approved(variant, location, planner, delta=3, reason=AdjustmentReason.RESTOCK)

    # the process dies right after the store applied the change, before our transaction commits
    def die(*args, **kwargs):
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(push, "_pushed", die)
        with pytest.raises(SystemExit):
            push.push_adjustment(adjustment.pk)
    adjustment.refresh_from_db()
    assert adjustment.status == AdjustmentStatus.PUSHING  # the redelivered task finds it mid-way

    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 8
    assert len(simulator.inventory.applied) == 1


def test_a_refused_push_is_parked_visibly_and_can_be_retried(
    simulator, shopify, planner, django_capture_on_commit_callbacks
):
    store, variant, location = shopify
    store.credentials = {"access_token": "revoked"}
    store.save()
    adjustment = approved(variant, location, planner, new_available=9)

    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.FAILED
    adjustment.refresh_from_db()
    assert "HTTP 401" in adjustment.error
    assert simulator.inventory.level(ITEM, LOCATION) == 5

    store.credentials = {"access_token": "shpat_push"}
    store.save()
    with django_capture_on_commit_callbacks() as callbacks:
        assert push.retry_push(adjustment, planner)
    assert len(callbacks) == 1  # the push task is enqueued after the commit
    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 9


def test_transient_failures_give_up_after_the_attempt_limit(simulator, shopify, planner):
    _, variant, location = shopify
    simulator.inventory.faults.rate_5xx = 1.0
    adjustment = approved(variant, location, planner, new_available=9)

    status = push_until_done(adjustment.pk)

    assert status == AdjustmentStatus.FAILED
    adjustment.refresh_from_db()
    assert adjustment.push_log.filter(outcome=PushAttempt.Outcome.RETRY).count() == push.MAX_ATTEMPTS
    assert "gave up after" in adjustment.error
    assert simulator.inventory.level(ITEM, LOCATION) == 5


def test_approving_enqueues_the_push_after_the_commit(shopify, planner, django_capture_on_commit_callbacks):
    _, variant, location = shopify
    adjustment = replenishment.create_adjustment(variant, location, planner, new_available=7)
    with django_capture_on_commit_callbacks() as callbacks:
        replenishment.decide_adjustment(adjustment, approve=True, user=planner)
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        replenishment.decide_adjustment(
            replenishment.create_adjustment(variant, location, planner, new_available=8), approve=False, user=planner
        )
    assert callbacks == []


@pytest.fixture
def woocommerce(simulator):
    store, _ = upsert_store(
        "woocommerce",
        "https://push-woo.example",
        webhook_secret="hush",
        credentials={"consumer_key": "ck_push", "consumer_secret": "cs_demo"},
        api_base_url=simulator.url,
    )
    parent = Product.objects.create(store=store, platform_id="22", title="Ship Your Idea")
    variation = Variant.objects.create(store=store, product=parent, platform_id="23", sku="idea-black")
    simple = Product.objects.create(store=store, platform_id="31", title="Premium Quality")
    simple_variant = Variant.objects.create(store=store, product=simple, platform_id="31", sku="premium")
    location = Location.objects.create(store=store, platform_id="default", name="Store", is_primary=True)
    for variant, quantity in ((variation, 7), (simple_variant, 2)):
        InventoryLevel.objects.create(
            variant=variant, location=location, available=quantity, platform_updated_at=timezone.now()
        )
    simulator.inventory.add_woo_item(WooItem(id=23, parent_id=22, sku="idea-black", stock_quantity=7))
    simulator.inventory.add_woo_item(WooItem(id=31, sku="premium", stock_quantity=2))
    return store, variation, simple_variant, location


def test_woocommerce_applies_the_delta_to_the_fresh_stock_and_records_both(simulator, woocommerce, planner):
    _, variation, simple, location = woocommerce
    restock = approved(variation, location, planner, delta=5, reason=AdjustmentReason.RESTOCK)
    correction = approved(simple, location, planner, new_available=10)
    simulator.inventory.woo_sell(23, 2)  # an order between our read and the push

    assert push.push_adjustment(restock.pk) == AdjustmentStatus.PUSHED
    assert push.push_adjustment(correction.pk) == AdjustmentStatus.PUSHED

    assert simulator.inventory.woo[23].stock_quantity == 10  # 7 - 2 sold + 5 received: the sale is not lost
    assert simulator.inventory.woo[31].stock_quantity == 10
    restock.refresh_from_db()
    assert (restock.store_quantity_before, restock.store_quantity_after) == (5, 10)
    assert simulator.inventory.woo[23].meta_data[PUSH_MARKER_KEY] == restock.push_key


def test_woocommerce_retry_after_a_lost_answer_does_not_apply_twice(simulator, woocommerce, planner, monkeypatch):
    _, variation, _, location = woocommerce
    adjustment = approved(variation, location, planner, delta=5, reason=AdjustmentReason.RESTOCK)

    def die(*args, **kwargs):
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(push, "_pushed", die)
        with pytest.raises(SystemExit):
            push.push_adjustment(adjustment.pk)
    assert simulator.inventory.woo[23].stock_quantity == 12

    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.woo[23].stock_quantity == 12
    assert adjustment.push_log.order_by("-number").first().outcome == PushAttempt.Outcome.ALREADY_APPLIED


def test_the_admin_shows_push_attempts_and_retries_failed_pushes(
    client, simulator, shopify, planner, viewer, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    store, variant, location = shopify
    store.credentials = {"access_token": "revoked"}
    store.save()
    adjustment = approved(variant, location, planner, new_available=9)
    push.push_adjustment(adjustment.pk)
    page = reverse("admin:inventory_ai_stockadjustment_change", args=[adjustment.pk])
    changelist = reverse("admin:inventory_ai_stockadjustment_changelist")

    client.force_login(viewer)
    assert "HTTP 401" in client.get(page).content.decode()  # the attempt and its error are visible
    client.post(changelist, {"action": "retry_push", "_selected_action": [adjustment.pk]})
    adjustment.refresh_from_db()
    assert adjustment.status == AdjustmentStatus.FAILED  # a viewer cannot retry

    client.force_login(planner)
    with django_capture_on_commit_callbacks():
        client.post(changelist, {"action": "retry_push", "_selected_action": [adjustment.pk]})
    adjustment.refresh_from_db()
    assert adjustment.status == AdjustmentStatus.APPROVED
    assert AuditEntry.objects.filter(target_id=adjustment.pk, action=AuditAction.PUSH, actor=planner).exists()


def test_an_approved_suggestion_is_ordered_and_its_receipt_is_pushed_on_the_stock_held_then(
    simulator, shopify, planner, monkeypatch
):
    from inventory_ai import dispatch
    from inventory_ai.models import PurchaseOrder, ReorderSuggestion
    from inventory_ai.services import purchasing
    from inventory_ai.services.inventory import apply_inventory_level

    monkeypatch.setattr(dispatch, "send", lambda *args, **kw: None)  # the push is run below, as the task would
    store, variant, location = shopify
    suggestion = ReorderSuggestion.objects.create(
        store=store,
        variant=variant,
        location=location,
        available=5,
        reorder_point=8,
        order_up_to=30,
        suggested_qty=25,
        lead_time_days=14,
        review_period_days=7,
        service_level=0.95,
        service_measure="fill_rate",
        weekly_demand=6,
        reason="test",
    )

    # when the planner approves the order of 25, it goes on its supplier's purchase order, which is sent
    replenishment.decide_suggestion(suggestion, approve=True, user=planner)
    order = purchasing.send(PurchaseOrder.objects.get(store=store), planner, email=False)
    assert not StockAdjustment.objects.exists()  # nothing to push before the goods arrive
    # two weeks later 3 were sold meanwhile (the store's webhook updated our copy) and the goods arrive
    simulator.inventory.sell(ITEM, LOCATION, 3)
    apply_inventory_level(store, variant.pk, location.pk, 2, timezone.now())
    [receipt] = purchasing.receive(order, {order.lines.get().pk: 25}, planner)
    restock = receipt.adjustment
    assert (restock.status, restock.reason, restock.expected_available, restock.new_available) == (
        "approved", "restock", 2, 27)  # on the stock held when it arrived, the delta kept  # fmt: skip

    assert push.push_adjustment(restock.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 27
    assert InventoryLevel.objects.get(variant=variant).available == 27


@pytest.fixture
def woo_many(simulator, woocommerce):
    """The WooCommerce store with 8 more simple products and 4 more variations of product 22."""
    store, variation, simple, location = woocommerce
    variants = [variation, simple]
    for number in range(12):
        parent = None if number < 8 else Product.objects.get(store=store, platform_id="22")
        item_id = 400 + number
        product = parent or Product.objects.create(store=store, platform_id=str(item_id), title=f"P{item_id}")
        variant = Variant.objects.create(store=store, product=product, platform_id=str(item_id), sku=f"W-{item_id}")
        InventoryLevel.objects.create(
            variant=variant, location=location, available=number, platform_updated_at=timezone.now()
        )
        simulator.inventory.add_woo_item(WooItem(id=item_id, parent_id=22 if parent else 0, stock_quantity=number))
        variants.append(variant)
    return store, variants, location


def test_many_woocommerce_adjustments_go_through_the_batch_endpoint(simulator, woo_many, planner):
    store, variants, location = woo_many
    adjustments = [approved(v, location, planner, delta=10, reason=AdjustmentReason.RESTOCK) for v in variants]
    requests_before = simulator.inventory.requests

    # when the first push task runs
    assert push.push_adjustment(adjustments[0].pk) == AdjustmentStatus.PUSHED

    # then all 14 are pushed with one read and one batch per parent (simple products; product 22's variations)
    assert simulator.inventory.requests - requests_before == 4
    assert set(StockAdjustment.objects.values_list("status", flat=True)) == {AdjustmentStatus.PUSHED}
    assert simulator.inventory.woo[23].stock_quantity == 17
    assert [simulator.inventory.woo[400 + n].stock_quantity for n in range(12)] == [n + 10 for n in range(12)]
    # and the other tasks, arriving later, find nothing left to do
    assert push.push_adjustment(adjustments[5].pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.requests - requests_before == 4


def test_a_batch_whose_answer_was_lost_is_not_applied_twice(simulator, woo_many, planner, monkeypatch):
    store, variants, location = woo_many
    adjustments = [approved(v, location, planner, delta=3, reason=AdjustmentReason.RESTOCK) for v in variants[2:9]]

    def die(*args, **kwargs):
        raise SystemExit("killed after the batch write")

    with monkeypatch.context() as patch:
        patch.setattr(push, "_pushed", die)
        with pytest.raises(SystemExit):
            push.push_adjustment(adjustments[0].pk)
    assert [simulator.inventory.woo[400 + n].stock_quantity for n in range(7)] == [n + 3 for n in range(7)]

    assert push.push_adjustment(adjustments[0].pk) == AdjustmentStatus.PUSHED
    assert [simulator.inventory.woo[400 + n].stock_quantity for n in range(7)] == [n + 3 for n in range(7)]
    outcomes = PushAttempt.objects.filter(number=2).values_list("outcome", flat=True)
    assert set(outcomes) == {PushAttempt.Outcome.ALREADY_APPLIED}


def test_a_batch_failing_transiently_schedules_a_retry_for_every_member(
    simulator, woo_many, planner, django_capture_on_commit_callbacks
):
    store, variants, location = woo_many
    adjustments = [approved(v, location, planner, delta=2, reason=AdjustmentReason.RESTOCK) for v in variants[2:8]]
    simulator.inventory.faults.rate_5xx = 1.0

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(push.RetryLater):
        push.push_adjustment(adjustments[0].pk)

    # the task that ran retries by itself; each other member gets its own retry (its task may be long done)
    assert len(callbacks) == len(adjustments) - 1
    assert set(StockAdjustment.objects.values_list("status", flat=True)) == {AdjustmentStatus.PUSHING}
    simulator.inventory.faults.rate_5xx = 0.0
    assert [push.push_adjustment(a.pk) for a in adjustments] == [AdjustmentStatus.PUSHED] * len(adjustments)
    assert [simulator.inventory.woo[400 + n].stock_quantity for n in range(6)] == [n + 2 for n in range(6)]


def test_a_push_refused_for_credentials_waits_and_goes_out_once_the_store_is_connected_again(
    simulator, shopify, planner, run_command
):
    # given an approved correction, and a store that no longer accepts our token (revoked in its admin)
    store, variant, location = shopify
    adjustment = approved(variant, location, planner, new_available=9, reason=AdjustmentReason.MANUAL)
    simulator.access_token = "shpat_new"

    # when it is pushed, it is parked as waiting for the store, and the store shows as failing
    assert push_until_done(adjustment.pk) == AdjustmentStatus.FAILED
    adjustment.refresh_from_db()
    assert adjustment.error.startswith(push.WAITING_FOR_STORE)
    store.refresh_from_db()
    assert "connect it again" in store.connection_error

    # then the merchant gives the new token, and the change goes out once, with its key
    run_command("add_store", "shopify", "--domain", store.domain, "--access-token", "shpat_new")
    adjustment.refresh_from_db()
    assert adjustment.status == AdjustmentStatus.APPROVED
    assert push_until_done(adjustment.pk) == AdjustmentStatus.PUSHED
    assert simulator.inventory.level(ITEM, LOCATION) == 9
    assert [applied["key"] for applied in simulator.inventory.applied] == [adjustment.push_key]
    store.refresh_from_db()
    assert store.connection_error == ""
