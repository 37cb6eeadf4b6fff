"""Backfill and reconciliation: read the store's API page by page and apply what it says, resumably.

Webhook delivery is not guaranteed (Shopify tells apps to reconcile), so a beat task re-reads every store's stock
levels and its recently changed orders and fixes what differs; the same machinery imports a newly connected store.

Each page is fetched outside any transaction and applied in one transaction together with the run's cursor, so a
run killed at any point resumes at the first page it had not committed, and a page is never applied twice. Records
go through the same code as webhooks (`records.apply_records`), so the newest state wins whatever arrives first.

The store's gateway says which phases its platform has (`gateway.sync_phases`) and reads their pages:

- WooCommerce (REST v3): products (with each variable product's variations) page by page — their stock levels
  included — then orders by id (`modified_after` the last reconciliation, with an overlap, for a reconciliation),
  with their refunds.
- Shopify (GraphQL Admin API): locations; products with their variants through a bulk operation (JSONL); its
  discounts (automatic and code, all of them for a backfill, those updated since the last reconciliation otherwise),
  which become promotion events (`services.discounts`); orders with their lines through a bulk operation (all of
  them for a backfill, those updated since the last reconciliation otherwise); the stock levels of every location
  (`location.inventoryLevels`); then the orders' refunds with their lines.

A backfill starts the store's first retrain as soon as the phases the forecasts read are done
(`gateway.forecast_inputs_until`), not when the last phase, which only adds history, ends.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations import gateway as g
from integrations.errors import StillRunning, StoreAPIError
from integrations.records import DiscountRecord, InventoryLevelRecord, OrderRecord, ProductRecord, RefundRecord
from inventory_ai import dispatch
from inventory_ai.choices import RunKind
from inventory_ai.gateways import gateway_class, store_gateway
from inventory_ai.models import DailyDemand, InventoryLevel, Location, Order, OrderLine, Store, SyncRun, Variant
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.services import purchasing, subscriptions
from inventory_ai.services.bulk import refresh_statistics
from inventory_ai.services.catalog import CatalogCache
from inventory_ai.services.records import NotReadyYet, apply_records
from inventory_ai.services.webhooks import fetch_remote

logger = logging.getLogger(__name__)

MAX_CORRECTIONS = 500
MAX_PAGE_FAILURES = 20
# A reconciliation re-reads orders changed since the previous one started, minus this overlap (clocks differ, and an
# order changed while the previous run paged through the list may have been skipped).
OVERLAP = timedelta(minutes=30)
FIRST_RECONCILE_WINDOW = timedelta(days=3)
DONE = "done"
AWAITING_RECONNECT = "awaiting_reconnect"
FORECAST_STARTED = "forecast_started"
DISCOUNTS_REFUSED = "the store refused to list its discounts: grant the app the read_discounts access scope"


class SyncAlreadyRunning(Exception):
    """A sync of the store is queued or running already: the message (in the active language) says which."""

    def __init__(self, run: SyncRun) -> None:
        message = _("%(kind)s #%(number)s of %(store)s is already %(status)s") % {
            "kind": run.get_kind_display(),
            "number": run.pk,
            "store": run.store,
            "status": run.get_status_display().lower(),
        }
        super().__init__(message)
        self.run = run


class RetryLater(Exception):
    """A page failed transiently; the task retries after `countdown` seconds and resumes at that page."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


def phases(store: Store, kind: str) -> list[str]:
    """What a run reads, in order: the same for both kinds (a reconciliation re-reads the catalogue too)."""
    return list(gateway_class(store.platform).sync_phases)


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
    dispatch.send_now("sync_store_task", run_id)


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
    if run.kind == SyncRun.Kind.RECONCILE and "subscriptions" not in run.counts and subscriptions.managed(store):
        # the hourly check of the webhooks the app keeps, once per run (a failure is kept on the store, not fatal)
        report = subscriptions.sync_subscriptions(store)
        with transaction.atomic():
            run = SyncRun.objects.select_for_update().get(pk=run_id)
            states = Counter(report["topics"].values())
            run.counts = {**run.counts, "subscriptions": {**states, "removed": len(report["removed"])}}
            run.save(update_fields=["counts", "updated_at"])
    for phase in phases(store, run.kind):
        while run.cursor.get(phase) != DONE:
            position = run.cursor.get(phase)
            try:
                records, next_position = READERS[phase](store_gateway(store), store, run, position)
            except StillRunning as exc:
                raise RetryLater(str(exc), exc.retry_after) from exc
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
        if phase == gateway_class(store.platform).forecast_inputs_until:
            run = _forecast_inputs_read(store, run)
    # a supplier for each vendor the catalogue names (a store's suppliers start from its vendors)
    made = purchasing.suppliers_from_vendors(store)
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run_id)
        run.status, run.phase, run.finished_at = SyncRun.Status.SUCCEEDED, DONE, timezone.now()
        if made:
            run.counts = {**run.counts, "suppliers_made": made}
        run.save()
    corrected = run.counts.get("levels_corrected", 0) + run.counts.get("orders_corrected", 0)
    if run.kind == SyncRun.Kind.RECONCILE and corrected:
        logger.warning("reconciliation #%s of %s corrected %s record(s)", run.pk, store, corrected)
    return run.status


