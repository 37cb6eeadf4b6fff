"""One way to send work to the Celery workers: by task name, after the current transaction commits.

Services name the task (a function of `inventory_ai.tasks`) instead of importing the tasks module, which imports the
services: the message goes to the broker by the task's registered name (Celery's `send_task`, routed by name like
any task), so nothing here imports the tasks either. A layout test checks that every name sent is a task. A task sent
from inside a transaction leaves only once the transaction commits, so a worker never reads a row that is not there
yet, and work of a transaction that rolls back is never sent.

Two ways to meet a broker that is down:
- `send` and `send_now` raise, for work a caller must know was not sent;
- `try_send` logs, returns False and stops trying for `BROKER_RETRY_AFTER_SECONDS`, for work that a sweeper sends
  later anyway (a webhook event left `received`, a suggestion the next retrain recomputes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from django.db import transaction

from inventory_ai.celery import app

logger = logging.getLogger(__name__)

# After a failed send, `try_send` stops trying for this long: with the broker down, each attempt costs seconds (the
# connection attempt and the client's own retries), and webhook senders give up on answers slower than 5 s.
BROKER_RETRY_AFTER_SECONDS = 5.0
_broker_down_until = 0.0


TASKS_MODULE = "inventory_ai.tasks"


def _registered(name: str) -> str:
    return f"{TASKS_MODULE}.{name}"


def send_now(name: str, *args, countdown: float | None = None, retry: bool = True) -> None:
    """Send the task `name` with `args` now (raises when the broker refuses it). Its result is not awaited: without
    `ignore_result` Celery would subscribe to the result backend, and with Redis down that waits for its reconnects."""
    options = {"countdown": countdown} if countdown is not None else {}
    app.send_task(_registered(name), args, retry=retry, ignore_result=True, **options)


def send(name: str, *args, countdown: float | None = None) -> None:
    """Send the task `name` with `args` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send_now(name, *args, countdown=countdown))


def try_send(name: str, *args) -> bool:
    """Send the task now unless the broker failed less than `BROKER_RETRY_AFTER_SECONDS` ago; False (logged) when it
    was not sent. For work that a sweeper sends later when this fails."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    try:
        send_now(name, *args, retry=False)
    except Exception:  # any broker or transport error: the caller's sweeper sends it later
        _broker_down_until = time.monotonic() + BROKER_RETRY_AFTER_SECONDS
        logger.warning(
            "Could not send %s%s; it is left to its sweeper, and sending pauses for %g s",
            name,
            args,
            BROKER_RETRY_AFTER_SECONDS,
            exc_info=True,
        )
        return False
    return True


def send_group(calls: Sequence[tuple[str, tuple]]) -> int:
    """Send several tasks at once (a Celery group: one round trip to the broker); returns how many were sent."""
    if not calls:
        return 0
    from celery import group

    group(app.signature(_registered(name), args, immutable=True) for name, args in calls).apply_async(
        ignore_result=True
    )
    return len(calls)


def ask(name: str, *args, timeout: float, queue: str | None = None, retry: bool = True):
    """Send the task `name` now and wait up to `timeout` seconds for its answer (a health check's ping): raises
    Celery's TimeoutError when no worker answered in time."""
    options = {"queue": queue} if queue else {}
    return app.send_task(_registered(name), args, retry=retry, **options).get(timeout=timeout)
