"""Backfill and reconciliation: read the store's API page by page and apply what it says, resumably.

Webhook delivery is not guaranteed (Shopify tells apps to reconcile), so a beat task re-reads every store's stock
levels and its recently changed orders and fixes what differs; the same machinery imports a newly connected store.

Each page is fetched outside any transaction and applied in one transaction together with the run's cursor, so a
run killed at any point resumes at the first page it had not committed, and a page is never applied twice. Records
go through the same code as webhooks (`sync.apply_records`), so the newest state wins whatever arrives first.

- WooCommerce (REST v3): products (with each variable product's variations) page by page — their stock levels
  included — then orders by id (`modified_after` the last reconciliation, with an overlap, for a reconciliation),
  with their refunds.
- Shopify (GraphQL Admin API): locations; products with their variants through a bulk operation (JSONL); orders
  with their refunds (cursor pagination sorted by id: all of them for a backfill, those updated since the last
  reconciliation otherwise); then the stock levels of every location (`location.inventoryLevels`).
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.errors import StoreAPIError
from integrations.records import InventoryLevelRecord, OrderRecord, ProductRecord
from integrations.shopify import graphql
from integrations.shopify.client import ShopifyThrottled
from integrations.webhooks import PayloadError
from integrations.woocommerce.normalize import normalize_payload
from inventory_ai.choices import Platform
from inventory_ai.models import InventoryLevel, Location, Order, Store, SyncRun, Variant
from inventory_ai.services import store_clients
from inventory_ai.services.sync import NotReadyYet, apply_records
from inventory_ai.services.webhooks import fetch_remote

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
LEVEL_PAGE_SIZE = 250
SHOPIFY_ORDER_PAGE = 50
BULK_PRODUCTS_PER_PAGE = 1000
BULK_POLL_SECONDS = 2.0
MAX_CORRECTIONS = 500
MAX_PAGE_FAILURES = 20
# A reconciliation re-reads orders changed since the previous one started, minus this overlap (clocks differ, and an
# order changed while the previous run paged through the list may have been skipped).
OVERLAP = timedelta(minutes=30)
FIRST_RECONCILE_WINDOW = timedelta(days=3)
DONE = "done"


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun) -> None:
        super().__init__(f"{run.get_kind_display()} #{run.pk} of {run.store} is already {run.status}")
        self.run = run


class RetryLater(Exception):
    """A page failed transiently; the task retries after `countdown` seconds and resumes at that page."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


def phases(store: Store, kind: str) -> list[str]:
    if store.platform == Platform.WOOCOMMERCE:
        return ["products", "orders"]
    # The catalogue is re-read on every reconciliation too (a bulk operation): a missed products/update webhook would
    # otherwise leave a variant without its inventory item, and its stock unread.
    return ["locations", "products", "orders", "levels"]


def start_sync(store: Store, kind: str, trigger: str = "admin") -> SyncRun:
    """Queue a backfill or a reconciliation of the store (one of each kind at a time)."""
    since = None
    if kind == SyncRun.Kind.RECONCILE:
        previous = (
            SyncRun.objects.filter(store=store, kind=kind, status=SyncRun.Status.SUCCEEDED)
            .order_by("-started_at")
            .first()
        )
        since = (previous.started_at - OVERLAP) if previous else timezone.now() - FIRST_RECONCILE_WINDOW
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(store=store, kind=kind, since=since, trigger=trigger)
            transaction.on_commit(lambda: _enqueue(run.pk))
    except IntegrityError:
        active = SyncRun.objects.filter(
            store=store, kind=kind, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).first()
        if active is None:
            raise
        raise SyncAlreadyRunning(active) from None
    return run


def _enqueue(run_id: int) -> None:
    from inventory_ai import tasks

    tasks.sync_store_task.delay(run_id)


def reconcile_active_stores() -> list[int]:
    """Beat: queue a reconciliation of every active store that has none running."""
    queued = []
    for store in Store.objects.filter(active=True):
        try:
            queued.append(start_sync(store, SyncRun.Kind.RECONCILE, trigger="schedule").pk)
        except SyncAlreadyRunning:
            continue
    return queued


