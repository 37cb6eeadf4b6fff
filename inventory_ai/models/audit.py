"""The audit log: every decision on a suggestion or an adjustment, and every push, with who, when and what."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from inventory_ai.choices import AuditAction, AuditSource


class AuditLogIsAppendOnly(Exception):
    """An audit entry was about to be changed or deleted."""


class AuditEntryQuerySet(models.QuerySet):
    # Bulk paths bypass Model.save/delete; the log refuses them too.
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("audit entries cannot be changed")

    def delete(self):
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")


class AuditEntry(models.Model):
    """One thing a person or the system did to a suggestion or a stock adjustment: approve, reject, edit, create, push.

    Append-only: written by `inventory_ai.services.audit.record`, never changed or deleted (the model refuses it and
    the admin shows entries read-only to everybody, superusers included). `actor_name` keeps the name when the user
    is deleted; `before` and `after` hold the fields that changed.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="The user's name at the time (empty: the system)")
    source = models.CharField(max_length=16, choices=AuditSource.choices)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    store = models.ForeignKey(
        "inventory_ai.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    target_type = models.CharField(max_length=32, help_text="suggestion or adjustment")
    target_id = models.PositiveBigIntegerField()
    target_repr = models.CharField(max_length=255)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")
