"""A reconciliation's full stock read on a large store, against the simulated Shopify shop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inventory_ai_bench_scale \\
        python bench/reconcile.py --store bench-scale.myshopify.com --changed 0.01

Takes a store that is already in the database (`bench/scale.py measure` leaves a 50,000-SKU one, with a stock level
per SKU at each of its locations) and points it at an in-process simulated shop that stocks every one of those
levels: the same figure as ours, last changed when ours says, except a `--changed` fraction that sold units since
without a webhook reaching us (the state an hourly reconciliation finds). Then
runs one reconciliation (`sync_runs.run_sync`, as the hourly beat task does, in this process) to its end and prints:
its wall time, the levels read and corrected per second, peak RSS, the cost points the shop's bucket paid, and what
the same read would cost as paged `location.inventoryLevels` queries (what the product read before: the simulator's
price of one page of 250, times the pages, over the bucket's restore rate of each Shopify plan).

The store's variants get an inventory item id (their own id) where they have none, and its API address and token
are replaced: run it on a benchmark database only.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The paged read the product used before, priced by the simulator's cost rules (one page of 250 levels).
PAGED_LEVELS = """
query LocationLevels($locationId: ID!, $first: Int!, $cursor: String) {
  location(id: $locationId) {
    inventoryLevels(first: $first, after: $cursor) {
      nodes { updatedAt item { id } quantities(names: ["available", "incoming"]) { name quantity } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
PAGE = 250
# Restore rates of the cost bucket, points per second (Shopify's documented GraphQL Admin API limits).
PLANS = (("standard", 100), ("Advanced", 200), ("Plus", 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="bench-scale.myshopify.com")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction of levels the shop holds differently")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to the benchmark database (PostgreSQL)")
    # the stores of bench/scale.py were added in development mode: their credentials use its key
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_ai.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.db import connection

    from integrations.simulator.api_server import ApiServer
    from integrations.simulator.inventory import InventoryStore
    from integrations.simulator.shopify_cost import Document
    from integrations.simulator.state import StoreState
    from inventory_ai.models import InventoryLevel, Store, SyncRun, Variant
    from inventory_ai.services import sync_runs
    from inventory_ai.services.stores import upsert_store

    store = Store.objects.get(domain=args.store)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Variant._meta.db_table} SET inventory_item_id = id::text "
            "WHERE store_id = %s AND inventory_item_id = ''",
            [store.pk],
        )
    levels = list(
        InventoryLevel.objects.filter(variant__store=store, location__active=True).values_list(
            "variant__inventory_item_id", "location__platform_id", "available", "platform_updated_at"
        )
    )
    rng = random.Random(args.seed)
    inventory = InventoryStore()
    # a shop that spends nothing on other apps: the bucket starts full; its restore rate is the standard plan's
    inventory.bucket.restore_rate = PLANS[0][1]
    changed = 0
    for item, location, available, updated_at in levels:
        if rng.random() < args.changed:
            inventory.set_level(item, location, available - rng.randint(1, 3))  # sold since, the webhook lost
            changed += 1
        else:
            # as we hold it: the shop's figure and the time it last changed (what the last read or webhook said)
            inventory.set_level(item, location, available)
            inventory.level_updated[(item, location)] = updated_at.timestamp()
    locations = len({level[1] for level in levels})
    print(f"store {store.domain}: {len(levels):,} stock levels at {locations} locations, {changed:,} changed")

    with ApiServer(StoreState(), inventory=inventory, access_token="shpat_bench") as server:
        server.start()
        store, _ = upsert_store(
            "shopify", store.domain, credentials={"access_token": "shpat_bench"}, api_base_url=server.url
        )
        before = inventory.bucket.take(0)[1]["throttleStatus"]["currentlyAvailable"]
        active = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
        SyncRun.objects.filter(store=store, status__in=active).update(  # one an interrupted benchmark left
            status=SyncRun.Status.FAILED, error="left by an interrupted benchmark"
        )
        run = sync_runs.start_sync(store, SyncRun.Kind.RECONCILE)
        started, retries = time.monotonic(), 0
        while True:
            try:
                sync_runs.run_sync(run.pk)
                break
            except sync_runs.RetryLater:
                retries += 1  # a bulk operation still running: the simulator completes it at its second poll
        seconds = time.monotonic() - started
        bucket = inventory.bucket
        after = bucket.take(0)[1]["throttleStatus"]["currentlyAvailable"]
        spent = before - after + seconds * bucket.restore_rate  # what it took, net of what flowed back meanwhile
    run.refresh_from_db()
    counts = run.counts
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checked = counts.get("levels_checked", 0)
    print(f"reconciliation #{run.pk}: {run.status}, {run.pages} pages, {retries} polls, {seconds:,.1f} s")
    print(f"  levels checked {checked:,} ({checked / seconds:,.0f}/s), corrected {counts.get('levels_corrected', 0):,}"
          f" (changed {changed:,}), unknown items {counts.get('levels_unknown_item', 0):,}")  # fmt: skip
    print(f"  peak RSS {rss:,.0f} MiB; cost points spent at most {max(spent, 0):,.0f}")
    page_cost = Document(PAGED_LEVELS, {"first": PAGE}).requested()
    pages = sum(math.ceil(count / PAGE) for count in _per_location(levels).values())
    print(f"paged reads instead: {pages:,} pages of {PAGE} at {page_cost} points = {pages * page_cost:,} points:")
    for plan, rate in PLANS:
        print(f"  {plan} plan ({rate} points/s): {pages * page_cost / rate / 60:,.1f} minutes of the bucket")


def _per_location(levels: list[tuple]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, location, *_ in levels:
        counts[location] = counts.get(location, 0) + 1
    return counts


if __name__ == "__main__":
    main()
