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


class ServiceMeasure(models.TextChoices):
    FILL_RATE = "fill_rate", "Fill rate (share of demand served from stock)"
    CYCLE = "cycle", "Cycle service (no stock-out in a replenishment cycle)"


class ReceivingMethod(models.TextChoices):
    AUTO = "auto", "On a transfer where the store keeps transfers, else as an addition"
    TRANSFER = "transfer", "On an inbound transfer's shipment"
    ADDITION = "addition", "As an addition to the available stock"


class FillRateScope(models.TextChoices):
    ITEM = "item", "Each item reaches the fill rate"
    STORE = "store", "The items of a service level reach it together, at the least stock value"


class AbcClass(models.TextChoices):
    A = "A", "A (top 80% of revenue)"
    B = "B", "B (next 15%)"
    C = "C", "C (last 5%)"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PUSHING = "pushing", "Pushing"
    PUSHED = "pushed", "Pushed"
    CONFLICT = "conflict", "Conflict"
    FAILED = "failed", "Failed"


class AdjustmentReason(models.TextChoices):
    RESTOCK = "restock", "Restock received"
    RECONCILIATION = "reconciliation", "Correction from reconciliation"
    MANUAL = "manual", "Manual"


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    EDIT = "edit", "Edited"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    PUSH = "push", "Pushed"
    SEND = "send", "Sent"
    RECEIVE = "receive", "Received"
    CANCEL = "cancel", "Cancelled"


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def open(cls) -> tuple[str, ...]:
        """An order whose lines are still to come: what the policy counts as on order."""
        return (cls.DRAFT, cls.SENT, cls.PARTIALLY_RECEIVED)


class AuditSource(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    SYSTEM = "system", "System"


class DriverSource(models.TextChoices):
    """Where a driver record came from."""

    MANUAL = "manual", "Entered by a planner"
    PLATFORM = "platform", "The store (webhook, backfill or reconciliation)"
    SHOPIFY_DISCOUNT = "shopify_discount", "Shopify discount"
    WOOCOMMERCE_SALE = "woo_sale", "WooCommerce sale price"


class EventKind(models.TextChoices):
    PROMOTION = "promotion", "Promotion"
    MARKDOWN = "markdown", "Markdown"
    LAUNCH = "launch", "Launch"
    CLEARANCE = "clearance", "Clearance"
    STOCK_OUT = "stock_out", "Stock-out"
    OTHER = "other", "Other"


class EventScope(models.TextChoices):
    """Which SKUs an event moves."""

    STORE = "store", "The whole store"
    PRODUCTS = "products", "Some products"
    VARIANTS = "variants", "Some SKUs"
    PRODUCT_TYPE = "product_type", "A product type"
    VENDOR = "vendor", "A vendor"


class WeatherKind(models.TextChoices):
    OBSERVED = "observed", "Observed"
    FORECAST = "forecast", "Forecast"
    CLIMATOLOGY = "climatology", "Climatology"
