"""Backfill and reconciliation against the store simulator: missed webhooks recovered, resumable after a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.gateway import PHASE_ORDERS
from integrations.records import OrderLineRecord, OrderRecord, VariantRef
from integrations.shopify.gateway import ShopifyGateway
from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import Faults, InventoryStore, WooItem
from integrations.simulator.state import StoreState
from integrations.woocommerce.gateway import WooCommerceGateway
from inventory_ai.models import (
    DailyDemand,
    InventoryLevel,
    Location,
    Order,
    OrderLine,
    Product,
    Refund,
    SyncRun,
    Variant,
)
from inventory_ai.services import sync_runs
from inventory_ai.services.stores import upsert_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator():
    state = StoreState(tz=UTC)
    inventory = InventoryStore(faults=Faults(seed=5))
    with ApiServer(state, inventory=inventory, access_token="shpat_sync", consumer_key="ck_sync") as server:
        server.start()
        yield server


def run_to_end(run: SyncRun, limit: int = 50) -> SyncRun:
    """Run the task's service until the run ends, retrying at once what it says to retry later."""
    for _ in range(limit):
        try:
            sync_runs.run_sync(run.pk)
            break
        except sync_runs.RetryLater:
            continue
    run.refresh_from_db()
    return run


def test_a_missed_stock_level_webhook_is_corrected_by_reconciliation(simulator):
    store, _ = upsert_store(
        "shopify", "sync-test.myshopify.com", credentials={"access_token": "shpat_sync"}, api_base_url=simulator.url
    )
    product = Product.objects.create(store=store, platform_id="1", title="Mug")
    location = Location.objects.create(store=store, platform_id="55", name="Main", is_primary=True)
    for number in range(300):
        variant = Variant.objects.create(
            store=store, product=product, platform_id=f"v{number}", sku=f"MUG-{number}", inventory_item_id=str(number)
        )
        InventoryLevel.objects.create(
            variant=variant,
            location=location,
            available=10,
            platform_updated_at=timezone.now() - timedelta(hours=1),
        )
        simulator.inventory.set_level(str(number), "55", 10)
    # the store sold 4 of MUG-7 and the webhook never came; an item we do not know is stocked too
    simulator.inventory.sell("7", "55", 4)
    simulator.inventory.set_level("999999", "55", 3)

    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))

    assert run.status == SyncRun.Status.SUCCEEDED
    assert InventoryLevel.objects.get(variant__sku="MUG-7").available == 6
    assert run.counts["levels_checked"] == 301
    assert run.counts["levels_corrected"] == 1
    assert run.counts["levels_unknown_item"] == 1
    assert run.corrections == [
        {
            "sku": "MUG-7",
            "location": "55",
            "ours": 10,
            "store": 6,
            "store_updated_at": run.corrections[0]["store_updated_at"],
        }
    ]
    # locations, the catalogue, the orders and their refunds, the stock levels (each a bulk operation: start,
    # completion, its file), discounts
    assert run.pages == 14
    # a second reconciliation finds nothing to correct
    again = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))
    assert again.counts.get("levels_corrected", 0) == 0


def woo_store(simulator, domain: str = "https://sync-woo.example"):
    store, _ = upsert_store(
        "woocommerce",
        domain,
        credentials={"consumer_key": "ck_sync", "consumer_secret": "cs_demo"},
        api_base_url=simulator.url,
    )
    return store


def seed_woo_catalogue(simulator, orders: int = 7) -> None:
    """Three simple products, one variable product with two variations, and `orders` orders of the simple ones."""
    inventory = simulator.inventory
    for number, stock in enumerate([4, 0, 12]):
        inventory.add_woo_item(
            WooItem(id=100 + number, sku=f"SIMPLE-{number}", name=f"Simple {number}", stock_quantity=stock)
        )
    inventory.add_woo_item(WooItem(id=200, name="Tee", variable=True, manage_stock=False, stock_quantity=None))
    inventory.add_woo_item(WooItem(id=201, parent_id=200, sku="TEE-S", stock_quantity=3))
    inventory.add_woo_item(WooItem(id=202, parent_id=200, sku="TEE-M", stock_quantity=8))
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for number in range(orders):
        add_woo_order(simulator, 5000 + number, start + timedelta(hours=number), product=100 + number % 3)


