"""A real Celery worker consumes tasks from the configured broker and writes to the configured database."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from inventory_ai.models import ServiceHeartbeat
from inventory_ai.tasks import ping_task, record_worker_heartbeat_task
from tests.conftest import ROOT, subprocess_env


@pytest.mark.worker
def test_worker_consumes_a_task_and_writes_to_the_database(celery_worker_process):
    from inventory_ai import task_stats

    # given a running worker and no heartbeat yet
    ServiceHeartbeat.objects.all().delete()
    runs_before = task_stats.read().get("inventory_ai.tasks.ping_task", {}).get("runs", 0)

    # when a task goes through the broker to the worker queue it is routed to
    record_worker_heartbeat_task.delay()
    answer = ping_task.apply_async(queue="default").get(timeout=30)

    # then the worker wrote its heartbeat into the database the tests read
    assert answer["pong"] is True
    beat = ServiceHeartbeat.objects.get(name="worker")
    assert beat.detail == answer["host"]
    # and it kept the task's duration for /metrics (Redis, where every worker adds up)
    if task_stats._redis() is not None:
        deadline = time.monotonic() + 10  # the worker records it just after the result is sent
        while task_stats.read().get("inventory_ai.tasks.ping_task", {}).get("runs", 0) < runs_before + 1:
            assert time.monotonic() < deadline, "the worker did not keep the task's duration"
            time.sleep(0.1)


@pytest.mark.worker
def test_doctor_passes_with_a_worker(celery_worker_process, run_command):
    out, _ = run_command("doctor", "--timeout", "30")
    assert "OK   database" in out
    assert "OK   broker" in out
    assert "OK   worker" in out
    assert "All checks passed." in out


@pytest.mark.django_db
def test_doctor_says_plainly_what_is_wrong():
    # given a broker address where nothing listens and a database that does not exist
    result = subprocess.run(
        [sys.executable, "manage.py", "doctor", "--timeout", "2"],
        cwd=ROOT,
        env=subprocess_env(
            CELERY_BROKER_URL="redis://127.0.0.1:1/0",
            CELERY_RESULT_BACKEND="redis://127.0.0.1:1/0",
            DATABASE_URL="postgres://postgres@127.0.0.1:1/none",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    # then it fails and names each broken part with a hint
    assert result.returncode != 0
    assert "FAIL database" in result.stdout
    assert "check DATABASE_URL" in result.stdout
    assert "FAIL broker" in result.stdout
    assert "check CELERY_BROKER_URL" in result.stdout
    assert "FAIL worker" in result.stdout


@pytest.mark.django_db
def test_doctor_checks_heartbeats(run_command):
    from datetime import timedelta

    from django.core.management import CommandError
    from django.utils import timezone

    # a heartbeat recorded just now passes
    ServiceHeartbeat.objects.create(name="beat", last_seen=timezone.now(), detail="host")
    out, _ = run_command("doctor", "--skip-worker", "--heartbeat", "beat")
    assert "OK   beat heartbeat" in out
    # a stale one fails, naming its age and the limit
    ServiceHeartbeat.objects.filter(name="beat").update(last_seen=timezone.now() - timedelta(minutes=10))
    with pytest.raises(CommandError, match="1 check"):
        run_command("doctor", "--skip-worker", "--heartbeat", "beat")
