"""A webhook's commit beside a retrain's bulk writes: how long small durable commits take while another session writes
forecast-like rows, on the PostgreSQL server of DATABASE_URL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/wal.py [--commits 600] [--rows 6000]
        [--pause-ms 50]

In a scratch database (`inventory_ai_bench_wal`, dropped at the end), one session commits `--commits` single-row
inserts of 2 kB (a webhook event's row), 20 ms apart, and prints their latency's p50/p90/p99/max:
- quiet;
- beside another process that COPYs `--rows` forecast rows (a JSON of interval bounds each) per transaction, with
  `--pause-ms` between transactions (by default 50 ms per 6,000 rows, so that transactions of any size write
  about the same rows a second), as a retrain's chunks write theirs;
- the same, with the small commits made with `synchronous_commit = off` (not waiting for the WAL flush): the
  difference is the part of the delay that is the wait for the write-ahead log, the bulk rows' records included.
Also the WAL written during each phase. The bulk process prepares its rows once, so that its own CPU is mostly
PostgreSQL's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg

DATABASE = "inventory_ai_bench_wal"
BOUNDS = '{"lo-80": 1.2345678, "hi-80": 2.3456789, "lo-95": 0.9876543, "hi-95": 3.1234567}'


def bulk_writer(url: str, rows: int, pause: float, stop) -> None:
    data = "".join(f"{n}\t2026-12-01\t1.5\tmstl\t{BOUNDS}\n" for n in range(rows)).encode()
    with psycopg.connect(url) as conn:
        while not stop.is_set():
            with conn.cursor() as cursor, cursor.copy("COPY bulk (sku, ds, mean, model, bounds) FROM STDIN") as copy:
                copy.write(data)
            conn.commit()
            time.sleep(pause)


def small_commits(url: str, commits: int, synchronous: bool) -> np.ndarray:
    latencies = []
    with psycopg.connect(url) as conn:
        if not synchronous:
            conn.execute("SET synchronous_commit TO off")
            conn.commit()
        for _ in range(commits):
            started = time.perf_counter()
            conn.execute("INSERT INTO small (body) VALUES (%s)", ("x" * 2000,))
            conn.commit()
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    return np.array(latencies)


def phase(url: str, name: str, commits: int, rows: int, pause: float, bulk: bool, synchronous: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        start = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        stop = multiprocessing.Event()
        writer = multiprocessing.Process(target=bulk_writer, args=(url, rows, pause, stop)) if bulk else None
        if writer:
            writer.start()
            time.sleep(1.0)
        latencies = small_commits(url, commits, synchronous)
        stop.set()
        if writer:
            writer.join()
        wal = float(conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (start,)).fetchone()[0])
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    print(f"{name:<50} p50 {p50:5.2f}  p90 {p90:5.2f}  p99 {p99:6.2f}  max {latencies.max():6.1f} ms"
          f"   WAL {wal / 1e6:6.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=600)
    parser.add_argument("--rows", type=int, default=6000, help="forecast rows per bulk transaction")
    parser.add_argument("--pause-ms", type=float, help="between bulk transactions (default: 50 per 6,000 rows)")
    args = parser.parse_args()
    pause = (args.pause_ms if args.pause_ms is not None else 50 * args.rows / 6000) / 1000
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (see the docstring).")
    parts = urlsplit(base)
    admin = urlunsplit(parts._replace(path="/postgres"))
    url = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE small (id bigserial PRIMARY KEY, body text, at timestamptz DEFAULT now())")
            conn.execute(
                "CREATE TABLE bulk (id bigserial PRIMARY KEY, sku int, ds date, mean float8, model text, bounds jsonb)"
            )
            conn.execute("CREATE INDEX ON bulk (sku, ds)")
        print(
            f"{args.commits} small commits, 20 ms apart; bulk transactions of {args.rows:,} forecast rows, "
            f"{pause * 1000:.0f} ms apart"
        )
        phase(url, "quiet", args.commits, args.rows, pause, bulk=False, synchronous=True)
        phase(url, "beside the bulk writes", args.commits, args.rows, pause, bulk=True, synchronous=True)
        phase(url, "beside them, synchronous_commit off (no WAL wait)", args.commits, args.rows, pause, True, False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
