"""Many stores on one deployment: their nightly retrains spread over the night, and the webhooks meanwhile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \\
        python bench/stores.py var/scale-10k.csv.gz --stores 50 --window 900

Splits an order file of `bench/scale.py generate` into `--stores` stores by SKU (a hash of the stock code, so each
store gets its own share of the catalogue and the invoices that hold it), imports each one with `manage.py
import_orders` into the database `inventory_ai_bench_stores` (once; `--reload` starts again), then runs the
deployment's layout of docker-compose.yml on this machine: gunicorn, the short-work worker (`default,webhooks,push`,
one process) and the long-work worker (`training,sync,ml`, `--training-processes`; in a CPU control group of
`--long-work-shares`, as docker-compose.yml's `cpu_shares` puts it, where this machine allows one; with
`--long-work-policy idle`, also at the kernel's idle scheduling policy, which any other process preempts at once;
with `--long-work-cpus`, only on those CPUs: the product's LONG_WORK_IDLE and LONG_WORK_CPUS). Each store's full
retrain starts at its slot of a night compressed into `--window` seconds (store i of n at i/n of it, as beat spreads
them over RETRAIN_WINDOW_HOURS), as of `--as-of`. Meanwhile a client posts signed order webhooks to random stores at
`--rate` per second; each one's latency is from its post to its order applied (the event's `processed_at`), and
from its post to the answer.

Prints per store the retrain's wait (queued to started) and duration, whether every retrain ended within the window,
the spread of durations (fairness: the slowest over the median), and the webhooks' latency p50/p90/p95/p99 while
nothing else runs and while the retrains run (applied and answered; while they run, applied also split by whether the
webhook's own store was retraining then), and in each of those phases how long the web's and the short-work worker's
processes waited, runnable, for a core (the kernel's schedstat) and how busy each core was. With `--neighbour`, a
phase as long as the quiet one comes between it and the retrains, with a process that does nothing the product does
(only counting, or only streaming memory) on the long-work CPUs at the idle policy: what a busy core next door costs
the webhooks by itself, whatever runs on it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hashlib
import hmac
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrain import Worker, database_url, manage, process_tree  # noqa: E402
from bench.webhooks import free_port, wait_until_ready  # noqa: E402
from inventory_ai.worker_cpus import parse_cpu_list  # noqa: E402

BENCH_DB = "inventory_ai_bench_stores"
LONG_WORK_SHARES = 128  # docker-compose.yml's cpu_shares of the long-work workers
SECRET = "bench-stores"
PHASES = ("quiet", "neighbour", "retrains")
# `--neighbour`: a process on the long-work CPUs at the idle policy that does nothing the product does. "cpu" only
# counts (no system call, no memory beyond its registers); "memory" streams a 400 MB array through the caches.
NEIGHBOURS = {
    "cpu": "n = 0\nwhile True:\n    n += 1",
    "memory": "import numpy as np\na = np.ones(50_000_000)\nwhile True:\n    a.sum()",
}


def domain(number: int) -> str:
    return f"bench-store-{number:03d}.myshopify.com"


def split(path: Path, stores: int, scratch: Path) -> list[Path]:
    """Write one order file per store: the rows whose stock code hashes to it."""
    paths = [scratch / f"store-{number:03d}.csv" for number in range(stores)]
    outputs = [open(target, "w", encoding="utf-8") for target in paths]  # noqa: SIM115  (closed below)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as rows:
            header = next(rows)
            for out in outputs:
                out.write(header)
            for row in rows:
                code = row.split(",", 2)[1]
                outputs[zlib.crc32(code.encode()) % stores].write(row)
    finally:
        for out in outputs:
            out.close()
    return paths


def load(env: dict[str, str], path: Path, stores: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        files = split(path, stores, Path(scratch))
        started = time.monotonic()
        for number, part in enumerate(files):
            manage(["add_store", "shopify", "--domain", domain(number), "--webhook-secret", SECRET, "--timezone",
                    "Europe/London", "--currency", "GBP"], env)  # fmt: skip
            manage(["import_orders", str(part), "--store", domain(number), "--no-progress"], env)
        print(f"  {stores} stores imported in {time.monotonic() - started:,.0f} s", flush=True)


class Poster(threading.Thread):
    """Posts signed orders/create webhooks to random stores at `rate` per second; keeps each event's id and phase."""

    def __init__(self, base: str, stores: int, rate: float, skus: dict[int, list[tuple[str, str]]]) -> None:
        super().__init__(daemon=True)
        self.base, self.stores, self.rate, self.skus = base, stores, rate, skus
        self.phase = "quiet"
        self.sent: list[tuple[str, str, int]] = []  # (webhook id, phase, store number)
        self.answered: dict[str, list[float]] = {phase: [] for phase in PHASES}  # ms from post to the 200, by phase
        self.errors = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        rng = random.Random(7)
        number = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            store = rng.randrange(self.stores)
            variant, sku = rng.choice(self.skus[store])
            number += 1
            now = datetime.now().astimezone().isoformat()
            payload = {
                "id": 9_000_000_000 + number, "name": f"#B{number}", "currency": "GBP", "created_at": now,
                "updated_at": now,
                "cancelled_at": None, "refunds": [],
                "line_items": [{"id": 8_000_000_000 + number, "variant_id": int(variant), "product_id": None,
                                "sku": sku, "title": sku, "quantity": 1, "current_quantity": 1, "price": "1.00"}],
            }  # fmt: skip
            body = json.dumps(payload).encode()
            digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
            webhook_id = str(uuid.uuid4())
            request = urllib.request.Request(
                f"{self.base}/webhooks/shopify/", data=body, method="POST",
                headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                         "X-Shopify-Hmac-Sha256": digest, "X-Shopify-Shop-Domain": domain(store),
                         "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-API-Version": "2026-10"},
            )  # fmt: skip
            phase, posted = self.phase, time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=10):
                    self.answered[phase].append((time.perf_counter() - posted) * 1000)
                    self.sent.append((webhook_id, phase, store))
            except OSError:
                self.errors += 1
            self.stopping.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))


