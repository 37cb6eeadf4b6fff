"""Applying what a store reports (webhooks, and later API backfill) to our catalogue, stock and orders.

`apply_records` takes the records a platform normaliser produced from one payload and applies them in the caller's
transaction. Records that cannot be applied yet (a refund or a stock level for something we have not seen) raise
`NotReadyYet`, so that the event is retried later instead of being dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations import records as r
from inventory_ai import dispatch
from inventory_ai.choices import OrderSource
from inventory_ai.models import (
    DailyDemand,
    InventoryLevel,
    Location,
    Order,
    Product,
    Store,
    Variant,
    WebhookEvent,
)
from inventory_ai.services import discounts, drivers
from inventory_ai.services.catalog import CatalogCache
from inventory_ai.services.inventory import apply_inventory_level
from inventory_ai.services.orders import apply_order_edit, apply_order_records, apply_refund_records, delete_order

logger = logging.getLogger(__name__)

# Fields of an order payload that identify a person; scrubbed from stored bodies on a customers/redact request.
PERSONAL_FIELDS = frozenset(
    {
        "customer",
        "email",
        "contact_email",
        "phone",
        "billing_address",
        "shipping_address",
        "billing",
        "shipping",
        "browser_ip",
        "client_details",
        "customer_ip_address",
        "customer_user_agent",
        "note",
        "customer_note",
    }
)


PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


class NotReadyYet(Exception):
    """The records refer to something not known yet; retry the event later."""


def apply_records(store: Store, items: Iterable[Any], catalog: CatalogCache | None = None) -> list[str]:
    """Apply normalised records; returns notes worth keeping on the event (empty when all went as expected).
    `catalog`: the store's keys already looked up (a sync page shares one across its records)."""
    items = list(items)
    notes: list[str] = []
    catalog = catalog or CatalogCache(store, placeholders=True)
    orders = [item for item in items if isinstance(item, r.OrderRecord)]
    if orders:
        apply_order_records(store, orders, source=OrderSource.WEBHOOK, catalog=catalog)
    refunds = [item for item in items if isinstance(item, r.RefundRecord)]
    if refunds:
        result = apply_refund_records(store, refunds)
        if result.missing_orders:
            raise NotReadyYet("; ".join(result.problems))
        notes.extend(result.notes)
    for item in items:
        if isinstance(item, r.OrderRecord | r.RefundRecord | r.RefundsToFetch):
            continue
        handler = HANDLERS.get(type(item))
        if handler is None:
            raise TypeError(f"No handler for {type(item).__name__}")
        note = handler(store, item, catalog)
        if note:
            notes.append(note)
    return notes


def _order_deleted(store: Store, item: r.OrderDeleted, catalog: CatalogCache) -> str:
    return "" if delete_order(store, item.order_id) else f"order {item.order_id} was not known"


def _order_edit(store: Store, item: r.OrderEditRemovals, catalog: CatalogCache) -> str:
    return apply_order_edit(store, item)


def _product(store: Store, item: r.ProductRecord, catalog: CatalogCache) -> str:
    product, _ = Product.objects.select_for_update().get_or_create(store=store, platform_id=item.product_id)
    applied = False
    if item.describes_product and (
        item.updated_at is None or product.platform_updated_at is None or item.updated_at >= product.platform_updated_at
    ):
        if item.title:
            product.title = item.title
        product.vendor = item.vendor or product.vendor
        product.product_type = item.product_type or product.product_type
        product.status = item.status or product.status
        product.platform_updated_at = item.updated_at or product.platform_updated_at
        product.deleted_at = None
        product.save()
        applied = True
    seen = []
    for record in item.variants:
        seen.append(record.variant_id)
        variant = Variant.objects.select_for_update().filter(store=store, platform_id=record.variant_id).first()
        if variant is None:
            variant = Variant(store=store, product=product, platform_id=record.variant_id)
        elif record.updated_at and variant.platform_updated_at and record.updated_at < variant.platform_updated_at:
            continue  # an older snapshot of this variant
        variant.product = product
        variant.sku = record.sku
        variant.title = record.title or variant.title
        variant.price = record.price if record.price is not None else variant.price
        variant.inventory_item_id = record.inventory_item_id or variant.inventory_item_id
        variant.platform_updated_at = record.updated_at or variant.platform_updated_at
        variant.is_placeholder = False
        variant.deleted_at = None
        variant.save()
        when = record.updated_at or item.updated_at or timezone.now()
        drivers.record_price(variant, record.price, record.compare_at_price, when)
        if record.price is not None and record.compare_at_price is not None:
            drivers.record_sale_event(
                variant, record.price, record.compare_at_price, record.sale_starts, record.sale_ends
            )
    # Only the newest full snapshot of a product may say that a variant is gone.
    if applied and item.complete_variant_list:
        Variant.objects.filter(product=product, deleted_at__isnull=True).exclude(platform_id__in=seen).update(
            deleted_at=timezone.now()
        )
    return ""


