"""Enumerations shared by models, services and the admin."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Platform(models.TextChoices):
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")


class OrderStatus(models.TextChoices):
    """Our normalised order state; only OPEN orders count as demand. The platform's own status is kept beside it."""

    OPEN = "open", _("Open")
    CANCELLED = "cancelled", _("Cancelled")
    DELETED = "deleted", _("Deleted")


class OrderSource(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    BACKFILL = "backfill", _("API backfill")
    CSV_IMPORT = "csv", _("CSV import")


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class RunKind(models.TextChoices):
    FULL = "full", _("Full retrain (model selection)")
    REFRESH = "refresh", _("Refresh (chosen models, new data)")


class RunPhase(models.TextChoices):
    """Where a retraining run is: backtesting candidates (beside training the global network), then forecasting."""

    PLANNING = "planning", _("Planning")
    BACKTEST = "backtest", _("Backtesting candidates")
    FORECAST = "forecast", _("Forecasting")
    DONE = "done", _("Done")


class StepStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class ServiceMeasure(models.TextChoices):
    FILL_RATE = "fill_rate", _("Fill rate (share of demand served from stock)")
    CYCLE = "cycle", _("Cycle service (no stock-out in a replenishment cycle)")


class ReceivingMethod(models.TextChoices):
    AUTO = "auto", _("On a transfer where the store keeps transfers, else as an addition")
    TRANSFER = "transfer", _("On an inbound transfer's shipment")
    ADDITION = "addition", _("As an addition to the available stock")


class FillRateScope(models.TextChoices):
    ITEM = "item", _("Each item reaches the fill rate")
    STORE = "store", _("The items of a service level reach it together, at the least stock value")


class AbcClass(models.TextChoices):
    # xgettext:no-python-format
    A = "A", _("A (top 80% of revenue)")
    B = "B", _("B (next 15%)")
    C = "C", _("C (last 5%)")


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded")


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    PUSHING = "pushing", _("Pushing")
    PUSHED = "pushed", _("Pushed")
    CONFLICT = "conflict", _("Conflict")
    FAILED = "failed", _("Failed")


class AdjustmentReason(models.TextChoices):
    RESTOCK = "restock", _("Restock received")
    RECONCILIATION = "reconciliation", _("Correction from reconciliation")
    MANUAL = "manual", _("Manual")


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    EDIT = "edit", _("Edited")
    APPROVE = "approve", _("Approved")
    REJECT = "reject", _("Rejected")
    PUSH = "push", _("Pushed")
    SEND = "send", _("Sent")
    RECEIVE = "receive", _("Received")
    CANCEL = "cancel", _("Cancelled")


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    PARTIALLY_RECEIVED = "partially_received", _("Partially received")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")

    @classmethod
    def open(cls) -> tuple[str, ...]:
        """An order whose lines are still to come: what the policy counts as on order."""
        return (cls.DRAFT, cls.SENT, cls.PARTIALLY_RECEIVED)


class AuditSource(models.TextChoices):
    ADMIN = "admin", _("Admin")
    API = "api", _("API")
    SYSTEM = "system", _("System")


class DriverSource(models.TextChoices):
    """Where a driver record came from."""

    MANUAL = "manual", _("Entered by a planner")
    PLATFORM = "platform", _("The store (webhook, backfill or reconciliation)")
    SHOPIFY_DISCOUNT = "shopify_discount", _("Shopify discount")
    WOOCOMMERCE_SALE = "woo_sale", _("WooCommerce sale price")


class EventKind(models.TextChoices):
    PROMOTION = "promotion", _("Promotion")
    MARKDOWN = "markdown", _("Markdown")
    LAUNCH = "launch", _("Launch")
    CLEARANCE = "clearance", _("Clearance")
    STOCK_OUT = "stock_out", _("Stock-out")
    OTHER = "other", _("Other")


class EventScope(models.TextChoices):
    """Which SKUs an event moves."""

    STORE = "store", _("The whole store")
    PRODUCTS = "products", _("Some products")
    VARIANTS = "variants", _("Some SKUs")
    PRODUCT_TYPE = "product_type", _("A product type")
    VENDOR = "vendor", _("A vendor")


class WeatherKind(models.TextChoices):
    OBSERVED = "observed", _("Observed")
    FORECAST = "forecast", _("Forecast")
    CLIMATOLOGY = "climatology", _("Climatology")
