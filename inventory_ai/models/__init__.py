"""The domain model of Inventory AI, one module per area."""

from inventory_ai.models.access import ApiToken, UserPreference
from inventory_ai.models.alerts import AlertSubscription
from inventory_ai.models.audit import AuditEntry
from inventory_ai.models.catalog import Location, Product, Variant
from inventory_ai.models.demand import DailyDemand, InventoryLevel
from inventory_ai.models.drivers import (
    DemandEvent,
    ForecastOverride,
    PriceChange,
    RemovedEvent,
    WeatherDay,
    WeatherFetch,
)
from inventory_ai.models.events import WebhookEvent
from inventory_ai.models.forecasts import Forecast, ForecastResult, ForecastRun, ForecastRunChunk
from inventory_ai.models.operations import OAuthState, ServiceHeartbeat, SyncRun
from inventory_ai.models.orders import Order, OrderLine, Refund, RefundLine
from inventory_ai.models.purchasing import PurchaseOrder, PurchaseOrderLine, Receipt, Supplier, SupplierItem
from inventory_ai.models.replenishment import (
    AutoApprovalRule,
    ClassPolicy,
    PushAttempt,
    ReorderSuggestion,
    StockAdjustment,
)
from inventory_ai.models.stock_health import StockHealthRow
from inventory_ai.models.stores import Store

__all__ = [
    "AlertSubscription",
    "ApiToken",
    "AuditEntry",
    "AutoApprovalRule",
    "ClassPolicy",
    "DailyDemand",
    "DemandEvent",
    "Forecast",
    "ForecastOverride",
    "ForecastResult",
    "ForecastRun",
    "ForecastRunChunk",
    "InventoryLevel",
    "Location",
    "OAuthState",
    "Order",
    "OrderLine",
    "PriceChange",
    "Product",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PushAttempt",
    "Receipt",
    "Refund",
    "RefundLine",
    "RemovedEvent",
    "ReorderSuggestion",
    "ServiceHeartbeat",
    "StockAdjustment",
    "StockHealthRow",
    "Store",
    "Supplier",
    "SupplierItem",
    "SyncRun",
    "UserPreference",
    "Variant",
    "WeatherDay",
    "WeatherFetch",
    "WebhookEvent",
]
