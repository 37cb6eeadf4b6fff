"""`manage.py demo`: the one-command demo (run by `make demo`).

Migrates the database, creates an admin user, connects a demo Shopify store, imports the bundled Online Retail
sample, then runs the web server, a Celery worker and Celery beat on the configured broker (by default the embedded
filesystem broker, so nothing else needs to run) until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
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

from inventory_ai.models import Order
from inventory_ai.services.stores import upsert_store

DEMO_DOMAIN = "demo-gift-shop.myshopify.com"
SAMPLE = Path(__file__).resolve().parents[2] / "demo" / "online_retail_sample.csv.gz"
READY_TIMEOUT_SECONDS = 120


class Command(BaseCommand):
    help = "Run the demo: demo store and data, web server, worker and beat. Ctrl-C stops everything."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("DEMO_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        self.stdout.write("Preparing the database ...")
        call_command("migrate", verbosity=0)
        username, password = self._admin_user()
        store, _ = upsert_store(
            "shopify",
            DEMO_DOMAIN,
            name="Demo Gift Shop (Online Retail sample)",
            webhook_secret="demo-webhook-secret",
            timezone="Europe/London",
            currency="GBP",
            country_code="GB",
        )
        if not Order.objects.filter(store=store).exists():
            self.stdout.write(f"Importing the bundled Online Retail sample into {store.domain} ...")
            call_command("import_orders", str(SAMPLE), "--store", store.domain, stdout=self.stdout, stderr=self.stderr)

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
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nInventory AI is running: {url}\n  user: {username}\n  password: {password}\n"
                    f"  logs: {log_dir}\nPress Ctrl-C to stop."
                )
            )
            if os.environ.get("DEMO_EXIT_AFTER_READY") == "1":
                return
            self._supervise(processes)
        finally:
            self._stop(processes)

    def _admin_user(self) -> tuple[str, str]:
        # A fresh random password on every start: the demo prints it, nothing else stores it in clear.
        username = "admin"
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return username, password

    def _start(self, commands: dict[str, list[str]], log_dir: Path) -> dict[str, subprocess.Popen]:
        processes = {}
        for name, command in commands.items():
            log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115  (owned by the child process)
            processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
            log.close()
            self.stdout.write(f"Started {name} (pid {processes[name].pid}), log: {log_dir / f'{name}.log'}")
        return processes

    def _wait_until_ready(self, processes: dict[str, subprocess.Popen], url: str) -> None:
        from inventory_ai.tasks import ping_task

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
                    ping_task.apply_async(queue=settings.CELERY_TASK_DEFAULT_QUEUE).get(timeout=5)
                    worker_ready = True
                except Exception:  # not consumed yet: the worker is still starting
                    time.sleep(0.5)

    def _check_alive(self, processes: dict[str, subprocess.Popen]) -> None:
        for name, process in processes.items():
            if process.poll() is not None:
                raise CommandError(f"The {name} process exited with status {process.returncode}; see its log.")

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
