"""The simulated Shopify store's catalogue and orders as the GraphQL Admin API pages them (`products`, `orders`,
sorted by id, `first`/`after` cursors, an `updated_at:>='...'` search), built from the replay's state: every product
and variant its orders named, and every order with its lines and refunds as they are now. The merchant's discounts
(`discountNodes`, `discountNode`) and collections (`collection { products }`) come from the state too."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from integrations.simulator.shopify_payloads import shopify_financial_status, shopify_time
from integrations.simulator.state import SimulatedDiscount, StoreState
from integrations.simulator.woocommerce_payloads import money

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


def order_refunds(state: StoreState, ids: list[str]) -> list[dict[str, Any] | None]:
    """`nodes(ids:)` of orders: each with its refunds and their lines (null for an id that is not an order)."""
    with state.lock:
        found = []
        for gid in ids:
            kind, _, number = str(gid).removeprefix("gid://shopify/").partition("/")
            order = state.orders.get(number) if kind == "Order" else None
            found.append(
                {key: value for key, value in _order_node(order).items() if key in ("id", "refunds")} if order else None
            )
    return found


def locations(location_ids: list[str], variables: dict[str, Any]) -> dict[str, Any]:
    nodes = [
        {"id": f"gid://shopify/Location/{location_id}", "name": f"Location {location_id}", "isActive": True}
        for location_id in sorted(location_ids, key=lambda lid: (len(lid), lid))
    ]
    chunk, info = _page(nodes, variables)
    return {"locations": {"nodes": chunk, "pageInfo": info}}


# --- Discounts -------------------------------------------------------------------------------------------------------

_SIDES = ("customerGets", "customerBuys")
_ITEM_CONNECTIONS = (
    ("products", "productsAfter", "Product"),
    ("productVariants", "variantsAfter", "ProductVariant"),
    ("collections", "collectionsAfter", "Collection"),
)


def _discount_status(discount: SimulatedDiscount, now: datetime) -> str:
    if discount.starts_at > now:
        return "SCHEDULED"
    if discount.ends_at is not None and discount.ends_at <= now:
        return "EXPIRED"
    return "ACTIVE"


def _items(ids: dict[str, tuple[str, ...]], all_items: bool, variables: dict[str, Any]) -> dict[str, Any]:
    """A side's `DiscountItems`: all of them, or product/variant/collection connections paged by `itemsFirst` from
    each `...After` cursor (offsets, as the listings' cursors are)."""
    if all_items:
        return {"__typename": "AllDiscountItems", "allItems": True}
    first = max(1, min(int(variables.get("itemsFirst") or 50), 250))
    if ids.get("collections"):
        typename, names = "DiscountCollections", [_ITEM_CONNECTIONS[2]]
    else:
        typename, names = "DiscountProducts", list(_ITEM_CONNECTIONS[:2])
    answer: dict[str, Any] = {"__typename": typename}
    for name, after, kind in names:
        values = ids.get(name, ())
        start = int(variables.get(after) or 0)
        chunk = values[start : start + first]
        more = start + first < len(values)
        answer[name] = {
            "nodes": [{"id": f"gid://shopify/{kind}/{value}"} for value in chunk],
            "pageInfo": {"hasNextPage": more, "endCursor": str(start + first) if more else None},
        }
    return answer


def _discount_node(discount: SimulatedDiscount, variables: dict[str, Any], sides: tuple[str, ...]) -> dict[str, Any]:
    now = datetime.now(UTC)
    code = discount.typename.startswith("DiscountCode")
    body: dict[str, Any] = {
        "__typename": discount.typename,
        "title": discount.title,
        "status": _discount_status(discount, now),
        "startsAt": shopify_time(discount.starts_at),
        "endsAt": shopify_time(discount.ends_at) if discount.ends_at else None,
    }
    if code:
        body["usageLimit"] = discount.usage_limit
        body["context"] = {"__typename": discount.context}
    named = discount.typename.endswith(("Basic", "Bxgy"))
    if named and "customerGets" in sides:
        gets = {
            "products": discount.product_ids,
            "productVariants": discount.variant_ids,
            "collections": discount.collection_ids,
        }
        value: dict[str, Any] = {"__typename": "DiscountPercentage", "percentage": discount.percentage}
        if discount.typename.endswith("Bxgy"):
            value = {"__typename": "DiscountOnQuantity", "effect": value}
        if discount.percentage is None:
            value = {"__typename": "DiscountAmount"}
        body["customerGets"] = {"value": value, "items": _items(gets, discount.all_items, variables)}
    if discount.typename.endswith("Bxgy") and "customerBuys" in sides:
        buys = {"products": discount.buys_product_ids}
        body["customerBuys"] = {"items": _items(buys, False, variables)}
    kind = "DiscountCodeNode" if code else "DiscountAutomaticNode"
    return {"id": f"gid://shopify/{kind}/{discount.discount_id}", "discount": body}


def discount_nodes(state: StoreState, variables: dict[str, Any]) -> dict[str, Any]:
    match = UPDATED_SINCE.search(str(variables.get("query") or ""))
    since = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")) if match else None
    with state.lock:
        wanted = sorted(
            (d for d in state.discounts.values() if since is None or (d.updated_at or d.starts_at) >= since),
            key=lambda d: int(d.discount_id),
        )
        chunk, info = _page(wanted, variables, limit=250)
        nodes = [_discount_node(discount, variables, _SIDES) for discount in chunk]
    return {"discountNodes": {"nodes": nodes, "pageInfo": info}}


def discount_node(state: StoreState, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One discount by id; a document that names one side of items only (a follow-up page) gets that side."""
    wanted = str(variables.get("id") or "").rsplit("/", 1)[-1]
    sides = tuple(side for side in _SIDES if side in query)
    with state.lock:
        discount = state.discounts.get(wanted)
        node = _discount_node(discount, variables, sides) if discount else None
    return {"discountNode": node}


def collection_products(state: StoreState, variables: dict[str, Any]) -> dict[str, Any]:
    wanted = str(variables.get("id") or "").rsplit("/", 1)[-1]
    with state.lock:
        product_ids = state.collections.get(wanted)
    if product_ids is None:
        return {"collection": None}
    chunk, info = _page(list(product_ids), variables)
    nodes = [{"id": f"gid://shopify/Product/{product_id}"} for product_id in chunk]
    return {"collection": {"id": f"gid://shopify/Collection/{wanted}", "products": {"nodes": nodes, "pageInfo": info}}}
