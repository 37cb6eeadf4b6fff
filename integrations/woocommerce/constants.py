"""WooCommerce webhook topics and headers (WooCommerce REST API v3 webhooks)."""

HEADER_SOURCE = "X-WC-Webhook-Source"
HEADER_TOPIC = "X-WC-Webhook-Topic"
HEADER_RESOURCE = "X-WC-Webhook-Resource"
HEADER_EVENT = "X-WC-Webhook-Event"
HEADER_SIGNATURE = "X-WC-Webhook-Signature"
HEADER_WEBHOOK_ID = "X-WC-Webhook-ID"
HEADER_DELIVERY_ID = "X-WC-Webhook-Delivery-ID"
RECORDED_HEADERS = (HEADER_SOURCE, HEADER_TOPIC, HEADER_RESOURCE, HEADER_EVENT, HEADER_WEBHOOK_ID, HEADER_DELIVERY_ID)

HANDLED_TOPICS = frozenset(
    {
        "order.created",
        "order.updated",
        "order.deleted",
        "order.restored",
        "product.created",
        "product.updated",
        "product.deleted",
        "product.restored",
    }
)
IGNORED_TOPICS = frozenset(
    {
        "coupon.created",
        "coupon.updated",
        "coupon.deleted",
        "coupon.restored",
        "customer.created",
        "customer.updated",
        "customer.deleted",
    }
)
# Order statuses whose orders are not demand: moving an order to one removes its units; moving it back restores them.
NON_DEMAND_STATUSES = frozenset({"cancelled", "refunded", "failed", "trash"})
REST_PREFIX = "/wp-json/wc/v3"
# The meta data key a stock write leaves on the product, holding the write's idempotency key: a retry that finds its
# own key there knows the change is already applied (WooCommerce has no idempotent writes of its own).
PUSH_MARKER_KEY = "_inventory_ai_push"
