"""Operational state: heartbeats of background processes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ServiceHeartbeat(models.Model):
    """The last time a background process (a Celery worker, beat) proved it was alive.

    Health checks read it: a worker that stopped consuming tasks stops writing its heartbeat.
    """

    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    last_seen = models.DateTimeField(verbose_name=_("last seen"))
    detail = models.CharField(verbose_name=_("detail"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("service heartbeat")
        verbose_name_plural = _("service heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class SyncRun(models.Model):
    """A backfill (import what the store already has) or a reconciliation (re-read what webhooks may have missed).

    Long work as a row: the admin shows its phase, counts and corrections. It resumes after a crash from `cursor`,
    which is saved in the same transaction as each page it applies, so a page is applied once however often the task
    is delivered. `corrections` lists what a reconciliation found different in our copy (capped).
    """

    class Kind(models.TextChoices):
        BACKFILL = "backfill", _("Backfill")
        RECONCILE = "reconcile", _("Reconciliation")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="sync_runs"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(verbose_name=_("phase"), max_length=32, blank=True)
    cursor = models.JSONField(
        verbose_name=_("cursor"), default=dict, blank=True, help_text=_("Where each phase stopped: a page or a cursor")
    )
    since = models.DateTimeField(
        verbose_name=_("since"), null=True, blank=True, help_text=_("Orders changed after this time are re-read")
    )
    counts = models.JSONField(verbose_name=_("counts"), default=dict, blank=True)
    corrections = models.JSONField(verbose_name=_("corrections"), default=list, blank=True)
    pages = models.PositiveIntegerField(verbose_name=_("pages"), default=0)
    attempts = models.PositiveIntegerField(
        verbose_name=_("attempts"), default=0, help_text=_("Task starts, redeliveries included")
    )
    trigger = models.CharField(verbose_name=_("trigger"), max_length=32, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(verbose_name=_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)
    error = models.TextField(verbose_name=_("error"), blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "kind"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_sync_per_store_and_kind",
            )
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s #%(id)s of %(store)s (%(status)s)") % {
            "kind": self.get_kind_display(),
            "id": self.pk,
            "store": self.store,
            "status": self.status,
        }


class OAuthState(models.Model):
    """A store connection under way: the single-use `state` sent with the merchant to the platform's approval page,
    for one shop, until it comes back (`used_at`) or expires."""

    state = models.CharField(verbose_name=_("state"), max_length=64, unique=True)
    platform = models.CharField(verbose_name=_("platform"), max_length=16)
    shop = models.CharField(verbose_name=_("shop"), max_length=255)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    used_at = models.DateTimeField(verbose_name=_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("OAuth state")
        verbose_name_plural = _("OAuth states")
        indexes = [models.Index(fields=["created_at"], name="oauth_state_created")]

    def __str__(self) -> str:
        return gettext("%(platform)s install of %(shop)s (%(state)s)") % {
            "platform": self.platform,
            "shop": self.shop,
            "state": gettext("used") if self.used_at else gettext("open"),
        }
