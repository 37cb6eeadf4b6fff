"""Operational state: heartbeats and health of the running services."""

from __future__ import annotations

import socket
from datetime import datetime

from django.utils import timezone

from inventory_ai.models import ServiceHeartbeat


def record_heartbeat(name: str) -> datetime:
    """Record that the process `name` (e.g. "worker") is alive now."""
    now = timezone.now()
    ServiceHeartbeat.objects.update_or_create(name=name, defaults={"last_seen": now, "detail": socket.gethostname()})
    return now
