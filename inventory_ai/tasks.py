"""Celery tasks: thin wrappers that take ids and call one service function."""

from __future__ import annotations

import socket

from celery import shared_task

from inventory_ai.services.operations import record_heartbeat


@shared_task(name="inventory_ai.tasks.ping_task")
def ping_task() -> dict:
    """Answer a health check: proves that a worker consumes tasks and reaches the database."""
    return {"pong": True, "host": socket.gethostname(), "heartbeat": record_heartbeat("worker").isoformat()}


@shared_task(name="inventory_ai.tasks.record_worker_heartbeat_task", ignore_result=True)
def record_worker_heartbeat_task() -> None:
    """Scheduled by beat every minute (and expiring within it): when it runs, both beat and a worker are alive."""
    record_heartbeat("beat")
    record_heartbeat("worker")