def run_sync(run_id: int) -> str:
    """Run (or resume) a sync run to its end; returns its status. Raises RetryLater on a transient failure."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().select_related("store").filter(pk=run_id).first()
        if run is None or run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
            return run.status if run else "missing"
        run.status = SyncRun.Status.RUNNING
        run.attempts += 1
        run.started_at = run.started_at or timezone.now()
        run.save(update_fields=["status", "attempts", "started_at", "updated_at"])
    store = run.store
    for phase in phases(store, run.kind):
        while run.cursor.get(phase) != DONE:
            position = run.cursor.get(phase)
            try:
                records, next_position = FETCHERS[(store.platform, phase)](store, run, position)
            except StoreAPIError as exc:
                return _page_failed(run, exc)
            with transaction.atomic():
                current = SyncRun.objects.select_for_update().get(pk=run_id)
                if current.status != SyncRun.Status.RUNNING or current.cursor.get(phase) != position:
                    # Another delivery of this task moved on meanwhile: follow it, apply nothing twice.
                    run = current
                    if current.status != SyncRun.Status.RUNNING:
                        return current.status
                    continue
                _apply_page(store, current, records)
                current.phase = phase
                current.cursor = {**current.cursor, phase: next_position if next_position is not None else DONE}
                current.pages += 1
                current.counts["page_failures"] = 0
                current.save()
                run = current
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run_id)
        run.status, run.phase, run.finished_at = SyncRun.Status.SUCCEEDED, DONE, timezone.now()
        run.save()
    corrected = run.counts.get("levels_corrected", 0) + run.counts.get("orders_corrected", 0)
    if run.kind == SyncRun.Kind.RECONCILE and corrected:
        logger.warning("reconciliation #%s of %s corrected %s record(s)", run.pk, store, corrected)
    return run.status


def _page_failed(run: SyncRun, exc: StoreAPIError) -> str:
    with transaction.atomic():
        current = SyncRun.objects.select_for_update().get(pk=run.pk)
        failures = current.counts.get("page_failures", 0) + (0 if _throttled(exc) else 1)
        current.counts = {**current.counts, "page_failures": failures}
        current.error = str(exc)[:2000]
        if not exc.transient or failures >= MAX_PAGE_FAILURES:
            current.status, current.finished_at = SyncRun.Status.FAILED, timezone.now()
            current.save()
            return current.status
        current.save()
    countdown = (
        exc.retry_after if isinstance(exc, ShopifyThrottled) else random.uniform(0.5, 1.0) * min(2**failures, 300)
    )
    raise RetryLater(str(exc), countdown)


def _throttled(exc: StoreAPIError) -> bool:
    return isinstance(exc, ShopifyThrottled) or exc.status == 429


# --- Fetching pages (outside transactions) ---------------------------------------------------------------------------


def _woo_products(store: Store, run: SyncRun, position: Any) -> tuple[list[Any], Any]:
    client = store_clients.woocommerce_client(store)
    page = int(position or 1)
    products, total_pages = client.page("products", page, PAGE_SIZE, orderby="id", order="asc")
    records: list[Any] = []
    for product in products:
        records.extend(_normalized("product.updated", product))
        if product.get("type") == "variable":
            variation_page, variation_pages = 1, 1
            while variation_page <= variation_pages:
                variations, variation_pages = client.page(
                    f"products/{product.get('id')}/variations", variation_page, PAGE_SIZE
                )
                for variation in variations:
                    records.extend(_normalized("product.updated", {**variation, "parent_id": product.get("id")}))
                variation_page += 1
    return records, (page + 1 if page < total_pages else None)


def _woo_orders(store: Store, run: SyncRun, position: Any) -> tuple[list[Any], Any]:
    client = store_clients.woocommerce_client(store)
    page = int(position or 1)
    params: dict[str, Any] = {"orderby": "id", "order": "asc"}
    if run.since is not None:
        params["modified_after"] = run.since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    orders, total_pages = client.page("orders", page, PAGE_SIZE, **params)
    records: list[Any] = []
    for order in orders:
        records.extend(_normalized("order.updated", order))
    # Refunds are read now, outside the transaction that applies the page.
    return fetch_remote(store, records), (page + 1 if page < total_pages else None)


def _shopify_levels(store: Store, run: SyncRun, position: Any) -> tuple[list[Any], Any]:
    locations = list(
        Location.objects.filter(store=store, active=True).order_by("pk").values_list("platform_id", flat=True)
    )
    position = position or {"location": 0, "cursor": None}
    index = int(position["location"])
    if index >= len(locations):
        return [], None
    records, cursor = store_clients.shopify_client(store).location_levels(
        locations[index], position.get("cursor"), first=LEVEL_PAGE_SIZE
    )
    if cursor is not None:
        return records, {"location": index, "cursor": cursor}
    return records, ({"location": index + 1, "cursor": None} if index + 1 < len(locations) else None)


def _shopify_locations(store: Store, run: SyncRun, position: Any) -> tuple[list[Any], Any]:
    return store_clients.shopify_client(store).locations_page(position)


def _shopify_products(store: Store, run: SyncRun, position: Any) -> tuple[list[Any], Any]:
    """The catalogue through a bulk operation: start it (its id is saved), poll until it completes, then apply its
    JSONL a thousand products per page (a resumed run re-reads the file from the saved line)."""
    client = store_clients.shopify_client(store)
    if not position:
        return [], {"bulk": client.start_bulk_query(graphql.BULK_PRODUCTS)}
    if "url" not in position:
        operation = client.bulk_operation(position["bulk"])
        if operation.get("status") in ("CREATED", "RUNNING"):
            raise RetryLater(f"bulk operation {position['bulk']} is {operation.get('status')}", BULK_POLL_SECONDS)
        if operation.get("status") != "COMPLETED" or not operation.get("url"):
            raise StoreAPIError(
                f"bulk operation {position['bulk']} ended {operation.get('status')}: {operation.get('errorCode')}",
                transient=False,
            )
        return [], {**position, "url": operation["url"], "line": 0}
    lines = client.bulk_lines(position["url"])
    start = int(position["line"])
    roots = [index for index in range(start, len(lines)) if "__parentId" not in lines[index]]
    end = roots[BULK_PRODUCTS_PER_PAGE] if len(roots) > BULK_PRODUCTS_PER_PAGE else len(lines)
    records = graphql.products_from_jsonl(lines[start:end])
    return records, ({**position, "line": end} if end < len(lines) else None)


def _shopify_orders(store: Store, run: SyncRun, position: Any) -> tuple[list[Any], Any]:
    # Orders with their refunds, 50 a page (each carries its line items: Shopify's query cost grows with them).
    return store_clients.shopify_client(store).orders_page(position, run.since, first=SHOPIFY_ORDER_PAGE)


FETCHERS = {
    (Platform.WOOCOMMERCE, "products"): _woo_products,
    (Platform.WOOCOMMERCE, "orders"): _woo_orders,
    (Platform.SHOPIFY, "locations"): _shopify_locations,
    (Platform.SHOPIFY, "products"): _shopify_products,
    (Platform.SHOPIFY, "orders"): _shopify_orders,
    (Platform.SHOPIFY, "levels"): _shopify_levels,
}


def _normalized(topic: str, payload: Any) -> list[Any]:
    try:
        return normalize_payload(topic, payload)
    except PayloadError as exc:
        logger.warning("skipping a record the store API answered: %s", exc)
        return []


# --- Applying a page (inside the run's transaction) ------------------------------------------------------------------


def _apply_page(store: Store, run: SyncRun, records: list[Any]) -> None:
    counts = run.counts
    for record in records:
        if isinstance(record, InventoryLevelRecord):
            _apply_level(store, run, record)
            continue
        if isinstance(record, OrderRecord):
            known = Order.objects.filter(store=store, platform_id=record.order_id).values("platform_updated_at").first()
            if known is None or known["platform_updated_at"] < record.updated_at:
                # New to us or newer than our copy: a reconciliation found a missed webhook.
                name = "orders_corrected" if run.kind == SyncRun.Kind.RECONCILE else "orders_imported"
                counts[name] = counts.get(name, 0) + 1
            counts["orders_read"] = counts.get("orders_read", 0) + 1
        elif isinstance(record, ProductRecord):
            counts["products_read"] = counts.get("products_read", 0) + 1
        try:
            with transaction.atomic():
                apply_records(store, [record])
        except NotReadyYet as exc:
            counts["skipped"] = counts.get("skipped", 0) + 1
            logger.info("sync run %s skipped a record: %s", run.pk, exc)


def _apply_level(store: Store, run: SyncRun, record: InventoryLevelRecord) -> None:
    counts = run.counts
    counts["levels_checked"] = counts.get("levels_checked", 0) + 1
    variants = Variant.objects.filter(store=store)
    variant = (
        variants.filter(inventory_item_id=record.inventory_item_id).first()
        if record.inventory_item_id
        else variants.filter(platform_id=record.variant_id).first()
    )
    if variant is None:
        counts["levels_unknown_item"] = counts.get("levels_unknown_item", 0) + 1
        return
    levels = InventoryLevel.objects.filter(variant=variant)
    if record.location_id:
        levels = levels.filter(location__platform_id=record.location_id)
    ours = levels.values_list("available", flat=True).first()
    with transaction.atomic():
        apply_records(store, [record])
    now = levels.values_list("available", flat=True).first()
    if ours != now:
        counts["levels_corrected"] = counts.get("levels_corrected", 0) + 1
        if len(run.corrections) < MAX_CORRECTIONS:
            run.corrections.append(
                {
                    "sku": variant.sku or variant.platform_id,
                    "location": record.location_id,
                    "ours": ours,
                    "store": record.available,
                    "store_updated_at": record.updated_at.isoformat(),
                }
            )


def requeue_stalled_syncs(older_than: timedelta = timedelta(minutes=30)) -> int:
    """Beat: a run that has not moved for this long lost its task (broker down, expired retry): re-enqueue it; it
    resumes from its cursor."""
    cutoff = timezone.now() - older_than
    stalled = list(
        SyncRun.objects.filter(
            status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING], updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for run_id in stalled:
        _enqueue(run_id)
    return len(stalled)
