"""The webhook inbox."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import Platform, WebhookStatus


class WebhookEvent(models.Model):
    """One webhook delivery as received: stored first (raw body and headers), processed later by a worker.

    `dedup_key` makes a repeated delivery a no-op: Shopify's `X-Shopify-Webhook-Id`; for WooCommerce, whose delivery
    id changes on every send, a digest of (resource, resource id, date_modified_gmt, body hash).
    """

    platform = models.CharField(verbose_name=_("platform"), max_length=20, choices=Platform.choices)
    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="webhook_events"
    )
    topic = models.CharField(verbose_name=_("topic"), max_length=100)
    resource_id = models.CharField(
        verbose_name=_("resource id"),
        max_length=64,
        blank=True,
        help_text=_("Id of the order, product or item the event is about"),
    )
    dedup_key = models.CharField(verbose_name=_("dedup key"), max_length=128)
    delivery_id = models.CharField(verbose_name=_("delivery id"), max_length=128, blank=True)
    event_id = models.CharField(verbose_name=_("event id"), max_length=128, blank=True)
    triggered_at = models.DateTimeField(verbose_name=_("triggered at"), null=True, blank=True)
    api_version = models.CharField(verbose_name=_("api version"), max_length=20, blank=True)
    headers = models.JSONField(verbose_name=_("headers"), default=dict, blank=True)
    body = models.BinaryField(verbose_name=_("body"))
    received_at = models.DateTimeField(verbose_name=_("received at"), auto_now_add=True, db_index=True)
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    processed_at = models.DateTimeField(verbose_name=_("processed at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(verbose_name=_("last attempt at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [models.UniqueConstraint(fields=["store", "dedup_key"], name="webhook_event_dedup")]
        indexes = [
            models.Index(fields=["status", "received_at"], name="webhook_event_status"),
            models.Index(fields=["store", "resource_id"], name="webhook_event_resource"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} {self.topic} {self.delivery_id}"
