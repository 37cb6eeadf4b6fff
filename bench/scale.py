"""A large store built from the Online Retail data, loaded through the real import path, and what it costs.

    python bench/scale.py generate ../shared/data/online_retail.csv.gz var/scale-50k.csv.gz --skus 50000 --years 2
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/scale.py measure var/scale-50k.csv.gz

`generate` writes an order file in the Online Retail layout for a store of `--skus` SKUs over `--years` years:
- the source's product codes (five digits and a letter or two; postage, fees and manual lines left out) are cloned
  as `<code>-<n>` until there are enough, each clone a sister shop's copy of every order with the codes renamed,
  its own invoice numbers and customers, its quantities scaled by a factor per SKU (log-normal around 1) and its
  prices by another (0.8-1.25);
- each clone's orders move by whole weeks (-2..+2, keeping the weekday pattern), and each earlier year is the source
  year again, 364 days earlier, with a growth of `--growth` a year, so the newest year ends where the source does;
- deterministic for a seed: the same arguments write the same bytes.

`measure` imports the file into a fresh PostgreSQL database (`inventory_ai_bench_scale`) with `manage.py
import_orders`, adds `--locations` stock locations with a level per SKU, and prints: import rows/s, wall time and
peak RSS; the p50/p95 latency of the admin's main pages and the API's lists (in-process requests, `--requests` each,
after one warm-up); and the database's size, in all and per 1,000 SKU-years. A full retrain of the same file through
real workers is `bench/retrain.py <file> --as-of 2011-12-05`.
"""

from __future__ import annotations

import argparse
import gzip
import io
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_orders import run  # noqa: E402

BENCH_DB = "inventory_ai_bench_scale"
STORE = "bench-scale.myshopify.com"
PRODUCT_CODE = r"^\d{5}[A-Za-z]{0,2}$"
COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]


