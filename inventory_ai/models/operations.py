"""Operational state: heartbeats of background processes."""

from __future__ import annotations

from django.db import models


class ServiceHeartbeat(models.Model):
    """The last time a background process (a Celery worker, beat) proved it was alive.

    Health checks read it: a worker that stopped consuming tasks stops writing its heartbeat.
    """

    name = models.CharField(max_length=100, unique=True)
    last_seen = models.DateTimeField()
    detail = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"
