"""Creating and updating stores and their locations."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from inventory_ai.choices import Platform
from inventory_ai.gateways import default_api_version
from inventory_ai.models import Location, Store
from inventory_ai.models.stores import normalize_store_domain

PRIMARY_LOCATION_PLATFORM_ID = "primary"


def find_store(name: str) -> Store:
    """The store named by its shop domain or site URL, in any spelling the user may type."""
    candidates = {name.strip()}
    for platform in Platform.values:
        try:
            candidates.add(normalize_store_domain(platform, name))
        except ValueError:
            continue
    store = Store.objects.filter(domain__in=candidates).first()
    if store is None:
        raise Store.DoesNotExist(f"No store named {name!r}; add it with `manage.py add_store`.")
    return store


def upsert_store(
    platform: str,
    domain: str,
    *,
    webhook_secret: str | None = None,
    credentials: dict[str, str] | None = None,
    **fields: Any,
) -> tuple[Store, bool]:
    """Create the store or update the given fields of an existing one. Returns (store, created).

    A new webhook secret goes to the front of the secret list; older ones are kept so that deliveries signed with
    them still verify during a rotation. Credentials are merged key by key.
    """
    if platform not in Platform.values:
        raise ValueError(f"Unknown platform {platform!r}; expected one of {', '.join(Platform.values)}")
    domain = normalize_store_domain(platform, domain)
    with transaction.atomic():
        store = Store.objects.select_for_update().filter(domain=domain).first()
        created = store is None
        if created:
            store = Store(platform=platform, domain=domain, api_version=default_api_version(platform))
        elif store.platform != platform:
            raise ValueError(f"{domain} is already connected as a {store.get_platform_display()} store")
        previous_timezone = store.timezone
        for name, value in fields.items():
            if value is not None:
                setattr(store, name, value)
        if webhook_secret:
            store.webhook_secrets = [webhook_secret] + [s for s in store.webhook_secrets if s != webhook_secret]
        if credentials:
            store.credentials = {**store.credentials, **{k: v for k, v in credentials.items() if v}}
            store.connection_error = ""  # new credentials: the next call says whether they work
        store.full_clean()
        store.save()
        if not created and store.timezone != previous_timezone:
            store_timezone_changed(store)
    return store, created


def store_timezone_changed(store: Store) -> None:
    """Demand is kept per local day: a new time zone moves orders to other days, so the series is rebuilt."""
    from inventory_ai.services.demand import rebuild_demand

    rebuild_demand(store)


def primary_location(store: Store) -> Location:
    """The store's primary location, created when the store has none yet (WooCommerce has a single implicit one)."""
    location = Location.objects.filter(store=store, is_primary=True).first()
    if location is not None:
        return location
    try:
        with transaction.atomic():
            return Location.objects.create(
                store=store, platform_id=PRIMARY_LOCATION_PLATFORM_ID, name="Primary location", is_primary=True
            )
    except IntegrityError:
        # Another process created it first.
        return Location.objects.get(store=store, is_primary=True)
