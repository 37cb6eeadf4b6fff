"""Retrain a whole store through real Celery workers: one worker process, then two, then two with one SIGKILLed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        python bench/retrain.py ../shared/data/online_retail.csv.gz

Loads the Online Retail data set into a PostgreSQL database named `inventory_ai_bench_retrain` (once; `--reload`
re-creates it), then times full retrains (every model family, the global network and model selection, cold: earlier
runs and their registry are deleted first) as of `--as-of` (default 2011-12-05, the Monday after the data's last
complete week). Each configuration gets fresh worker processes (`--pool prefork --concurrency 1` each, consuming
every queue) pointed at the same Redis and PostgreSQL. Prints wall time, SKUs/s, peak RSS per worker process
(VmHWM, the pool process that does the work), the two-versus-one speedup (each process on one thread, TensorFlow
included), and the kill test: one of two workers is
SIGKILLed (with its pool process) mid-run; the survivor takes over its unacknowledged task once the broker's
visibility timeout (`--visibility-timeout`) has passed, and the run must complete with every SKU exactly once.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "inventory_ai_bench_retrain"
STORE = "bench-retrain.myshopify.com"
QUEUES = "default,webhooks,push,training,sync,ml"


def database_url(base: str, reload: bool, name: str = BENCH_DB) -> tuple[str, bool]:
    """The URL of the bench database `name` on the server of `base`, and whether it was just created."""
    import psycopg

    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if reload and exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), not exists


def manage(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def process_tree(pid: int) -> list[int]:
    """A process and its children (a worker's pool processes, gunicorn's workers)."""
    found = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class Worker:
    def __init__(
        self, env: dict[str, str], log_dir: Path, name: str, queues: str = QUEUES, concurrency: int = 1
    ) -> None:
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "inventory_ai", "worker", "--queues", queues,
                "--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", "INFO",
                "--hostname", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
            ],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def peak_rss_mib(self) -> float:
        """The largest peak resident set (VmHWM) among the worker's processes."""
        peaks = []
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks, default=0.0)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self._log.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def measure(env, log_dir, workers: int, as_of: str, kill_after: float | None = None, domain: str = STORE) -> dict:
    from datetime import date

    from inventory_ai.celery import app
    from inventory_ai.models import Forecast, ForecastResult, ForecastRun
    from inventory_ai.services import model_registry, retraining
    from inventory_ai.services.stores import find_store

    store = find_store(domain)
    for old in ForecastRun.objects.filter(store=store):  # cold start: no warm start from an earlier run
        if old.artifacts:
            model_registry.delete(old.artifacts)
        old.delete()
    app.control.purge()
    pool = [Worker(env, log_dir, f"w{n}-of-{workers}{'-kill' if kill_after else ''}") for n in range(workers)]
    try:
        time.sleep(8)  # let the workers connect before the clock starts
        run = retraining.start_retrain(store, trigger="bench", as_of=date.fromisoformat(as_of))
        started, killed, peaks = time.monotonic(), None, [0.0] * workers
        while True:
            time.sleep(1.0)
            run.refresh_from_db()
            peaks = [max(peak, worker.peak_rss_mib()) for peak, worker in zip(peaks, pool, strict=True)]
            if kill_after is not None and killed is None and time.monotonic() - started > kill_after:
                pool[-1].kill()
                killed = (time.monotonic() - started, run.phase, run.skus_done)
            if run.status not in ("queued", "running"):
                break
            if time.monotonic() - started > 3600:
                sys.exit(f"run {run.pk} did not finish in an hour: {run.status} {run.phase}")
        wall = (run.finished_at - run.started_at).total_seconds()
        # then the restock suggestions and the stock-health report are recomputed from the new forecast
        recompute = None
        if run.status == "succeeded":
            while time.monotonic() - started < 7200:
                store.refresh_from_db()
                if store.stock_health_at and store.stock_health_at >= run.finished_at:
                    recompute = (store.stock_health_at - run.finished_at).total_seconds()
                    break
                peaks = [max(peak, worker.peak_rss_mib()) for peak, worker in zip(peaks, pool, strict=True)]
                time.sleep(1.0)
        return {
            "workers": workers,
            "status": run.status,
            "skus": run.skus_total,
            "done": run.skus_done,
            "failed": run.skus_failed,
            "results": ForecastResult.objects.filter(run=run).count(),
            "forecast_rows": Forecast.objects.filter(run=run).count(),
            "horizon": run.horizon,
            "wall": wall,
            "recompute": recompute,
            "global_s": run.global_seconds,
            "peaks": peaks,
            "killed": killed,
            "models": run.model_counts,
            "choice": run.choice,
            "rmsse": run.accuracy.get("all", {}).get("rmsse"),
            "attempts": sum(run.chunks.values_list("attempts", flat=True)),
            "chunks": run.chunks.count(),
        }
    finally:
        for worker in pool:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--as-of", default="2011-12-05")
    parser.add_argument("--workers", default="1,2", help="Worker counts to time, e.g. 1,2 (empty: only the kill test)")
    parser.add_argument("--no-kill", action="store_true", help="Skip the kill test")
    parser.add_argument("--kill-after", type=float, default=60.0, help="Seconds into the kill test's run")
    parser.add_argument(
        "--visibility-timeout", type=int, default=None,
        help="seconds before Redis redelivers an unacknowledged task: 240 with the kill test (the survivor takes the "
        "killed worker's task over), else the product's 3600 (a large store's feature models run for minutes)",
    )  # fmt: skip
    parser.add_argument("--reload", action="store_true", help="Re-create the bench database and re-import")
    parser.add_argument(
        "--database", default=BENCH_DB, help="the database to use (e.g. inventory_ai_bench_scale, already imported)"
    )
    parser.add_argument("--store", default=STORE, help="the store to retrain")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not base.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis://"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server and CELERY_BROKER_URL to Redis (see the docstring).")
    url, created = database_url(base, args.reload, args.database)
    scratch = Path(tempfile.mkdtemp(prefix="inventory-ai-bench-retrain-"))
    env = {
        **os.environ,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "DATABASE_URL": url,
        "INVENTORY_AI_VAR_DIR": str(scratch),
        "MODEL_STORAGE_DIR": str(scratch / "models"),
        # one core per worker process, TensorFlow included: the comparison is of processes, not of threads
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "CELERY_VISIBILITY_TIMEOUT": str(args.visibility_timeout or (3600 if args.no_kill else 240)),
        "CELERY_UNACKED_RESTORE_INTERVAL": "5",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    os.environ.update({key: env[key] for key in ("DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")})
    os.environ.update({key: env[key] for key in ("INVENTORY_AI_VAR_DIR", "MODEL_STORAGE_DIR")})
    manage(["migrate", "--verbosity", "0"], env)
    import django

    django.setup()
    from inventory_ai.models import Store

    if created or not Store.objects.filter(domain=args.store).exists():
        print(f"Loading {args.path.name} into {args.database} ...", flush=True)
        manage(["add_store", "shopify", "--domain", args.store, "--timezone", "Europe/London", "--currency", "GBP"],
               env)  # fmt: skip
        started = time.monotonic()
        manage(["import_orders", str(args.path), "--store", args.store, "--no-progress"], env)
        print(f"  imported in {time.monotonic() - started:.0f} s", flush=True)

    rows = []
    for workers in [int(n) for n in args.workers.split(",") if n.strip()]:
        print(f"Full retrain with {workers} worker process(es) ...", flush=True)
        rows.append(measure(env, scratch, workers, args.as_of, domain=args.store))
    if not args.no_kill:
        print(f"Kill test: 2 workers, one SIGKILLed {args.kill_after:.0f} s into the run ...", flush=True)
        rows.append(measure(env, scratch, 2, args.as_of, kill_after=args.kill_after, domain=args.store))

    if not rows:
        sys.exit("nothing measured")
    print(f"\nFull retrain of {args.store} as of {args.as_of} (horizon {rows[0]['horizon']}, every model family)")
    header = f"{'workers':<12}{'status':<11}{'SKUs':>6}{'failed':>7}{'wall s':>8}{'SKUs/s':>8}{'network s':>10}"
    print(header + f"{'peak RSS MiB per worker':>26}{'attempts':>10}")
    for row in rows:
        label = f"{row['workers']}{' (kill)' if row['killed'] else ''}"
        peaks = " / ".join(f"{peak:,.0f}" for peak in row["peaks"])
        print(
            f"{label:<12}{row['status']:<11}{row['skus']:>6}{row['failed']:>7}{row['wall']:>8.1f}"
            f"{row['skus'] / row['wall']:>8.1f}{row['global_s'] or 0:>10.1f}{peaks:>26}"
            f"{row['attempts']:>6}/{row['chunks']}"
        )
    timed = {row["workers"]: row for row in rows if not row["killed"]}
    if 1 in timed and 2 in timed:
        print(f"\nSpeedup two versus one worker: {timed[1]['wall'] / timed[2]['wall']:.2f}x")
    for row in rows:
        complete = row["done"] + row["failed"] == row["skus"] == row["results"]
        exact = row["forecast_rows"] == row["done"] * row["horizon"]
        if row["killed"]:
            at, phase, done = row["killed"]
            print(
                f"Kill test: worker SIGKILLed at {at:.0f} s (phase {phase}, {done} SKUs done); run {row['status']}, "
                f"{row['results']} outcomes for {row['skus']} SKUs, {row['forecast_rows']} forecast rows "
                f"({'every SKU exactly once' if complete and exact else 'MISMATCH'})"
            )
        elif not (complete and exact):
            print(f"MISMATCH with {row['workers']} worker(s): {row}")
    for row in rows:
        if row["recompute"] is not None:
            print(f"Suggestions and stock health recomputed {row['recompute']:.1f} s after the run "
                  f"({row['workers']} worker(s))")  # fmt: skip
    last = rows[0]
    print(f"\nModels chosen per class: {last['choice']}; backtest RMSSE of the chosen models {last['rmsse']}")
    print("Model counts: " + ", ".join(f"{name} {count}" for name, count in last["models"].items()))


if __name__ == "__main__":
    main()