def add_woo_order(simulator, order_id: int, when: datetime, product: int = 100, quantity: int = 2) -> None:
    variant = VariantRef(product_id=str(product), variant_id=str(product), sku=f"SIMPLE-{product - 100}")
    line = OrderLineRecord(
        line_id=str(order_id * 10),
        variant=variant,
        quantity=quantity,
        current_quantity=quantity,
        unit_price=Decimal("3.50"),
    )
    record = OrderRecord(
        order_id=str(order_id),
        number=str(order_id),
        created_at=when,
        updated_at=when,
        status="open",
        platform_status="processing",
        currency="GBP",
        lines=(line,),
    )
    simulator.state.apply_order(record)


def snapshot(store) -> dict:
    """What a backfill leaves: variants, stock and order lines, by platform ids."""
    return {
        "variants": sorted(Variant.objects.filter(store=store).values_list("platform_id", "sku")),
        "levels": sorted(
            InventoryLevel.objects.filter(variant__store=store).values_list("variant__platform_id", "available")
        ),
        "lines": sorted(
            OrderLine.objects.filter(order__store=store).values_list(
                "order__platform_id", "variant__platform_id", "quantity"
            )
        ),
    }


def test_a_woocommerce_backfill_imports_catalogue_stock_and_orders(simulator):
    seed_woo_catalogue(simulator)
    store = woo_store(simulator)

    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))

    assert run.status == SyncRun.Status.SUCCEEDED
    data = snapshot(store)
    assert [sku for _, sku in data["variants"]] == ["SIMPLE-0", "SIMPLE-1", "SIMPLE-2", "TEE-S", "TEE-M"]
    assert dict(data["levels"]) == {"100": 4, "101": 0, "102": 12, "201": 3, "202": 8}
    assert len(data["lines"]) == 7
    assert Order.objects.filter(store=store).count() == 7
    assert run.counts["orders_imported"] == 7
    # and on PostgreSQL the tables the backfill filled have query planner statistics (ANALYZE after a bulk load;
    # SQLite's planner needs none)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [DailyDemand._meta.db_table])
            assert cursor.fetchone()[0] > 0


def test_a_backfill_killed_halfway_resumes_and_ends_with_the_same_data(simulator, monkeypatch):
    seed_woo_catalogue(simulator, orders=9)
    monkeypatch.setattr(WooCommerceGateway, "page_size", 2)
    reference = woo_store(simulator, "https://reference.example")
    run_to_end(sync_runs.start_sync(reference, SyncRun.Kind.BACKFILL))

    store = woo_store(simulator)
    run = sync_runs.start_sync(store, SyncRun.Kind.BACKFILL)
    real_apply, applied = sync_runs._apply_page, []

    def die_on_the_fourth_page(*args):
        if len(applied) == 3:
            raise SystemExit("worker killed")
        applied.append(1)
        return real_apply(*args)

    with monkeypatch.context() as patch:
        patch.setattr(sync_runs, "_apply_page", die_on_the_fourth_page)
        with pytest.raises(SystemExit):
            sync_runs.run_sync(run.pk)
    run.refresh_from_db()
    assert run.pages == 3  # three pages committed with their cursor; the fourth rolled back
    assert run.status == SyncRun.Status.RUNNING

    run = run_to_end(run)  # the redelivered task

    assert run.status == SyncRun.Status.SUCCEEDED
    assert snapshot(store) == snapshot(reference)
    assert run.attempts == 2


def test_reconciliation_recovers_a_missed_order_and_transient_failures_resume(simulator):
    seed_woo_catalogue(simulator, orders=3)
    store = woo_store(simulator)
    run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))
    # an order placed now whose webhook was dropped, and a store answering 503 for a while
    add_woo_order(simulator, 7777, datetime.now(UTC), product=102, quantity=5)
    simulator.inventory.faults.rate_5xx = 1.0
    run = sync_runs.start_sync(store, SyncRun.Kind.RECONCILE)

    with pytest.raises(sync_runs.RetryLater):
        sync_runs.run_sync(run.pk)
    run.refresh_from_db()
    assert (run.status, run.cursor) == (SyncRun.Status.RUNNING, {})
    simulator.inventory.faults.rate_5xx = 0.0
    run = run_to_end(run)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert OrderLine.objects.get(order__platform_id="7777").quantity == 5
    assert run.counts["orders_corrected"] == 1
    assert run.counts["orders_read"] == 1  # only orders changed since the window start were read


