"""What every step of a run shares: its pipeline settings, its SKUs' series, its network's results and
saved states, and the bookkeeping of starts and failures."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from forecasting import feature_models, model_catalog, pipeline
from forecasting.data import (
    history_start,
    period_alias,
    periods_ending,
    periods_per_year,
)
from forecasting.drivers import driver_matrices
from inventory_ai.choices import RunStatus, StepStatus
from inventory_ai.conf import get_option
from inventory_ai.models import (
    DailyDemand,
    ForecastRun,
    ForecastRunChunk,
    Store,
)
from inventory_ai.models.forecasts import ACTIVE_STATUSES
from inventory_ai.selectors.drivers import driver_frame
from inventory_ai.selectors.forecasts import load_history
from inventory_ai.services import model_registry

logger = logging.getLogger(__name__)


NETWORK_FILES = ("config.json", "model.weights.h5")

GLOBAL_BACKTEST, GLOBAL_FINAL = "backtest", "final"


def chunk_file(part: str, index: int) -> str:
    """The registry file of the network's `part` results for chunk `index` (model choice and the chunk's forecast read
    it)."""
    return f"global-chunks/{part}-{index}.json"


def feature_file(index: int) -> str:
    """The feature models' results of one chunk: per variant its backtest and forecast per model."""
    return f"feature-chunks/{index}.json"


def feature_results(run: ForecastRun, index: int) -> dict[str, dict]:
    """`{variant id: {"backtest": {model: {cutoff: means}}}}` of one chunk ({} when the feature models did not run
    or failed)."""
    if run.features_status != StepStatus.DONE:
        return {}
    return model_registry.read_json(run.artifacts, feature_file(index)) or {}


# The feature models' final fits: trained once per run, read by each forecast chunk that forecasts with them.
FEATURE_MODELS_FILE = "feature-models.pkl"
_trained_features: dict[str, tuple | None] = {}  # the last run's final fits in this process, by registry folder


def trained_features(run: ForecastRun) -> tuple | None:
    """The run's feature models' final fits (`forecasting.feature_models.train_final`), None when they did not run
    or cannot be read. Kept in the process for the run's next chunks (one run at a time: an earlier one's go)."""
    if run.features_status != StepStatus.DONE or not run.artifacts:
        return None
    if run.artifacts not in _trained_features:
        _trained_features.clear()
        blob = model_registry.read_bytes(run.artifacts, FEATURE_MODELS_FILE)
        trained = None
        try:
            trained = feature_models.load_final(blob) if blob is not None else None
        except Exception:  # an unreadable file leaves the SKUs to their other models, as a failed training does
            logger.exception("the feature models of run %s cannot be read", run.pk)
        _trained_features[run.artifacts] = trained
    return _trained_features[run.artifacts]


def with_features(item: dict | None, features: dict | None) -> dict | None:
    """A SKU's evidence with the feature models' backtest joined to its local candidates' (in place)."""
    if item is not None and features:
        for name, by_cutoff in (features.get("backtest") or {}).items():
            pipeline.add_feature_evidence([item], name, [by_cutoff])
    return item


def read_drivers(run: ForecastRun, series: list[model_catalog.Series]) -> tuple[list[str], list[np.ndarray | None]]:
    """The drivers of these series (`inventory_ai.selectors.drivers`) laid out as the engine reads them: names, and
    per series a matrix of its periods and the horizon by driver."""
    if not any(values.any() for _, _, values in series):
        return [], [None] * len(series)  # inactive SKUs are forecast as such: nothing reads their drivers
    ids = [int(uid) for uid, _, _ in series]
    first_end = min((index[0] for _, index, _ in series), default=pd.Timestamp(run.data_until))
    first = pd.Period(first_end, freq=period_alias(run.freq)).start_time.date()  # the first period, whole
    frame = driver_frame(run.store, ids, run.freq, first, run.data_until, run.horizon)
    return driver_matrices(frame, series, run.horizon, run.freq)


def run_plan(run: ForecastRun) -> pipeline.Plan:
    """The forecasting pipeline's settings for a run (the same for every task of it)."""
    return pipeline.Plan(
        run.horizon,
        run.freq,
        tuple(run.levels),
        windows=get_option("FORECAST_BACKTEST_WINDOWS"),
        country=run.store.country_code or None,
    )


