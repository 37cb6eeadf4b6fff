"""Operations: the Prometheus metrics endpoint (behind its token) and error reporting to Sentry (only with a DSN)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import sentry_sdk
from sentry_sdk.client import NonRecordingClient
from sentry_sdk.transport import Transport

from inventory_ai.models import WebhookEvent
from inventory_ai.observability import init_error_reporting
from tests.test_wsgi_fast_path import call, shopify_headers

pytestmark = pytest.mark.django_db


class Captured(Transport):
    """What would have been sent to Sentry."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes = []

    def capture_envelope(self, envelope) -> None:
        self.envelopes.append(envelope)


def test_metrics_refuse_without_their_token_and_count_a_processed_webhook(client, shop, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404  # off until a token is set
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401

    body = json.dumps({"id": 5, "created_at": "2026-11-27T10:00:00Z", "line_items": []}).encode()
    assert call("/webhooks/shopify/", body, **shopify_headers(body))[0] == 200
    WebhookEvent.objects.update(status="processed")
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    text = answer.content.decode()
    assert 'inventory_ai_webhook_events{platform="shopify",status="processed"} 1.0' in text
    assert 'inventory_ai_webhook_events_last_hour{status="processed"} 1.0' in text
    assert "inventory_ai_broker_up" in text
    assert 'inventory_ai_queue_messages{queue="webhooks"}' in text or "inventory_ai_broker_up 0.0" in text


def test_error_reporting_starts_only_with_a_dsn_and_reports_the_fast_paths_errors(shop):
    assert init_error_reporting("", environ={}) is False
    assert init_error_reporting(environ={"SENTRY_DSN": ""}) is False
    sent = Captured()
    try:
        assert init_error_reporting("https://public@sentry.example/1", transport=sent, environ={}) is True
        assert sentry_sdk.get_client().is_active()
        # an unhandled error in the webhook fast path is answered 500 and reported
        body = json.dumps({"id": 6, "created_at": "2026-11-27T10:00:00Z", "line_items": []}).encode()
        with mock.patch("inventory_ai.views.respond_to_delivery", side_effect=RuntimeError("boom")):
            status, _, _ = call("/webhooks/shopify/", body, **shopify_headers(body))
        assert status == 500
        sentry_sdk.flush()
        messages = [envelope.serialize().decode(errors="replace") for envelope in sent.envelopes]
        assert any("boom" in message for message in messages)
        assert not any("hush" in message for message in messages)  # no store secret goes out
    finally:
        sentry_sdk.get_global_scope().set_client(NonRecordingClient())  # reporting off again for the rest of the suite
    assert not sentry_sdk.get_client().is_active()


def test_json_logs_carry_the_ids_a_message_names():
    import logging

    from inventory_ai.logs import JsonFormatter

    record = logging.LogRecord("inventory_ai.services.webhooks", logging.ERROR, __file__, 1, "event %s failed", (7,),
                               None)  # fmt: skip
    record.event, record.store = 7, "shop.myshopify.com"
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["message"], line["event"], line["store"]) == (
        "ERROR", "event 7 failed", 7, "shop.myshopify.com")  # fmt: skip
    assert "run" not in line


def test_no_task_runs_for_ever_and_a_stores_work_has_short_limits():
    from django.conf import settings

    from inventory_ai.celery import app

    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT == 6 * 3600
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.task_annotations["inventory_ai.tasks.process_webhook_event_task"]["time_limit"] == 300
    assert app.conf.task_annotations["inventory_ai.tasks.push_adjustment_task"]["time_limit"] == 300


def test_the_workers_task_durations_and_failures_reach_the_metrics(client, settings):
    from inventory_ai import task_stats

    if task_stats._redis() is None:
        pytest.fail("this test needs the Redis broker (CELERY_BROKER_URL=redis://...), as CI runs it")
    redis = task_stats._redis()
    redis.delete(task_stats.SECONDS, task_stats.RUNS, task_stats.FAILURES)
    task = mock.Mock()
    task.name = "inventory_ai.tasks.ping_task"
    # what a worker's signals say around two runs of a task, the second failing
    task_stats._task_started(task_id="a", task=task)
    task_stats._task_ended(task_id="a", task=task)
    task_stats._task_started(task_id="b", task=task)
    task_stats._task_failed(task_id="b", sender=task)
    task_stats._task_ended(task_id="b", task=task)  # after a failure: counted once
    settings.METRICS_TOKEN = "s3cret-token"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").content.decode()
    assert 'inventory_ai_task_runs_total{task="inventory_ai.tasks.ping_task"} 2.0' in text
    assert 'inventory_ai_task_failures_total{task="inventory_ai.tasks.ping_task"} 1.0' in text
    assert 'inventory_ai_task_seconds_total{task="inventory_ai.tasks.ping_task"}' in text
    redis.delete(task_stats.SECONDS, task_stats.RUNS, task_stats.FAILURES)