def _product_deleted(store: Store, item: r.ProductDeleted, catalog: CatalogCache) -> str:
    now = timezone.now()
    products = Product.objects.filter(store=store, platform_id=item.product_id)
    if products.exists():
        products.update(deleted_at=now)
        Variant.objects.filter(product__in=products).update(deleted_at=now)
        return ""
    # WooCommerce deletes a variation with product.deleted and the variation's own id.
    if Variant.objects.filter(store=store, platform_id=item.product_id).update(deleted_at=now):
        return ""
    return f"product {item.product_id} was not known"


def _variant_for_level(store: Store, item: r.InventoryLevelRecord | r.InventoryLevelDisconnected) -> Variant | None:
    if getattr(item, "variant_id", ""):
        return Variant.objects.filter(store=store, platform_id=item.variant_id).first()
    return Variant.objects.filter(store=store, inventory_item_id=item.inventory_item_id).first()


def _location_pk(store: Store, platform_location_id: str, catalog: CatalogCache) -> int:
    if not platform_location_id:
        return catalog.primary_location_pk()
    location, _ = Location.objects.get_or_create(
        store=store, platform_id=platform_location_id, defaults={"name": f"Location {platform_location_id}"}
    )
    return location.pk


def _inventory_level(store: Store, item: r.InventoryLevelRecord, catalog: CatalogCache) -> str:
    variant = _variant_for_level(store, item)
    if variant is None:
        raise NotReadyYet(f"stock level for unknown inventory item {item.inventory_item_id or item.variant_id}")
    location_pk = _location_pk(store, item.location_id, catalog)
    applied = apply_inventory_level(store, variant.pk, location_pk, item.available, item.updated_at)
    if item.incoming is not None:  # read with the level (a reconciliation), not sent by webhooks
        InventoryLevel.objects.filter(variant=variant, location_id=location_pk).exclude(incoming=item.incoming).update(
            incoming=item.incoming
        )
    if applied:  # the stock moved: so may the variant's restock suggestion
        transaction.on_commit(lambda: _recompute_suggestion(store.pk, variant.pk))
    return "" if applied else "an older stock level than the one stored: not applied"


def _recompute_suggestion(store_id: int, variant_id: int) -> None:
    # with the broker down it is not sent (and logged): the next retrain recomputes every suggestion anyway
    dispatch.try_send("recompute_suggestions_task", store_id, None, [variant_id])


def _inventory_disconnected(store: Store, item: r.InventoryLevelDisconnected, catalog: CatalogCache) -> str:
    variant = _variant_for_level(store, item)
    if variant is not None:
        InventoryLevel.objects.filter(variant=variant, location__platform_id=item.location_id).delete()
    return ""


def _inventory_item(store: Store, item: r.InventoryItemRecord, catalog: CatalogCache) -> str:
    variants = Variant.objects.filter(store=store, inventory_item_id=item.inventory_item_id)
    changes: dict[str, Any] = {}
    if item.sku is not None:
        changes["sku"] = item.sku
    if item.cost is not None:
        changes["unit_cost"] = item.cost
    if changes and not variants.update(**changes):
        return f"inventory item {item.inventory_item_id} was not known"
    return ""


def _inventory_item_deleted(store: Store, item: r.InventoryItemDeleted, catalog: CatalogCache) -> str:
    Variant.objects.filter(store=store, inventory_item_id=item.inventory_item_id).update(deleted_at=timezone.now())
    return ""


def _location(store: Store, item: r.LocationRecord, catalog: CatalogCache) -> str:
    location, created = Location.objects.select_for_update().get_or_create(
        store=store, platform_id=item.location_id, defaults={"name": item.name, "active": item.active}
    )
    newer = item.updated_at is None or location.platform_updated_at is None
    if created or newer or item.updated_at >= location.platform_updated_at:
        location.name, location.active = item.name or location.name, item.active
        location.platform_updated_at = item.updated_at or location.platform_updated_at
        location.save()
    return ""


