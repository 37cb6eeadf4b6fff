"""A store's own discounts as demand events: Shopify automatic and code discounts, read in backfill and
reconciliation and kept in step by the `discounts/*` webhooks.

One event per discount (`source` = Shopify discount, `external_id` = its id), a promotion over the store-local days
from its start to its end:

- its SKUs are those it names (products, variants, collections' products) that the catalogue knows; a discount on
  all items, free shipping or an app's discount moves the whole store;
- a discount without an end runs until the merchant ends it: its event reaches `OPEN_ENDED` past today and is moved
  on by every reconciliation, so the forecast treats it as running through the horizon;
- a private code (some customers only, or usable once) is no promotion of the store: no event, and an event made
  before the code became private is removed;
- a deleted discount keeps the part of its event that already happened (it explains the history), and loses the rest.

A change that reaches today or later asks for a refresh of the store's forecasts, as a planner's event does.
"""

from __future__ import annotations

from datetime import timedelta

from integrations.records import DiscountRecord
from inventory_ai import dispatch
from inventory_ai.choices import DriverSource, EventKind, EventScope, RunKind
from inventory_ai.models import DemandEvent, Product, Store, Variant
from inventory_ai.services import drivers

OPEN_ENDED = timedelta(days=365)
REMOVED_BY = "the store (Shopify discount)"
_METHOD_NAMES = {"basic": "", "bxgy": "buy X get Y", "free_shipping": "free shipping", "app": "app discount"}


def record_discount(store: Store, record: DiscountRecord) -> str:
    """Create, update or remove the event of one discount; returns a note when the discount makes no event."""
    events = DemandEvent.objects.filter(store=store, source=DriverSource.SHOPIFY_DISCOUNT)
    existing = events.filter(external_id=record.discount_id).first()
    if not record.for_everyone:
        _remove(existing)
        return f"discount {record.discount_id} is a private code: not a promotion"
    products, variants = _scope(store, record)
    if not record.all_items and not products and not variants:
        _remove(existing)
        return f"discount {record.discount_id} names no product or variant this store knows"
    today = store.local_today()
    starts_on = record.starts_at.astimezone(store.tzinfo).date()
    ends_on = (
        record.ends_at.astimezone(store.tzinfo).date()
        if record.ends_at is not None
        else max(starts_on, today) + OPEN_ENDED
    )
    ends_on = max(ends_on, starts_on)  # Shopify allows an end at the very start: a discount of no time
    scope = EventScope.STORE if record.all_items else (EventScope.VARIANTS if variants else EventScope.PRODUCTS)
    if scope == EventScope.VARIANTS:
        variants = variants | set(Variant.objects.filter(product__in=products).values_list("pk", flat=True))
        products = set()
    method = _METHOD_NAMES.get(record.method, record.method)
    label = "code" if record.code else "automatic discount"
    fields = {
        "name": f"{record.title or record.discount_id} (Shopify {label}{', ' + method if method else ''})"[:255],
        "kind": EventKind.PROMOTION,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "scope": scope,
        "discount_percent": record.percent_off,
    }
    before = _state(existing) if existing else None
    event, _ = DemandEvent.objects.update_or_create(
        store=store, source=DriverSource.SHOPIFY_DISCOUNT, external_id=record.discount_id, defaults=fields
    )
    event.products.set(sorted(products) if scope == EventScope.PRODUCTS else [])
    event.variants.set(sorted(variants) if scope == EventScope.VARIANTS else [])
    after = _state(event)
    if before != after and (after["ends_on"] >= today or (before and before["ends_on"] >= today)):
        _refresh(store)
    return ""


def discount_deleted(store: Store, discount_id: str) -> str:
    """The store deleted a discount: keep what already happened of its event, drop the rest."""
    event = DemandEvent.objects.filter(
        store=store, source=DriverSource.SHOPIFY_DISCOUNT, external_id=discount_id
    ).first()
    if event is None:
        return f"discount {discount_id} was not known"
    today = store.local_today()
    if event.ends_on < today:
        return ""
    if event.starts_on >= today:
        drivers.delete_event(event, user=REMOVED_BY)
    else:
        event.ends_on = today - timedelta(days=1)
        event.save(update_fields=["ends_on", "updated_at"])
        _refresh(store)
    return ""


def _scope(store: Store, record: DiscountRecord) -> tuple[set[int], set[int]]:
    """Our primary keys of the products and variants a discount names (ids the catalogue does not know are left
    out: a reconciliation reads the catalogue first, so they are products deleted since)."""
    if record.all_items:
        return set(), set()
    products = set(
        Product.objects.filter(store=store, platform_id__in=record.product_ids, deleted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    variants = set(
        Variant.objects.filter(store=store, platform_id__in=record.variant_ids, deleted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    return products, variants


def _state(event: DemandEvent) -> dict:
    return {
        "starts_on": event.starts_on,
        "ends_on": event.ends_on,
        "scope": event.scope,
        "discount": event.discount_percent,
        "products": sorted(event.products.values_list("pk", flat=True)),
        "variants": sorted(event.variants.values_list("pk", flat=True)),
    }


def _remove(event: DemandEvent | None) -> None:
    if event is not None:
        drivers.delete_event(event, user=REMOVED_BY)


def _refresh(store: Store) -> None:
    # the refresh re-forecasts the SKUs of the events edited since the current run (after this transaction commits)
    dispatch.send("retrain_store_task", store.pk, None, RunKind.REFRESH)