def _forecast_inputs_read(store: Store, run: SyncRun) -> SyncRun:
    """A backfill has read all the forecasts need (what is left only adds history): a store just connected gets its
    first forecasts now, not at the end of the backfill nor at the next nightly retrain. Once per run."""
    if run.kind != SyncRun.Kind.BACKFILL or run.counts.get(FORECAST_STARTED):
        return run
    # a backfill loads a store's whole history at once: the planner needs to know it before the retrain reads it
    refresh_statistics([Variant, Order, OrderLine, DailyDemand, InventoryLevel])
    with transaction.atomic():
        current = SyncRun.objects.select_for_update().get(pk=run.pk)
        if current.counts.get(FORECAST_STARTED):
            return current
        current.counts = {**current.counts, FORECAST_STARTED: True}
        current.save(update_fields=["counts", "updated_at"])
        if current_run(store) is None:
            dispatch.send("retrain_store_task", store.pk, None, RunKind.FULL)
    return current


def _page_failed(run: SyncRun, exc: StoreAPIError) -> str:
    with transaction.atomic():
        current = SyncRun.objects.select_for_update().get(pk=run.pk)
        failures = current.counts.get("page_failures", 0) + (0 if _throttled(exc) else 1)
        current.counts = {**current.counts, "page_failures": failures}
        current.error = str(exc)[:2000]
        if exc.status == 401:
            # the store refused our credentials (and renewing them did not help): the run stops where it is and
            # resumes from that page once the store is connected again (`resume_after_reconnect`)
            current.counts = {**current.counts, AWAITING_RECONNECT: True}
            current.error = f"waiting for the store to be connected again: {exc}"[:2000]
        if not exc.transient or failures >= MAX_PAGE_FAILURES:
            current.status, current.finished_at = SyncRun.Status.FAILED, timezone.now()
            current.save()
            return current.status
        current.save()
    countdown = exc.retry_after if exc.retry_after is not None else random.uniform(0.5, 1.0) * min(2**failures, 300)
    raise RetryLater(str(exc), countdown)


def resume_after_reconnect(store: Store) -> list[int]:
    """Queue again the store's runs that stopped on refused credentials (newest of each kind), from the page where
    they stopped; returns their ids. A kind with a run already under way is left to it."""
    resumed = []
    waiting = SyncRun.objects.filter(store=store, status=SyncRun.Status.FAILED, counts__has_key=AWAITING_RECONNECT)
    for kind in {run.kind for run in waiting}:
        run = waiting.filter(kind=kind).order_by("-pk").first()
        try:
            with transaction.atomic():
                run.status, run.finished_at, run.error = SyncRun.Status.QUEUED, None, ""
                run.counts = {k: v for k, v in run.counts.items() if k not in (AWAITING_RECONNECT, "page_failures")}
                run.save()
                transaction.on_commit(lambda pk=run.pk: _enqueue(pk))
        except IntegrityError:
            continue  # a run of that kind is under way: it reads the same
        resumed.append(run.pk)
    return resumed


def _throttled(exc: StoreAPIError) -> bool:
    return exc.throttled


# --- Fetching pages (outside transactions) ---------------------------------------------------------------------------


def _locations(gateway: g.StoreGateway, store: Store, run: SyncRun, position: Any) -> g.Page:
    return gateway.read_locations(position)


def _catalogue(gateway: g.StoreGateway, store: Store, run: SyncRun, position: Any) -> g.Page:
    return gateway.read_catalogue(position)


def _orders(gateway: g.StoreGateway, store: Store, run: SyncRun, position: Any) -> g.Page:
    records, next_position = gateway.read_orders(position, run.since)
    # Refunds an order only names are read now, outside the transaction that applies the page.
    return g.Page(fetch_remote(store, records), next_position)