def weigh_cpu(pids: list[int], shares: int, name: str) -> Path | None:
    """Put these processes (and what they fork afterwards) in a CPU control group of `shares` against the 1,024 of
    every other process, as docker-compose.yml's `cpu_shares` does for a container and systemd's `CPUWeight=` for a
    service: when the cores are contended, the others are served first. cgroup v1 (`cpu.shares`) or v2 (`cpu.weight`,
    100 the default); None where neither is writable here (the run then says so).

    A process's nice value cannot do this: each worker is the leader of its own session, and the kernel's autogroups
    share the cores between sessions before nice values count (a long-work worker at nice 10 left the webhooks' p99
    where it was)."""
    candidates = [
        (Path("/sys/fs/cgroup/cpu") / name, "cpu.shares", str(shares)),
        (Path("/sys/fs/cgroup") / name, "cpu.weight", str(max(1, round(shares * 100 / 1024)))),
    ]
    for group, knob, value in candidates:
        if not (group.parent / "cgroup.procs").exists() or not os.access(group.parent, os.W_OK):
            continue
        try:
            group.mkdir(exist_ok=True)
            (group / knob).write_text(value)
            for pid in pids:
                (group / "cgroup.procs").write_text(str(pid))
        except OSError:  # v2 without the cpu controller delegated, say: moved back, and the group removed
            for pid in pids:
                with contextlib.suppress(OSError):
                    (group.parent / "cgroup.procs").write_text(str(pid))
            with contextlib.suppress(OSError):
                group.rmdir()
            continue
        return group
    return None


def release_cpu_group(group: Path | None) -> None:
    """Remove a control group of `weigh_cpu` once its processes have ended (the kernel refuses while they live)."""
    for _ in range(20):
        try:
            if group is not None:
                group.rmdir()
            return
        except OSError:
            time.sleep(0.5)


