"""The running product for the chaos suite (`bench/chaos.py`): private PostgreSQL and Redis servers, gunicorn,
Celery workers, the store simulator's replay, and the database counts that prove nothing was lost or doubled."""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT.parent / "shared" / "data" / "online_retail.csv.gz"
HISTORY = ROOT / "inventory_ai" / "demo" / "online_retail_sample.csv.gz"
SCENARIOS = ("redis", "postgres", "kill", "storm", "abuse", "access")
SHOP = "chaos-gifts.myshopify.com"
STORM_SHOP = "chaos-storm.myshopify.com"
RETRAIN_SHOP = "chaos-retrain.myshopify.com"
WOO_SITE = "https://chaos-woo.example"
WEBHOOK_SECRET = "chaos-webhook-secret"
ACCESS_TOKEN = "shpat_chaos_" + "7f3a9c2e5b1d4086"
WOO_CONSUMER_SECRET = "cs_chaos_" + "91be44d0c2a7f613"
TEMPLATE_DB = "chaos_template"
CHAOS_DB = "chaos"
CREDENTIALS_KEY = "pE2x7sQGQx7p3kCOvBuk0dWnGgVnKfbZ0mxsK3Y5hlM="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Private services ---------------------------------------------------------------------------------------------


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a scratch folder, on its own port (run as `postgres` when we are root)."""

    def __init__(self, scratch: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
        if not found[-1]:
            sys.exit("PostgreSQL's server programs (initdb, pg_ctl) are needed for the chaos suite")
        self.bindir = Path(found[-1]).parent
        self.home = scratch / "postgres"
        self.home.mkdir()
        self.data = self.home / "data"
        self.port = free_port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            scratch.chmod(0o711)  # the server's own user must reach its folder
            shutil.chown(self.home, "postgres", "postgres")
            self.home.chmod(0o700)
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        (self.data / "postgresql.auto.conf").write_text(
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.home}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
        )
        if self.as_owner:
            shutil.chown(self.data / "postgresql.auto.conf", "postgres", "postgres")
        self.start()

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [*self.as_owner, str(self.bindir / program), *args], capture_output=True, text=True, cwd=self.home
        )
        if result.returncode:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")


class PrivateRedis:
    """A Redis server of our own, keeping nothing on disk: stopping it loses every queued message, as a crash would."""

    def __init__(self, scratch: Path) -> None:
        self.port = free_port()
        self.log = scratch / "redis.log"
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        sys.exit("the private Redis server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # a crash, not a clean shutdown
            self.process.wait()

    def close(self) -> None:
        self.stop()


# --- The product, running ---------------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    scratch: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    env: dict[str, str]
    api_token: str = ""
    viewer_token: str = ""
    viewer_password: str = ""
    rows: list[dict] = field(default_factory=list)


class Web:
    """gunicorn serving the product."""

    def __init__(self, ctx: Context, workers: int = 3) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = open(ctx.scratch / f"web-{self.port}.log", "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:inventory_ai.gunicorn_conf", "inventory_ai.wsgi",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--access-logfile", "/dev/null"],
            cwd=ROOT, env=ctx.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.base}/healthz/live", timeout=2):
                return
            time.sleep(0.3)
        sys.exit(f"gunicorn did not answer; see {self._log.name}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        self._log.close()


def manage(ctx: Context, *args: str, database: str = CHAOS_DB) -> str:
    env = {**ctx.env, "DATABASE_URL": ctx.postgres.url(database)}
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def build_template(ctx: Context, with_history: bool = True) -> None:
    """Migrate once into a template database with the stores, users and history every scenario starts from."""
    log("building the template database (migrations, stores, users, history)")
    ctx.postgres.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    manage(ctx, "migrate", "--noinput", database=TEMPLATE_DB)
    manage(ctx, "collectstatic", "--noinput", database=TEMPLATE_DB)
    for domain in (SHOP, STORM_SHOP, RETRAIN_SHOP):
        manage(ctx, "add_store", "shopify", "--domain", domain, "--webhook-secret", WEBHOOK_SECRET,
               "--timezone", "Europe/London", database=TEMPLATE_DB)  # fmt: skip
    ctx.api_token, ctx.viewer_token, ctx.viewer_password = (secrets.token_hex(20) for _ in range(3))
    setup = f"""
from inventory_ai.services.api_tokens import issue_token
from inventory_ai.services.roles import PLANNER, VIEWER, create_staff_user
from inventory_ai.services.stores import upsert_store
planner = create_staff_user("chaos-planner", PLANNER, "{secrets.token_urlsafe(16)}")
viewer = create_staff_user("chaos-viewer", VIEWER, "{ctx.viewer_password}")
issue_token(planner, key="{ctx.api_token}")
issue_token(viewer, key="{ctx.viewer_token}")
upsert_store("shopify", "{SHOP}", credentials={{"access_token": "{ACCESS_TOKEN}"}})
upsert_store("woocommerce", "{WOO_SITE}", webhook_secret="{WEBHOOK_SECRET}",
             credentials={{"consumer_key": "ck_chaos", "consumer_secret": "{WOO_CONSUMER_SECRET}"}})
