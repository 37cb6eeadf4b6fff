"""Retraining through real worker processes, Redis (in CI) and the database: the whole fan-out, a killed worker,
a failing SKU."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.core.management.base import CommandError

from inventory_ai.choices import RunStatus
from inventory_ai.models import Forecast, ForecastResult, ForecastRun, ForecastRunChunk, ReorderSuggestion
from inventory_ai.services import model_registry, retraining
from inventory_ai.services.retraining.steps import chunk_file
from tests.retrain_helpers import seed_demand

pytestmark = pytest.mark.worker


def wait_for(run: ForecastRun, worker, timeout: float = 240) -> ForecastRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status not in ("queued", "running"):
            return run
        time.sleep(0.5)
    pytest.fail(f"run {run.pk} did not finish in {timeout} s ({run.status}, {run.phase}):\n{worker.log[-4000:]}")


def test_a_store_is_retrained_by_a_worker_with_the_global_network(shop, start_worker):
    # given a store with 120 SKUs (enough for the global network) and a worker with two pool processes
    seed_demand(shop, 120, weeks=40)
    worker = start_worker(pool="prefork", concurrency=2, INVENTORY_AI_RETRAIN_CHUNK_SIZE="40")

    # when a full retrain is requested
    run = retraining.start_retrain(shop, trigger="test")
    run = wait_for(run, worker)

    # then every SKU was forecast once, the network was trained on the ml queue and saved in the registry
    assert run.status == RunStatus.SUCCEEDED, run.error_log + worker.log[-3000:]
    assert (run.skus_done, run.skus_failed) == (120, 0)
    assert (run.global_backtest_status, run.global_status) == ("done", "done")
    assert ForecastResult.objects.filter(run=run).count() == 120
    assert Forecast.objects.filter(run=run).count() == 120 * run.horizon
    assert model_registry.storage().exists(f"{run.artifacts}/config.json")
    forecast_by_network = {}
    for index in run.chunks.values_list("index", flat=True):
        forecast_by_network.update(model_registry.read_json(run.artifacts, chunk_file(retraining.GLOBAL_FINAL, index)))
    assert forecast_by_network.keys() == {
        str(pk) for pk in ForecastResult.objects.filter(run=run).values_list("variant_id", flat=True)
    }
    # and the new forecast was turned into restock suggestions (no stock recorded: every seller needs an order)
    pending = ReorderSuggestion.objects.filter(store=shop, status="pending")
    deadline = time.monotonic() + 120
    while pending.count() < 100 and time.monotonic() < deadline:  # written one variant at a time
        time.sleep(0.5)
    assert pending.count() >= 100
    # the network and its pairs were candidates of every SKU's choice
    assert all("lstm" in scores for scores in ForecastResult.objects.filter(run=run).values_list("backtest", flat=True))


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(shop, start_worker):
    # given a store of 40 slow-to-fit SKUs in chunks of 4, and a worker with one pool process
    seed_demand(shop, 40, weeks=70)
    worker = start_worker(pool="prefork", concurrency=1, INVENTORY_AI_RETRAIN_CHUNK_SIZE="4")
    run = retraining.start_retrain(shop, trigger="test")

    # when a second retrain is requested meanwhile, it is refused
    with pytest.raises(retraining.RetrainAlreadyRunning):
        retraining.start_retrain(shop)

    # and when the pool process is SIGKILLed while it works on a chunk
    deadline, killed = time.monotonic() + 120, None
    while killed is None and time.monotonic() < deadline:
        busy = ForecastRunChunk.objects.filter(run=run, attempts=1, backtest_status="pending").first()
        if busy is not None:
            children = worker.children()
            if children:
                os.kill(children[0], signal.SIGKILL)
                killed = busy
        time.sleep(0.02)
    assert killed is not None, "no chunk was caught mid-way"

    # then the task is delivered again and the run completes with every SKU exactly once
    run = wait_for(run, worker)
    assert run.status == RunStatus.SUCCEEDED, run.error_log + worker.log[-3000:]
    assert (run.skus_done, run.skus_failed) == (40, 0)
    assert ForecastResult.objects.filter(run=run).count() == 40
    assert Forecast.objects.filter(run=run).count() == 40 * run.horizon
    killed.refresh_from_db()
    assert killed.attempts >= 2
    assert "WorkerLostError" in worker.log or "exited with 'signal 9" in worker.log


def test_a_failing_sku_is_recorded_while_the_others_succeed(shop, start_worker, run_command):
    # given a store whose SKU number 3 makes every model raise in the worker
    variants = seed_demand(shop, 12, weeks=20)
    broken = variants[3]
    worker = start_worker(app="tests.faulty_worker", TEST_BROKEN_VARIANT=str(broken.pk))

    # when the store is retrained from the command line, following the run
    out, _ = run_command("retrain", "--store", shop.domain, "--wait", "--timeout", "240")
    run = ForecastRun.objects.get(store=shop)

    # then the run succeeded with that SKU recorded as failed and the others forecast
    assert run.status == RunStatus.SUCCEEDED, run.error_log + worker.log[-3000:]
    assert (run.skus_done, run.skus_failed) == (11, 1)
    failure = ForecastResult.objects.get(run=run, ok=False)
    assert failure.variant == broken
    assert "the solver diverged" in failure.error
    assert Forecast.objects.filter(run=run).values("variant").distinct().count() == 11
    assert "12/12 SKUs, 1 failed" in out
    assert f"Run #{run.pk} succeeded" in out
    assert "11 SKUs forecast, 1 failed" in out


def test_a_chunk_that_kills_its_process_every_time_fails_the_run_visibly(shop, start_worker, run_command):
    # given a store whose chunk holding SKU number 5 kills the pool process that backtests it (as the OOM killer
    # would), and a worker that gives a step two starts
    variants = seed_demand(shop, 12, weeks=20)
    worker = start_worker(
        app="tests.faulty_worker",
        pool="prefork",
        TEST_DYING_VARIANT=str(variants[5].pk),
        INVENTORY_AI_RETRAIN_CHUNK_SIZE="4",
        INVENTORY_AI_RETRAIN_MAX_ATTEMPTS="2",
    )

    # when the store is retrained from the command line, following the run
    with pytest.raises(CommandError) as failure:
        run_command("retrain", "--store", shop.domain, "--wait", "--timeout", "240")

    # then the run failed after two deliveries of that chunk instead of retrying forever, and both the command and
    # the run say which step died how often
    run = ForecastRun.objects.get(store=shop)
    assert run.status == RunStatus.FAILED, worker.log[-3000:]
    reason = "the backtest of chunk 1 (4 SKUs) was started 2 times and never finished"
    assert reason in run.error_log
    assert reason in str(failure.value)
    assert run.chunks.get(index=1).step_attempts == 2
    assert "WorkerLostError" in worker.log or "exited with 'signal 9" in worker.log
