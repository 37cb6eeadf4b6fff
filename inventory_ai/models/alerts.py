"""A planner's daily e-mail digest of what needs attention in a store (opt-in, per store)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AlertSubscription(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions")
    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="alert_subscriptions")
    active = models.BooleanField(default=True)
    last_sent_on = models.DateField(null=True, blank=True, help_text="The store's local day of the last digest sent")
    last_error = models.TextField(blank=True, help_text="Why the last digest could not be sent")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="alert_subscription_unique")]

    def __str__(self) -> str:
        return f"{self.user} — {self.store}"
