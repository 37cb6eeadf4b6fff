"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

from __future__ import annotations

import os
from collections.abc import Mapping

from celery import Celery, signals

from inventory_ai.broker import guard_unacked_restore

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_ai.settings")


class _CelerySettings(Mapping):
    """The CELERY_* Django settings as a plain mapping (CELERY_BROKER_URL -> broker_url), read on first use.

    Celery looks settings up on every publish; through Django's lazy settings object each lookup of a key left at
    its default raises and catches an AttributeError, which was a fifth of the cost of enqueueing a webhook.
    """

    def __init__(self) -> None:
        self._values: dict | None = None

    def _load(self) -> dict:
        if self._values is None:
            from django.conf import settings

            self._values = {
                name[len("CELERY_") :].lower(): getattr(settings, name)
                for name in dir(settings)
                if name.startswith("CELERY_")
            }
        return self._values

    def __getitem__(self, key: str):
        return self._load()[key]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


guard_unacked_restore()
app = Celery("inventory_ai")
app.config_from_object(_CelerySettings())
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _count_tasks(**kwargs) -> None:
    """Each worker keeps its tasks' durations and failures for /metrics (`inventory_ai.task_stats`)."""
    from inventory_ai import task_stats  # noqa: F401  (connects the signal receivers)


@signals.worker_init.connect
def _place_long_work(sender, **kwargs) -> None:
    """A worker that consumes long work alone keeps to LONG_WORK_CPUS and LONG_WORK_IDLE (`inventory_ai.worker_cpus`),
    set before its pool processes are forked so that they inherit it."""
    from django.conf import settings

    from inventory_ai.worker_cpus import place_long_work

    cpus, idle = getattr(settings, "LONG_WORK_CPUS", frozenset()), getattr(settings, "LONG_WORK_IDLE", False)
    place_long_work(sender.app.amqp.queues.consume_from, cpus, idle)
