"""The README's own path, timed and measured: import a store's order history from CSV, then retrain it and wait.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        python bench/readme_path.py ../shared/data/online_retail.csv.gz [--as-of 2011-12-10] [--shift-to-today]

Exactly what a new user does: a fresh PostgreSQL database (`inventory_ai_bench_readme`, re-created each time),
`manage.py add_store`, `manage.py import_orders <file> --store <domain>`, one Celery worker of two pool processes
consuming every queue (`-Q default,webhooks,push,training,sync,ml -c 2`), then `manage.py retrain --store <domain>
--wait` as of today (or `--as-of`). `--shift-to-today` moves every date of the file forward by whole weeks so that
its sales end last week (a live store rather than an old export), and `--years N` repeats its year N times back to
back (a live store with a long history). Prints the import's and the retrain's wall time, the run's outcome and the
peak resident memory (VmHWM) of every worker process, pool processes that were replaced included. """

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrain import Worker, database_url  # noqa: E402  (the bench folder's own helpers)

BENCH_DB = "inventory_ai_bench_readme"
STORE = "readme-path.myshopify.com"


def peaks_by_process(worker: Worker) -> dict[int, float]:
    """Peak resident memory (MiB) of each of the worker's processes now alive."""
    out = {}
    for pid in worker.pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                out[pid] = int(line.split()[1]) / 1024
    return out


def shifted_copy(source: Path, folder: Path, years: int = 1) -> Path:
    """The Online Retail file with every invoice date moved forward by whole weeks so that it ends last week; with
    `years` > 1, the year repeated that many times back to back (52 weeks apart, invoice numbers kept apart), ending
    last week: a live store with a long history."""
    import pandas as pd

    frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="latin-1")
    stamps = pd.to_datetime(frame["InvoiceDate"])
    weeks = (pd.Timestamp(date.today() - timedelta(days=7)) - stamps.max()).days // 7
    credit = frame["InvoiceNo"].str.startswith("C")
    number = pd.to_numeric(frame["InvoiceNo"].str.lstrip("C"), errors="coerce")
    target = folder / "online_retail_shifted.csv.gz"
    with gzip.open(target, "wt", encoding="latin-1") as handle:
        for back in range(years - 1, -1, -1):
            copy = frame.copy()
            copy["InvoiceDate"] = (stamps + pd.Timedelta(weeks=weeks - 52 * back)).dt.strftime("%Y-%m-%d %H:%M:%S")
            renumbered = (number + 1_000_000 * back).astype("Int64").astype(str)
            copy["InvoiceNo"] = renumbered.where(number.notna(), frame["InvoiceNo"]).where(~credit, "C" + renumbered)
            copy.to_csv(handle, index=False, header=back == years - 1)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--as-of", help="Retrain as of this day (default: today)")
    parser.add_argument("--shift-to-today", action="store_true", help="Move the file's dates to end last week")
    parser.add_argument("--years", type=int, default=1, help="With --shift-to-today: repeat the year this many times")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not base.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis://"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server and CELERY_BROKER_URL to Redis (see the docstring).")
    url, _ = database_url(base, reload=True, name=BENCH_DB)
    scratch = Path(tempfile.mkdtemp(prefix="inventory-ai-bench-readme-"))
    env = {
        **os.environ,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "DATABASE_URL": url,
        "INVENTORY_AI_VAR_DIR": str(scratch),
        "MODEL_STORAGE_DIR": str(scratch / "models"),
    }
    source = shifted_copy(args.path, scratch, args.years) if args.shift_to_today else args.path

    def manage(*command: str, timeout: float | None = None) -> tuple[float, str]:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=timeout,
        )  # fmt: skip
        output = result.stdout + result.stderr
        if result.returncode:
            print(output[-4000:])
            print(f"manage.py {command[0]} exited {result.returncode}")
        return time.monotonic() - started, output

    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "inventory_ai", "purge", "-f"],
        cwd=ROOT, env=env, capture_output=True, check=False,
    )  # fmt: skip
    manage("migrate", "--verbosity", "0")
    manage("add_store", "shopify", "--domain", STORE, "--webhook-secret", "bench", "--access-token", "shpat_bench")
    import_seconds, output = manage("import_orders", str(source), "--store", STORE, "--no-progress")
    print(f"import_orders: {import_seconds:.0f} s")
    print("\n".join("  " + line for line in output.strip().splitlines()[-4:]))

    worker = Worker(env, scratch, "readme", queues="default,webhooks,push,training,sync,ml", concurrency=2)
    peaks: dict[int, float] = {}
    retrain = ["retrain", "--store", STORE, "--wait", "--timeout", str(args.timeout)]
    if args.as_of:
        retrain += ["--as-of", args.as_of]
    try:
        time.sleep(8)  # let the worker connect before the clock starts
        process = subprocess.Popen(
            [sys.executable, "manage.py", *retrain],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        started = time.monotonic()
        while process.poll() is None:
            for pid, peak in peaks_by_process(worker).items():
                peaks[pid] = max(peaks.get(pid, 0.0), peak)
            time.sleep(0.5)
        wall = time.monotonic() - started
        output = process.stdout.read()
    finally:
        worker.stop()
    lines = output.strip().splitlines()
    print(f"retrain --wait: exit {process.returncode} after {wall:.0f} s")
    print("\n".join("  " + line[:400] for line in lines[-6:]))
    print(f"Peak RSS per worker process (MiB; {len(peaks)} processes, the first is the main one):")
    print("  " + ", ".join(f"{peak:,.0f}" for _, peak in sorted(peaks.items())))
    print(f"Largest: {max(peaks.values(), default=0):,.0f} MiB")


if __name__ == "__main__":
    main()
