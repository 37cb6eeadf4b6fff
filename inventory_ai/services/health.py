"""Health of the parts the product needs: the database (with migrations applied), the broker, and the worker and
beat heartbeats (recorded here too). Used by `/healthz` and `manage.py doctor`."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from kombu import Connection

from inventory_ai.conf import get_option
from inventory_ai.models import ServiceHeartbeat


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def database() -> Check:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # any driver error means the same thing: not usable
        return Check(False, f"{exc.__class__.__name__}: {exc}".strip())
    if pending:
        return Check(False, f"{len(pending)} migration(s) not applied")
    return Check(True, connection.vendor)


def broker() -> Check:
    try:
        with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # kombu raises transport-specific errors
        return Check(False, f"{exc.__class__.__name__}: {exc}")
    return Check(True, "reachable")


def heartbeat(name: str) -> Check:
    max_age = get_option("WORKER_HEARTBEAT_MAX_AGE_SECONDS")
    beat = ServiceHeartbeat.objects.filter(name=name).first()
    if beat is None:
        return Check(False, "never recorded")
    age = (timezone.now() - beat.last_seen).total_seconds()
    return Check(age <= max_age, f"{age:.0f} s ago (limit {max_age} s)")


def report() -> dict:
    """Every check; `ok` only when all pass."""
    checks = {"database": database(), "broker": broker()}
    if checks["database"].ok:
        checks["worker"] = heartbeat("worker")
        checks["beat"] = heartbeat("beat")
    return {
        "ok": all(check.ok for check in checks.values()),
        "checks": {name: {"ok": check.ok, "detail": check.detail} for name, check in checks.items()},
    }


def record_heartbeat(name: str) -> datetime:
    """Record that the process `name` (e.g. "worker") is alive now."""
    now = timezone.now()
    ServiceHeartbeat.objects.update_or_create(name=name, defaults={"last_seen": now, "detail": socket.gethostname()})
    return now
