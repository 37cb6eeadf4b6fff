"""Writes of the demand drivers: price changes as the store reports them, and demand events (promotions, markdowns,
launches...) from planners and from the platforms' own sale prices."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from inventory_ai import dispatch
from inventory_ai.choices import AuditAction, AuditSource, DriverSource, EventKind, EventScope, RunKind
from inventory_ai.models import DemandEvent, ForecastOverride, PriceChange, Product, RemovedEvent, Store, Variant
from inventory_ai.selectors.drivers import event_variants
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.services import audit

logger = logging.getLogger(__name__)


def price_flag(price: Decimal, compare_at: Decimal | None) -> str:
    """Why a price looks wrong ("" when it does not): kept as given, shown to the planner, never dropped. Kept in the
    database as it is written here (and filtered on), so not translated."""
    if price < 0:
        return "negative price"
    if price == 0:
        return "zero price"
    if compare_at is not None and compare_at < price:
        return "compare-at price below the price (a negative discount)"
    return ""


def record_price(
    variant: Variant,
    price: Decimal | None,
    compare_at: Decimal | None,
    when: datetime,
    source: str = DriverSource.PLATFORM,
) -> PriceChange | None:
    """Keep the variant's price from `when` on when it differs from the price in effect then (a snapshot that
    repeats the known price writes nothing; an older snapshot arriving late slots in at its own time)."""
    if price is None:
        return None
    current = PriceChange.objects.filter(variant=variant, effective_from__lte=when).order_by("-effective_from").first()
    if current is not None and current.price == price and current.compare_at_price == compare_at:
        return None
    change, _created = PriceChange.objects.update_or_create(
        variant=variant,
        effective_from=when,
        defaults={
            "price": price,
            "compare_at_price": compare_at,
            "currency": variant.store.currency,
            "source": source,
            "flag": price_flag(price, compare_at),
        },
    )
    return change


def record_sale_event(
    variant: Variant, price: Decimal, regular: Decimal, starts: datetime | None, ends: datetime | None
) -> DemandEvent | None:
    """A WooCommerce scheduled sale (a sale price with its dates) as an event of its variant, kept in step with the
    product: a sale without dates is a price (its change is recorded by `record_price`), not an event."""
    if starts is None or ends is None or regular <= 0 or price >= regular:
        return None
    store = variant.store
    local_start, local_end = starts.astimezone(store.tzinfo).date(), ends.astimezone(store.tzinfo).date()
    event, _created = DemandEvent.objects.update_or_create(
        store=store,
        source=DriverSource.WOOCOMMERCE_SALE,
        external_id=f"variant:{variant.platform_id}:{local_start.isoformat()}",
        defaults={
            "name": f"Sale: {variant}",
            "kind": EventKind.MARKDOWN,
            "starts_on": local_start,
            "ends_on": max(local_end, local_start),
            "scope": EventScope.VARIANTS,
            "discount_percent": ((regular - price) / regular * 100).quantize(Decimal("0.01")),
        },
    )
    event.variants.set([variant])
    return event


def validate_event(
    store: Store,
    starts_on: date,
    ends_on: date,
    scope: str,
    products: Iterable[Product] = (),
    variants: Iterable[Variant] = (),
    product_type: str = "",
    vendor: str = "",
) -> None:
    """Refuse an event that cannot mean anything, with a message per field: an end before its start, a scope with
    nothing in it, or SKUs and products of another store."""
    errors: dict[str, str] = {}
    if ends_on < starts_on:
        errors["ends_on"] = _("The event ends (%(ends)s) before it starts (%(starts)s).") % {
            "ends": ends_on,
            "starts": starts_on,
        }
    products, variants = list(products), list(variants)
    if scope == EventScope.PRODUCTS and not products:
        errors["products"] = _("An event on some products must name at least one product.")
    if scope == EventScope.VARIANTS and not variants:
        errors["variants"] = _("An event on some SKUs must name at least one SKU.")
    if scope == EventScope.PRODUCT_TYPE and not product_type.strip():
        errors["product_type"] = _("An event on a product type must name it.")
    if scope == EventScope.VENDOR and not vendor.strip():
        errors["vendor"] = _("An event on a vendor must name it.")
    foreign = [str(item) for item in [*products, *variants] if item.store_id != store.pk]
    if foreign:
        errors["scope"] = _("Not in this store: %(items)s.") % {"items": ", ".join(foreign[:5])}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_event(event: DemandEvent, products=(), variants=(), user: str = "") -> DemandEvent:
    """Create or update a planner's event after `validate_event`, then ask for a refresh of the store: the SKUs the
    event moves are re-forecast with it."""
    validate_event(
        event.store, event.starts_on, event.ends_on, event.scope, products, variants, event.product_type, event.vendor
    )
    if not event.pk:
        event.created_by = event.created_by or user
    event.save()
    event.products.set(list(products))
    event.variants.set(list(variants))
    # its SKUs are re-forecast by a refresh (which picks up the events edited since the current run)
    dispatch.send("retrain_store_task", event.store_id, None, RunKind.REFRESH)
    return event


@transaction.atomic
def delete_event(event: DemandEvent, user: str = "") -> RemovedEvent:
    """Delete an event, keeping a record of it (who, when, the SKUs it moved); when it reached today or later, ask
    for a refresh, which re-forecasts those SKUs without it."""
    removed = RemovedEvent.objects.create(
        store=event.store,
        name=event.name,
        kind=event.kind,
        source=event.source,
        external_id=event.external_id,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        variant_ids=sorted(event_variants(event).values_list("pk", flat=True)),
        removed_by=user,
    )
    store = event.store
    event.delete()
    if removed.ends_on >= store.local_today():
        dispatch.send("retrain_store_task", store.pk, None, RunKind.REFRESH)
    return removed


@transaction.atomic
def save_override(override: ForecastOverride, variants=(), user=None, source: str = AuditSource.ADMIN):
    """Create or change a planner's forecast override, audited (before and after), then recompute the suggestions
    of the current run: the policy plans from the overridden forecast."""
    variants = list(variants)
    check_override(override, variants)
    before = {} if not override.pk else _override_state(ForecastOverride.objects.get(pk=override.pk))
    override.created_by = override.created_by or (user.get_username() if user is not None else "")
    override.save()
    override.variants.set(variants)
    audit.record(
        override, AuditAction.EDIT if before else AuditAction.CREATE, user, source, before, _override_state(override)
    )
    run = current_run(override.store)
    if run is not None:
        dispatch.send("recompute_suggestions_task", override.store_id, run.pk, None)
    return override


def check_override(override: ForecastOverride, variants=()) -> None:
    """Refuse an override that cannot mean anything, with a message per field."""
    errors = {}
    if override.ends_on < override.starts_on:
        errors["ends_on"] = _("The override ends (%(ends)s) before it starts (%(starts)s).") % {
            "ends": override.ends_on,
            "starts": override.starts_on,
        }
    variants = list(variants)
    if override.scope == EventScope.VARIANTS and not variants:
        errors["variants"] = _("An override of some SKUs must name at least one SKU.")
    if override.scope == EventScope.PRODUCT_TYPE and not override.product_type.strip():
        errors["product_type"] = _("An override of a product type must name it.")
    if override.method == ForecastOverride.Method.PERCENT and override.value <= -100:
        errors["value"] = _("A change in percent must be above -100 (a forecast of zero is 0 units per period).")
    if override.method == ForecastOverride.Method.UNITS and override.value < 0:
        errors["value"] = _("Units per period cannot be negative.")
    if any(variant.store_id != override.store_id for variant in variants):
        errors["variants"] = _("Every SKU must belong to the override's store.")
    if not override.reason.strip():
        errors["reason"] = _("Say why: the reason is kept with the override and shown beside it.")
    if errors:
        raise ValidationError(errors)


def _override_state(override: ForecastOverride) -> dict:
    return {
        "scope": override.scope,
        "product_type": override.product_type,
        "variants": sorted(override.variants.values_list("pk", flat=True)) if override.pk else [],
        "starts_on": str(override.starts_on),
        "ends_on": str(override.ends_on),
        "method": override.method,
        "value": str(override.value),
        "reason": override.reason,
        "active": override.active,
    }
