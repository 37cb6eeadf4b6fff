"""WooCommerce webhook payloads (REST API v3 resource shapes) -> our records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from integrations.payloads import as_id, as_int, as_money, as_object, as_text, optional_id
from integrations.records import (
    ORDER_CANCELLED,
    ORDER_OPEN,
    InventoryLevelRecord,
    OrderDeleted,
    OrderLineRecord,
    OrderRecord,
    ProductDeleted,
    ProductRecord,
    ProductVariantRecord,
    RefundLineRecord,
    RefundRecord,
    RefundsToFetch,
    VariantRef,
)
from integrations.webhooks import PayloadError
from integrations.woocommerce.constants import NON_DEMAND_STATUSES


def gmt_time(value: Any, what: str) -> datetime | None:
    """WooCommerce `*_gmt` fields are UTC without an offset."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what} is not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"unreadable {what} {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _required_gmt(payload: dict, name: str) -> datetime:
    value = gmt_time(payload.get(name), name)
    if value is None:
        raise PayloadError(f"missing {name}")
    return value


def variant_key(product_id: Any, variation_id: Any) -> tuple[str, str]:
    """(product id, variant id): a variation is the sellable unit; a simple product is its own variant."""
    product = optional_id(product_id) if product_id not in (0, "0") else ""
    variation = optional_id(variation_id) if variation_id not in (0, "0") else ""
    return product or variation, variation or product


def order_record(payload: Any) -> OrderRecord:
    order = as_object(payload)
    status = as_text(order.get("status"), 32)
    created_at = _required_gmt(order, "date_created_gmt")
    lines = []
    for item in order.get("line_items") or []:
        item = as_object(item, "line item")
        product_id, variant_id = variant_key(item.get("product_id"), item.get("variation_id"))
        if not variant_id:
            continue  # the product was deleted from the store: nothing to attribute the units to
        quantity = max(as_int(item.get("quantity"), "line item quantity"), 0)
        price = as_money(item.get("price")) if item.get("price") not in (None, "") else None
        if price is None:
            price = (as_money(item.get("subtotal")) / quantity).quantize(as_money("0.01")) if quantity else as_money(0)
        variant = VariantRef(
            product_id=product_id,
            variant_id=variant_id,
            sku=as_text(item.get("sku")),
            title=as_text(item.get("name"), 500),
            product_title=as_text(item.get("name"), 500),
            price=price,
        )
        lines.append(OrderLineRecord(as_id(item.get("id"), "line item id"), variant, quantity, quantity, price))
    return OrderRecord(
        order_id=as_id(order.get("id"), "order id"),
        number=as_text(order.get("number"), 64),
        created_at=created_at,
        updated_at=gmt_time(order.get("date_modified_gmt"), "date_modified_gmt") or created_at,
        status=ORDER_CANCELLED if status in NON_DEMAND_STATUSES else ORDER_OPEN,
        platform_status=status,
        currency=as_text(order.get("currency"), 3),
        lines=tuple(lines),
    )


def _order_topic(payload: Any) -> list[Any]:
    record = order_record(payload)
    refund_ids = tuple(as_id(as_object(item, "refund").get("id"), "refund id") for item in payload.get("refunds") or [])
    return [record, RefundsToFetch(record.order_id, refund_ids)] if refund_ids else [record]


def refund_record(payload: Any, order_id: str) -> RefundRecord:
    """A refund from `GET orders/<id>/refunds`: its lines name the order line in `_refunded_item_id` metadata."""
    refund = as_object(payload, "refund")
    lines = []
    for item in refund.get("line_items") or []:
        item = as_object(item, "refund line item")
        original = next(
            (meta.get("value") for meta in item.get("meta_data") or [] if meta.get("key") == "_refunded_item_id"),
            None,
        )
        if original in (None, ""):
            raise PayloadError(f"refund {refund.get('id')} line {item.get('id')} has no _refunded_item_id")
        lines.append(
            RefundLineRecord(as_id(original, "_refunded_item_id"), abs(as_int(item.get("quantity"), "quantity")))
        )
    return RefundRecord(
        refund_id=as_id(refund.get("id"), "refund id"),
        order_id=order_id,
        created_at=_required_gmt(refund, "date_created_gmt"),
        lines=tuple(lines),
    )


def _product_topic(payload: Any) -> list[Any]:
    product = as_object(payload)
    product_type = as_text(product.get("type"), 32)
    parent_id = product.get("parent_id")
    is_variation = product_type == "variation" or (parent_id not in (None, 0, "0", "") and product_type != "simple")
    own_id = as_id(product.get("id"), "product id")
    updated_at = gmt_time(product.get("date_modified_gmt"), "date_modified_gmt")
    records: list[Any] = []
    variants: tuple[ProductVariantRecord, ...] = ()
    if product_type != "variable":
        price = product.get("price")
        regular = product.get("regular_price")
        on_sale = product.get("sale_price") not in (None, "")
        variants = (
            ProductVariantRecord(
                variant_id=own_id,
                sku=as_text(product.get("sku")),
                title=as_text(product.get("name") or product.get("description"), 500),
                price=as_money(price) if price not in (None, "") else None,
                updated_at=updated_at,
                # the regular price is the "was" price only while a sale price is set
                compare_at_price=as_money(regular) if on_sale and regular not in (None, "") else None,
                sale_starts=gmt_time(product.get("date_on_sale_from_gmt"), "date_on_sale_from_gmt")
                if on_sale
                else None,
                sale_ends=gmt_time(product.get("date_on_sale_to_gmt"), "date_on_sale_to_gmt") if on_sale else None,
            ),
        )
    records.append(
        ProductRecord(
            product_id=as_id(parent_id, "parent_id") if is_variation else own_id,
            title="" if is_variation else as_text(product.get("name"), 500),
            vendor="",
            product_type=product_type,
            status=as_text(product.get("status"), 32),
            updated_at=None if is_variation else updated_at,
            variants=variants,
            # Product payloads never carry their variations' details: nothing is deleted by omission.
            complete_variant_list=False,
            describes_product=not is_variation,
        )
    )
    # A stock level without its time could overwrite a newer one: it is only recorded with date_modified_gmt.
    if product.get("manage_stock") is True and product.get("stock_quantity") is not None and variants and updated_at:
        records.append(
            InventoryLevelRecord(
                available=as_int(product.get("stock_quantity"), "stock_quantity"),
                updated_at=updated_at,
                variant_id=own_id,
            )
        )
    return records


def _deleted(factory):
    return lambda payload: [factory(as_id(as_object(payload).get("id"), "id"))]


HANDLERS = {
    "order.created": _order_topic,
    "order.updated": _order_topic,
    "order.restored": _order_topic,
    "order.deleted": _deleted(OrderDeleted),
    "product.created": _product_topic,
    "product.updated": _product_topic,
    "product.restored": _product_topic,
    "product.deleted": _deleted(ProductDeleted),
}


def normalize_payload(topic: str, payload: Any) -> list[Any]:
    handler = HANDLERS.get(topic)
    return handler(payload) if handler else []
