"""One part of a store's global network (its backtest or its final fit) on its own, in this process: seconds and peak
memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/12 \\
        python bench/network.py --database inventory_ai_bench_scale --store bench-scale.myshopify.com --part backtest

Reads a store a bench already imported (`bench/scale.py measure` imports the 50,000-SKU one), deletes its earlier runs
and their registry (a cold start), plans a full retrain as of `--as-of` (its chunks, no worker: the tasks it enqueues
are purged), runs the network's `--part` in this process as its task would (`retraining.train_global_model`: it reads
the SKUs, trains, and writes each chunk's results), and prints its seconds and this process's peak RSS before and
after. The run is then marked failed, so that the store takes a new one. Each process on one thread, TensorFlow
included, as in `bench/retrain.py`.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="inventory_ai_bench_scale")
    parser.add_argument("--store", default="bench-scale.myshopify.com")
    parser.add_argument("--as-of", default="2011-12-05")
    parser.add_argument("--part", choices=("backtest", "final"), default="backtest")
    args = parser.parse_args()
    base, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
    if not base.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis://"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server and CELERY_BROKER_URL to Redis (see the docstring).")
    import psycopg

    parts = urlsplit(base)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.database,)).fetchone():
            sys.exit(f"There is no database {args.database}: import a store first (bench/scale.py measure).")
    url = urlunsplit(parts._replace(path=f"/{args.database}"))
    scratch = Path(tempfile.mkdtemp(prefix="inventory-ai-bench-network-"))
    os.environ.update(
        DEBUG="1", DJANGO_SETTINGS_MODULE="inventory_ai.settings", DATABASE_URL=url, LOG_LEVEL="WARNING",
        INVENTORY_AI_VAR_DIR=str(scratch), MODEL_STORAGE_DIR=str(scratch / "models"), OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
    )  # fmt: skip
    import django

    django.setup()
    from inventory_ai.celery import app
    from inventory_ai.models import ForecastRun
    from inventory_ai.services import model_registry, retraining
    from inventory_ai.services.stores import find_store

    store = find_store(args.store)
    for old in ForecastRun.objects.filter(store=store):
        if old.artifacts:
            model_registry.delete(old.artifacts)
        old.delete()
    run = retraining.start_retrain(store, trigger="bench", as_of=date.fromisoformat(args.as_of))
    retraining.plan_run(run.pk)
    app.control.purge()
    run.refresh_from_db()
    before = peak_rss_mib()
    started = time.monotonic()
    outcome = retraining.train_global_model(run.pk, args.part)
    seconds = time.monotonic() - started
    app.control.purge()
    ForecastRun.objects.filter(pk=run.pk).update(status="failed")
    print(f"The network's {args.part} part of {args.store} ({run.skus_total:,} SKUs) as of {args.as_of}: {outcome}")
    print(f"  {seconds:.0f} s; peak RSS {peak_rss_mib():,.0f} MiB ({before:,.0f} MiB before the task)")


if __name__ == "__main__":
    main()
