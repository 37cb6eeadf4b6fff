"""Shopify webhook topics and headers (Admin API, as documented for webhook subscriptions)."""

HEADER_TOPIC = "X-Shopify-Topic"
HEADER_HMAC = "X-Shopify-Hmac-Sha256"
HEADER_SHOP_DOMAIN = "X-Shopify-Shop-Domain"
HEADER_WEBHOOK_ID = "X-Shopify-Webhook-Id"
HEADER_EVENT_ID = "X-Shopify-Event-Id"
HEADER_TRIGGERED_AT = "X-Shopify-Triggered-At"
HEADER_API_VERSION = "X-Shopify-API-Version"
RECORDED_HEADERS = (
    HEADER_TOPIC,
    HEADER_SHOP_DOMAIN,
    HEADER_WEBHOOK_ID,
    HEADER_EVENT_ID,
    HEADER_TRIGGERED_AT,
    HEADER_API_VERSION,
)

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled"})
HANDLED_TOPICS = ORDER_TOPICS | frozenset(
    {
        "orders/edited",
        "orders/delete",
        "refunds/create",
        "products/create",
        "products/update",
        "products/delete",
        "inventory_levels/update",
        "inventory_levels/connect",
        "inventory_levels/disconnect",
        "inventory_items/update",
        "inventory_items/delete",
        "locations/create",
        "locations/update",
        "locations/delete",
        "discounts/create",
        "discounts/update",
        "discounts/delete",
        "app/uninstalled",
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    }
)
# The privacy topics every app answers, subscribed in the app's configuration (shopify.app.toml), not through the API.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# Topics a store may send that carry nothing we use: answered 200 and recorded as ignored.
IGNORED_TOPICS = frozenset(
    {
        "orders/paid",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "fulfillments/create",
        "fulfillments/update",
        "customers/create",
        "customers/update",
        "carts/create",
        "carts/update",
        "checkouts/create",
        "checkouts/update",
        "inventory_items/create",
    }
)

# The Admin API version a new store is read with (the core app's SHOPIFY_API_VERSION option overrides it).
API_VERSION = "2026-10"
