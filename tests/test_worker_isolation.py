"""Short work and long work on different worker processes, as deployed (docker-compose.yml): a store's retrain,
however long, does not keep another store's webhooks waiting."""

from __future__ import annotations

import time

import pytest

from inventory_ai.models import ForecastRunChunk, WebhookEvent
from inventory_ai.services import retraining
from inventory_ai.services.stores import upsert_store
from tests.retrain_helpers import seed_demand
from tests.test_webhook_pipeline import order_payload
from tests.webhook_helpers import post_shopify

pytestmark = pytest.mark.worker

# What a webhook may wait, from its delivery to its order in the database, while another store retrains: less than
# one backtest chunk of 200 SKUs takes (a worker shared by both kinds of work makes it wait that long).
BOUND_SECONDS = 3.0


def test_a_stores_retrain_does_not_delay_another_stores_webhooks(shop, start_worker, client):
    # given a large store retraining in slow chunks on the long-work worker, and the short-work worker beside it
    big = upsert_store("shopify", "big-store.myshopify.com", webhook_secret="other", timezone="Europe/London")[0]
    seed_demand(big, 200, weeks=70, prefix="BIG")
    start_worker(queues="training,sync,ml", INVENTORY_AI_RETRAIN_CHUNK_SIZE="200")
    start_worker(queues="default,webhooks,push")
    run = retraining.start_retrain(big, trigger="test")
    deadline = time.monotonic() + 120
    while not ForecastRunChunk.objects.filter(run=run, attempts__gte=1).exists():
        assert time.monotonic() < deadline, "the retrain never started a chunk"
        time.sleep(0.1)

    # when the small store's orders arrive while the retrain's worker is busy
    posted = time.monotonic()
    for order_id in (1, 2, 3):
        payload = order_payload(order_id, [(order_id * 10, order_id, 1, 1)], updated="2026-11-27T10:00:00+00:00")
        assert post_shopify(client, "orders/create", payload).status_code == 200
    events = WebhookEvent.objects.filter(store=shop)
    while events.filter(status="processed").count() < 3 and time.monotonic() - posted < 60:
        time.sleep(0.1)
    waited = time.monotonic() - posted

    # then they were applied within the bound, while the retrain was still running
    assert events.filter(status="processed").count() == 3
    assert waited < BOUND_SECONDS, f"webhooks waited {waited:.1f} s behind another store's retrain"
    run.refresh_from_db()
    assert run.status == "running", (run.status, f"the retrain finished before the webhooks; {waited:.1f} s")
    assert ForecastRunChunk.objects.filter(run=run, forecast_status="pending").exists()
