"""Shopify resources (Order, Refund) built from the simulated store's state, as the Admin API and webhooks give them.

Field names and JSON types follow Shopify's documented examples: ids are JSON integers, money is a string with two
decimals (with `*_set` shop/presentment pairs), timestamps are ISO 8601 with the shop's UTC offset. Fields the
Online Retail data cannot fill (customer, addresses, taxes, shipping) are present with empty values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.records import OrderLineRecord, RefundRecord
from integrations.simulator.payloads import ZERO, encode_text, money, object_fragment, refund_line_ids
from integrations.simulator.state import OrderState


def shopify_time(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def money_set(amount: str, currency: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": currency},
        "presentment_money": {"amount": amount, "currency_code": currency},
    }


def _shopify_line_static(line: OrderLineRecord, currency: str) -> dict[str, Any]:
    """The fields of a line item that depend only on its variant and price (shared by many lines)."""
    variant = line.variant
    product_title = variant.product_title or variant.title
    # A product without options has one "Default Title" variant, which Shopify leaves out of line items.
    variant_title = variant.title if variant.title and variant.title != product_title else None
    price = money(line.unit_price)
    return {
        "attributed_staffs": [],
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": False,
        "grams": 0,
        "name": f"{product_title} - {variant_title}" if variant_title else product_title,
        "price": price,
        "price_set": money_set(price, currency),
        "product_exists": True,
        "product_id": int(variant.product_id),
        "properties": [],
        "requires_shipping": True,
        "sku": variant.sku,
        "taxable": True,
        "title": product_title,
        "total_discount": "0.00",
        "total_discount_set": money_set("0.00", currency),
        "variant_id": int(variant.variant_id),
        "variant_inventory_management": "shopify",
        "variant_title": variant_title,
        "vendor": None,
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def _shopify_line_static_json(line: OrderLineRecord, currency: str) -> str:
    variant = line.variant
    key = ("shopify", variant.variant_id, variant.product_id, variant.sku, variant.title, variant.product_title)
    return object_fragment(key + (line.unit_price, currency), lambda: _shopify_line_static(line, currency))


def shopify_line(line: OrderLineRecord, current_quantity: int, currency: str) -> dict[str, Any]:
    return {
        "id": int(line.line_id),
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line.line_id}",
        "quantity": line.quantity,
        "current_quantity": current_quantity,
        "fulfillable_quantity": current_quantity,
    } | _shopify_line_static(line, currency)


def shopify_line_json(line: OrderLineRecord, current_quantity: int, currency: str) -> str:
    """`shopify_line` already encoded: the variant's part is encoded once and reused (most of the build cost)."""
    return (
        f'{{"id":{int(line.line_id)},"admin_graphql_api_id":"gid://shopify/LineItem/{line.line_id}",'
        f'"quantity":{line.quantity},"current_quantity":{current_quantity},"fulfillable_quantity":{current_quantity},'
        + _shopify_line_static_json(line, currency)
    )


def shopify_refund(order: OrderState, refund: RefundRecord) -> dict[str, Any]:
    """A Refund resource; each refund line embeds its order line item as it is now."""
    currency = order.currency
    refund_lines = []
    for refund_line_id, refund_line in zip(refund_line_ids(refund), refund.lines, strict=True):
        line = order.line_index.get(refund_line.line_id)
        if line is None:
            continue
        subtotal = line.unit_price * refund_line.quantity
        refund_lines.append(
            {
                "id": refund_line_id,
                "line_item_id": int(refund_line.line_id),
                "location_id": None,
                "quantity": refund_line.quantity,
                "restock_type": refund_line.restock_type or "return",
                "subtotal": float(subtotal),
                "subtotal_set": money_set(money(subtotal), currency),
                "total_tax": 0.0,
                "total_tax_set": money_set("0.00", currency),
                "line_item": shopify_line(line, order.current_quantity(line), currency),
            }
        )
    when = shopify_time(refund.created_at)
    return {
        "id": int(refund.refund_id),
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund.refund_id}",
        "order_id": int(order.order_id),
        "created_at": when,
        "processed_at": when,
        "note": None,
        "user_id": None,
        "restock": True,
        "duties": [],
        "total_duties_set": money_set("0.00", currency),
        "additional_fees": [],
        "total_additional_fees_set": money_set("0.00", currency),
        "order_adjustments": [],
        "refund_line_items": refund_lines,
        "transactions": [],
    }


def shopify_financial_status(order: OrderState) -> str:
    if not order.refunds:
        return "paid"
    return "refunded" if order.all_units_refunded() else "partially_refunded"


def _shopify_order_head(order: OrderState) -> dict[str, Any]:
    currency = order.currency
    subtotal = sum((line.unit_price * line.quantity for line in order.lines), ZERO)
    current = sum((line.unit_price * order.current_quantity(line) for line in order.lines), ZERO)
    subtotal_text, current_text = money(subtotal), money(current)
    order_number = int(order.order_id)
    return {
        "id": order_number,
        "admin_graphql_api_id": f"gid://shopify/Order/{order.order_id}",
        "app_id": None,
        "cancel_reason": None,
        "cancelled_at": None,
        "closed_at": None,
        "confirmed": True,
        "contact_email": None,
        "created_at": shopify_time(order.created_at),
        "currency": currency,
        "current_subtotal_price": current_text,
        "current_subtotal_price_set": money_set(current_text, currency),
        "current_total_discounts": "0.00",
        "current_total_price": current_text,
        "current_total_price_set": money_set(current_text, currency),
        "current_total_tax": "0.00",
        "discount_codes": [],
        "email": "",
        "financial_status": shopify_financial_status(order),
        "fulfillment_status": None,
        "location_id": None,
        "name": order.number or f"#{order.order_id}",
        "note": None,
        "number": order_number - 1000 if order_number > 1000 else order_number,
        "order_number": order_number,
        "presentment_currency": currency,
        "processed_at": shopify_time(order.created_at),
        "source_name": "web",
        "subtotal_price": subtotal_text,
        "subtotal_price_set": money_set(subtotal_text, currency),
        "tags": "",
        "tax_lines": [],
        "taxes_included": False,
        "test": False,
        "total_discounts": "0.00",
        "total_line_items_price": subtotal_text,
        "total_line_items_price_set": money_set(subtotal_text, currency),
        "total_outstanding": "0.00",
        "total_price": subtotal_text,
        "total_price_set": money_set(subtotal_text, currency),
        "total_tax": "0.00",
        "total_weight": 0,
        "updated_at": shopify_time(order.updated_at),
        "user_id": None,
        "shipping_lines": [],
    }


def shopify_order(order: OrderState) -> dict[str, Any]:
    """The full Order resource as it is now (all lines so far, refunds applied to `current_quantity`)."""
    return _shopify_order_head(order) | {
        "line_items": [shopify_line(line, order.current_quantity(line), order.currency) for line in order.lines],
        "refunds": [shopify_refund(order, refund) for refund in order.refunds],
    }


def shopify_order_json(order: OrderState) -> bytes:
    """`shopify_order` encoded, with the line items spliced in from `shopify_line_json`."""
    currency = order.currency
    lines = ",".join(shopify_line_json(line, order.current_quantity(line), currency) for line in order.lines)
    refunds = encode_text([shopify_refund(order, refund) for refund in order.refunds])
    head = encode_text(_shopify_order_head(order))
    return f'{head[:-1]},"line_items":[{lines}],"refunds":{refunds}}}'.encode("ascii")
