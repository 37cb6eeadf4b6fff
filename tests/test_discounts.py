"""Shopify discounts become promotion events by themselves: read in backfill and reconciliation through the GraphQL
Admin API (the store simulator serves `discountNodes`), kept in step by the `discounts/*` webhooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.records import DiscountRecord
from integrations.shopify import discounts as shopify_discounts
from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import Faults, InventoryStore
from integrations.simulator.state import SimulatedDiscount, StoreState
from integrations.webhooks import PayloadError
from inventory_ai import dispatch
from inventory_ai.choices import DriverSource, EventScope
from inventory_ai.models import DemandEvent, Order, Product, SyncRun, Variant, WebhookEvent
from inventory_ai.selectors.drivers import event_variants
from inventory_ai.services import discounts, sync_runs
from inventory_ai.services.stores import upsert_store
from tests.test_sync_runs import run_to_end, shopify_history
from tests.webhook_helpers import fixture, post_shopify, process_pending

pytestmark = pytest.mark.django_db

TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def simulator():
    state = StoreState(tz=UTC)
    inventory = InventoryStore(faults=Faults(seed=5))
    with ApiServer(state, inventory=inventory, access_token="shpat_sync") as server:
        server.start()
        yield server


@pytest.fixture
def refreshes(monkeypatch):
    """The refreshes of forecasts asked for (dispatch sends them after the commit)."""
    asked: list[tuple] = []
    real_send = dispatch.send

    def send(name, *args, **kwargs):
        if name == "retrain_store_task":
            asked.append(args)
            return None
        return real_send(name, *args, **kwargs)

    monkeypatch.setattr(dispatch, "send", send)
    return asked


def add(simulator, discount_id: str, typename: str = "DiscountAutomaticBasic", **fields) -> SimulatedDiscount:
    fields.setdefault("title", f"Discount {discount_id}")
    fields.setdefault("starts_at", TODAY - timedelta(days=3))
    fields.setdefault("updated_at", TODAY - timedelta(days=5))
    discount = SimulatedDiscount(discount_id=discount_id, typename=typename, **fields)
    simulator.state.discounts[discount_id] = discount
    return discount


def store_for(simulator, domain: str = "discounts.myshopify.com", **extra):
    store, _ = upsert_store(
        "shopify",
        domain,
        credentials={"access_token": "shpat_sync"},
        api_base_url=simulator.url,
        timezone="UTC",
        **extra,
    )
    return store


def event(store, discount_id: str) -> DemandEvent | None:
    return DemandEvent.objects.filter(
        store=store, source=DriverSource.SHOPIFY_DISCOUNT, external_id=discount_id
    ).first()


def skus(found: DemandEvent) -> set[str]:
    return set(event_variants(found).values_list("sku", flat=True))


def test_a_backfill_turns_the_stores_discounts_into_promotions_of_the_skus_they_name(simulator, monkeypatch, refreshes):
    # given: three products (SH-700..702, variants 800..802) and the merchant's discounts of every kind
    shopify_history(simulator)
    simulator.state.collections["77"] = ("701", "702", "999")  # 999: a product the catalogue does not have
    ends = TODAY + timedelta(days=10)
    add(simulator, "11", title="Winter 20%", percentage=0.2, product_ids=("700",), ends_at=ends)
    add(simulator, "12", "DiscountCodeBasic", title="SAVE10", percentage=0.1, variant_ids=("801",), ends_at=ends)
    add(simulator, "13", "DiscountCodeBasic", title="VIP", percentage=0.3, all_items=True, context="DiscountCustomers")
    add(simulator, "14", "DiscountCodeBasic", title="ONE-OFF", percentage=0.5, all_items=True, usage_limit=1)
    add(simulator, "15", "DiscountAutomaticFreeShipping", title="Free shipping weekend", ends_at=ends)
    add(simulator, "16", "DiscountAutomaticBxgy", title="Mugs 2 for 1", percentage=1.0, collection_ids=("77",),
        buys_product_ids=("700",), ends_at=ends)  # fmt: skip
    add(simulator, "17", title="Gone product", percentage=0.2, product_ids=("5555",))
    add(simulator, "18", title="Always on", percentage=0.05, all_items=True)  # no end date
    # items beyond one page of a discount's item list are read on
    add(simulator, "19", title="Many variants", percentage=0.15, variant_ids=("800", "801", "802", "4444"),
        ends_at=TODAY - timedelta(days=1))  # fmt: skip
    monkeypatch.setattr(shopify_discounts, "ITEMS_PER_PAGE", 2)
    store = store_for(simulator)

    # when
    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))

    # then
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.counts["discounts_read"] == 9
    winter = event(store, "11")
    assert (winter.scope, skus(winter), winter.discount_percent) == (EventScope.PRODUCTS, {"SH-700"}, Decimal("20"))
    assert (winter.starts_on, winter.ends_on) == ((TODAY - timedelta(days=3)).date(), ends.date())
    assert winter.name == "Winter 20% (Shopify automatic discount)"
    code = event(store, "12")
    assert (code.scope, skus(code), code.discount_percent) == (EventScope.VARIANTS, {"SH-701"}, Decimal("10"))
    assert code.name == "SAVE10 (Shopify code)"
    assert event(store, "13") is None  # private codes are no promotion
    assert event(store, "14") is None
    shipping = event(store, "15")
    assert (shipping.scope, shipping.discount_percent) == (EventScope.STORE, None)
    bxgy = event(store, "16")
    assert (bxgy.scope, skus(bxgy), bxgy.discount_percent) == (EventScope.PRODUCTS, {"SH-700", "SH-701", "SH-702"},
                                                                Decimal("100"))  # fmt: skip
    assert event(store, "17") is None  # names nothing the store sells
    always = event(store, "18")
    assert always.scope == EventScope.STORE
    assert always.ends_on == timezone.now().date() + discounts.OPEN_ENDED
    many = event(store, "19")
    assert skus(many) == {"SH-700", "SH-701", "SH-702"}
    # the five running discounts asked for a refresh of the forecasts (the one that ended did not matter), and the
    # backfill of a store without forecasts asked for its first retrain
    assert [args for args in refreshes if args[2] == "refresh"] == [(store.pk, None, "refresh")] * 5
    assert [args for args in refreshes if args[2] == "full"] == [(store.pk, None, "full")]


def test_reconciliation_reads_the_discounts_changed_since_and_moves_their_events(simulator, refreshes):
    # given: a backfilled store with one discount
    shopify_history(simulator, orders=3)
    discount = add(simulator, "21", title="Spring", percentage=0.25, product_ids=("700",),
                   ends_at=TODAY + timedelta(days=5))  # fmt: skip
    store = store_for(simulator, "reconcile-discounts.myshopify.com")
    run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))
    assert skus(event(store, "21")) == {"SH-700"}
    refreshes.clear()

    # when: the merchant extends it to a second product and a later end, and adds another one
    discount.product_ids = ("700", "701")
    discount.ends_at = TODAY + timedelta(days=12)
    discount.updated_at = datetime.now(UTC)
    add(simulator, "22", title="Later", percentage=0.1, product_ids=("702",), starts_at=TODAY + timedelta(days=4),
        ends_at=TODAY + timedelta(days=6), updated_at=datetime.now(UTC))  # fmt: skip
    add(simulator, "23", title="Old and unchanged", percentage=0.1, all_items=True, ends_at=TODAY - timedelta(days=2),
        updated_at=TODAY - timedelta(days=30))  # fmt: skip
    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))

    # then: only the discounts changed since the backfill were read
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.counts["discounts_read"] == 2
    spring = event(store, "21")
    assert (skus(spring), spring.ends_on) == ({"SH-700", "SH-701"}, (TODAY + timedelta(days=12)).date())
    assert skus(event(store, "22")) == {"SH-702"}
    assert event(store, "23") is None
    assert refreshes == [(store.pk, None, "refresh")] * 2


def test_discount_webhooks_read_the_discount_and_a_deleted_one_keeps_only_its_past(client, simulator, refreshes):
    # given: a store whose catalogue is known, a running discount and an upcoming one already recorded
    shopify_history(simulator, orders=3)
    store = store_for(simulator, "test-gifts.myshopify.com", webhook_secret="hush")
    run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))
    add(simulator, "1001", title="Winter sale", percentage=0.3, product_ids=("701",),
        ends_at=TODAY + timedelta(days=7))  # fmt: skip
    running = discounts.record_discount(
        store,
        DiscountRecord(
            discount_id="1002",
            title="WELCOME10",
            method="basic",
            code=True,
            status="active",
            starts_at=TODAY - timedelta(days=10),
            ends_at=TODAY + timedelta(days=10),
            all_items=True,
        ),
    )
    assert running == ""
    refreshes.clear()

    # when: Shopify says one discount changed and the other was deleted
    for topic in ("discounts/update", "discounts/delete"):
        payload = fixture("shopify", f"{topic.replace('/', '_')}__documented_shape")
        assert post_shopify(client, topic, payload).status_code == 200
    assert process_pending() == ["processed", "processed"]

    # then: the changed one was read through the API; the deleted one ends yesterday (its past explains the history)
    winter = event(store, "1001")
    assert (skus(winter), winter.discount_percent) == ({"SH-701"}, Decimal("30"))
    welcome = event(store, "1002")
    assert welcome.ends_on == timezone.now().date() - timedelta(days=1)
    assert len(refreshes) == 2
    assert set(WebhookEvent.objects.values_list("resource_id", flat=True)) == {"1001", "1002"}


def test_a_discount_deleted_before_its_webhook_is_read_removes_an_upcoming_event(client, simulator, refreshes):
    # given: an upcoming discount recorded from an earlier read, which the merchant has deleted since
    shopify_history(simulator, orders=3)
    store = store_for(simulator, "test-gifts.myshopify.com", webhook_secret="hush")
    run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))
    discounts.record_discount(
        store,
        DiscountRecord(
            discount_id="1001",
            title="Next week",
            method="basic",
            code=False,
            status="scheduled",
            starts_at=TODAY + timedelta(days=7),
            ends_at=TODAY + timedelta(days=9),
            all_items=True,
        ),
    )
    assert event(store, "1001") is not None

    # when: its update webhook arrives, but the store no longer has it
    post_shopify(client, "discounts/update", fixture("shopify", "discounts_update__documented_shape"))
    assert process_pending() == ["processed"]

    # then
    assert event(store, "1001") is None


def test_a_discount_webhook_without_a_discount_id_is_refused_as_unreadable(client, simulator):
    store_for(simulator, "test-gifts.myshopify.com", webhook_secret="hush")
    payload = {**fixture("shopify", "discounts_update__documented_shape"), "admin_graphql_api_id": "1001; drop"}

    post_shopify(client, "discounts/update", payload)

    assert process_pending() == ["failed"]
    assert "not a discount id" in WebhookEvent.objects.get().last_error


def test_a_discount_percentage_outside_zero_to_one_is_refused():
    node = {
        "id": "gid://shopify/DiscountAutomaticNode/1",
        "discount": {
            "__typename": "DiscountAutomaticBasic",
            "title": "Broken",
            "status": "ACTIVE",
            "startsAt": "2026-11-01T00:00:00Z",
            "endsAt": None,
            "customerGets": {"value": {"__typename": "DiscountPercentage", "percentage": 20}, "items": {}},
        },
    }
    with pytest.raises(PayloadError, match="outside 0-1"):
        shopify_discounts.parse_discount(node)


def test_a_woocommerce_store_has_no_discount_phase_and_its_gateway_says_why(simulator):
    from integrations.errors import UnsupportedOperation
    from integrations.woocommerce.gateway import WooCommerceGateway

    assert "discounts" not in WooCommerceGateway.sync_phases
    gateway = WooCommerceGateway(simulator.url, {"consumer_key": "ck", "consumer_secret": "cs"})
    with pytest.raises(UnsupportedOperation, match="date_on_sale"):
        gateway.read_discounts()


def test_discount_events_move_with_the_catalogue_they_name(simulator):
    # a product-scoped discount event reads the product's live variants, a later variant included
    shopify_history(simulator, orders=3)
    add(simulator, "31", title="Product sale", percentage=0.2, product_ids=("700",), ends_at=TODAY + timedelta(days=3))
    store = store_for(simulator, "catalogue-discounts.myshopify.com")
    run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))
    product = Product.objects.get(store=store, platform_id="700")
    Variant.objects.create(store=store, product=product, platform_id="8001", sku="SH-700-XL")

    assert skus(event(store, "31")) == {"SH-700", "SH-700-XL"}


def test_an_app_without_the_discounts_scope_still_syncs_and_the_run_says_what_is_missing():
    # given a shop whose app was installed before discounts were read (no read_discounts scope)
    state = StoreState(tz=UTC)
    with ApiServer(state, inventory=InventoryStore(faults=Faults(seed=5)), access_token="shpat_sync",
                   access_scopes=("read_orders", "read_products", "read_inventory")) as server:  # fmt: skip
        server.start()
        shopify_history(server, orders=3)
        add(server, "41", title="Unseen", percentage=0.2, all_items=True)
        store = store_for(server, "no-scope.myshopify.com")

        # when it is backfilled
        run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.BACKFILL))

    # then everything else is read, no discount became an event, and the run names the missing scope
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert Order.objects.filter(store=store).count() == 3
    assert event(store, "41") is None
    assert "read_discounts" in run.counts["discounts_not_read"]
