"""A planner's daily e-mail digest of what needs attention in a store (opt-in, per store)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertSubscription(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    active = models.BooleanField(verbose_name=_("active"), default=True)
    last_sent_on = models.DateField(
        verbose_name=_("last sent on"),
        null=True,
        blank=True,
        help_text=_("The store's local day of the last digest sent"),
    )
    last_error = models.TextField(
        verbose_name=_("last error"), blank=True, help_text=_("Why the last digest could not be sent")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("alert subscription")
        verbose_name_plural = _("alert subscriptions")
        ordering = ["store", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="alert_subscription_unique")]

    def __str__(self) -> str:
        return f"{self.user} — {self.store}"
