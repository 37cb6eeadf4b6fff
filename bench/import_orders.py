"""Measure `manage.py import_orders` on a whole file: rows/s, wall time and peak memory, first run and re-run.

    python bench/import_orders.py ../shared/data/online_retail.csv.gz
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/import_orders.py <file>

Each run imports into a fresh database: with a PostgreSQL DATABASE_URL, a database named
`inventory_ai_bench_import` on that server (dropped and re-created); otherwise a temporary SQLite file.
The second run must add nothing; the script fails if it does.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "inventory_ai_bench_import"
STORE = "bench-import.myshopify.com"


def fresh_database_url(base: str | None, scratch: Path) -> str:
    if not base or not base.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{scratch / 'bench.sqlite3'}"
    import psycopg

    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def run(args: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run a manage.py command; returns (stdout, wall seconds, peak RSS in MiB of that process)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{output}")
    return output, time.monotonic() - started, usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--timezone", default="Europe/London")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
            "INVENTORY_AI_VAR_DIR": scratch,
            "DATABASE_URL": fresh_database_url(os.environ.get("DATABASE_URL"), Path(scratch)),
        }
        run(["migrate", "--verbosity", "0"], env)
        run(["add_store", "shopify", "--domain", STORE, "--timezone", args.timezone, "--currency", "GBP"], env)
        database = env["DATABASE_URL"].split("://")[0]
        print(f"import_orders {args.path.name} into {database}")
        print(f"{'run':<10}{'rows':>10}{'rows/s':>10}{'wall s':>9}{'peak MiB':>10}  created")
        summaries = {}
        for label in ("first", "re-run"):
            output, wall, peak = run(["import_orders", str(args.path), "--store", STORE, "--no-progress"], env)
            rows = int(re.search(r"Rows read:\s+([\d,]+)", output).group(1).replace(",", ""))
            rate = re.search(r"([\d,]+) rows/s", output).group(1)
            orders = re.search(r"Orders:\s+([\d,]+) created", output).group(1)
            lines = re.search(r"Order lines:\s+([\d,]+) created", output).group(1)
            print(f"{label:<10}{rows:>10,}{rate:>10}{wall:>9.1f}{peak:>10}  {orders} orders, {lines} lines")
            summaries[label] = output[output.index("Rows read:") :].split("Done in")[0].rstrip()
            if label == "re-run" and (orders, lines) != ("0", "0"):
                sys.exit("FAIL: the re-run created rows; the import is not idempotent")
        print("\nFirst run:\n" + summaries["first"])


if __name__ == "__main__":
    main()