def test_one_run_of_a_kind_at_a_time_and_permanent_errors_fail_visibly(simulator):
    store, _ = upsert_store(
        "shopify", "locked.myshopify.com", credentials={"access_token": "wrong"}, api_base_url=simulator.url
    )
    Location.objects.create(store=store, platform_id="1", name="Main", is_primary=True)
    run = sync_runs.start_sync(store, SyncRun.Kind.RECONCILE)
    with pytest.raises(sync_runs.SyncAlreadyRunning):
        sync_runs.start_sync(store, SyncRun.Kind.RECONCILE)

    run = run_to_end(run)

    assert run.status == SyncRun.Status.FAILED
    assert "HTTP 401" in run.error
    assert sync_runs.start_sync(store, SyncRun.Kind.RECONCILE).status == SyncRun.Status.QUEUED


def test_add_store_can_queue_a_backfill(simulator, run_command, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        out, _ = run_command(
            "add_store", "woocommerce", "--url", "https://cmd.example", "--api-base-url", simulator.url, "--backfill"
        )
    assert "Backfill queued" in out
    assert SyncRun.objects.get().kind == SyncRun.Kind.BACKFILL
    assert len(callbacks) == 1


def shopify_history(simulator, orders: int = 6) -> None:
    """Orders of three products in the simulated Shopify store (one refunded in part), and their stock."""
    from integrations.records import RefundLineRecord, RefundRecord

    start = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    for number in range(orders):
        product = 700 + number % 3
        variant = VariantRef(
            product_id=str(product), variant_id=str(product + 100), sku=f"SH-{product}", product_title=f"Item {product}"
        )
        when = start + timedelta(days=number)
        line = OrderLineRecord(
            line_id=str(90_000 + number), variant=variant, quantity=3, current_quantity=3, unit_price=Decimal("4.00")
        )
        simulator.state.apply_order(
            OrderRecord(
                order_id=str(10_000 + number),
                number=str(1000 + number),
                created_at=when,
                updated_at=when,
                status="open",
                platform_status="paid",
                currency="GBP",
                lines=(line,),
            )
        )
    simulator.state.apply_refund(
        RefundRecord(
            refund_id="55",
            order_id="10000",
            created_at=start + timedelta(days=2),
            lines=(RefundLineRecord("90000", 1),),
        )
    )
    for product in (700, 701, 702):
        simulator.inventory.set_level(str(product + 100), "31", 20 + product - 700)


def shopify_store(simulator, domain: str):
    store, _ = upsert_store(
        "shopify", domain, credentials={"access_token": "shpat_sync"}, api_base_url=simulator.url, timezone="UTC"
    )
    return store


def test_a_shopify_backfill_imports_locations_catalogue_orders_refunds_and_stock(simulator, monkeypatch):
    from inventory_ai import dispatch

    sent, seen = [], {}

    def send(name, *args):
        sent.append((name, *args))
        seen.update(levels=InventoryLevel.objects.filter(variant__store=store).count(),
                    refunds=Refund.objects.filter(store=store).count())  # fmt: skip

    monkeypatch.setattr(dispatch, "send", send)
    shopify_history(simulator)
    store = shopify_store(simulator, "backfill.myshopify.com")

    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))

    # a store without forecasts gets its first retrain as soon as what the forecasts read is in: orders and stock,
    # before the refunds' lines (each order line already carries its quantity net of refunds)
    assert sent == [("retrain_store_task", store.pk, None, "full")]
    assert seen == {"levels": 3, "refunds": 0}
    assert Refund.objects.filter(store=store).count() == 1
    assert run.counts["refunds_read"] == 1

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert set(Location.objects.filter(store=store).values_list("platform_id", flat=True)) >= {"31"}
    variants = dict(Variant.objects.filter(store=store).values_list("sku", "inventory_item_id"))
    assert variants == {"SH-700": "800", "SH-701": "801", "SH-702": "802"}
    assert Order.objects.filter(store=store).count() == 6
    refunded = OrderLine.objects.get(order__platform_id="10000")
    assert (refunded.quantity, refunded.refunded_quantity) == (3, 1)
    levels = dict(
        InventoryLevel.objects.filter(variant__store=store, location__platform_id="31").values_list(
            "variant__sku", "available"
        )
    )
    assert levels == {"SH-700": 20, "SH-701": 21, "SH-702": 22}


