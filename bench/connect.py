"""From "Connect a store" to the first forecasts, for the demo shop, through real Celery workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        python bench/connect.py [--workers 2]

A fresh PostgreSQL database (`inventory_ai_bench_connect`, re-created on every run) and the store simulator as the
demo's Shopify shop (the bundled Online Retail sample, 240 products, moved forward to end last week), with the
product's Shopify app on it. The clock starts at the install link and stops when the first retrain has succeeded:
the merchant's approval (the shop's consent page, Install), the OAuth callback, the webhook subscriptions, the backfill
through the Admin API (locations, the catalogue's bulk operation, discounts, the orders' bulk operation, stock
levels) and the retrain that the backfill starts once it has those, all run by `--workers` worker processes. The
backfill's last phase, each refund's lines, goes on beside the retrain: its end is printed too. Prints each step's
time and the merchant's manual steps.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrain import Worker, database_url, manage  # noqa: E402

BENCH_DB = "inventory_ai_bench_connect"
SHOP = "bench-connect.myshopify.com"


def wait(predicate, what: str, limit: float = 1800.0) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > limit:
            sys.exit(f"{what} did not happen within {limit:.0f} s")
        time.sleep(0.5)
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    base, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
    if not base.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis://"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server and CELERY_BROKER_URL to Redis (see the docstring).")
    url, _ = database_url(base, reload=True, name=BENCH_DB)
    scratch = Path(tempfile.mkdtemp(prefix="inventory-ai-bench-connect-"))

    from integrations.simulator.shopify_oauth import ShopifyOAuth
    from inventory_ai.demo import loop

    meta = loop.shift_sample(scratch / "demo", date.today(), 0)
    state, _ = loop.build_store_state(meta, up_to_cutoff=False)
    app = ShopifyOAuth("bench-client", "bench-secret", SHOP)
    simulator = loop.start_simulator(state, 0, app)
    loop.seed_stock(state, simulator.inventory)
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        # as in production: DEBUG off (Django would otherwise keep every query in memory), secrets of this run
        "DEBUG": "0",
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "INVENTORY_AI_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "DATABASE_URL": url,
        "INVENTORY_AI_VAR_DIR": str(scratch),
        "MODEL_STORAGE_DIR": str(scratch / "models"),
        "SHOPIFY_CLIENT_ID": "bench-client",
        "SHOPIFY_CLIENT_SECRET": "bench-secret",
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",  # webhooks are subscribed there; none is delivered in this bench
        "INVENTORY_AI_SHOPIFY_BASE_URL": simulator.url,
    }
    os.environ.update(env)
    manage(["migrate", "--verbosity", "0"], env)
    import django

    django.setup()
    from inventory_ai.celery import app as celery_app
    from inventory_ai.models import Forecast, ForecastRun, Store, SyncRun
    from inventory_ai.services import shopify_install

    celery_app.control.purge()
    pool = [Worker(env, scratch, f"connect-{n}") for n in range(args.workers)]
    try:
        time.sleep(8)  # let the workers connect before the clock starts
        started = time.monotonic()
        params = loop.approve_install(shopify_install.start(SHOP))  # the merchant: Install on the shop
        installed = shopify_install.finish_install(params)
        connected, connected_wall = time.monotonic(), time.time()
        store = Store.objects.get(pk=installed.store.pk)
        backfill = SyncRun.objects.get(pk=installed.backfill.pk)

        def backfilled() -> bool:
            backfill.refresh_from_db()
            if backfill.status == SyncRun.Status.FAILED:
                sys.exit(f"the backfill failed: {backfill.error}")
            return backfill.status == SyncRun.Status.SUCCEEDED

        def forecast() -> bool:
            backfill.refresh_from_db()
            if backfill.status == SyncRun.Status.FAILED:
                sys.exit(f"the backfill failed: {backfill.error}")
            run = ForecastRun.objects.filter(store=store).order_by("-pk").first()
            if run is not None and run.status == "failed":
                sys.exit(f"the first retrain failed: {run.error_log[-500:]}")
            return run is not None and run.status == "succeeded"

        done = wait(forecast, "the first retrain")
        run = ForecastRun.objects.filter(store=store).order_by("-pk").first()
        # the retrain was queued when the backfill had read what the forecasts read (orders and stock levels)
        queued = connected + (run.created_at.timestamp() - connected_wall)
        imported = wait(backfilled, "the backfill")
        backfill.refresh_from_db()
    finally:
        for worker in pool:
            worker.stop()
        simulator.stop()
    counts = backfill.counts
    print(f"\nConnect a store -> first forecasts, {SHOP} (the demo sample), {args.workers} worker process(es)")
    print(f"  connected (approval, token, {len(installed.store.webhook_subscriptions.get('topics', {}))} "
          f"webhook topics): {connected - started:6.1f} s")  # fmt: skip
    print(f"  what the forecasts read ({counts.get('products_read', 0)} products, {counts.get('orders_read', 0):,} "
          f"orders, stock levels): {queued - connected:6.1f} s")  # fmt: skip
    rows = Forecast.objects.filter(run=run).count()
    print(f"  first retrain ({run.skus_total} SKUs, {rows:,} forecast rows): {done - queued:6.1f} s")
    print(f"  total, to the first forecasts: {done - started:.1f} s")
    print(f"  the backfill's last phase, the refunds' lines ({counts.get('refunds_read', 0):,} refunds, "
          f"{backfill.pages} pages in all), ended {imported - started:.1f} s after the install")  # fmt: skip
    print("  merchant's steps: the shop's domain (Connect a store), then Install on the shop's approval page")


if __name__ == "__main__":
    main()
