"""Shopify webhook payloads (REST resource shapes) -> our records.

Field names follow Shopify's documented Order, Refund, Product, InventoryLevel, InventoryItem, Location and discount
webhook payloads. Only what demand and stock need is read; the raw payload stays in the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integrations.payloads import as_id, as_int, as_money, as_object, as_text, optional_id
from integrations.records import (
    ORDER_CANCELLED,
    ORDER_OPEN,
    AppUninstalled,
    DiscountDeleted,
    DiscountToFetch,
    InventoryItemDeleted,
    InventoryItemRecord,
    InventoryLevelDisconnected,
    InventoryLevelRecord,
    LocationDeleted,
    LocationRecord,
    OrderDeleted,
    OrderEditRemovals,
    OrderLineRecord,
    OrderRecord,
    PrivacyRequest,
    ProductDeleted,
    ProductRecord,
    ProductVariantRecord,
    RefundLineRecord,
    RefundRecord,
    VariantRef,
)
from integrations.webhooks import PayloadError, parse_timestamp


def _required_time(payload: dict, name: str):
    value = parse_timestamp(payload.get(name))
    if value is None:
        raise PayloadError(f"missing {name}")
    return value


def order_record(payload: Any) -> OrderRecord:
    order = as_object(payload)
    order_id = as_id(order.get("id"), "order id")
    created_at = _required_time(order, "created_at")
    updated_at = parse_timestamp(order.get("updated_at")) or created_at
    cancelled_at = parse_timestamp(order.get("cancelled_at"))
    lines = []
    for item in order.get("line_items") or []:
        item = as_object(item, "line item")
        if item.get("variant_id") in (None, "") or item.get("gift_card"):
            # Custom items and gift cards are not stock: they are not demand for any SKU.
            continue
        quantity = as_int(item.get("quantity"), "line item quantity")
        current = item.get("current_quantity")
        # current_quantity (API 2024-01+) is the quantity after edits and removals; older payloads lack it.
        current_quantity = quantity if current is None else as_int(current, "current_quantity")
        variant_id = as_id(item.get("variant_id"), "variant_id")
        variant = VariantRef(
            product_id=optional_id(item.get("product_id")) or variant_id,
            variant_id=variant_id,
            sku=as_text(item.get("sku")),
            title=as_text(item.get("variant_title") or item.get("name"), 500),
            product_title=as_text(item.get("title"), 500),
            price=as_money(item.get("price")),
        )
        lines.append(
            OrderLineRecord(
                line_id=as_id(item.get("id"), "line item id"),
                variant=variant,
                quantity=max(quantity, 0),
                current_quantity=max(current_quantity, 0),
                unit_price=as_money(item.get("price")),
            )
        )
    return OrderRecord(
        order_id=order_id,
        number=as_text(order.get("name") or order.get("order_number"), 64),
        created_at=created_at,
        updated_at=updated_at,
        status=ORDER_CANCELLED if cancelled_at else ORDER_OPEN,
        platform_status=as_text(order.get("financial_status"), 32),
        currency=as_text(order.get("currency"), 3),
        lines=tuple(lines),
        cancelled_at=cancelled_at,
        location_id=optional_id(order.get("location_id")),
    )


def refund_record(payload: Any, order_id: str | None = None) -> RefundRecord:
    refund = as_object(payload, "refund")
    lines = []
    for item in refund.get("refund_line_items") or []:
        item = as_object(item, "refund line item")
        lines.append(
            RefundLineRecord(
                line_id=as_id(item.get("line_item_id"), "line_item_id"),
                quantity=max(as_int(item.get("quantity"), "refund quantity"), 0),
                restock_type=as_text(item.get("restock_type"), 32),
            )
        )
    return RefundRecord(
        refund_id=as_id(refund.get("id"), "refund id"),
        order_id=order_id or as_id(refund.get("order_id"), "order_id"),
        created_at=_required_time(refund, "created_at"),
        lines=tuple(lines),
    )


def _order_topic(payload: Any) -> list[Any]:
    record = order_record(payload)
    # Refunds embedded in the order are applied too (once, by id), so a lost refunds/create costs nothing.
    refunds = [refund_record(item, record.order_id) for item in payload.get("refunds") or []]
    return [record, *refunds]


def _order_edit(payload: Any) -> list[Any]:
    edit = as_object(as_object(payload).get("order_edit"), "order_edit")
    removals = []
    for item in (as_object(edit.get("line_items") or {}, "line_items").get("removals")) or []:
        item = as_object(item, "removal")
        removals.append((as_id(item.get("id"), "removed line id"), max(as_int(item.get("delta"), "delta"), 0)))
    committed_at = parse_timestamp(edit.get("committed_at")) or _required_time(edit, "created_at")
    return [OrderEditRemovals(as_id(edit.get("order_id"), "order_id"), committed_at, tuple(removals))]


def product_record(payload: Any) -> ProductRecord:
    product = as_object(payload)
    variants = []
    for item in product.get("variants") or []:
        item = as_object(item, "variant")
        variants.append(
            ProductVariantRecord(
                variant_id=as_id(item.get("id"), "variant id"),
                sku=as_text(item.get("sku")),
                title=as_text(item.get("title"), 500),
                price=as_money(item.get("price")) if item.get("price") not in (None, "") else None,
                inventory_item_id=optional_id(item.get("inventory_item_id")),
                updated_at=parse_timestamp(item.get("updated_at")),
                compare_at_price=(
                    as_money(item.get("compare_at_price")) if item.get("compare_at_price") not in (None, "") else None
                ),
            )
        )
    return ProductRecord(
        product_id=as_id(product.get("id"), "product id"),
        title=as_text(product.get("title"), 500),
        vendor=as_text(product.get("vendor")),
        product_type=as_text(product.get("product_type")),
        status=as_text(product.get("status"), 32),
        updated_at=parse_timestamp(product.get("updated_at")),
        variants=tuple(variants),
        # A payload trimmed by the subscription's include_fields may leave variants out: then none are deleted.
        complete_variant_list="variants" in product,
    )


def _inventory_level(payload: Any) -> list[Any]:
    level = as_object(payload)
    if level.get("available") is None:
        # Untracked inventory has no quantity: nothing to record.
        return []
    return [
        InventoryLevelRecord(
            available=as_int(level.get("available"), "available"),
            updated_at=_required_time(level, "updated_at"),
            inventory_item_id=as_id(level.get("inventory_item_id"), "inventory_item_id"),
            location_id=as_id(level.get("location_id"), "location_id"),
        )
    ]


def _inventory_disconnect(payload: Any) -> list[Any]:
    level = as_object(payload)
    return [
        InventoryLevelDisconnected(
            inventory_item_id=as_id(level.get("inventory_item_id"), "inventory_item_id"),
            location_id=as_id(level.get("location_id"), "location_id"),
            updated_at=parse_timestamp(level.get("updated_at")),
        )
    ]


def _inventory_item(payload: Any) -> list[Any]:
    item = as_object(payload)
    cost = item.get("cost")
    return [
        InventoryItemRecord(
            inventory_item_id=as_id(item.get("id"), "inventory item id"),
            sku=None if item.get("sku") is None else as_text(item.get("sku")),
            cost=None if cost in (None, "") else as_money(cost),
            updated_at=parse_timestamp(item.get("updated_at")),
        )
    ]


def _location(payload: Any) -> list[Any]:
    location = as_object(payload)
    return [
        LocationRecord(
            location_id=as_id(location.get("id"), "location id"),
            name=as_text(location.get("name")),
            active=bool(location.get("active", True)),
            updated_at=parse_timestamp(location.get("updated_at")),
        )
    ]


def _customer_id(payload: Any) -> str:
    customer = as_object(payload).get("customer")
    return optional_id(customer.get("id")) if isinstance(customer, dict) else ""


def _ids(payload: Any, name: str) -> tuple[str, ...]:
    return tuple(as_id(value, name) for value in as_object(payload).get(name) or [])


def _discount_id(payload: Any) -> str:
    """A discount webhook names its discount by GraphQL id only (`admin_graphql_api_id`)."""
    gid = as_text(as_object(payload).get("admin_graphql_api_id"))
    if not gid.startswith("gid://shopify/") or not gid.rsplit("/", 1)[-1].isdigit():
        raise PayloadError(f"not a discount id: {gid!r}")
    return gid


def _with_id(factory: Callable[[str], Any], what: str) -> Callable[[Any], list[Any]]:
    return lambda payload: [factory(as_id(as_object(payload).get("id"), what))]


HANDLERS: dict[str, Callable[[Any], list[Any]]] = {
    "orders/create": _order_topic,
    "orders/updated": _order_topic,
    "orders/cancelled": _order_topic,
    "orders/edited": _order_edit,
    "orders/delete": _with_id(OrderDeleted, "order id"),
    "refunds/create": lambda payload: [refund_record(payload)],
    "products/create": lambda payload: [product_record(payload)],
    "products/update": lambda payload: [product_record(payload)],
    "products/delete": _with_id(ProductDeleted, "product id"),
    "inventory_levels/update": _inventory_level,
    "inventory_levels/connect": _inventory_level,
    "inventory_levels/disconnect": _inventory_disconnect,
    "inventory_items/update": _inventory_item,
    "inventory_items/delete": _with_id(InventoryItemDeleted, "inventory item id"),
    "locations/create": _location,
    "locations/update": _location,
    "locations/delete": _with_id(LocationDeleted, "location id"),
    # A discount's items and dates are read through the API (the webhook carries its title and status only).
    "discounts/create": lambda payload: [DiscountToFetch(_discount_id(payload))],
    "discounts/update": lambda payload: [DiscountToFetch(_discount_id(payload))],
    "discounts/delete": lambda payload: [DiscountDeleted(_discount_id(payload).rsplit("/", 1)[-1])],
    "app/uninstalled": lambda payload: [AppUninstalled()],
    "customers/data_request": lambda payload: [PrivacyRequest("data_request", _ids(payload, "orders_requested"))],
    "customers/redact": lambda payload: [
        PrivacyRequest("customers_redact", _ids(payload, "orders_to_redact"), _customer_id(payload))
    ],
    "shop/redact": lambda payload: [PrivacyRequest("shop_redact")],
}


def normalize_payload(topic: str, payload: Any) -> list[Any]:
    """Records for a handled topic; an empty list for any other topic."""
    handler = HANDLERS.get(topic)
    return handler(payload) if handler else []
