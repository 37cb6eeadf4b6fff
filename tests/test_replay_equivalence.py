"""A store's history arrives the same whichever way it comes: replayed as webhooks (Shopify, or WooCommerce with
refunds read through the store's API) or imported from the CSV file, it leaves the same orders and demand."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from integrations.simulator.api_server import start_api_server
from integrations.simulator.events import build_events
from integrations.simulator.state import StoreState, read_online_retail
from inventory_ai.models import Order, OrderLine, Refund, WebhookEvent
from inventory_ai.services.stores import upsert_store
from tests.conftest import FIXTURES
from tests.demand_helpers import stored_demand
from tests.webhook_helpers import process_pending

SMALL = FIXTURES / "online_retail_small.csv"
LONDON = ZoneInfo("Europe/London")
EXPECTED_DEMAND = {
    ("85123A", "2010-12-01"): 4,
    ("85123A", "2010-12-02"): 4,
    ("22632", "2010-12-01"): 2,
    ("22633", "2011-06-01"): 3,
    ("84029G", "2010-12-05"): 1,
}


def deliver(client, url, events):
    for event in events:
        headers = {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in event.headers_for_send()
            if name.lower() != "content-type"
        }
        response = client.post(url, data=event.body, content_type="application/json", **headers)
        assert response.status_code == 200, response.content
    for _ in range(3):  # a refund processed before its order waits for the next pass
        process_pending()
    assert not WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).exists()


def woo_store(api_url: str, consumer_secret: str = "cs_test"):
    store, _ = upsert_store(
        "woocommerce",
        "https://gifts.example",
        webhook_secret="woo-secret",
        credentials={"consumer_key": "ck_test", "consumer_secret": consumer_secret},
        api_base_url=api_url,
        timezone="Europe/London",
    )
    return store


def woo_events(state: StoreState):
    return build_events(
        "woocommerce",
        read_online_retail(SMALL, LONDON),
        secret="woo-secret",
        state=state,
        site_url="https://gifts.example",
    )


@pytest.mark.django_db
def test_csv_import_gives_the_reference_demand(shop, run_command):
    run_command("import_orders", str(SMALL), "--store", shop.domain, "--no-progress")
    assert stored_demand(shop) == EXPECTED_DEMAND


@pytest.mark.django_db
def test_shopify_replay_equals_the_csv_import(client, shop):
    events = build_events(
        "shopify",
        read_online_retail(SMALL, LONDON),
        secret="hush",
        state=StoreState(tz=LONDON),
        shop_domain=shop.domain,
    )
    deliver(client, "/webhooks/shopify/", events)
    assert stored_demand(shop) == EXPECTED_DEMAND
    assert (Order.objects.count(), OrderLine.objects.count(), Refund.objects.count()) == (4, 6, 1)


@pytest.mark.django_db
def test_woocommerce_replay_reads_refunds_from_the_store_api_and_equals_the_csv_import(client):
    state = StoreState(tz=LONDON)
    with start_api_server(state, consumer_key="ck_test", consumer_secret="cs_test") as api:
        store = woo_store(api.url)
        events = woo_events(state)
        deliver(client, "/webhooks/woocommerce/", events)
        assert api.requests >= 1
    assert stored_demand(store) == EXPECTED_DEMAND
    assert Refund.objects.get().lines.count() == 2


@pytest.mark.django_db
def test_woocommerce_refund_with_wrong_api_keys_fails_visibly(client):
    state = StoreState(tz=LONDON)
    with start_api_server(state, consumer_key="ck_test", consumer_secret="cs_test") as api:
        woo_store(api.url, consumer_secret="wrong")
        events = woo_events(state)
        for event in events:
            headers = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in event.headers_for_send()}
            client.post("/webhooks/woocommerce/", data=event.body, content_type="application/json", **headers)
        process_pending()
    # every update naming the refund is parked as failed with the reason, for an operator to fix the keys and re-queue
    failed = WebhookEvent.objects.filter(status="failed")
    assert failed.count() == 2
    assert all("HTTP 401" in event.last_error for event in failed)
