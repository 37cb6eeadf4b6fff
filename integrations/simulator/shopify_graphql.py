"""The simulated Shopify store's catalogue and orders as the GraphQL Admin API pages them (`products`, `orders`,
sorted by id, `first`/`after` cursors, an `updated_at:>='...'` search), built from the replay's state: every product
and variant its orders named, and every order with its lines and refunds as they are now."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from integrations.simulator.shopify_payloads import shopify_financial_status, shopify_time
from integrations.simulator.state import StoreState
from integrations.simulator.woocommerce_payloads import money

LIST_COST = 50  # a page of nodes with nested connections costs more than a single mutation
UPDATED_SINCE = re.compile(r"updated_at:>=?'?([^' ]+)'?")


def _page(items: list[Any], variables: dict[str, Any], limit: int = 250) -> tuple[list[Any], dict[str, Any]]:
    if variables.get("all"):
        return items, {"hasNextPage": False, "endCursor": None}
    first = max(1, min(int(variables.get("first") or 50), limit))
    start = int(variables.get("cursor") or 0)
    chunk = items[start : start + first]
    more = start + first < len(items)
    return chunk, {"hasNextPage": more, "endCursor": str(start + first) if more else None}


def products(state: StoreState, variables: dict[str, Any]) -> dict[str, Any]:
    catalogue: dict[str, dict[str, Any]] = {}
    with state.lock:
        for order in state.orders.values():
            for line in order.lines:
                variant = line.variant
                product = catalogue.setdefault(
                    variant.product_id,
                    {"title": variant.product_title or variant.title, "variants": {}, "updated": order.created_at},
                )
                product["updated"] = min(product["updated"], order.created_at)
                product["variants"].setdefault(variant.variant_id, (variant, line.unit_price))
    nodes = []
    for product_id in sorted(catalogue, key=lambda pid: (len(pid), pid)):
        product = catalogue[product_id]
        when = shopify_time(product["updated"])
        variants = [
            {
                "id": f"gid://shopify/ProductVariant/{variant_id}",
                "sku": variant.sku,
                "title": "Default Title",
                "price": money(price),
                "compareAtPrice": None,  # the simulated catalogue sells at its list prices
                "updatedAt": when,
                "inventoryItem": {"id": f"gid://shopify/InventoryItem/{variant.inventory_item_id or variant_id}"},
            }
            for variant_id, (variant, price) in sorted(product["variants"].items())
        ]
        nodes.append(
            {
                "id": f"gid://shopify/Product/{product_id}",
                "title": product["title"],
                "vendor": "",
                "productType": "",
                "status": "ACTIVE",
                "updatedAt": when,
                "variants": {"nodes": variants},
            }
        )
    chunk, info = _page(nodes, variables)
    return {"products": {"nodes": chunk, "pageInfo": info}}


def orders(state: StoreState, variables: dict[str, Any]) -> dict[str, Any]:
    match = UPDATED_SINCE.search(str(variables.get("query") or ""))
    since = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")) if match else None
    with state.lock:
        wanted = sorted(
            (o for o in state.orders.values() if since is None or o.updated_at >= since), key=lambda o: int(o.order_id)
        )
        chunk, info = _page(wanted, variables)
        nodes = [_order_node(order) for order in chunk]
    return {"orders": {"nodes": nodes, "pageInfo": info}}


def _order_node(order) -> dict[str, Any]:
    lines = []
    for line in order.lines:
        variant = line.variant
        lines.append(
            {
                "id": f"gid://shopify/LineItem/{line.line_id}",
                "quantity": line.quantity,
                "currentQuantity": order.current_quantity(line),
                "sku": variant.sku,
                "title": variant.product_title or variant.title,
                "variantTitle": None,
                "variant": {
                    "id": f"gid://shopify/ProductVariant/{variant.variant_id}",
                    "product": {"id": f"gid://shopify/Product/{variant.product_id}"},
                    "inventoryItem": {
                        "id": f"gid://shopify/InventoryItem/{variant.inventory_item_id or variant.variant_id}"
                    },
                },
                "originalUnitPriceSet": {"shopMoney": {"amount": money(line.unit_price)}},
            }
        )
    refunds = [
        {
            "id": f"gid://shopify/Refund/{refund.refund_id}",
            "createdAt": shopify_time(refund.created_at),
            "refundLineItems": {
                "nodes": [
                    {
                        "quantity": refund_line.quantity,
                        "restockType": (refund_line.restock_type or "return").upper(),
                        "lineItem": {"id": f"gid://shopify/LineItem/{refund_line.line_id}"},
                    }
                    for refund_line in refund.lines
                ]
            },
        }
        for refund in order.refunds
    ]
    return {
        "id": f"gid://shopify/Order/{order.order_id}",
        "name": f"#{order.number}",
        "createdAt": shopify_time(order.created_at),
        "updatedAt": shopify_time(order.updated_at),
        "cancelledAt": None,
        "displayFinancialStatus": shopify_financial_status(order).upper(),
        "currencyCode": order.currency,
        "lineItems": {"nodes": lines},
        "refunds": refunds,
    }


def locations(location_ids: list[str], variables: dict[str, Any]) -> dict[str, Any]:
    nodes = [
        {"id": f"gid://shopify/Location/{location_id}", "name": f"Location {location_id}", "isActive": True}
        for location_id in sorted(location_ids, key=lambda lid: (len(lid), lid))
    ]
    chunk, info = _page(nodes, variables)
    return {"locations": {"nodes": chunk, "pageInfo": info}}


def flatten_products(state: StoreState) -> list[dict[str, Any]]:
    """The JSONL lines of a bulk `products { variants }` query: each product, then its variants with `__parentId`."""
    lines = []
    for product in products(state, {"first": 250, "cursor": 0, "all": True})["products"]["nodes"]:
        variants = product["variants"]["nodes"]
        lines.append({key: value for key, value in product.items() if key != "variants"})
        lines.extend({**variant, "__parentId": product["id"]} for variant in variants)
    return lines
