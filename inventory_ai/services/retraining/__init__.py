"""Retraining a store's forecasts as a distributed run of Celery tasks.

A run is a `ForecastRun` row and a state machine over its `ForecastRunChunk` rows:

1. plan (`retrain_store_task`): fix the history's last day, list the SKUs, split them into chunks;
2. backtest: every chunk backtests its local candidate models (`backtest_chunk_task`, `training` queue) while the
   global network trains once across all SKUs (`train_global_model_task`, `ml` queue);
3. choose: when the last of those lands, the model of each demand class is chosen from all chunks' evidence;
4. forecast: every chunk fits its chosen models and writes its forecasts (`forecast_chunk_task`);
5. finish: when the last chunk lands, the run's summary is written and it becomes the store's current forecast.

Each step commits its results together with its "done" mark, under a lock on the run row, and the step that
completes a phase starts the next one. A task delivered twice (its worker was killed after taking it) finds its
step done and only makes sure the run moves on, so a killed worker costs a redo of one chunk, never a lost or
doubled SKU. A refresh run skips model choice: it re-fits each SKU's current model on the new data and reuses the
current network without training it.

The run's steps live in modules by phase: `starting` (create and plan), `backtest` (chunks and the network),
`phases` (sending each phase's tasks, model choice, finishing), `forecast` (chunks), `upkeep` (stalled runs,
retention) and `steps` (what they share). This package is their public face, for the tasks, the admin and the
commands.
"""

from inventory_ai.services.retraining.backtest import backtest_chunk, train_feature_models, train_global_model
from inventory_ai.services.retraining.forecast import forecast_chunk
from inventory_ai.services.retraining.phases import enqueue_outstanding
from inventory_ai.services.retraining.starting import (
    RetrainAlreadyRunning,
    plan_run,
    rerun,
    retrain_active_stores,
    start_nightly_retrains,
    start_or_plan,
    start_retrain,
)
from inventory_ai.services.retraining.steps import GLOBAL_BACKTEST, GLOBAL_FINAL, NETWORK_FILES
from inventory_ai.services.retraining.upkeep import fail_stalled_runs, prune_runs

__all__ = [
    "GLOBAL_BACKTEST",
    "GLOBAL_FINAL",
    "NETWORK_FILES",
    "RetrainAlreadyRunning",
    "backtest_chunk",
    "enqueue_outstanding",
    "fail_stalled_runs",
    "forecast_chunk",
    "plan_run",
    "prune_runs",
    "rerun",
    "retrain_active_stores",
    "start_nightly_retrains",
    "start_or_plan",
    "start_retrain",
    "train_feature_models",
    "train_global_model",
]
