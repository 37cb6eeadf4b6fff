"""The audit log: every decision on a suggestion or an adjustment, and every push, with who, when and what."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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

    at = models.DateTimeField(verbose_name=_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(
        verbose_name=_("actor name"), max_length=150, help_text=_("The user's name at the time (empty: the system)")
    )
    source = models.CharField(verbose_name=_("source"), max_length=16, choices=AuditSource.choices)
    action = models.CharField(verbose_name=_("action"), max_length=16, choices=AuditAction.choices)
    store = models.ForeignKey(
        "inventory_ai.Store",
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    target_type = models.CharField(
        verbose_name=_("target type"), max_length=32, help_text=_("suggestion or adjustment")
    )
    target_id = models.PositiveBigIntegerField(verbose_name=_("target id"))
    target_repr = models.CharField(verbose_name=_("target repr"), max_length=255)
    before = models.JSONField(verbose_name=_("before"), default=dict, blank=True)
    after = models.JSONField(verbose_name=_("after"), default=dict, blank=True)
    note = models.TextField(verbose_name=_("note"), blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        actor = self.actor_name or gettext("system")
        return f"{self.at:%Y-%m-%d %H:%M} {actor} {self.get_action_display()} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")
