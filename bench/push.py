"""Push approved stock adjustments through real Celery workers to the store simulator, with injected faults.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        python bench/push.py --adjustments 2000 --workers 2 --rate-429 0.10 --rate-5xx 0.02

Creates a fresh PostgreSQL database `inventory_ai_bench_push`, a store on the simulator (Shopify by default,
`--platform woocommerce` for the REST path) with one variant per adjustment, approves every adjustment (half
received restocks, half corrections), and times how long real worker processes (`--workers`, prefork, one process
each, consuming every queue) take to push them all while the simulator answers a share of requests with 429 and
5xx. Shopify's cost bucket is simulated too (`--restore-rate` points per second, 10 per mutation; 100 is the
standard plan, 1000 Shopify Plus). Prints wall time, adjustments per second, attempts per adjustment, what the
attempts met, and the checks: every adjustment pushed, every final store quantity equal to the expected one, and
no change applied twice.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrain import Worker, database_url, manage  # noqa: E402

BENCH_DB = "inventory_ai_bench_push"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adjustments", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--platform", choices=["shopify", "woocommerce"], default="shopify")
    parser.add_argument("--rate-429", type=float, default=0.10)
    parser.add_argument("--rate-5xx", type=float, default=0.02)
    parser.add_argument("--restore-rate", type=float, default=1000.0, help="Shopify cost points restored per second")
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the bench creates its own database there)")
    url, _ = database_url(base, reload=True, name=BENCH_DB)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "INVENTORY_AI_CREDENTIALS_KEYS": os.environ.get(
            "INVENTORY_AI_CREDENTIALS_KEYS", "pE2x7sQGQx7p3kCOvBuk0dWnGgVnKfbZ0mxsK3Y5hlM="
        ),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key"),
    }
    os.environ.update(env)
    manage(["migrate", "--noinput"], env)

    import django

    django.setup()
    from django.db.models import Max, Min
    from django.utils import timezone

    from integrations.simulator.api_server import ApiServer
    from integrations.simulator.inventory import Faults, InventoryStore, ThrottleBucket, WooItem
    from integrations.simulator.state import StoreState
    from inventory_ai.celery import app
    from inventory_ai.choices import AdjustmentReason, AdjustmentStatus
    from inventory_ai.models import InventoryLevel, Location, Product, PushAttempt, StockAdjustment, Variant
    from inventory_ai.services import replenishment
    from inventory_ai.services.roles import PLANNER, create_staff_user
    from inventory_ai.services.stores import upsert_store

    rng = random.Random(args.seed)
    faults = Faults(rate_429=args.rate_429, rate_5xx=args.rate_5xx, seed=args.seed)
    bucket = ThrottleBucket(maximum_available=2000, restore_rate=args.restore_rate, available=2000)
    inventory = InventoryStore(faults=faults, bucket=bucket)
    server = ApiServer(StoreState(), inventory=inventory, access_token="shpat_bench", consumer_key="ck_bench")
    server.start()
    app.control.purge()
    try:
        if args.platform == "shopify":
            store, _ = upsert_store(
                "shopify", "bench-push.myshopify.com", credentials={"access_token": "shpat_bench"},
                api_base_url=server.url,
            )  # fmt: skip
        else:
            store, _ = upsert_store(
                "woocommerce", "https://bench-push.example", api_base_url=server.url,
                credentials={"consumer_key": "ck_bench", "consumer_secret": "cs_demo"},
            )  # fmt: skip
        location = Location.objects.create(store=store, platform_id="1", name="Warehouse", is_primary=True)
        product = Product.objects.create(store=store, platform_id="p0", title="Bench product")
        variants = Variant.objects.bulk_create(
            [
                Variant(
                    store=store,
                    product=product,
                    platform_id=str(10_000 + n),
                    sku=f"BENCH-{n}",
                    inventory_item_id=str(50_000 + n),
                )
                for n in range(args.adjustments)
            ]  # fmt: skip
        )
        initial = {variant.pk: rng.randint(0, 50) for variant in variants}
        InventoryLevel.objects.bulk_create(
            InventoryLevel(variant=v, location=location, available=initial[v.pk], platform_updated_at=timezone.now())
            for v in variants
        )
        for variant in variants:
            if args.platform == "shopify":
                inventory.set_level(variant.inventory_item_id, "1", initial[variant.pk])
            else:
                # Each variant is a simple product (its own variant) on WooCommerce.
                inventory.add_woo_item(WooItem(id=int(variant.platform_id), stock_quantity=initial[variant.pk]))
        if args.platform == "woocommerce":
            Product.objects.filter(pk=product.pk).update(platform_id="simple-parent")
            for variant in variants:
                variant.product = Product.objects.create(
                    store=store, platform_id=variant.platform_id, title=f"Simple {variant.platform_id}"
                )
            Variant.objects.bulk_update(variants, ["product"])
        planner = create_staff_user("bench-planner", PLANNER, "bench")
        expected, adjustments = {}, []
        for number, variant in enumerate(variants):
            if number % 2:
                delta = rng.randint(1, 48)
                adjustment = replenishment.create_adjustment(
                    variant, location, planner, delta=delta, reason=AdjustmentReason.RESTOCK
                )
                expected[variant.pk] = initial[variant.pk] + delta
            else:
                target = rng.randint(0, 60)
                adjustment = replenishment.create_adjustment(variant, location, planner, new_available=target)
                expected[variant.pk] = target
            adjustments.append(adjustment)

        # Approve everything first (the push tasks wait in the broker), then let the workers drain the queue.
        started = time.perf_counter()
        for adjustment in adjustments:
            replenishment.decide_adjustment(adjustment, approve=True, user=planner)
        approved_in = time.perf_counter() - started
        log_dir = Path(tempfile.mkdtemp(prefix="inventory-ai-bench-push-"))
        workers = [Worker(env, log_dir, f"push{n}") for n in range(args.workers)]
        open_statuses = [AdjustmentStatus.APPROVED, AdjustmentStatus.PUSHING]
        while StockAdjustment.objects.filter(status__in=open_statuses).exists():
            if time.perf_counter() - started > args.timeout:
                print(f"Timed out; worker logs in {log_dir}")
                break
            time.sleep(0.5)
        for worker in workers:
            worker.stop()
    finally:
        server.stop()

    # From the first attempt to the last push, by the database's clock (worker start-up excluded).
    span = StockAdjustment.objects.aggregate(first=Min("push_log__started_at"), last=Max("pushed_at"))
    wall = (span["last"] - span["first"]).total_seconds()
    statuses = Counter(StockAdjustment.objects.values_list("status", flat=True))
    attempts = sorted(StockAdjustment.objects.values_list("push_attempts", flat=True))
    outcomes = Counter(PushAttempt.objects.values_list("outcome", flat=True))
    if args.platform == "shopify":
        final = {v.pk: inventory.level(v.inventory_item_id, "1") for v in variants}
    else:
        final = {v.pk: inventory.woo[int(v.platform_id)].stock_quantity for v in variants}
    wrong = sum(final[pk] != expected[pk] for pk in expected)
    keys = Counter(entry["key"] for entry in inventory.applied)
    doubled = sum(count > 1 for count in keys.values())

    bucket_note = f", cost bucket restoring {args.restore_rate:g} points/s" if args.platform == "shopify" else ""
    print(f"\nPush benchmark: {args.adjustments:,} adjustments on {args.platform}, {args.workers} worker process(es), "
          f"{args.rate_429:.0%} 429s, {args.rate_5xx:.0%} 5xx{bucket_note}")  # fmt: skip
    print(f"  {args.adjustments:,} approvals committed and enqueued in {approved_in:.1f} s")
    print(
        f"  pushes: {wall:.1f} s from the first attempt to the last push ({args.adjustments / wall:.1f} adjustments/s)"
    )
    print(f"  attempts per adjustment: mean {sum(attempts) / len(attempts):.2f}, "
          f"p95 {attempts[int(0.95 * (len(attempts) - 1))]}, max {attempts[-1]}")  # fmt: skip
    print(f"  attempt outcomes: {dict(outcomes)}")
    print(f"  store requests: {server.requests:,}")
    print(f"  adjustments by status: {dict(statuses)}")
    print(f"  final store quantity equal to the expected one: {len(expected) - wrong:,} / {len(expected):,}")
    print(f"  changes applied: {len(inventory.applied):,}; applied more than once: {doubled}")


if __name__ == "__main__":
    main()
