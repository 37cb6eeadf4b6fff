"""`manage.py demo`: the one-command demo (run by `make demo`).

Migrates the database, creates a planner, a viewer and an admin user (passwords printed), starts the store
simulator as a demo Shopify shop holding the bundled Online Retail sample moved to the present, imports its older
history from CSV, starts the web server, a Celery worker and Celery beat on the configured broker (by default the
embedded filesystem broker, so nothing else needs to run), replays the last four weeks as the shop's signed
webhooks, reconciles the shop's catalogue and stock, runs the first retrain, and prints the admin URL. Ctrl-C stops
everything. With DEMO_EXIT_AFTER_RETRAIN=1 it stops and exits 0 once the first forecasts and suggestions exist.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from integrations.simulator.shopify_oauth import ShopifyOAuth
from inventory_ai import dispatch, selectors
from inventory_ai.choices import DriverSource, Platform, RunKind, RunStatus, WebhookStatus
from inventory_ai.demo import loop
from inventory_ai.models import (
    DemandEvent,
    Forecast,
    ForecastRun,
    InventoryLevel,
    Location,
    Order,
    ReorderSuggestion,
    SyncRun,
    WebhookEvent,
)
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.services import retraining, shopify_install, sync_runs, weather
from inventory_ai.services.roles import PLANNER, VIEWER, create_staff_user
from inventory_ai.services.stores import upsert_store

DEMO_DOMAIN = "demo-gift-shop.myshopify.com"
WEBHOOK_SECRET = "demo-webhook-secret"  # the demo app's client secret, which signs its webhooks
DEMO_CLIENT_ID = "demo-app-client-id"
READY_TIMEOUT_SECONDS = 120
STEP_TIMEOUT_SECONDS = 600


class Command(BaseCommand):
    help = "Run the demo: a simulated shop with history, web server, worker, beat, a first retrain. Ctrl-C stops."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("DEMO_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT") or 8000))
        parser.add_argument(
            "--store-port", type=int, default=int(os.environ.get("DEMO_STORE_PORT") or 0), help="0: a free port"
        )

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        started = time.monotonic()
        self.stdout.write("Preparing the database ...")
        call_command("migrate", verbosity=0)
        users = self._users()
        weeks = int(os.environ.get("DEMO_REPLAY_WEEKS") or loop.REPLAYED_WEEKS)
        meta = loop.shift_sample(Path(settings.VAR_DIR) / "demo", timezone.localdate(), weeks)
        fresh = not Order.objects.filter(store__domain=DEMO_DOMAIN).exists()
        state, recent = loop.build_store_state(meta, up_to_cutoff=fresh)
        discounts = loop.seed_discounts(state, timezone.localdate())
        app = ShopifyOAuth(DEMO_CLIENT_ID, WEBHOOK_SECRET, DEMO_DOMAIN)
        simulator = loop.start_simulator(state, options["store_port"] or _free_port(), app)
        self.stdout.write(f"Store simulator (demo Shopify shop) on {simulator.url}; discounts: {', '.join(discounts)}")
        store = self._connect(simulator, f"http://{host}:{port}")
        store, _ = upsert_store(
            Platform.SHOPIFY,
            DEMO_DOMAIN,
            name="Demo Gift Shop (Online Retail sample)",
            api_base_url="",  # the stand-in for Shopify's address (INVENTORY_AI_SHOPIFY_BASE_URL) applies
            timezone="Europe/London",
            currency="GBP",
            country_code="GB",
        )
        Location.objects.get_or_create(
            store=store, platform_id=loop.LOCATION_ID, defaults={"name": "Warehouse", "is_primary": True}
        )
        # the shop's weather (London) from the simulator's weather service, for the web, worker and beat too
        store.latitude, store.longitude = 51.51, -0.13
        store.save(update_fields=["latitude", "longitude"])
        for option, path in (("WEATHER_ARCHIVE_URL", "/v1/archive"), ("WEATHER_FORECAST_URL", "/v1/forecast")):
            os.environ[f"INVENTORY_AI_{option}"] = simulator.url + path
            settings.INVENTORY_AI[option] = simulator.url + path
        self.stdout.write(f"Weather: {'; '.join(weather.refresh_weather(store)) or 'none'}")
        if fresh:
            self.stdout.write(f"Importing the shop's history up to {meta['cutoff'][:10]} from CSV ...")
            call_command(
                "import_orders", meta["history"], "--store", store.domain, stdout=self.stdout, stderr=self.stderr
            )
        known = {
            item: available
            for item, available in InventoryLevel.objects.filter(variant__store=store).values_list(
                "variant__inventory_item_id", "available"
            )
            if item
        }
        loop.seed_stock(state, simulator.inventory, known, upcoming=recent if fresh else ())

        log_dir = Path(settings.VAR_DIR) / "demo-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        queues = ",".join(queue.name for queue in settings.CELERY_TASK_QUEUES)
        commands = {
            "web": [
                sys.executable, "-m", "gunicorn", "inventory_ai.wsgi", "--bind", f"{host}:{port}",
                "--workers", "2", "--access-logfile", "-",
            ],
            "worker": [
                sys.executable, "-m", "celery", "-A", "inventory_ai", "worker", "--queues", queues,
                "--concurrency", "2", "--loglevel", "INFO", "--hostname", "demo@%h",
            ],
            "beat": [
                sys.executable, "-m", "celery", "-A", "inventory_ai", "beat", "--loglevel", "INFO",
                "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }  # fmt: skip
        processes = self._start(commands, log_dir)
        try:
            url = f"http://{host}:{port}/admin/"
            self._wait_until_ready(processes, url)
            if fresh and recent:
                self._replay(recent, state, f"http://{host}:{port}/webhooks/shopify/", processes)
            self._reconcile(store, processes)
            self._first_retrain(store, processes)
            lines = [f"\nInventory AI is running: {url}  (ready in {time.monotonic() - started:.0f} s)"]
            lines += [f"  {role}: {name} / {password}" for role, (name, password) in users.items()]
            lines += [
                f"  API docs: http://{host}:{port}/api/v1/docs/",
                f"  demo shop (simulated Shopify Admin API): {simulator.url}",
                f"  logs: {log_dir}",
                "Approve a restock suggestion, then its 'restock received' adjustment: the push to the shop shows",
                "on the adjustment's page. Press Ctrl-C to stop.",
            ]
            self.stdout.write(self.style.SUCCESS("\n".join(lines)))
            if os.environ.get("DEMO_EXIT_AFTER_RETRAIN") == "1":
                return
            self._supervise(processes)
        except KeyboardInterrupt:
            # Ctrl-C while the demo is still preparing: stop as cleanly as once it runs.
            self.stdout.write("\nStopping ...")
        finally:
            self._stop(processes)
            simulator.stop()

    def _users(self) -> dict[str, tuple[str, str]]:
        """A planner, a viewer and an admin, each with a new random password on every start (printed, not stored)."""
        users = {}
        for role, name in ((PLANNER, "planner"), (VIEWER, "viewer")):
            password = secrets.token_urlsafe(9)
            create_staff_user(name, role, password)
            users[role] = (name, password)
        password = secrets.token_urlsafe(12)
        admin, _ = get_user_model().objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        users["Admin"] = ("admin", password)
        return users

    def _replay(self, records, state, target: str, processes) -> None:
        self.stdout.write(f"Replaying {len(records):,} orders and refunds as the shop's signed webhooks ...")
        stats = loop.replay_recent(records, state, target, WEBHOOK_SECRET, DEMO_DOMAIN)
        self.stdout.write(
            f"  {stats.accepted:,} webhooks accepted in {stats.wall_seconds:.0f} s; waiting for the worker ..."
        )
        self._wait(
            lambda: not WebhookEvent.objects.filter(status=WebhookStatus.RECEIVED).exists(),
            processes,
            "the webhooks to be processed",
        )

    def _connect(self, simulator, public_url: str):
        """Connect the demo shop as a merchant would: the product's app, the shop's approval page, Install. The web
        server, worker and beat inherit the same app settings."""
        connected = time.monotonic()
        values = {"SHOPIFY_CLIENT_ID": DEMO_CLIENT_ID, "SHOPIFY_CLIENT_SECRET": WEBHOOK_SECRET,
                  "PUBLIC_BASE_URL": public_url}  # fmt: skip
        for name, value in values.items():
            os.environ[name] = value
            setattr(settings, name, value)
        os.environ["INVENTORY_AI_SHOPIFY_BASE_URL"] = settings.INVENTORY_AI["SHOPIFY_BASE_URL"] = simulator.url
        params = loop.approve_install(shopify_install.start(DEMO_DOMAIN))
        installed = shopify_install.finish_install(params, backfill=False)  # the history comes from the CSV
        topics = installed.store.webhook_subscriptions.get("topics", {})
        self.stdout.write(
            f"Connected {DEMO_DOMAIN} through the app (install link, Install on the shop's page) in "
            f"{time.monotonic() - connected:.1f} s: {len(topics)} webhook topics subscribed"
        )
        return installed.store

    def _reconcile(self, store, processes) -> None:
        self.stdout.write("Reconciling the catalogue and stock with the shop ...")
        try:
            run = sync_runs.start_sync(store, SyncRun.Kind.RECONCILE, trigger="demo")
        except sync_runs.SyncAlreadyRunning as exc:
            run = exc.run
        self._wait(lambda: _refreshed(run).status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING), processes,
                   "the reconciliation")  # fmt: skip
        run.refresh_from_db()
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"The reconciliation failed: {run.error}")
        counts = run.counts
        promotions = DemandEvent.objects.filter(store=store, source=DriverSource.SHOPIFY_DISCOUNT).count()
        self.stdout.write(
            f"  {counts.get('products_read', 0):,} products and {counts.get('levels_checked', 0):,} stock levels read, "
            f"{counts.get('levels_corrected', 0):,} stock levels updated, "
            f"{counts.get('discounts_read', 0):,} discounts read ({promotions} promotions)"
        )

    def _first_retrain(self, store, processes) -> None:
        if current_run(store) is None:
            try:
                run = retraining.start_retrain(store, RunKind.FULL, trigger="demo")
            except retraining.RetrainAlreadyRunning as exc:
                run = exc.run
            self.stdout.write(f"Training forecasts for {store.variants.count():,} SKUs (run #{run.pk}) ...")
            last_report = 0.0

            def done() -> bool:
                nonlocal last_report
                current = _refreshed(run)
                if time.monotonic() - last_report > 10:
                    last_report = time.monotonic()
                    self.stdout.write(f"  {current.phase}: {current.progress:.0%}")
                return current.status not in (RunStatus.QUEUED, RunStatus.RUNNING)

            self._wait(done, processes, "the first retrain")
            run.refresh_from_db()
            if run.status != RunStatus.SUCCEEDED:
                raise CommandError(f"The first retrain {run.status}: {run.error_log}")
        # The worker writes suggestions one variant at a time after the run: wait until their number settles.
        seen = {"count": -1, "since": time.monotonic()}

        def settled() -> bool:
            count = ReorderSuggestion.objects.filter(store=store).count()
            if count != seen["count"]:
                seen.update(count=count, since=time.monotonic())
            return count > 0 and time.monotonic() - seen["since"] > 3

        self._wait(settled, processes, "restock suggestions")
        current = current_run(store)
        forecasts = Forecast.objects.filter(run=current).count()
        suggestions = ReorderSuggestion.objects.filter(store=store, status="pending").count()
        risks = selectors.risk_counts(ReorderSuggestion.objects.filter(store=store))
        self.stdout.write(
            f"  {forecasts:,} forecasts (run #{current.pk}); {suggestions:,} restock suggestions pending "
            f"({risks['late']:,} late, {risks['this_week']:,} to order this week, {risks['later']:,} fine for now)"
        )

    def _wait(self, condition, processes, what: str) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
        while not condition():
            self._check_alive(processes)
            if time.monotonic() > deadline:
                raise CommandError(f"Gave up waiting for {what} after {STEP_TIMEOUT_SECONDS} s; see the logs.")
            time.sleep(1)

    def _start(self, commands: dict[str, list[str]], log_dir: Path) -> dict[str, subprocess.Popen]:
        processes = {}
        self._logs = {}
        for name, command in commands.items():
            log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115  (owned by the child process)
            processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
            self._logs[name] = log_dir / f"{name}.log"
            log.close()
            self.stdout.write(f"Started {name} (pid {processes[name].pid}), log: {log_dir / f'{name}.log'}")
        return processes

    def _wait_until_ready(self, processes: dict[str, subprocess.Popen], url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        web_ready = worker_ready = False
        while not (web_ready and worker_ready):
            self._check_alive(processes)
            if time.monotonic() > deadline:
                raise CommandError(f"The demo did not become ready within {READY_TIMEOUT_SECONDS} s; see the logs.")
            if not web_ready:
                try:
                    with urllib.request.urlopen(url, timeout=2):
                        web_ready = True
                except (urllib.error.URLError, OSError):
                    time.sleep(0.5)
            if not worker_ready:
                try:
                    dispatch.ask("ping_task", timeout=5, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
                    worker_ready = True
                except Exception:  # not consumed yet: the worker is still starting
                    time.sleep(0.5)

    def _check_alive(self, processes: dict[str, subprocess.Popen]) -> None:
        for name, process in processes.items():
            if process.poll() is not None:
                raise CommandError(
                    f"The {name} process exited with status {process.returncode}. The end of its log "
                    f"({self._logs[name]}):\n{log_tail(self._logs[name])}"
                )

    def _supervise(self, processes: dict[str, subprocess.Popen]) -> None:
        stop = {"requested": False}

        def request_stop(signum, frame):
            stop["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["requested"]:
            self._check_alive(processes)
            time.sleep(1)
        self.stdout.write("\nStopping ...")

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop within 30 s; killing it")
                process.kill()
                process.wait()
        self.stdout.write("Stopped.")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _refreshed(run: ForecastRun | SyncRun) -> ForecastRun | SyncRun:
    run.refresh_from_db()
    return run


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log (its last 64 KiB read at most), for an error that names why a process died."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 65536))
            text = log.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:])
