"""WooCommerce resources (order, order refund) built from the simulated store's state, as REST API v3 gives them.

Field names and JSON types follow WooCommerce's documented examples: ids are JSON integers, `number` is a string,
totals are strings and a line's `price` a number; `date_*` is site-local time and `date_*_gmt` UTC, both without
offset. The order keeps its line quantities after refunds and lists refunds by id and total; the refunded lines are
only in the order refunds resource (negative quantities, `_refunded_item_id` meta naming the order line).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any

from integrations.records import OrderLineRecord, RefundRecord
from integrations.simulator.payloads import ZERO, encode_text, money, object_fragment, refund_amount, refund_line_ids
from integrations.simulator.state import OrderState


def woo_times(when: datetime, tz: tzinfo) -> tuple[str, str]:
    """(site-local, UTC) timestamps without offset, as WooCommerce's `date_x` / `date_x_gmt` pairs."""
    local = when.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")
    gmt = when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return local, gmt


def woo_number(amount: Decimal) -> int | float:
    # WooCommerce's line `price` is a JSON number: an integer when whole (3), else a float (2.55).
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _woo_line_static(line: OrderLineRecord) -> dict[str, Any]:
    variant = line.variant
    return {
        "name": variant.product_title or variant.title,
        # Online Retail items are simple products: the product is the sellable unit and there is no variation.
        "product_id": int(variant.variant_id),
        "variation_id": 0,
        "tax_class": "",
        "subtotal_tax": "0.00",
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": [],
        "sku": variant.sku,
        "price": woo_number(line.unit_price),
    }


def _woo_line_static_json(line: OrderLineRecord) -> str:
    variant = line.variant
    key = ("woocommerce", variant.variant_id, variant.sku, variant.title, variant.product_title, line.unit_price)
    return object_fragment(key, lambda: _woo_line_static(line))


def woo_line(line: OrderLineRecord) -> dict[str, Any]:
    total = money(line.unit_price * line.quantity)
    return {
        "id": int(line.line_id),
        "quantity": line.quantity,
        "subtotal": total,
        "total": total,
    } | _woo_line_static(line)


def woo_line_json(line: OrderLineRecord) -> str:
    """`woo_line` already encoded, reusing the encoded variant part."""
    total = money(line.unit_price * line.quantity)
    return (
        f'{{"id":{int(line.line_id)},"quantity":{line.quantity},"subtotal":"{total}","total":"{total}",'
        + _woo_line_static_json(line)
    )


def woo_links(site_url: str, path: str, collection: str) -> dict[str, list[dict[str, str]]]:
    base = site_url.rstrip("/") + "/wp-json/wc/v3/"
    return {"self": [{"href": base + path}], "collection": [{"href": base + collection}]}


def _woo_order_head(order: OrderState, tz: tzinfo) -> dict[str, Any]:
    created, created_gmt = woo_times(order.created_at, tz)
    modified, modified_gmt = woo_times(order.updated_at, tz)
    total = money(sum((line.unit_price * line.quantity for line in order.lines), ZERO))
    address = {"first_name": "", "last_name": "", "company": "", "address_1": "", "address_2": "", "city": ""}
    address |= {"state": "", "postcode": "", "country": ""}
    return {
        "id": int(order.order_id),
        "parent_id": 0,
        "number": order.order_id,
        "order_key": "wc_order_" + hashlib.sha1(order.order_id.encode()).hexdigest()[:13],
        "created_via": "checkout",
        "version": "9.0.0",
        "status": "refunded" if order.refunds and order.all_units_refunded() else "processing",
        "currency": order.currency,
        "date_created": created,
        "date_created_gmt": created_gmt,
        "date_modified": modified,
        "date_modified_gmt": modified_gmt,
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": total,
        "total_tax": "0.00",
        "prices_include_tax": False,
        "customer_id": 0,
        "customer_ip_address": "",
        "customer_user_agent": "",
        "customer_note": "",
        "billing": address | {"email": "", "phone": ""},
        "shipping": address,
        "payment_method": "bacs",
        "payment_method_title": "Direct Bank Transfer",
        "transaction_id": "",
        "date_paid": created,
        "date_paid_gmt": created_gmt,
        "date_completed": None,
        "date_completed_gmt": None,
        "cart_hash": "",
        "meta_data": [],
        "tax_lines": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [
            {"id": int(refund.refund_id), "reason": "", "total": "-" + money(refund_amount(order, refund))}
            # Newest first, as WooCommerce lists an order's refunds.
            for refund in reversed(order.refunds)
        ],
    }


def woo_order(order: OrderState, tz: tzinfo, site_url: str = "", links: bool = False) -> dict[str, Any]:
    """The full order: line quantities as ordered (WooCommerce keeps them), refunds listed by id and total."""
    payload = _woo_order_head(order, tz) | {"line_items": [woo_line(line) for line in order.lines]}
    if links:
        payload["_links"] = woo_links(site_url, f"orders/{order.order_id}", "orders")
    return payload


def woo_order_json(order: OrderState, tz: tzinfo) -> bytes:
    """`woo_order` (without links, as webhooks send it) encoded, with the lines spliced in from `woo_line_json`."""
    lines = ",".join(woo_line_json(line) for line in order.lines)
    return f'{encode_text(_woo_order_head(order, tz))[:-1]},"line_items":[{lines}]}}'.encode("ascii")


def woo_refund(order: OrderState, refund: RefundRecord, tz: tzinfo, site_url: str = "") -> dict[str, Any]:
    """An order refund as `GET /wp-json/wc/v3/orders/<id>/refunds` lists it: refunded quantities and totals are
    negative, and each line names the order line it refunds in its `_refunded_item_id` meta."""
    created, created_gmt = woo_times(refund.created_at, tz)
    lines = []
    for refund_line_id, refund_line in zip(refund_line_ids(refund), refund.lines, strict=True):
        line = order.line_index.get(refund_line.line_id)
        if line is None:
            continue
        amount = money(line.unit_price * refund_line.quantity)
        lines.append(
            {
                "id": refund_line_id,
                "name": line.variant.product_title or line.variant.title,
                "product_id": int(line.variant.variant_id),
                "variation_id": 0,
                "quantity": -refund_line.quantity,
                "tax_class": "",
                "subtotal": "-" + amount,
                "subtotal_tax": "0.00",
                "total": "-" + amount,
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [{"id": refund_line_id, "key": "_refunded_item_id", "value": refund_line.line_id}],
                "sku": line.variant.sku,
                "price": woo_number(line.unit_price),
            }
        )
    path = f"orders/{order.order_id}/refunds"
    return {
        "id": int(refund.refund_id),
        "date_created": created,
        "date_created_gmt": created_gmt,
        "amount": money(refund_amount(order, refund)),
        "reason": "",
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": lines,
        "_links": woo_links(site_url, f"{path}/{refund.refund_id}", path)
        | {"up": [{"href": site_url.rstrip("/") + f"/wp-json/wc/v3/orders/{order.order_id}"}]},
    }
