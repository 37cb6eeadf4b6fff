"""Shopify GraphQL Admin API documents for the backfill, and their answers normalised into our records.

Products come with their variants (SKU, price, inventory item); orders with their line items (variant, quantities
before and after edits, unit price) and refunds (the lines and quantities each gave back). Both are read through bulk
operations: a paged query of orders with their line items would ask for more than the 1,000 points one query may
cost. Line items without a variant (custom items, gift cards) are not stock and are left out, as in the webhook
payloads.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.records import (
    ORDER_CANCELLED,
    ORDER_OPEN,
    InventoryLevelRecord,
    LocationRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    ProductVariantRecord,
    RefundLineRecord,
    RefundRecord,
    VariantRef,
)
from integrations.webhooks import PayloadError

# Objects grouped under their parents (`groupObjects`, off by default since 2026-01): a page of the file then holds
# whole products and whole orders.
BULK_RUN = """
mutation RunBulk($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_STATUS = """
query BulkStatus($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}
"""

# Bulk queries name connections with edges/node and take no page size; the result is one JSONL line per object,
# children after their parent with `__parentId`.
BULK_PRODUCTS = """
{
  products {
    edges { node {
      id title vendor productType status updatedAt
      variants { edges { node { id sku title price compareAtPrice updatedAt inventoryItem { id } } } }
    } }
  }
}
"""

# Every inventory item with its level at each location: the stock read of a reconciliation. A bulk operation, not
# `location.inventoryLevels` pages: a page of 250 levels is charged about 750 points, so that 47,000 items at three
# locations would hold a shop's bucket (100 points a second on the standard plans) for 71 minutes: more than the hour
# between two reconciliations (bench/reconcile.py).
BULK_STOCK_LEVELS = """
{
  inventoryItems {
    edges { node {
      id
      inventoryLevels { edges { node {
        updatedAt location { id } quantities(names: ["available", "incoming"]) { name quantity }
      } } }
    } }
  }
}
"""

LOCATIONS = """
query Locations($first: Int!, $cursor: String) {
  locations(first: $first, after: $cursor, includeInactive: true) {
    nodes { id name isActive updatedAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# Orders with their line items, sorted by id; every order, or those updated since a time.
_BULK_ORDERS = """
{
  orders(sortKey: ID%s) {
    edges { node {
      id name createdAt updatedAt cancelledAt displayFinancialStatus currencyCode
      lineItems { edges { node {
        id quantity currentQuantity sku title variantTitle
        variant { id product { id } inventoryItem { id } }
        originalUnitPriceSet { shopMoney { amount } }
      } } }
    } }
  }
}
"""


# The same orders with their refunds' ids only: a refund's lines are a connection inside a list, which a bulk query
# cannot hold (`ORDERS_REFUNDS` reads them).
_BULK_ORDER_REFUNDS = """
{
  orders(sortKey: ID%s) { edges { node { id refunds { id } } } }
}
"""


def bulk_orders(updated_since: datetime | None = None) -> str:
    return _BULK_ORDERS % _search(updated_since)


def bulk_order_refunds(updated_since: datetime | None = None) -> str:
    return _BULK_ORDER_REFUNDS % _search(updated_since)


def _search(updated_since: datetime | None) -> str:
    if updated_since is None:
        return ""
    return f", query: {json.dumps(f'updated_at:>={updated_since.isoformat()!r}')}"


# The refunds of a few orders at once, with the lines each gave back (4 orders keep the requested cost under the
# 1,000-point limit of one query).
ORDERS_REFUNDS = """
query OrdersRefunds($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Order {
      id
      refunds { id createdAt refundLineItems(first: 100) { nodes { quantity restockType lineItem { id } } } }
    }
  }
}
"""
REFUNDS_PER_REQUEST = 4

ORDER_REFUNDS = """
query OrderRefunds($id: ID!) {
  order(id: $id) {
    id
    refunds { id createdAt refundLineItems(first: 250) { nodes { quantity restockType lineItem { id } } } }
  }
}
"""

# Webhook subscriptions (`uri` replaced `callbackUrl` in 2025-10) and the app's installation.
WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $cursor: String) {
  webhookSubscriptions(first: $first, after: $cursor) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_UPDATE = """