def read_series(run: ForecastRun, variant_ids: list[int]) -> list[model_catalog.Series]:
    """The prepared series of `variant_ids`, read from the database over their useful history only
    (`forecasting.data.history_start`), so that a run's memory does not grow with the age of the store. A variant with
    no sale in that window is inactive: it gets its last year of zeros, which the engine forecasts as inactive."""
    end = pd.Timestamp(run.data_until)
    history = load_history(run.store, run.data_until, variant_ids, since=history_start(end, run.freq).date())
    series = pipeline.prepare(history, run.freq, end=end)
    found = {str(uid) for uid, _, _ in series}
    year = periods_ending(end, periods_per_year(run.freq), run.freq)
    series += [(str(v), year, np.zeros(len(year))) for v in variant_ids if str(v) not in found]
    return sorted(series, key=lambda item: str(item[0]))


def running_run(run_id: int) -> ForecastRun | None:
    return ForecastRun.objects.select_related("store").filter(pk=run_id, status=RunStatus.RUNNING).first()


def saved_states(run: ForecastRun | None) -> dict[str, dict]:
    if run is None or not run.artifacts:
        return {}
    return model_registry.read_json(run.artifacts, pipeline.STATES_FILE) or {}


def global_results(run: ForecastRun, index: int) -> dict[str, dict]:
    """The network's results for chunk `index` by variant id, `{"backtest": {cutoff: means}, "forecast": {...}}` (a
    part missing when it failed or was skipped)."""
    out: dict[str, dict] = {}
    for part, status, key in (
        (GLOBAL_BACKTEST, run.global_backtest_status, "backtest"),
        (GLOBAL_FINAL, run.global_status, "forecast"),
    ):
        if status != StepStatus.DONE:
            continue
        for variant_id, value in (model_registry.read_json(run.artifacts, chunk_file(part, index)) or {}).items():
            out.setdefault(variant_id, {})[key] = value
    return out


def start_chunk_step(run: ForecastRun, chunk: ForecastRunChunk, step: str) -> bool:
    """Count a start of the chunk's current step; False (and the run failed, with the reason) when the step was
    already started `RETRAIN_MAX_ATTEMPTS` times without finishing.

    A step that never finishes while its task keeps being delivered is one whose worker process dies under it (the
    kernel's OOM killer, a crash in native code): the task is redelivered each time, and would be forever. The count
    is committed before the work starts, so it survives the process."""
    limit = max(1, int(get_option("RETRAIN_MAX_ATTEMPTS")))
    with transaction.atomic():
        locked = ForecastRunChunk.objects.select_for_update().get(pk=chunk.pk)
        if locked.step_attempts < limit:
            locked.attempts += 1
            locked.step_attempts += 1
            locked.save(update_fields=["attempts", "step_attempts", "updated_at"])
            return True
    fail_run(
        run.pk,
        f"Stopped: the {step} of chunk {chunk.index} ({len(chunk.variant_ids):,} SKUs) was started "
        f"{locked.step_attempts} times and never finished: the worker process running it died each time (killed for "
        "memory, or crashed). "
        "The worker's log says which; re-run the store once the cause is fixed.",
    )
    return False


def fail_run(run_id: int, reason: str) -> None:
    """Mark a running run failed with `reason` (its tasks still in flight find it failed and stop)."""
    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().get(pk=run_id)
        if run.status not in ACTIVE_STATUSES:
            return
        run.status, run.finished_at, run.progress_at = RunStatus.FAILED, timezone.now(), timezone.now()
        run.error_log = (run.error_log + "\n" + reason).strip()
        run.save(update_fields=["status", "finished_at", "progress_at", "error_log"])
    logger.error("run %s failed: %s", run_id, reason)


def forecast_variant_ids(store: Store, data_until: date, since: date | None = None) -> list[int]:
    """The SKUs a full run forecasts: every live variant that has sold something up to `data_until` (and since
    `since`, when given)."""
    sold = DailyDemand.objects.filter(
        variant__store=store, variant__deleted_at__isnull=True, date__lte=data_until, units__gt=0
    )
    if since is not None:
        sold = sold.filter(date__gte=since)
    return sorted(sold.values_list("variant_id", flat=True).distinct())