@dataclass(frozen=True)
class Mark:
    """At one moment: the seconds some processes have waited, runnable, for a core (the kernel's schedstat), and
    every CPU's busy and idle ticks (/proc/stat). Between two marks: how long the webhooks' processes queued for a
    core, and how busy each core was."""

    at: float
    waits: dict[int, float]  # per process
    ticks: dict[int, tuple[int, int]]

    @classmethod
    def take(cls, pids: list[int]) -> Mark:
        waits = {}
        for pid in pids:
            with contextlib.suppress(OSError, IndexError, ValueError):
                waits[pid] = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
        ticks = {}
        with contextlib.suppress(OSError):
            for line in Path("/proc/stat").read_text().splitlines():
                name, *values = line.split()
                if name.startswith("cpu") and name != "cpu":
                    numbers = [int(value) for value in values[:8]]
                    idle = numbers[3] + numbers[4]
                    ticks[int(name[3:])] = (sum(numbers) - idle, idle)
        return cls(time.monotonic(), waits, ticks)

    @staticmethod
    def waited(start: Mark, end: Mark) -> float:
        """Seconds waited between the marks by the processes alive at both (a replaced one is left out)."""
        return sum(end.waits[pid] - start.waits[pid] for pid in end.waits.keys() & start.waits.keys())

    @staticmethod
    def busy_shares(start: Mark, end: Mark) -> dict[int, float]:
        shares = {}
        for cpu, (busy, idle) in end.ticks.items():
            before = start.ticks.get(cpu, (0, 0))
            total = (busy - before[0]) + (idle - before[1])
            shares[cpu] = (busy - before[0]) / total if total else 0.0
        return shares


def policy_name(pid: int) -> str:
    """A process's scheduling policy by name (SCHED_IDLE: it runs only when nothing else of the machine's wants a
    core, and any other process that wakes takes the core from it at once)."""
    try:
        policy = os.sched_getscheduler(pid)
    except OSError:
        return "ended"
    names = {os.SCHED_OTHER: "normal", os.SCHED_BATCH: "batch", os.SCHED_IDLE: "idle"}
    return names.get(policy, str(policy))


def cpu_list(pid: int) -> str:
    """The CPUs a process may run on ("0,1")."""
    try:
        return ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(pid)))
    except OSError:
        return "?"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


