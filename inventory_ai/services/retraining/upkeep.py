"""Keeping runs in order: failing runs that stopped moving, and pruning old runs with their artefacts."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory_ai.choices import RunStatus
from inventory_ai.conf import get_option
from inventory_ai.models import (
    ForecastRun,
    Store,
)
from inventory_ai.models.forecasts import ACTIVE_STATUSES
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.services import model_registry

logger = logging.getLogger(__name__)


def prune_runs(store_id: int) -> int:
    """Delete the store's runs beyond the newest `RETRAIN_KEEP_RUNS` (never an active or the current one, nor the
    calibration snapshots: the newest succeeded run of every four weeks of history over `CALIBRATION_HISTORY_DAYS`
    before the current run's) and their artefacts; returns how many were deleted."""
    keep = max(1, int(get_option("RETRAIN_KEEP_RUNS")))
    store = Store.objects.get(pk=store_id)
    current = current_run(store)
    snapshots = set()
    if current is not None and current.data_until is not None:
        oldest = current.data_until - timedelta(days=int(get_option("CALIBRATION_HISTORY_DAYS")))
        blocks = set()
        earlier = ForecastRun.objects.filter(
            store_id=store_id, status=RunStatus.SUCCEEDED, data_until__gte=oldest, data_until__lt=current.data_until
        ).order_by("-data_until", "-finished_at", "-pk")
        for run in earlier:
            block = (current.data_until - run.data_until).days // 28
            if block not in blocks:
                blocks.add(block)
                snapshots.add(run.pk)
    old = ForecastRun.objects.filter(store_id=store_id).exclude(status__in=ACTIVE_STATUSES).order_by("-created_at")
    doomed = [run for run in old[keep:] if (current is None or run.pk != current.pk) and run.pk not in snapshots]
    for run in doomed:
        if run.artifacts:
            model_registry.delete(run.artifacts)
        run.delete()
    return len(doomed)


def fail_stalled_runs(older_than: timedelta | None = None) -> list[int]:
    """Mark failed every active run that has not moved on for `older_than` (default: the RETRAIN_STALL_SECONDS
    option); returns their ids. Work of theirs still in flight finds them failed and is discarded."""
    limit = older_than or timedelta(seconds=get_option("RETRAIN_STALL_SECONDS"))
    cutoff = timezone.now() - limit
    failed = []
    stalled = ForecastRun.objects.filter(status__in=ACTIVE_STATUSES).annotate(
        last_move=Coalesce("progress_at", "created_at")
    )
    for run_id in stalled.filter(last_move__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            run = ForecastRun.objects.select_for_update().get(pk=run_id)
            last = run.progress_at or run.created_at
            if run.status not in ACTIVE_STATUSES or last >= cutoff:
                continue
            run.status, run.finished_at = RunStatus.FAILED, timezone.now()
            note = f"No progress since {last:%Y-%m-%d %H:%M:%S %Z} (limit {int(limit.total_seconds())} s); re-run it."
            run.error_log = (run.error_log + "\n" + note).strip()
            run.save(update_fields=["status", "finished_at", "error_log"])
            failed.append(run_id)
    return failed