def _location_deleted(store: Store, item: r.LocationDeleted, catalog: CatalogCache) -> str:
    # Orders keep pointing at the location, so it is deactivated rather than deleted.
    Location.objects.filter(store=store, platform_id=item.location_id).update(active=False)
    return ""


def _app_uninstalled(store: Store, item: r.AppUninstalled, catalog: CatalogCache) -> str:
    # The token died with the install: it is dropped, and an inactive store is neither reconciled nor retrained.
    # Its data stays until the shop's redaction request (shop/redact) arrives, as Shopify sends it 48 hours later.
    locked = Store.objects.select_for_update().get(pk=store.pk)
    locked.active, locked.credentials, locked.webhook_subscriptions = False, {}, {}
    locked.save(update_fields=["active", "credentials", "webhook_subscriptions", "updated_at"])
    return "the app was uninstalled: store deactivated and its token dropped"


def _privacy(store: Store, item: r.PrivacyRequest, catalog: CatalogCache) -> str:
    if item.kind == "shop_redact":
        erase_store_data(store)
        return "shop/redact: the store's data was erased"
    if item.kind == "customers_redact":
        scrubbed = scrub_personal_data(store, item.order_ids, item.customer_id)
        return f"customers/redact: personal fields removed from {scrubbed} stored webhook bodies"
    # We keep no customer records; the only personal data are raw order bodies in the inbox, listed in the log.
    logger.info("customers/data_request for store %s, orders %s", store.domain, ", ".join(item.order_ids))
    return f"customers/data_request: no customer records are kept (orders named: {len(item.order_ids)})"


def scrub_personal_data(store: Store, order_ids: Iterable[str], customer_id: str = "") -> int:
    """Remove personal fields from every stored body about the given orders or customer, whatever its status."""
    count = 0
    about = Q(resource_id__in=list(order_ids))
    if customer_id:
        about |= Q(topic__startswith="customers/", resource_id=customer_id)
    events = WebhookEvent.objects.select_for_update().filter(about, store=store).exclude(topic__in=PRIVACY_TOPICS)
    for event in events:
        try:
            payload = json.loads(bytes(event.body))
        except ValueError:
            continue
        if isinstance(payload, dict):
            for name in PERSONAL_FIELDS & payload.keys():
                payload[name] = None
            event.body = json.dumps(payload).encode()
            event.save(update_fields=["body"])
            count += 1
    return count


def erase_store_data(store: Store) -> None:
    """Delete everything we hold about a store except the store row itself, now inactive and without secrets."""
    with transaction.atomic():
        DailyDemand.objects.filter(variant__store=store).delete()
        InventoryLevel.objects.filter(variant__store=store).delete()
        Order.objects.filter(store=store).delete()
        Variant.objects.filter(store=store).delete()
        Product.objects.filter(store=store).delete()
        Location.objects.filter(store=store).delete()
        WebhookEvent.objects.filter(store=store).exclude(topic="shop/redact").delete()
        Store.objects.filter(pk=store.pk).update(active=False)
        store.refresh_from_db()
        store.credentials, store.webhook_secrets = {}, []
        store.save(update_fields=["credentials", "webhook_secrets"])


def _discount(store: Store, item: r.DiscountRecord, catalog: CatalogCache) -> str:
    return discounts.record_discount(store, item)


def _discount_deleted(store: Store, item: r.DiscountDeleted, catalog: CatalogCache) -> str:
    return discounts.discount_deleted(store, item.discount_id)


HANDLERS = {
    r.OrderDeleted: _order_deleted,
    r.OrderEditRemovals: _order_edit,
    r.ProductRecord: _product,
    r.ProductDeleted: _product_deleted,
    r.InventoryLevelRecord: _inventory_level,
    r.InventoryLevelDisconnected: _inventory_disconnected,
    r.InventoryItemRecord: _inventory_item,
    r.InventoryItemDeleted: _inventory_item_deleted,
    r.LocationRecord: _location,
    r.LocationDeleted: _location_deleted,
    r.DiscountRecord: _discount,
    r.DiscountDeleted: _discount_deleted,
    r.AppUninstalled: _app_uninstalled,
    r.PrivacyRequest: _privacy,
}
