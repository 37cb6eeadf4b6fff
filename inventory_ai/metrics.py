"""`/metrics`: the product's state in Prometheus' text format, for the monitoring an operator already runs.

Read at scrape time from the database and the broker, so every web process answers the same whatever process did
the work: webhook events by platform and status (and those received in the last hour), the messages waiting in each
queue, the seconds, runs and failures of each kind of task (kept by the workers in Redis), pushes by outcome, sync
runs and retrains by kind and status, and the last retrain's duration per store. Only a request carrying
`Authorization: Bearer <METRICS_TOKEN>` is answered; without a token set the endpoint is off (404).
"""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from inventory_ai import task_stats
from inventory_ai.models import ForecastRun, PushAttempt, SyncRun, WebhookEvent

logger = logging.getLogger(__name__)


class StateCollector:
    """Gauges of what the database and the broker hold now."""

    def collect(self):
        events = GaugeMetricFamily(
            "inventory_ai_webhook_events", "Webhook events kept, by platform and status", labels=["platform", "status"]
        )
        for row in WebhookEvent.objects.values("platform", "status").annotate(n=Count("pk")).order_by():
            events.add_metric([row["platform"], row["status"]], row["n"])
        yield events
        recent = GaugeMetricFamily(
            "inventory_ai_webhook_events_last_hour", "Webhook events received in the last hour, by status",
            labels=["status"],
        )  # fmt: skip
        since = timezone.now() - timedelta(hours=1)
        for row in WebhookEvent.objects.filter(received_at__gte=since).values("status").annotate(n=Count("pk")):
            recent.add_metric([row["status"]], row["n"])
        yield recent
        pushes = GaugeMetricFamily("inventory_ai_push_attempts", "Stock push attempts, by outcome", labels=["outcome"])
        for row in PushAttempt.objects.values("outcome").annotate(n=Count("pk")).order_by():
            pushes.add_metric([row["outcome"] or "running"], row["n"])
        yield pushes
        syncs = GaugeMetricFamily("inventory_ai_sync_runs", "Sync runs, by kind and status", labels=["kind", "status"])
        for row in SyncRun.objects.values("kind", "status").annotate(n=Count("pk")).order_by():
            syncs.add_metric([row["kind"], row["status"]], row["n"])
        yield syncs
        runs = GaugeMetricFamily("inventory_ai_retrain_runs", "Retrains, by kind and status", labels=["kind", "status"])
        for row in ForecastRun.objects.values("kind", "status").annotate(n=Count("pk")).order_by():
            runs.add_metric([row["kind"], row["status"]], row["n"])
        yield runs
        yield self._last_retrain()
        yield from self._tasks()
        yield from self._queues()

    def _last_retrain(self) -> GaugeMetricFamily:
        duration = GaugeMetricFamily(
            "inventory_ai_last_retrain_seconds", "How long each store's last finished retrain took", labels=["store"]
        )
        finished = ForecastRun.objects.filter(finished_at__isnull=False, started_at__isnull=False)
        latest = finished.values("store_id").annotate(last=Max("pk")).values_list("last", flat=True)
        for run in (
            finished.filter(pk__in=list(latest))
            .select_related("store")
            .annotate(took=F("finished_at") - F("started_at"))
        ):
            duration.add_metric([run.store.domain], run.took.total_seconds())
        return duration

    def _tasks(self):
        """What the workers kept of their tasks (Redis): seconds spent, runs and failures per task."""
        seconds = CounterMetricFamily("inventory_ai_task_seconds", "Seconds spent in each task", labels=["task"])
        runs = CounterMetricFamily("inventory_ai_task_runs", "Runs of each task", labels=["task"])
        failures = CounterMetricFamily("inventory_ai_task_failures", "Failures of each task", labels=["task"])
        try:
            stats = task_stats.read()
        except Exception as exc:  # Redis down: the other metrics still answer
            logger.warning("metrics: task statistics not read: %s", exc)
            stats = {}
        for name, values in sorted(stats.items()):
            seconds.add_metric([name], values["seconds"])
            runs.add_metric([name], values["runs"])
            failures.add_metric([name], values["failures"])
        yield seconds
        yield runs
        yield failures

    def _queues(self):
        depth = GaugeMetricFamily(
            "inventory_ai_queue_messages", "Messages waiting in each task queue", labels=["queue"]
        )
        up = GaugeMetricFamily("inventory_ai_broker_up", "Whether the broker answered this scrape")
        from inventory_ai.celery import app

        try:
            with app.connection_for_read() as connection:
                channel = connection.default_channel
                for queue in settings.CELERY_TASK_QUEUES:
                    declared = channel.queue_declare(queue=queue.name, passive=True)
                    depth.add_metric([queue.name], declared.message_count)
            up.add_metric([], 1)
        except Exception as exc:  # a broker down or unreachable: said by the gauge, never a failed scrape
            logger.warning("metrics: the broker did not answer: %s", exc)
            up.add_metric([], 0)
        yield depth
        yield up


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Metrics are off: set METRICS_TOKEN.", status=404, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return HttpResponse("A valid bearer token is required.", status=401, content_type="text/plain")
    registry = CollectorRegistry()
    registry.register(StateCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