"""
    manage(ctx, "shell", "-c", setup, database=TEMPLATE_DB)
    if with_history:
        manage(ctx, "import_orders", str(HISTORY), "--store", RETRAIN_SHOP, "--no-progress", database=TEMPLATE_DB)


def fresh_database(ctx: Context) -> None:
    from django.db import connections

    connections.close_all()
    ctx.postgres.execute(
        f'DROP DATABASE IF EXISTS "{CHAOS_DB}" WITH (FORCE)', f'CREATE DATABASE "{CHAOS_DB}" TEMPLATE "{TEMPLATE_DB}"'
    )
    import redis

    redis.Redis.from_url(ctx.redis.url).flushall()


def setup_django(ctx: Context) -> None:
    os.environ.update(ctx.env)
    import django

    django.setup()


def reconnect() -> None:
    """Drop this process's database connections (after PostgreSQL restarted under them)."""
    from django.db import connections

    for connection in connections.all():
        with contextlib.suppress(Exception):
            connection.close()


# --- Replays and checks ---------------------------------------------------------------------------------------------


class Replay:
    """The store simulator replaying orders as signed Shopify webhooks, in a process of its own."""

    def __init__(self, ctx: Context, web: Web, shop: str, *, limit: int, rate: float, extra: tuple = ()) -> None:
        self.out = ctx.scratch / f"replay-{shop}-{time.monotonic_ns()}.json"
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integrations.simulator", "replay", "--platform", "shopify",
             "--orders", str(ctx.args.orders), "--target", f"{web.base}/webhooks/shopify/",
             "--secret", WEBHOOK_SECRET, "--shop-domain", shop, "--limit", str(limit), "--rate", str(rate),
             "--concurrency", "8", "--max-attempts", "30", "--backoff-cap", "4", "--seed", "11", *extra,
             "--json-out", str(self.out)],
            cwd=ROOT, env=ctx.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self) -> dict:
        _, errors = self.process.communicate()
        if self.process.returncode:
            sys.exit(f"the replay failed:\n{errors.decode()[-3000:]}")
        return json.loads(self.out.read_text())


def settle(timeout: float = 300, stale_after: float = 20.0) -> dict:
    """Wait until no event is left waiting. Every 10 s the sweeper enqueues the events that have waited longer than
    `stale_after` seconds with no task to pick them up (its beat entry does the same every two minutes, for events
    five minutes old): those the broker never got, and those it lost when Redis restarted empty."""
    from django.db import DatabaseError

    from inventory_ai.models import WebhookEvent
    from inventory_ai.services.webhooks import requeue_stale_events

    deadline, swept, next_sweep = time.monotonic() + timeout, 0, time.monotonic() + stale_after
    while time.monotonic() < deadline:
        try:
            if not WebhookEvent.objects.filter(status="received").exists():
                break
            if time.monotonic() >= next_sweep:
                swept += requeue_stale_events(timedelta(seconds=stale_after))
                next_sweep = time.monotonic() + 10
        except DatabaseError:
            reconnect()
        time.sleep(1)
    return {"requeued_by_sweeper": swept}


def store_totals(domain: str) -> dict:
    """What the database holds for one store: orders, lines, net units, events by status, and a digest of the daily
    demand (variant, date, units) that two equal stores share."""
    from django.db.models import Count, Sum

    from inventory_ai.choices import OrderStatus
    from inventory_ai.models import DailyDemand, Order, OrderLine, Refund, WebhookEvent
    from inventory_ai.selectors import NET_LINE_UNITS

    lines = OrderLine.objects.filter(order__store__domain=domain)
    net = lines.filter(order__status=OrderStatus.OPEN).aggregate(units=Sum(NET_LINE_UNITS))["units"]
    demand = DailyDemand.objects.filter(variant__store__domain=domain).exclude(units=0)
    digest = hashlib.sha256(
        repr(list(demand.order_by("variant__sku", "date").values_list("variant__sku", "date", "units"))).encode()
    ).hexdigest()[:12]
    events = dict(
        WebhookEvent.objects.filter(store__domain=domain).values_list("status").annotate(count=Count("pk")).order_by()
    )
    return {
        "orders": Order.objects.filter(store__domain=domain).count(),
        "cancelled": Order.objects.filter(store__domain=domain, status=OrderStatus.CANCELLED).count(),
        "order_lines": lines.count(),
        "net_units": int(net or 0),
        "refunds": Refund.objects.filter(order__store__domain=domain).count(),
        "demand_units": demand.aggregate(units=Sum("units"))["units"] or 0,
        "demand_digest": digest,
        "events": {status: events.get(status, 0) for status in ("received", "processed", "ignored", "failed")},
    }


def compare(checks: dict, name: str, got, expected) -> None:
    checks[name] = (got, expected, got == expected)


def source_checks(report: dict, totals: dict) -> dict:
    source, checks = report["source"], {}
    compare(checks, "orders", totals["orders"], source["orders"])
    compare(checks, "order lines", totals["order_lines"], source["order_lines"])
    compare(checks, "net units", totals["net_units"], source["net_units"])
    stored = sum(totals["events"].values())
    compare(checks, "events stored (once each)", stored, report["events"])
    compare(checks, "events failed", totals["events"]["failed"], 0)
    compare(checks, "events left waiting", totals["events"]["received"], 0)
    compare(checks, "deliveries given up by the sender", report["rejected"], 0)
    return checks


def row(scenario: str, load: str, faults: str, bad_inputs: str, checks: dict, notes: str = "") -> dict:
    return {"scenario": scenario, "load": load, "faults": faults, "bad_inputs": bad_inputs, "checks": checks,
            "notes": notes}  # fmt: skip


def load_line(report: dict) -> str:
    return (
        f"{report['sent']:,} requests for {report['events']:,} events in {report['wall_seconds']:.0f} s "
        f"({report['sent'] / max(report['wall_seconds'], 1e-9):.0f}/s)"
    )


def answers_line(report: dict) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in report["answers"].items())