def read_source(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    frame = frame[frame["StockCode"].str.match(PRODUCT_CODE, na=False)].copy()
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    return frame.sort_values(["InvoiceDate", "InvoiceNo"], kind="stable").reset_index(drop=True)


def generate(
    source: Path, out: Path, skus: int, years: int, seed: int = 0, growth: float = 0.1
) -> dict[str, int | float]:
    """Write the scaled order file; returns its row, SKU, invoice counts and first and last dates."""
    frame = read_source(source)
    codes = np.array(sorted(frame["StockCode"].unique()))
    clones = math.ceil(skus / len(codes))
    rng = np.random.default_rng(seed)
    rows = invoices = 0
    first = last = None
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped:
        text = io.TextIOWrapper(zipped, encoding="utf-8", newline="")
        text.write(",".join(COLUMNS) + "\n")
        for year in range(years - 1, -1, -1):  # oldest first
            for clone in range(clones):
                kept = codes[: skus - clone * len(codes)] if (clone + 1) * len(codes) > skus else codes
                scale = dict(zip(kept, rng.lognormal(0.0, 0.5, len(kept)), strict=True))
                price = dict(zip(kept, rng.uniform(0.8, 1.25, len(kept)), strict=True))
                weeks = int(rng.integers(-2, 3))
                part = frame[frame["StockCode"].isin(kept)] if len(kept) < len(codes) else frame
                if part.empty:
                    continue
                factor = part["StockCode"].map(scale).to_numpy() * (1 + growth) ** -year
                quantity = part["Quantity"].to_numpy()
                scaled = np.sign(quantity) * np.maximum(np.rint(np.abs(quantity) * factor), 1)
                cancelled = part["InvoiceNo"].str.startswith("C")
                number = part["InvoiceNo"].str.lstrip("C") + f"{clone:03d}{year}"
                moved = part["InvoiceDate"] + pd.Timedelta(days=7 * weeks - 364 * year)
                block = pd.DataFrame(
                    {
                        "InvoiceNo": np.where(cancelled, "C" + number, number),
                        "StockCode": part["StockCode"] + f"-{clone}",
                        "Description": part["Description"],
                        "Quantity": scaled.astype(int),
                        "InvoiceDate": moved.dt.strftime("%Y-%m-%d %H:%M:%S"),
                        "UnitPrice": (part["UnitPrice"] * part["StockCode"].map(price)).round(2),
                        "CustomerID": np.where(
                            part["CustomerID"].isna(), "", part["CustomerID"].fillna("0").str.split(".").str[0]
                        ),
                        "Country": part["Country"],
                    }
                )
                block["CustomerID"] = np.where(block["CustomerID"] == "", "", block["CustomerID"] + f"{clone:03d}")
                block.to_csv(text, header=False, index=False)
                rows += len(block)
                invoices += block["InvoiceNo"].nunique()
                first = min(first, moved.min()) if first is not None else moved.min()
                last = max(last, moved.max()) if last is not None else moved.max()
        text.flush()
        text.detach()
    return {
        "rows": rows,
        "skus": min(skus, clones * len(codes)),
        "invoices": invoices,
        "first": str(first.date()) if first is not None else "",
        "last": str(last.date()) if last is not None else "",
    }


PAGES = (
    "/admin/",
    "/admin/inventory_ai/variant/",
    "/admin/inventory_ai/variant/?q=-7&o=2",
    "/admin/inventory_ai/reordersuggestion/",
    "/admin/inventory_ai/purchaseorder/",
    "/admin/inventory_ai/variant/stock-health/",
    "/api/v1/variants/",
    "/api/v1/variants/?ordering=-available",
    "/api/v1/suggestions/",
    "/api/v1/purchase-orders/",
)

TIMING_SCRIPT = """
import statistics, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from inventory_ai.models import (InventoryLevel, Location, PurchaseOrder, PurchaseOrderLine, ReorderSuggestion, Store,
    Supplier, Variant)
import datetime
from inventory_ai.services.api_tokens import issue_token

store = Store.objects.get(domain=sys.argv[1])
locations, requests = int(sys.argv[2]), int(sys.argv[3])
pages = sys.argv[4:]
primary = Location.objects.filter(store=store).order_by("-is_primary", "pk").first()
for number in range(Location.objects.filter(store=store).count(), locations):
    Location.objects.create(store=store, platform_id=f"bench-{number}", name=f"Store {number}")
now = timezone.now()
for location in Location.objects.filter(store=store):
    have = set(InventoryLevel.objects.filter(location=location).values_list("variant_id", flat=True))
    rows = [
        InventoryLevel(variant_id=pk, location=location, available=pk % 40, platform_updated_at=now)
        for pk in Variant.objects.filter(store=store).values_list("pk", flat=True) if pk not in have
    ]
    InventoryLevel.objects.bulk_create(rows, batch_size=5000)
# what a planner's lists hold after a retrain: a pending suggestion per SKU, and open purchase orders of 50 SKUs each
if not ReorderSuggestion.objects.filter(store=store).exists():
    today = store.local_today()
    ids = list(Variant.objects.filter(store=store).order_by("pk").values_list("pk", flat=True))
    ReorderSuggestion.objects.bulk_create([
        ReorderSuggestion(store=store, variant_id=pk, location=primary, available=pk % 40, reorder_point=30,
            order_up_to=60, suggested_qty=60 - pk % 40, lead_time_days=14, review_period_days=7, service_level=0.95,
            service_measure="fill_rate", weekly_demand=10, reason="bench", unit_cost=2,
            stockout_date=today + datetime.timedelta(days=pk % 60),
            order_by=today + datetime.timedelta(days=pk % 60 - 14))
        for pk in ids], batch_size=5000)
    for start in range(0, len(ids), 50):
        supplier = Supplier.objects.create(store=store, name=f"Supplier {start // 50}", currency="GBP")
        order = PurchaseOrder.objects.create(store=store, supplier=supplier, location=primary,
            number=f"PO-{start // 50:05d}", currency="GBP", status="sent", expected_on=today)
        PurchaseOrderLine.objects.bulk_create([
            PurchaseOrderLine(purchase_order=order, variant_id=pk, quantity=24, unit_cost=2)
            for pk in ids[start:start + 50]])
user = get_user_model().objects.filter(username="bench-admin").first() or get_user_model().objects.create_superuser(
    "bench-admin", "bench@example.com", "bench-pass-123")
client = Client()
client.force_login(user)
key = issue_token(user, "bench")[1]
# as the product's web workers do once started (gunicorn_conf.post_fork): what this setup left alive is moved out of
# the collector's view, or each full collection would walk it inside a timed request
import gc
gc.collect()
gc.freeze()
for page in pages:
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if page.startswith("/api/") else {}
    client.get(page, **headers)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(page, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (page, response.status_code)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print(f"PAGE {page} p50={statistics.median(times):.0f} p95={p95:.0f}")
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_database_size(current_database())")
    print("DBSIZE", cursor.fetchone()[0])
    cursor.execute(
        "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 6"
    )
    for name, size in cursor.fetchall():
        print("TABLE", name, size)
"""


def measure(path: Path, locations: int, requests: int, years: float, reuse: bool = False) -> None:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("measure needs a PostgreSQL DATABASE_URL (the bench database is made on that server)")
    url = urlunsplit(urlsplit(base)._replace(path=f"/{BENCH_DB}"))
    env = {
        **os.environ, "DATABASE_URL": url, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "ALLOWED_HOSTS": "testserver,localhost",
    }  # fmt: skip
    if not reuse:
        _import(path, env, base)
    _time_pages(url, env, locations, requests, years)


def _import(path: Path, env: dict[str, str], base: str) -> None:
    _recreate(base)
    run(["migrate", "--verbosity", "0"], env)
    run(["add_store", "shopify", "--domain", STORE, "--webhook-secret", "bench", "--timezone", "Europe/London",
         "--currency", "GBP", "--country", "GB"], env)  # fmt: skip
    output, seconds, rss = run(["import_orders", str(path), "--store", STORE, "--no-progress"], env)
    with gzip.open(path, "rt") as rows:
        lines = sum(1 for _ in rows) - 1
    print(f"import: {lines:,} rows in {seconds:,.0f} s = {lines / seconds:,.0f} rows/s, peak RSS {rss:,} MiB")
    print(output.strip().splitlines()[-1] if output.strip() else "")


def _time_pages(url: str, env: dict[str, str], locations: int, requests: int, years: float) -> None:
    started = time.monotonic()
    timing = subprocess.run(
        [sys.executable, "-c", TIMING_SCRIPT, STORE, str(locations), str(requests), *PAGES],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if timing.returncode:
        sys.exit(timing.stderr[-3000:])
    skus = _count(url, "SELECT count(*) FROM inventory_ai_variant")
    for line in timing.stdout.splitlines():
        if line.startswith("PAGE"):
            print(line)
        elif line.startswith("DBSIZE"):
            size = int(line.split()[1])
            per = size / max(skus * years / 1000, 1e-9)
            print(f"database: {size / 2**20:,.0f} MiB for {skus:,} SKUs over {years:g} years "
                  f"= {per / 2**20:,.1f} MiB per 1,000 SKU-years")  # fmt: skip
        elif line.startswith("TABLE"):
            _, name, size = line.split()
            print(f"  {name}: {int(size) / 2**20:,.0f} MiB")
    print(f"(pages timed in {time.monotonic() - started:,.0f} s)")


def _recreate(base: str) -> None:
    import psycopg

    admin_url = urlunsplit(urlsplit(base)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _count(url: str, sql: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute(sql).fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate", help="write a scaled order file")
    make.add_argument("source", type=Path)
    make.add_argument("out", type=Path)
    make.add_argument("--skus", type=int, default=50_000)
    make.add_argument("--years", type=int, default=2)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--growth", type=float, default=0.1, help="yearly growth of demand")
    load = commands.add_parser("measure", help="import a scaled file and time the pages")
    load.add_argument("path", type=Path)
    load.add_argument("--locations", type=int, default=3)
    load.add_argument("--requests", type=int, default=20)
    load.add_argument("--years", type=float, default=2, help="the file's years (for the size per SKU-year)")
    load.add_argument("--reuse", action="store_true", help="time the pages of the database the last run imported")
    args = parser.parse_args()
    if args.command == "generate":
        started = time.monotonic()
        made = generate(args.source, args.out, args.skus, args.years, args.seed, args.growth)
        print(f"{args.out}: {made['rows']:,} rows, {made['skus']:,} SKUs, {made['invoices']:,} invoices, "
              f"{made['first']}..{made['last']} ({time.monotonic() - started:,.0f} s)")  # fmt: skip
    else:
        measure(args.path, args.locations, args.requests, args.years, args.reuse)


if __name__ == "__main__":
    main()
