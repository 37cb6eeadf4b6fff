"""The webhook pipeline end to end: a real worker, the sweeper, the stats API, rebuild_demand, and the 503 rule."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory_ai import dispatch
from inventory_ai.models import DailyDemand, Location, Order, Store, WebhookEvent
from inventory_ai.services.webhooks import requeue_stale_events
from tests.conftest import ROOT, free_port, subprocess_env
from tests.demand_helpers import demand_from_orders, stored_demand
from tests.webhook_helpers import SHOPIFY_DOMAIN, post_shopify, process_pending, sign


def order_payload(order_id, lines, *, updated, cancelled=None, refunds=()):
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "created_at": "2026-11-27T09:00:00+00:00",
        "updated_at": updated,
        "cancelled_at": cancelled,
        "currency": "GBP",
        "line_items": [
            {"id": line_id, "variant_id": 100 + sku, "product_id": 200 + sku, "sku": f"SKU{sku}", "title": "Item",
             "quantity": quantity, "current_quantity": current, "price": "2.50"}
            for line_id, sku, quantity, current in lines
        ],
        "refunds": list(refunds),
    }  # fmt: skip


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.worker
def test_a_real_worker_processes_webhooks_from_the_broker(celery_worker_process, client, shop):
    # when deliveries arrive (committed, so the view enqueues them for the worker)
    for order_id in (1, 2, 3):
        payload = order_payload(order_id, [(order_id * 10, order_id, 2, 2)], updated="2026-11-27T10:00:00+00:00")
        assert post_shopify(client, "orders/create", payload).status_code == 200

    # then the worker processes every one of them
    assert wait_for(lambda: WebhookEvent.objects.filter(status="processed").count() == 3)
    assert Order.objects.count() == 3
    assert sum(stored_demand(shop).values()) == 6


@pytest.mark.worker
def test_sweeper_enqueues_events_left_unprocessed(celery_worker_process, shop):
    # given an event stored while the broker was down (never enqueued), ten minutes ago
    payload = order_payload(9, [(90, 9, 1, 1)], updated="2026-11-27T10:00:00+00:00")
    event = WebhookEvent.objects.create(
        platform="shopify", store=shop, topic="orders/create", dedup_key="lost-1", body=json.dumps(payload).encode()
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=10))

    # when the sweeper runs
    assert requeue_stale_events(timedelta(minutes=5)) == 1

    # then the worker applies it
    assert wait_for(lambda: WebhookEvent.objects.get(pk=event.pk).status == "processed")
    assert Order.objects.filter(platform_id="9").exists()


@pytest.mark.django_db
def test_stats_api(client, admin_client, shop):
    post_shopify(client, "orders/create", order_payload(1, [(1, 1, 3, 3), (2, 2, 2, 1)], updated="2026-11-27T10:00Z"))
    post_shopify(client, "orders/paid", {"id": 1})
    post_shopify(client, "orders/create", b"{not json")
    process_pending()

    assert client.get("/api/v1/stats/").status_code in (401, 403)
    data = admin_client.get("/api/v1/stats/").json()
    from django.contrib.auth.models import User

    from inventory_ai.services.api_tokens import issue_token

    _, key = issue_token(User.objects.get(username="admin"))
    assert client.get("/api/v1/stats/", HTTP_AUTHORIZATION=f"Token {key}").json() == data
    assert data["webhook_events"] == {"received": 0, "processed": 1, "ignored": 1, "failed": 1}
    assert (data["stores"], data["orders"], data["order_lines"], data["net_units"]) == (1, 1, 2, 4)
    # one store's counts: that store's rows only (another store's order is not counted); an unknown id is refused
    other = Store.objects.create(platform="shopify", domain="other-shop.myshopify.com", webhook_secrets=["s"])
    location = Location.objects.create(store=other, platform_id="1", is_primary=True)
    Order.objects.create(
        store=other, location=location, platform_id="77", created_at=timezone.now(), platform_updated_at=timezone.now()
    )
    assert admin_client.get("/api/v1/stats/").json()["orders"] == 2
    assert admin_client.get(f"/api/v1/stats/?store={shop.pk}").json() == data
    mine = admin_client.get(f"/api/v1/stats/?store={other.pk}").json()
    assert (mine["stores"], mine["orders"], mine["order_lines"], mine["webhook_events"]["processed"]) == (1, 1, 0, 0)
    assert admin_client.get("/api/v1/stats/?store=" + "9" * 30).status_code == 400
    refused = admin_client.get("/api/v1/stats/?store=x")
    assert (refused.status_code, refused.json()) == (400, {"store": ["No store has the id x."]})


@pytest.mark.django_db
def test_incremental_demand_equals_rebuild_after_random_events(client, shop):
    # given a random sequence of creates, updates, cancellations, deletions, refunds, duplicates and stale retries
    rng = random.Random(20261127)
    deliveries = []
    for order_id in range(1, 26):
        lines = [(order_id * 100 + i, rng.randint(1, 4), rng.randint(1, 5)) for i in range(rng.randint(1, 3))]
        versions = []
        for version in range(rng.randint(1, 4)):
            shown = [(lid, sku, qty, rng.randint(0, qty)) for lid, sku, qty in lines]
            cancelled = "2026-11-27T12:00:00+00:00" if rng.random() < 0.2 else None
            versions.append(
                order_payload(order_id, shown, updated=f"2026-11-27T1{version}:00:00+00:00", cancelled=cancelled)
            )
        deliveries += [("orders/updated", v) for v in versions] + [("orders/create", versions[0])]
        if rng.random() < 0.4:
            lid, _, qty = lines[0]
            refund_line = {
                "id": 1,
                "line_item_id": lid,
                "quantity": rng.randint(1, qty),
                "restock_type": rng.choice(["cancel", "return", "no_restock"]),
            }
            refund = {
                "id": 9000 + order_id,
                "order_id": order_id,
                "created_at": "2026-11-28T10:00:00+00:00",
                "refund_line_items": [refund_line],
            }
            deliveries.append(("refunds/create", refund))
        if rng.random() < 0.1:
            deliveries.append(("orders/delete", {"id": order_id}))
    deliveries += rng.sample(deliveries, k=len(deliveries) // 5)  # platform retries
    rng.shuffle(deliveries)

    # when they are delivered and processed in that order (refunds that came early are retried until applied)
    for topic, payload in deliveries:
        assert post_shopify(client, topic, payload).status_code == 200
    for _ in range(5):
        process_pending()
    assert not WebhookEvent.objects.filter(status__in=["received", "failed"]).exists()

    # then the incrementally kept demand equals both an independent recomputation and `rebuild_demand`
    incremental = stored_demand(shop)
    assert incremental == demand_from_orders(shop)
    exact = {
        (row.variant_id, row.date): (row.units, row.revenue)
        for row in DailyDemand.objects.all()
        if row.units or row.revenue
    }
    call_command("rebuild_demand", "--store", shop.domain, stdout=open("/dev/null", "w"))  # noqa: SIM115
    rebuilt = {(row.variant_id, row.date): (row.units, row.revenue) for row in DailyDemand.objects.all()}
    assert rebuilt == exact


def test_liveness_answers_without_the_database(client):
    assert client.get("/healthz/live").json() == {"status": "ok"}
    assert client.post("/healthz/live", data=b"{}", content_type="application/json").status_code == 200


def deliver_to_gunicorn(env_overrides: dict[str, str], webhook_id: str, payload: dict) -> tuple[int, dict, float]:
    """Start the production web server with `env_overrides`, send one signed delivery, stop the server.

    Returns the status, the response headers and how long the answer took.
    """
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "inventory_ai.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=subprocess_env(**env_overrides),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/shopify/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOPIFY_DOMAIN,
            "X-Shopify-Hmac-Sha256": sign(body, "hush"),
            "X-Shopify-Webhook-Id": webhook_id,
        },
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, dict(response.headers), time.monotonic() - started
            except urllib.error.HTTPError as exc:
                return exc.code, dict(exc.headers), time.monotonic() - started
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)  # not listening yet
        raise AssertionError("the web server did not answer within 60 s")
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_database_down_answers_503_never_200():
    # given the web server running while its database is unreachable
    status, headers, _ = deliver_to_gunicorn(
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/unreachable", "DEBUG": "0"}, "db-down-1", {"id": 1}
    )

    # then the delivery is answered 503 with Retry-After, so the platform retries it
    assert status == 503
    assert headers["Retry-After"] == "30"


@pytest.mark.slow
def test_broker_down_still_answers_200_and_keeps_the_event(transactional_db, shop):
    # given the web server running with its broker unreachable
    broker = "redis://127.0.0.1:1/0"
    payload = order_payload(77, [(1, 1, 1, 1)], updated="2026-11-27T10:00:00Z")
    status, _, elapsed = deliver_to_gunicorn(
        {"CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": broker}, "broker-down-1", payload
    )

    # then the delivery is accepted within Shopify's deadline and waits in the inbox for the sweeper
    assert status == 200
    assert elapsed < 5
    assert WebhookEvent.objects.get(delivery_id="broker-down-1").status == "received"


def test_after_a_broker_failure_enqueueing_pauses_instead_of_slowing_every_answer(monkeypatch):
    # given a broker that refuses every message
    from kombu.exceptions import OperationalError as BrokerError

    from inventory_ai.services import webhooks

    attempts = []

    def refuse(name, args, **options):
        attempts.append((name, args))
        raise BrokerError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(dispatch.app, "send_task", refuse)
    monkeypatch.setattr(dispatch, "_broker_down_until", 0.0)
    clock = [1000.0]
    monkeypatch.setattr(dispatch, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    # when three events are enqueued within the pause, and one after it
    first, second, third = (webhooks.enqueue_processing(pk) for pk in (1, 2, 3))
    clock[0] += dispatch.BROKER_RETRY_AFTER_SECONDS + 0.1
    fourth = webhooks.enqueue_processing(4)

    # then only the first and the fourth tried the broker; none claims to be enqueued (the sweeper will)
    assert (first, second, third, fourth) == (False, False, False, False)
    assert attempts == [
        ("inventory_ai.tasks.process_webhook_event_task", (1,)),
        ("inventory_ai.tasks.process_webhook_event_task", (4,)),
    ]
