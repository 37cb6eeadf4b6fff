"""Shared fixtures: stores, command runner, and a real Celery worker process."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_sessionstart(session):
    """In CI the suite must run on the real services: fail (never skip) when they are not what CI configured."""
    if os.environ.get("INVENTORY_AI_REQUIRE_SERVICES") != "1":
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append(f"DATABASE_URL is not PostgreSQL (engine {settings.DATABASES['default']['ENGINE']})")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        problems.append(f"CELERY_BROKER_URL is not Redis ({settings.CELERY_BROKER_URL})")
    try:
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=5).ping()
    except Exception as exc:  # any failure to reach Redis ends the run
        problems.append(f"Redis unreachable: {exc}")
    if problems:
        pytest.exit("Required services are missing: " + "; ".join(problems), returncode=3)


@pytest.fixture(autouse=True)
def _fresh_store_cache():
    """Rows are rolled back between tests and ids reused: never carry the webhook store cache, Django's cache
    (store-wide fill-rate shares, by run id), nor a store API client (and its open connections to a simulator that
    is gone), across tests."""
    from django.core.cache import cache

    from inventory_ai.gateways import forget_gateways
    from inventory_ai.services.webhooks import forget_cached_stores

    cache.clear()
    forget_cached_stores()
    yield
    forget_cached_stores()
    forget_gateways()


@pytest.fixture
def run_command():
    """Run a management command; returns its stdout and stderr."""

    def run(name: str, *args: str) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        call_command(name, *args, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    return run


@pytest.fixture
def shop(db):
    """A Shopify store in London (the Online Retail shop's time zone)."""
    from inventory_ai.services.stores import upsert_store

    store, _ = upsert_store(
        "shopify",
        "test-gifts.myshopify.com",
        webhook_secret="hush",
        credentials={"access_token": "shpat_test"},
        timezone="Europe/London",
        currency="GBP",
        country_code="GB",
    )
    return store


def read_all(read, **options) -> tuple[list, int]:
    """Every record of a gateway's paged or bulk read, and how many steps it took (a bulk operation's polls
    answered at once)."""
    from integrations.errors import StillRunning

    records, position, steps = [], None, 0
    while True:
        steps += 1
        try:
            page = read(position, **options)
        except StillRunning:
            continue
        records.extend(page.records)
        if page.next_position is None:
            return records, steps
        position = page.next_position


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that points another process at the database the tests are using (the test database)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{params.get('HOST') or 'localhost'}:{params.get('PORT') or 5432}/{params['NAME']}"


def subprocess_env(**overrides: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=database_url_for_subprocess(), PYTHONPATH=str(ROOT)
    )
    env.update(overrides)
    return env


class WorkerProcess:
    """A real `celery worker` process on the test database, consuming `queues` (every queue by default) from the
    configured broker."""

    def __init__(
        self,
        log_dir: Path,
        app: str = "inventory_ai",
        pool: str = "solo",
        concurrency: int = 1,
        queues: str = "",
        **env,
    ):
        self.queues = queues or ",".join(queue.name for queue in settings.CELERY_TASK_QUEUES)
        self.log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                "--queues",
                self.queues,
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--hostname",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90) -> None:
        from inventory_ai.tasks import ping_task

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"The worker exited with {self.process.returncode}:\n{self.log[-3000:]}")
            try:
                ping_task.apply_async(queue=self.queues.split(",")[0]).get(timeout=5)
                return
            except Exception:  # not ready yet: broker connection or result not there
                if time.monotonic() > deadline:
                    pytest.fail(f"The worker did not answer within {timeout:.0f} s:\n{self.log[-3000:]}")

    def children(self) -> list[int]:
        """The pids of the worker's pool processes."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real worker processes (`start_worker(app=..., pool=..., concurrency=..., queues=..., **env)`); stopped at
    teardown."""
    from inventory_ai.celery import app

    app.control.purge()
    workers: list[WorkerProcess] = []

    def start(**options) -> WorkerProcess:
        worker = WorkerProcess(tmp_path, **options)
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()
    app.control.purge()


@pytest.fixture
def celery_worker_process(start_worker):
    """One real worker process (solo pool) consuming every queue, on the test database."""
    return start_worker().process


@pytest.fixture
def forecast_store(shop, settings):
    """A store with 12 SKUs, a finished full retrain, and stock of 5 units of each at its one location."""
    from django.utils import timezone

    from inventory_ai.models import InventoryLevel, Location
    from inventory_ai.services import retraining
    from tests.retrain_helpers import drive, seed_demand

    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "FORECAST_HORIZON": 6, "RETRAIN_CHUNK_SIZE": 6}
    variants = seed_demand(shop, 12, weeks=30)
    run = drive(retraining.start_retrain(shop))
    location = Location.objects.get(store=shop)
    for variant in variants:
        InventoryLevel.objects.create(
            variant=variant, location=location, available=5, platform_updated_at=timezone.now()
        )
    return shop, run, variants


@pytest.fixture
def planner(db):
    """A staff user in the Planner group: views everything, approves and rejects."""
    from inventory_ai.services.roles import PLANNER, create_staff_user

    return create_staff_user("pat.planner", PLANNER, "planner-pass-1")


@pytest.fixture
def viewer(db):
    """A staff user in the Viewer group: views everything, decides nothing."""
    from inventory_ai.services.roles import VIEWER, create_staff_user

    return create_staff_user("val.viewer", VIEWER, "viewer-pass-1")