def _discounts(gateway: g.StoreGateway, store: Store, run: SyncRun, position: Any) -> g.Page:
    # a backfill reads every discount (expired ones explain the history); a reconciliation those changed since
    try:
        return gateway.read_discounts(position, run.since)
    except StoreAPIError as exc:
        if exc.status != 403:
            raise
    # An app installed before discounts were read lacks their access scope: the rest of the run goes on, and the
    # run says what is missing (the store's discounts are then not promotions until the scope is granted).
    with transaction.atomic():
        current = SyncRun.objects.select_for_update().get(pk=run.pk)
        current.counts = {**current.counts, "discounts_not_read": DISCOUNTS_REFUSED}
        current.save(update_fields=["counts", "updated_at"])
    logger.warning("sync run %s of %s: %s", run.pk, store, DISCOUNTS_REFUSED)
    return g.Page([], None)


def _refunds(gateway: g.StoreGateway, store: Store, run: SyncRun, position: Any) -> g.Page:
    return gateway.read_order_refunds(position, run.since)


def _stock_levels(gateway: g.StoreGateway, store: Store, run: SyncRun, position: Any) -> g.Page:
    locations = list(
        Location.objects.filter(store=store, active=True).order_by("pk").values_list("platform_id", flat=True)
    )
    return gateway.read_stock_levels(position, locations)


READERS = {
    g.PHASE_LOCATIONS: _locations,
    g.PHASE_CATALOGUE: _catalogue,
    g.PHASE_DISCOUNTS: _discounts,
    g.PHASE_ORDERS: _orders,
    g.PHASE_STOCK_LEVELS: _stock_levels,
    g.PHASE_REFUNDS: _refunds,
}


# --- Applying a page (inside the run's transaction) ------------------------------------------------------------------


def _apply_page(store: Store, run: SyncRun, records: list[Any]) -> None:
    counts = run.counts
    # one lookup of the store's variants and locations per page, not per record (an order read its primary location)
    catalog = CatalogCache(store, placeholders=True)
    unchanged = _unchanged_levels(store, [record for record in records if isinstance(record, InventoryLevelRecord)])
    for record in records:
        if isinstance(record, InventoryLevelRecord):
            if id(record) in unchanged:
                counts["levels_checked"] = counts.get("levels_checked", 0) + 1
            else:
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
        elif isinstance(record, DiscountRecord):
            counts["discounts_read"] = counts.get("discounts_read", 0) + 1
        elif isinstance(record, RefundRecord):
            counts["refunds_read"] = counts.get("refunds_read", 0) + 1
        try:
            with transaction.atomic():
                apply_records(store, [record], catalog)
        except NotReadyYet as exc:
            counts["skipped"] = counts.get("skipped", 0) + 1
            logger.info("sync run %s skipped a record: %s", run.pk, exc)
            catalog = CatalogCache(store, placeholders=True)  # what it cached was rolled back with the record


def _unchanged_levels(store: Store, records: list[InventoryLevelRecord]) -> set[int]:
    """The records (by `id()`) that would change nothing: the level we hold for that item and location is as new as
    the store's or newer, and what is incoming is the same. A full stock read finds most levels so; they are checked
    with two queries a page instead of several each. Anything less plain (an item two variants share, a level
    without its location) goes the whole way."""
    keyed = [r for r in records if r.inventory_item_id and r.location_id and not r.variant_id]
    if not keyed:
        return set()
    variants: dict[str, list[int]] = {}
    items = {record.inventory_item_id for record in keyed}
    for variant_id, item in Variant.objects.filter(store=store, inventory_item_id__in=items).values_list(
        "pk", "inventory_item_id"
    ):
        variants.setdefault(item, []).append(variant_id)
    ids = [found[0] for found in variants.values() if len(found) == 1]
    ours = {
        (variant_id, location): (updated_at, incoming)
        for variant_id, location, updated_at, incoming in InventoryLevel.objects.filter(variant_id__in=ids).values_list(
            "variant_id", "location__platform_id", "platform_updated_at", "incoming"
        )
    }
    unchanged = set()
    for record in keyed:
        found = variants.get(record.inventory_item_id, [])
        held = ours.get((found[0], record.location_id)) if len(found) == 1 else None
        if held is None or held[0] < record.updated_at:
            continue
        if record.incoming is None or record.incoming == held[1]:
            unchanged.add(id(record))
    return unchanged


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