@contextlib.contextmanager
def neighbour(kind: str, cpus: set[int]):
    """A `NEIGHBOURS` process kept to `cpus` at the idle policy while the block runs."""
    process = subprocess.Popen([sys.executable, "-c", NEIGHBOURS[kind]])
    try:
        os.sched_setaffinity(process.pid, cpus)
        os.sched_setscheduler(process.pid, os.SCHED_IDLE, os.sched_param(0))
        yield process
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="an order file written by bench/scale.py generate")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--window", type=float, default=900, help="seconds of the compressed night")
    parser.add_argument("--as-of", default="2011-12-05")
    parser.add_argument("--rate", type=float, default=5.0, help="webhooks posted per second")
    parser.add_argument("--quiet", type=float, default=60, help="seconds of webhooks before the first retrain")
    parser.add_argument("--training-processes", type=int, default=2)
    parser.add_argument(
        "--long-work-shares", type=int, default=LONG_WORK_SHARES,
        help="the long-work worker's CPU shares against 1,024 for the rest (docker-compose.yml's); 0: none",
    )  # fmt: skip
    parser.add_argument(
        "--long-work-policy", choices=("normal", "idle"), default="normal",
        help="the long-work worker's scheduling policy: normal or idle (LONG_WORK_IDLE)",
    )  # fmt: skip
    parser.add_argument(
        "--long-work-cpus", default="", help="the CPUs the long-work worker may run on (LONG_WORK_CPUS): 1, 2-3"
    )
    parser.add_argument(
        "--neighbour", choices=sorted(NEIGHBOURS),
        help="after the quiet phase, as long again with a neighbour on the long-work CPUs at the idle policy: a "
        "process that only counts (cpu) or streams memory (memory), to tell what any busy core costs the webhooks "
        "from what the retrains do",
    )  # fmt: skip
    parser.add_argument("--reload", action="store_true", help="re-create the database and re-import")
    parser.add_argument("--load-only", action="store_true", help="import the stores, then stop")
    args = parser.parse_args()
    base_url, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis://"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server and CELERY_BROKER_URL to Redis (see the docstring).")
    url, created = database_url(base_url, args.reload, BENCH_DB)
    scratch = Path(tempfile.mkdtemp(prefix="inventory-ai-bench-stores-"))
    env = {
        **os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "inventory_ai.settings", "DATABASE_URL": url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "INVENTORY_AI_VAR_DIR": str(scratch),
        "MODEL_STORAGE_DIR": str(scratch / "models"), "LOG_LEVEL": "WARNING", "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
    }  # fmt: skip
    os.environ.update({key: env[key] for key in ("DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")})
    os.environ.update({key: env[key] for key in ("INVENTORY_AI_VAR_DIR", "MODEL_STORAGE_DIR")})
    manage(["migrate", "--verbosity", "0"], env)
    import django

    django.setup()
    from inventory_ai.celery import app
    from inventory_ai.models import ForecastRun, Store, Variant, WebhookEvent
    from inventory_ai.services import retraining

    if created or Store.objects.count() < args.stores:
        print(f"Loading {args.path.name} into {args.stores} stores ...", flush=True)
        load(env, args.path, args.stores)
    if args.load_only:
        return
    stores = [Store.objects.get(domain=domain(number)) for number in range(args.stores)]
    ForecastRun.objects.filter(store__in=stores).delete()
    skus = {
        number: list(Variant.objects.filter(store=store).values_list("platform_id", "sku")[:50])
        for number, store in enumerate(stores)
    }
    app.control.purge()

    port = free_port()
    web_log = open(scratch / "web.log", "wb")  # noqa: SIM115  (closed below)
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:inventory_ai.gunicorn_conf", "inventory_ai.wsgi",
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=web_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    short = Worker(env, scratch, "short", queues="default,webhooks,push", concurrency=1)
    # the product's own settings place the long-work worker (inventory_ai.worker_cpus)
    placed = {"LONG_WORK_CPUS": args.long_work_cpus, "LONG_WORK_IDLE": "1" if args.long_work_policy == "idle" else ""}
    long = Worker({**env, **placed}, scratch, "long", queues="training,sync,ml", concurrency=args.training_processes)
    weighed = None
    if args.long_work_shares:
        weighed = weigh_cpu(long.pids(), args.long_work_shares, f"inventory-ai-bench-long-{os.getpid()}")
    poster = Poster(f"http://127.0.0.1:{port}", args.stores, args.rate, skus)
    runs: dict[int, ForecastRun] = {}
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/healthz/live")
        time.sleep(8)  # the workers connect
        policies = sorted({policy_name(pid) for pid in long.pids()})
        affinities = sorted({cpu_list(pid) for pid in long.pids()})
        webhook_processes = [*short.pids(), *process_tree(web.pid)]
        marks = [Mark.take(webhook_processes)]
        poster.start()
        time.sleep(args.quiet)
        marks.append(Mark.take(webhook_processes))
        if args.neighbour:
            poster.phase = "neighbour"
            with neighbour(args.neighbour, parse_cpu_list(args.long_work_cpus) or set(os.sched_getaffinity(0))):
                time.sleep(args.quiet)
            marks.append(Mark.take(webhook_processes))
        poster.phase = "retrains"
        night = time.monotonic()
        for number, store in enumerate(stores):
            time.sleep(max(0.0, night + args.window * number / args.stores - time.monotonic()))
            runs[number] = retraining.start_retrain(store, trigger="bench", as_of=date.fromisoformat(args.as_of))
        while any(run.status in ("queued", "running") for run in runs.values()):
            time.sleep(2)
            for run in runs.values():
                run.refresh_from_db()
            if time.monotonic() - night > 3 * args.window + 3600:
                break
        ended = time.monotonic() - night
        marks.append(Mark.take(webhook_processes))
        poster.stopping.set()
        poster.join()
        time.sleep(5)  # the last webhooks applied
    finally:
        poster.stopping.set()
        for worker in (short, long):
            worker.stop()
        release_cpu_group(weighed)
        web.terminate()
        web.wait(timeout=60)
        web_log.close()

    events = {
        event.delivery_id: event
        for event in WebhookEvent.objects.filter(delivery_id__in=[webhook for webhook, _, _ in poster.sent])
    }
    for run in runs.values():
        run.refresh_from_db()
    latency = {phase: [] for phase in PHASES if phase != "neighbour" or args.neighbour}
    own_store = {"to a store retraining": [], "to the others": []}  # while the retrains ran, by the webhook's store
    for webhook_id, phase, number in poster.sent:
        event = events.get(webhook_id)
        if event is not None and event.processed_at is not None:
            took = (event.processed_at - event.received_at).total_seconds() * 1000
            latency[phase].append(took)
            if phase == "retrains":
                run = runs.get(number)
                busy = run is not None and run.started_at is not None and run.started_at <= event.received_at
                busy = busy and (run.finished_at is None or event.received_at <= run.finished_at)
                own_store["to a store retraining" if busy else "to the others"].append(took)
    unapplied = len(poster.sent) - sum(len(values) for values in latency.values())

    shares = f"{args.long_work_shares} of 1,024 ({weighed})" if weighed else "as the rest's (no control group)"
    print(f"\n{args.stores} stores, their full retrains spread over a {args.window:,.0f} s night, as of {args.as_of};"
          f" {args.training_processes} training processes, 1 short-work process; long work's CPU shares: "
          f"{shares}; its scheduling policy: {', '.join(policies)}; its CPUs: {', '.join(affinities)}")  # fmt: skip
    print(f"{'store':<34}{'SKUs':>6}{'wait s':>9}{'retrain s':>11}{'ended at s':>12}  status")
    durations, late = [], 0
    for number, run in runs.items():
        wait = (run.started_at - run.created_at).total_seconds() if run.started_at else float("nan")
        took = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
        end = (run.finished_at - runs[0].created_at).total_seconds() if run.finished_at else float("nan")
        late += not (run.finished_at and end <= args.window * (1 + 1 / args.stores))
        if took is not None:
            durations.append(took)
        print(f"{domain(number):<34}{run.skus_total:>6}{wait:>9.1f}{took or float('nan'):>11.1f}{end:>12.1f}  "
              f"{run.status}")  # fmt: skip
    print(f"\nevery retrain ended within the night (window + one slot): {'yes' if not late else f'no, {late} late'};"
          f" the last ended {ended:,.0f} s after the first started")  # fmt: skip
    if durations:
        print(f"retrain duration: median {statistics.median(durations):.1f} s, slowest {max(durations):.1f} s "
              f"({max(durations) / statistics.median(durations):.2f}x the median)")  # fmt: skip

    def figures(values: list[float]) -> str:
        return ", ".join(f"p{round(share * 100)} {percentile(values, share):,.1f}" for share in (0.5, 0.9, 0.95, 0.99))

    for phase, values in latency.items():
        print(f"webhooks {phase:<9} {len(values):>5} applied (post to order applied): {figures(values)} ms")
        answered = poster.answered[phase]
        print(f"{'':<19}{len(answered):>5} answered (post to its 200):       {figures(answered)} ms")
    for group, values in own_store.items():
        if values:
            print(f"  while the retrains ran, {group}: {len(values):>5} applied: {figures(values)} ms")
    print(f"webhooks not applied: {unapplied}, refused or failed posts: {poster.errors}")
    for phase, (start, end) in zip(latency, itertools.pairwise(marks), strict=True):
        seconds = end.at - start.at
        waited = Mark.waited(start, end) * 1000
        busy = ", ".join(f"CPU {cpu} {share:.0%}" for cpu, share in sorted(Mark.busy_shares(start, end).items()))
        print(f"the web's and the short-work worker's processes, {phase}: waited for a core {waited / seconds:.1f} "
              f"ms a second ({waited / max(1, len(latency[phase])):.1f} ms a webhook); cores busy: {busy}")  # fmt: skip


if __name__ == "__main__":
    main()