def test_a_shopify_backfill_killed_mid_way_resumes_to_the_same_data(simulator, monkeypatch):
    shopify_history(simulator, orders=9)
    monkeypatch.setattr(ShopifyGateway, "bulk_orders_per_page", 2)
    reference = shopify_store(simulator, "reference.myshopify.com")
    run_to_end(sync_runs.start_sync(reference, SyncRun.Kind.BACKFILL))
    store = shopify_store(simulator, "resumed.myshopify.com")
    run = sync_runs.start_sync(store, SyncRun.Kind.BACKFILL)
    real_apply, applied = sync_runs._apply_page, []

    def die_on_the_tenth_page(*args):
        if len(applied) == 9:
            raise SystemExit("worker killed")
        applied.append(1)
        return real_apply(*args)

    with monkeypatch.context() as patch:
        patch.setattr(sync_runs, "_apply_page", die_on_the_tenth_page)
        with pytest.raises(SystemExit):
            run_to_end(run)  # the task's retries while the bulk operations run, until the worker dies
    run.refresh_from_db()
    # locations, the catalogue's bulk operation (started, completed, its products), discounts, the orders' (started,
    # completed, two pages of two orders); the third page of orders died
    assert run.pages == 9
    assert run.cursor[PHASE_ORDERS]["offset"] > 0
    run = run_to_end(run)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert snapshot(store) == snapshot(reference)
    assert OrderLine.objects.filter(order__store=store, refunded_quantity=1).count() == 1


def test_a_missed_shopify_order_webhook_is_recovered_by_reconciliation(simulator):
    shopify_history(simulator, orders=2)
    store = shopify_store(simulator, "recover.myshopify.com")
    run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))
    # an order placed an hour ago whose webhook never arrived
    variant = VariantRef(product_id="700", variant_id="800", sku="SH-700", product_title="Item 700")
    when = datetime.now(UTC) - timedelta(hours=1)
    line = OrderLineRecord(line_id="99999", variant=variant, quantity=4, current_quantity=4, unit_price=Decimal("4"))
    simulator.state.apply_order(OrderRecord("20000", "2000", when, when, "open", "paid", "GBP", (line,)))

    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))

    assert run.status == SyncRun.Status.SUCCEEDED
    assert OrderLine.objects.get(order__platform_id="20000").quantity == 4
    assert run.counts["orders_corrected"] == 1
    assert run.counts["orders_read"] == 1


def test_a_full_stock_read_that_finds_nothing_changed_costs_a_few_queries_a_page(simulator):
    # given a store whose 30, then 300, levels we hold as the shop does (a reconciliation read them an hour ago)
    store, _ = upsert_store(
        "shopify", "sync-count.myshopify.com", credentials={"access_token": "shpat_sync"}, api_base_url=simulator.url
    )
    product = Product.objects.create(store=store, platform_id="1", title="Mug")
    Location.objects.create(store=store, platform_id="55", name="Main", is_primary=True)

    def grow(start: int, stop: int) -> None:
        for number in range(start, stop):
            Variant.objects.create(
                store=store, product=product, platform_id=f"v{number}", sku=f"MUG-{number}",
                inventory_item_id=str(number),
            )  # fmt: skip
            simulator.inventory.set_level(str(number), "55", 10)

    def reconcile() -> tuple[SyncRun, int]:
        with CaptureQueriesContext(connection) as captured:
            run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))
        return run, len(captured.captured_queries)

    grow(0, 30)
    reconcile()  # our levels now hold the shop's figures and times
    few = reconcile()
    grow(30, 300)
    reconcile()
    many = reconcile()

    # then every level is checked, none corrected, and ten times the levels cost the same queries
    assert (few[0].counts["levels_checked"], many[0].counts["levels_checked"]) == (30, 300)
    assert "levels_corrected" not in many[0].counts
    assert many[1] == few[1]
    # and a level the shop changed since is still corrected
    simulator.inventory.sell("7", "55", 4)
    corrected, _ = reconcile()
    assert (corrected.counts["levels_corrected"], InventoryLevel.objects.get(variant__sku="MUG-7").available) == (1, 6)
