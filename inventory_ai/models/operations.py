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


class SyncRun(models.Model):
    """A backfill (import what the store already has) or a reconciliation (re-read what webhooks may have missed).

    Long work as a row: the admin shows its phase, counts and corrections. It resumes after a crash from `cursor`,
    which is saved in the same transaction as each page it applies, so a page is applied once however often the task
    is delivered. `corrections` lists what a reconciliation found different in our copy (capped).
    """

    class Kind(models.TextChoices):
        BACKFILL = "backfill", "Backfill"
        RECONCILE = "reconcile", "Reconciliation"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=32, blank=True)
    cursor = models.JSONField(default=dict, blank=True, help_text="Where each phase stopped: a page or a cursor")
    since = models.DateTimeField(null=True, blank=True, help_text="Orders changed after this time are re-read")
    counts = models.JSONField(default=dict, blank=True)
    corrections = models.JSONField(default=list, blank=True)
    pages = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0, help_text="Task starts, redeliveries included")
    trigger = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "kind"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_sync_per_store_and_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of {self.store} ({self.status})"


class OAuthState(models.Model):
    """A store connection under way: the single-use `state` sent with the merchant to the platform's approval page,
    for one shop, until it comes back (`used_at`) or expires."""

    state = models.CharField(max_length=64, unique=True)
    platform = models.CharField(max_length=16)
    shop = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="oauth_state_created")]

    def __str__(self) -> str:
        return f"{self.platform} install of {self.shop} ({'used' if self.used_at else 'open'})"
