"""`manage.py doctor`: check the database, the broker and that a worker answers; say plainly what is wrong."""

from __future__ import annotations

import time

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from kombu import Connection

from inventory_ai import dispatch
from inventory_ai.conf import get_option
from inventory_ai.models import ServiceHeartbeat


def _redact(url: str) -> str:
    """A connection URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


class Command(BaseCommand):
    help = "Check the database, the message broker and the Celery workers, and explain any failure."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds to wait for a worker (default 10)")
        parser.add_argument("--skip-worker", action="store_true", help="Check only the database and the broker")
        parser.add_argument(
            "--heartbeat",
            action="append",
            default=[],
            metavar="NAME",
            help="Also require a recent heartbeat of NAME (worker, beat); used by container health checks",
        )

    def handle(self, *args, **options):
        failures = 0
        self.database_ok = self.check_database()
        failures += not self.database_ok
        broker_ok = self.check_broker()
        failures += not broker_ok
        if options["skip_worker"]:
            pass
        elif broker_ok:
            failures += not self.check_worker(options["timeout"])
        else:
            failures += not self.fail("worker", "not checked: the broker is unreachable", "fix the broker first")
        for name in options["heartbeat"]:
            failures += not self.check_heartbeat(name)
        if self.database_ok:
            failures += not self.check_subscriptions()
        if failures:
            raise CommandError(f"{failures} check(s) failed")
        self.stdout.write(self.style.SUCCESS("All checks passed."))

    def ok(self, what: str, detail: str) -> bool:
        self.stdout.write(f"{self.style.SUCCESS('OK  ')} {what}: {detail}")
        return True

    def fail(self, what: str, detail: str, hint: str) -> bool:
        self.stdout.write(f"{self.style.ERROR('FAIL')} {what}: {detail}\n      -> {hint}")
        return False

    def check_subscriptions(self) -> bool:
        """Stores whose credentials the store refuses, or whose app-kept webhook subscriptions are incomplete."""
        from inventory_ai.models import Store
        from inventory_ai.services.subscriptions import managed, problems

        stores = [store for store in Store.objects.filter(active=True) if managed(store) or store.connection_error]
        broken = {store.domain: [store.connection_error, *problems(store)] for store in stores}
        broken = {domain: [text for text in found if text] for domain, found in broken.items()}
        broken = {domain: found for domain, found in broken.items() if found}
        if broken:
            detail = "; ".join(f"{domain}: {', '.join(found)}" for domain, found in sorted(broken.items()))
            return self.fail("store connections", detail, "connect the store again, or reconcile it (it re-subscribes)")
        return self.ok("store connections", f"credentials and webhooks in order on {len(stores)} store(s)")

    def check_database(self) -> bool:
        connection = connections[DEFAULT_DB_ALIAS]
        where = f"{connection.vendor} {connection.settings_dict.get('NAME')}"
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            pending = MigrationExecutor(connection).migration_plan(
                MigrationExecutor(connection).loader.graph.leaf_nodes()
            )
        except Exception as exc:  # any driver error means the same thing to the operator
            return self.fail(
                "database",
                f"{where}: {exc.__class__.__name__}: {exc}".strip(),
                "check DATABASE_URL and that the server runs",
            )
        if pending:
            return self.fail(
                "database", f"{where}: {len(pending)} migration(s) not applied", "run `python manage.py migrate`"
            )
        return self.ok("database", f"{where}, migrations applied")

    def check_broker(self) -> bool:
        url = settings.CELERY_BROKER_URL
        try:
            with Connection(url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
                conn.ensure_connection(max_retries=1, timeout=5)
        except Exception as exc:  # kombu raises transport-specific errors
            return self.fail(
                "broker", f"{_redact(url)}: {exc}", "check CELERY_BROKER_URL and that Redis (or the broker) runs"
            )
        return self.ok("broker", _redact(url))

    def check_worker(self, timeout: float) -> bool:
        started = time.monotonic()
        try:
            answer = dispatch.ask("ping_task", timeout=timeout, queue=settings.CELERY_TASK_DEFAULT_QUEUE, retry=False)
        except CeleryTimeoutError:
            return self.fail(
                "worker",
                f"no worker answered within {timeout:.0f} s{self._heartbeat_note()}",
                "start one: celery -A inventory_ai worker -Q default,webhooks,push,training,sync,ml",
            )
        except Exception as exc:  # the result backend or broker may fail in transport-specific ways
            return self.fail("worker", f"{exc.__class__.__name__}: {exc}", "check CELERY_RESULT_BACKEND")
        elapsed_ms = (time.monotonic() - started) * 1000
        return self.ok("worker", f"{answer['host']} answered in {elapsed_ms:.0f} ms")

    def check_heartbeat(self, name: str) -> bool:
        max_age = get_option("WORKER_HEARTBEAT_MAX_AGE_SECONDS")
        beat = ServiceHeartbeat.objects.filter(name=name).first()
        if beat is None:
            return self.fail(f"{name} heartbeat", "never recorded", "start beat and a worker; beat schedules it")
        age = (timezone.now() - beat.last_seen).total_seconds()
        if age > max_age:
            return self.fail(f"{name} heartbeat", f"{age:.0f} s old (limit {max_age} s)", f"is {name} running?")
        return self.ok(f"{name} heartbeat", f"{age:.0f} s ago")

    def _heartbeat_note(self) -> str:
        beat = ServiceHeartbeat.objects.filter(name="worker").first()
        if beat is None:
            return " (no worker has ever reported a heartbeat)"
        age = (timezone.now() - beat.last_seen).total_seconds()
        return f" (last worker heartbeat {age:.0f} s ago from {beat.detail})"