mutation WebhookSubscriptionUpdate($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""

ACCESS_SCOPES = """
query AccessScopes { currentAppInstallation { accessScopes { handle } } }
"""


def numeric_id(gid: Any) -> str:
    """gid://shopify/Order/123 -> "123" (a plain id is returned as it is)."""
    text = str(gid or "")
    if not text:
        raise PayloadError("a node has no id")
    return text.rsplit("/", 1)[-1]


def parse_time(value: Any, what: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"{what} is not a time: {value!r}") from exc


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise PayloadError(f"not an amount: {value!r}") from exc


def location_record(node: dict[str, Any]) -> LocationRecord:
    return LocationRecord(
        location_id=numeric_id(node.get("id")),
        name=str(node.get("name") or "")[:255],
        active=bool(node.get("isActive", True)),
        updated_at=parse_time(node["updatedAt"], "location updatedAt") if node.get("updatedAt") else None,
    )


def product_record(node: dict[str, Any]) -> ProductRecord:
    updated_at = parse_time(node.get("updatedAt"), "product updatedAt") if node.get("updatedAt") else None
    variants = []
    for variant in (node.get("variants") or {}).get("nodes") or []:
        price = variant.get("price")
        variants.append(
            ProductVariantRecord(
                variant_id=numeric_id(variant.get("id")),
                sku=str(variant.get("sku") or ""),
                title=str(variant.get("title") or "")[:500],
                price=_money(price) if price not in (None, "") else None,
                inventory_item_id=numeric_id((variant.get("inventoryItem") or {}).get("id") or "")
                if variant.get("inventoryItem")
                else "",
                updated_at=parse_time(variant["updatedAt"], "variant updatedAt") if variant.get("updatedAt") else None,
                compare_at_price=_money(variant["compareAtPrice"]) if variant.get("compareAtPrice") else None,
            )
        )
    return ProductRecord(
        product_id=numeric_id(node.get("id")),
        title=str(node.get("title") or "")[:500],
        vendor=str(node.get("vendor") or "")[:255],
        product_type=str(node.get("productType") or "")[:255],
        status=str(node.get("status") or "").lower()[:32],
        updated_at=updated_at,
        variants=tuple(variants),
    )


def order_record(node: dict[str, Any]) -> OrderRecord:
    """An order with its lines (each with its quantity net of edits and refunds)."""
    order_id = numeric_id(node.get("id"))
    created_at = parse_time(node.get("createdAt"), "order createdAt")
    cancelled_at = parse_time(node["cancelledAt"], "order cancelledAt") if node.get("cancelledAt") else None
    lines = []
    for item in (node.get("lineItems") or {}).get("nodes") or []:
        variant = item.get("variant")
        if not variant:
            continue  # a custom item or a gift card: not stock
        quantity = int(item.get("quantity") or 0)
        current = item.get("currentQuantity")
        price = ((item.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount", "0")
        variant_id = numeric_id(variant.get("id"))
        lines.append(
            OrderLineRecord(
                line_id=numeric_id(item.get("id")),
                variant=VariantRef(
                    product_id=numeric_id((variant.get("product") or {}).get("id") or variant_id),
                    variant_id=variant_id,
                    sku=str(item.get("sku") or ""),
                    title=str(item.get("variantTitle") or item.get("title") or "")[:500],
                    product_title=str(item.get("title") or "")[:500],
                    price=_money(price),
                    inventory_item_id=numeric_id((variant.get("inventoryItem") or {}).get("id") or "")
                    if variant.get("inventoryItem")
                    else "",
                ),
                quantity=max(quantity, 0),
                current_quantity=max(int(current) if current is not None else quantity, 0),
                unit_price=_money(price),
            )
        )
    return OrderRecord(
        order_id=order_id,
        number=str(node.get("name") or "")[:64],
        created_at=created_at,
        updated_at=parse_time(node["updatedAt"], "order updatedAt") if node.get("updatedAt") else created_at,
        status=ORDER_CANCELLED if cancelled_at else ORDER_OPEN,
        platform_status=str(node.get("displayFinancialStatus") or "").lower()[:32],
        currency=str(node.get("currencyCode") or "")[:3],
        lines=tuple(lines),
        cancelled_at=cancelled_at,
    )


def refund_records(refunds: list[dict[str, Any]], order_id: str) -> list[RefundRecord]:
    """An order's refunds (`refunds { id createdAt refundLineItems { ... } }`) with the lines each gave back."""
    records = []
    for refund in refunds:
        refund_lines = tuple(
            RefundLineRecord(
                line_id=numeric_id((line.get("lineItem") or {}).get("id")),
                quantity=int(line.get("quantity") or 0),
                restock_type=str(line.get("restockType") or "").lower(),
            )
            for line in (refund.get("refundLineItems") or {}).get("nodes") or []
        )
        records.append(
            RefundRecord(
                refund_id=numeric_id(refund.get("id")),
                order_id=order_id,
                created_at=parse_time(refund.get("createdAt"), "refund createdAt"),
                lines=refund_lines,
            )
        )
    return records


def products_from_jsonl(lines: list[dict[str, Any]]) -> list[ProductRecord]:
    """Products with their variants from a bulk query's JSONL objects (a variant names its product in
    `__parentId`; a variant whose product is not among `lines` is ignored)."""
    products: dict[str, dict[str, Any]] = {}
    for line in lines:
        parent = line.get("__parentId")
        if parent is None:
            products[str(line.get("id"))] = {**line, "variants": {"nodes": []}}
        elif str(parent) in products:
            products[str(parent)]["variants"]["nodes"].append(line)
    return [product_record(node) for node in products.values()]


def level_record(node: dict[str, Any], item_gid: Any, location_gid: Any) -> InventoryLevelRecord | None:
    """An inventory level node (`updatedAt`, `quantities` named available and incoming) of an item at a location;
    None for one that says no available quantity or no time."""
    quantities = {q.get("name"): q.get("quantity") for q in node.get("quantities") or []}
    available = quantities.get("available")
    if available is None or not node.get("updatedAt"):
        return None
    return InventoryLevelRecord(
        available=int(available),
        updated_at=datetime.fromisoformat(str(node["updatedAt"]).replace("Z", "+00:00")),
        inventory_item_id=numeric_id(item_gid),
        location_id=numeric_id(location_gid),
        incoming=max(int(quantities["incoming"]), 0) if quantities.get("incoming") is not None else None,
    )


def levels_from_jsonl(lines: list[dict[str, Any]], location_ids: set[str]) -> list[InventoryLevelRecord]:
    """The levels at these locations from a bulk query's JSONL objects of inventory items (a level names its item
    in `__parentId`)."""
    records = []
    for line in lines:
        parent, location = line.get("__parentId"), (line.get("location") or {}).get("id")
        if parent is None or location is None or numeric_id(location) not in location_ids:
            continue
        record = level_record(line, parent, location)
        if record is not None:
            records.append(record)
    return records


def orders_from_jsonl(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order nodes, each with its `lineItems`, from a bulk query's JSONL objects (a line item names its order in
    `__parentId`; one whose order is not among `lines` is ignored)."""
    orders: dict[str, dict[str, Any]] = {}
    for line in lines:
        parent = line.get("__parentId")
        if parent is None:
            orders[str(line.get("id"))] = {**line, "lineItems": {"nodes": []}}
        elif str(parent) in orders:
            orders[str(parent)]["lineItems"]["nodes"].append(line)
    return list(orders.values())
