"""How long each kind of task takes and how often it fails, kept in Redis by every worker process for `/metrics`.

Celery's signals mark a task's start and end in the process that runs it; at the end its duration (and a failure) is
added to three Redis hashes keyed by task name, so the counts of every worker on every machine add up, and any web
process can read them. With the embedded broker (the demo: no Redis) nothing is kept. A Redis error never fails a
task: the statistics are best effort.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from celery.signals import task_failure, task_postrun, task_prerun
from django.conf import settings

logger = logging.getLogger(__name__)

SECONDS, RUNS, FAILURES = "inventory_ai:task_seconds", "inventory_ai:task_runs", "inventory_ai:task_failures"
_started: dict[str, float] = {}


@cache
def _redis():
    """The broker's Redis, or None with the embedded broker."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def record(name: str, seconds: float, failed: bool = False) -> None:
    client = _redis()
    if client is None:
        return
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrbyfloat(SECONDS, name, seconds)
        pipe.hincrby(RUNS, name, 1)
        if failed:
            pipe.hincrby(FAILURES, name, 1)
        pipe.execute()
    except Exception as exc:  # statistics are best effort: a task never fails for them
        logger.debug("task statistics not kept: %s", exc)


def read() -> dict[str, dict[str, float]]:
    """Per task name: its total seconds, runs and failures (empty with the embedded broker)."""
    client = _redis()
    if client is None:
        return {}
    out: dict[str, dict[str, float]] = {}
    for key, field in ((SECONDS, "seconds"), (RUNS, "runs"), (FAILURES, "failures")):
        for name, value in client.hgetall(key).items():
            out.setdefault(name.decode(), {"seconds": 0.0, "runs": 0.0, "failures": 0.0})[field] = float(value)
    return out


@task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs) -> None:
    _started[task_id] = time.monotonic()


@task_failure.connect
def _task_failed(task_id=None, sender=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    if started is not None and sender is not None:
        record(sender.name, time.monotonic() - started, failed=True)


@task_postrun.connect
def _task_ended(task_id=None, task=None, **kwargs) -> None:
    started = _started.pop(task_id, None)  # gone when the failure was already counted
    if started is not None and task is not None:
        record(task.name, time.monotonic() - started)
