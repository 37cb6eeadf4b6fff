"""Enumerations shared by models, services and the admin."""

from django.db import models


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class OrderStatus(models.TextChoices):
    """Our normalised order state; only OPEN orders count as demand. The platform's own status is kept beside it."""

    OPEN = "open", "Open"
    CANCELLED = "cancelled", "Cancelled"
    DELETED = "deleted", "Deleted"


class OrderSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    BACKFILL = "backfill", "API backfill"
    CSV_IMPORT = "csv", "CSV import"


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RunKind(models.TextChoices):
    FULL = "full", "Full retrain (model selection)"
    REFRESH = "refresh", "Refresh (chosen models, new data)"


class RunPhase(models.TextChoices):
    """Where a retraining run is: backtesting candidates (beside training the global network), then forecasting."""

    PLANNING = "planning", "Planning"
    BACKTEST = "backtest", "Backtesting candidates"
    FORECAST = "forecast", "Forecasting"
    DONE = "done", "Done"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
