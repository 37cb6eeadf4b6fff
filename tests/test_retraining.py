"""Retraining runs, step by step in-process: planning, model choice, forecasts, refresh, faults and retention."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from forecasting import network, pipeline
from inventory_ai.choices import RunKind, RunStatus
from inventory_ai.models import DailyDemand, Forecast, ForecastResult, ForecastRun
from inventory_ai.selectors.forecasts import current_run, last_complete_day
from inventory_ai.services import model_registry, retraining
from inventory_ai.services.retraining import steps
from tests.retrain_helpers import drive, engine_forecast, seed_demand

pytestmark = pytest.mark.django_db

SMALL = {"RETRAIN_CHUNK_SIZE": 7, "FORECAST_HORIZON": 4, "RETRAIN_KEEP_RUNS": 2}


@pytest.fixture
def small_options(settings):
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, **SMALL}


def test_a_full_run_forecasts_every_sku_once_and_matches_the_engine(shop, small_options):
    # given a store with 24 SKUs of three demand shapes (too few for the global network and the level calibration)
    variants = seed_demand(shop, 24, weeks=40)

    # when a full retrain runs through its steps in chunks of 7 SKUs
    run = drive(retraining.start_retrain(shop, trigger="test"))

    # then it succeeded with a forecast and an outcome for every SKU, over 4 chunks
    assert run.status == RunStatus.SUCCEEDED, run.error_log
    assert (run.skus_total, run.skus_done, run.skus_failed) == (24, 24, 0)
    assert run.chunks.count() == 4
    assert (run.global_backtest_status, run.global_status) == ("skipped", "skipped")
    assert run.calibration == []
    assert Forecast.objects.filter(run=run).count() == 24 * 4
    assert ForecastResult.objects.filter(run=run, ok=True).count() == 24
    assert sum(run.model_counts.values()) == 24
    assert set(run.choice) <= {"smooth", "intermittent"}
    assert run.choice
    assert run.accuracy["all"]["skus"] == 24
    assert current_run(shop) == run
    # the first forecast period is the one after the history's last (complete) week
    first = Forecast.objects.filter(run=run).order_by("period_start").first()
    assert first.period_start == run.data_until + timedelta(days=1)
    assert (first.period_end - first.period_start).days == 6
    # the chunks' work is exactly what the in-process engine computes on the same history
    expected = engine_forecast(shop, run, level=(80, 95))
    stored = pd.DataFrame(
        list(Forecast.objects.filter(run=run).values_list("variant_id", "period_end", "mean", "model")),
        columns=["unique_id", "ds", "mean", "model"],
    ).assign(unique_id=lambda f: f.unique_id.astype(str), ds=lambda f: pd.to_datetime(f.ds))
    merged = expected.merge(stored, on=["unique_id", "ds"], suffixes=("", "_run"))
    assert len(merged) == 24 * 4
    assert (merged["model"] == merged["model_run"]).all()
    np.testing.assert_allclose(merged["mean"], merged["mean_run"], rtol=1e-9)
    # the registry holds the states the next run warm-starts from
    assert model_registry.read_json(run.artifacts, pipeline.STATES_FILE) is not None
    assert {v.pk for v in variants} == set(ForecastResult.objects.filter(run=run).values_list("variant_id", flat=True))


def test_a_big_store_gets_the_level_calibration_the_engine_fits(shop, small_options, monkeypatch, settings):
    # given a store of 120 SKUs (enough to calibrate) whose network is left out to keep the test fast
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "RETRAIN_CHUNK_SIZE": 50}
    monkeypatch.setattr(network, "backtest_networks", lambda *args, **kwargs: [])
    monkeypatch.setattr(network, "train_final_network", lambda *args, **kwargs: None)
    seed_demand(shop, 120, weeks=60, seed=5)

    # when it is retrained in chunks
    run = drive(retraining.start_retrain(shop))

    # then the run fitted the store's level calibration from all chunks' evidence and applied it as the engine does
    assert run.status == RunStatus.SUCCEEDED, run.error_log
    assert len(run.calibration) == 2
    expected = engine_forecast(shop, run, level=(80, 95))
    stored = pd.DataFrame(
        list(Forecast.objects.filter(run=run).values_list("variant_id", "period_end", "mean", "bounds")),
        columns=["unique_id", "ds", "mean", "bounds"],
    ).assign(unique_id=lambda f: f.unique_id.astype(str), ds=lambda f: pd.to_datetime(f.ds))
    merged = expected.merge(stored, on=["unique_id", "ds"], suffixes=("", "_run"))
    assert len(merged) == 120 * 4
    # (equal up to the order in which the fit sums the chunks' rows)
    np.testing.assert_allclose(merged["mean"], merged["mean_run"], rtol=1e-6)
    np.testing.assert_allclose(merged["hi-95"], merged["bounds"].map(lambda b: b["hi-95"]), rtol=1e-6)
    uncalibrated = engine_forecast(shop, run, level=(80, 95), calibrate=False)
    assert not np.allclose(uncalibrated["mean"], expected["mean"])


def test_a_second_retrain_of_a_store_is_refused_while_one_is_active(shop, small_options):
    # given a queued run
    seed_demand(shop, 5, weeks=20)
    first = retraining.start_retrain(shop)

    # when another is requested, it is refused and names the active run
    with pytest.raises(retraining.RetrainAlreadyRunning) as refused:
        retraining.start_retrain(shop)
    assert refused.value.run == first

    # then, once the first has finished, a new one may start
    drive(first)
    assert retraining.start_retrain(shop) is not None


def test_steps_delivered_twice_do_nothing_the_second_time(shop, small_options):
    # given a finished run
    seed_demand(shop, 10, weeks=20)
    run = drive(retraining.start_retrain(shop))
    forecasts = Forecast.objects.filter(run=run).count()

    # when every step of it is delivered again (a worker died before acknowledging it)
    retraining.plan_run(run.pk)
    for index in run.chunks.values_list("index", flat=True):
        retraining.backtest_chunk(run.pk, index)
        retraining.forecast_chunk(run.pk, index)

    # then nothing was written twice
    assert Forecast.objects.filter(run=run).count() == forecasts
    run.refresh_from_db()
    assert run.skus_done == 10


def test_a_sku_whose_models_raise_is_recorded_and_the_others_succeed(shop, small_options, monkeypatch):
    # given a store where one SKU's history makes every model (and the fallback) raise
    variants = seed_demand(shop, 9, weeks=20)
    broken = str(variants[4].pk)
    real = pipeline._local_forecasts

    def failing(chunk, *args, **kwargs):
        if any(str(uid) == broken for uid, _, _ in chunk):
            raise FloatingPointError("the solver diverged")
        return real(chunk, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_local_forecasts", failing)

    # when the store is retrained
    run = drive(retraining.start_retrain(shop))

    # then the run succeeded, the broken SKU is recorded as failed with its error, the others have forecasts
    assert run.status == RunStatus.SUCCEEDED
    assert (run.skus_done, run.skus_failed) == (8, 1)
    failure = ForecastResult.objects.get(run=run, ok=False)
    assert failure.variant_id == int(broken)
    assert "FloatingPointError: the solver diverged" in failure.error
    assert "the solver diverged" in run.error_log
    assert not Forecast.objects.filter(run=run, variant_id=int(broken)).exists()
    assert Forecast.objects.filter(run=run).values("variant_id").distinct().count() == 8


def test_a_refresh_refits_the_skus_with_new_orders_and_carries_the_rest_over(shop, small_options):
    # given a finished full run
    variants = seed_demand(shop, 12, weeks=30)
    full = drive(retraining.start_retrain(shop))
    assert retraining.start_retrain(shop, RunKind.REFRESH) is None  # nothing new yet: no run

    # when a late order for one SKU is recorded in the history, and a refresh runs
    from inventory_ai.models import Location, Order, OrderLine

    day = full.data_until - timedelta(days=2)
    location = Location.objects.get(store=shop)
    order = Order.objects.create(
        store=shop,
        platform_id="late-1",
        created_at=timezone.make_aware(pd.Timestamp(day).to_pydatetime().replace(hour=12)),
        location=location,
        source="webhook",
        platform_updated_at=timezone.now(),
    )
    OrderLine.objects.create(order=order, platform_id="1", variant=variants[0], quantity=400, current_quantity=400)
    DailyDemand.objects.filter(variant=variants[0], date=day).delete()
    DailyDemand.objects.create(variant=variants[0], location=location, date=day, units=400, revenue=4000)
    refresh = drive(retraining.start_retrain(shop, RunKind.REFRESH))

    # then only that SKU was re-forecast, with its current model, and the run is still a complete forecast
    assert refresh.status == RunStatus.SUCCEEDED, refresh.error_log
    assert refresh.skus_total == 1
    assert ForecastResult.objects.filter(run=refresh).count() == 12
    assert Forecast.objects.filter(run=refresh).count() == Forecast.objects.filter(run=full).count()
    old = Forecast.objects.filter(run=full, variant=variants[0]).order_by("period_end")
    new = Forecast.objects.filter(run=refresh, variant=variants[0]).order_by("period_end")
    assert [f.model for f in new] == [f.model for f in old]
    assert sum(f.mean for f in new) > sum(f.mean for f in old)
    assert ForecastResult.objects.get(run=refresh, variant=variants[0]).changed
    assert current_run(shop) == refresh


def test_a_run_that_stops_moving_is_failed_and_can_be_rerun(shop, small_options):
    # given a run that started and then lost its workers an hour ago
    seed_demand(shop, 5, weeks=20)
    run = retraining.start_retrain(shop)
    retraining.plan_run(run.pk)
    ForecastRun.objects.filter(pk=run.pk).update(progress_at=timezone.now() - timedelta(hours=1))

    # when the sweeper looks with a 30-minute limit
    assert retraining.fail_stalled_runs(timedelta(minutes=30)) == [run.pk]

    # then the run is failed with the reason, late work of it is discarded, and it can be re-run
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "No progress since" in run.error_log
    assert retraining.backtest_chunk(run.pk, 0) == "no such running run"
    again = drive(retraining.rerun(run))
    assert again.status == RunStatus.SUCCEEDED
    assert again.trigger == "rerun"


def test_old_runs_are_pruned_with_their_artefacts(shop, small_options):
    # given three finished runs with a limit of two kept
    seed_demand(shop, 5, weeks=20)
    runs = [drive(retraining.start_retrain(shop)) for _ in range(3)]

    # when the pruning that follows a finished run's commit happens
    assert retraining.prune_runs(shop.pk) == 1

    # then the oldest is gone, with its registry folder
    assert list(ForecastRun.objects.filter(store=shop).order_by("pk")) == runs[1:]
    assert model_registry.read_json(runs[0].artifacts, pipeline.STATES_FILE) is None
    assert model_registry.read_json(runs[2].artifacts, pipeline.STATES_FILE) is not None


def test_pruning_keeps_one_run_per_four_weeks_for_the_policy_calibration(shop, small_options):
    # given runs whose history ended 10, 9, 5 and 4 weeks before the current one's, then two current runs
    seed_demand(shop, 5, weeks=20)
    last = last_complete_day(shop, "W-SUN")
    older = [
        drive(retraining.start_retrain(shop, as_of=last - timedelta(days=7 * weeks - 1))) for weeks in (10, 9, 5, 4)
    ]
    assert [(last - run.data_until).days for run in older] == [70, 63, 35, 28]
    recent = [drive(retraining.start_retrain(shop)) for _ in range(2)]

    # when old runs are pruned, two being kept
    assert retraining.prune_runs(shop.pk) == 2

    # then besides the two newest, the newest of each four weeks before them stays: 4 and 9 weeks old
    kept = list(ForecastRun.objects.filter(store=shop).order_by("pk"))
    assert kept == [older[1], older[3], *recent]


@override_settings(CELERY_BEAT_SCHEDULE={})
def test_the_schedule_retrains_every_active_store(shop, small_options):
    from inventory_ai.services.stores import upsert_store

    # given two active stores with history and an inactive one
    other, _ = upsert_store("woocommerce", "https://shop.example", webhook_secret="s")
    idle, _ = upsert_store("woocommerce", "https://idle.example", webhook_secret="s", active=False)
    for number, store in enumerate((shop, other, idle)):
        seed_demand(store, 3, weeks=10, prefix=f"S{number}")

    # when the nightly task runs
    started = retraining.retrain_active_stores(RunKind.FULL)

    # then each active store has a queued run, and a second tick starts nothing more
    assert sorted(ForecastRun.objects.values_list("store__domain", flat=True)) == sorted([shop.domain, other.domain])
    assert len(started) == 2
    assert retraining.retrain_active_stores(RunKind.FULL) == []


def test_runs_results_forecasts_and_the_schedule_show_in_the_admin(admin_client, shop, small_options):
    from django.urls import reverse

    # given a finished run
    seed_demand(shop, 6, weeks=20)
    run = drive(retraining.start_retrain(shop))

    # then its pages render, with progress, accuracy and intervals
    runs = admin_client.get(reverse("admin:inventory_ai_forecastrun_changelist")).content.decode()
    assert "6/6 (100%)" in runs
    assert f"{run.accuracy['all']['rmsse']:.3f}" in runs
    assert admin_client.get(reverse("admin:inventory_ai_forecastrun_change", args=[run.pk])).status_code == 200
    results = admin_client.get(reverse("admin:inventory_ai_forecastresult_changelist")).content.decode()
    assert "SKU-0000" in results
    forecasts = admin_client.get(reverse("admin:inventory_ai_forecast_changelist")).content.decode()
    assert "80%:" in forecasts
    assert "95%:" in forecasts
    # and the beat schedule is listed from settings
    schedule = admin_client.get(reverse("admin:inventory_ai_schedule")).content.decode()
    assert "nightly-full-retrain" in schedule
    assert "inventory_ai.tasks.retrain_all_stores_task" in schedule
    assert "fail-stalled-runs" in schedule


def test_staff_start_and_rerun_retrains_from_the_admin(admin_client, shop, small_options):
    from django.urls import reverse

    seed_demand(shop, 4, weeks=20)
    stores = reverse("admin:inventory_ai_store_changelist")

    # when an admin retrains the store from its changelist
    response = admin_client.post(stores, {"action": "retrain_full", "_selected_action": [shop.pk]}, follow=True)

    # then a queued run exists, and a second click is refused with a message
    run = ForecastRun.objects.get(store=shop)
    assert run.status == RunStatus.QUEUED
    assert run.trigger == "admin"
    assert run.requested_by == "admin"
    assert f"queued as run #{run.pk}" in response.content.decode()
    response = admin_client.post(stores, {"action": "retrain_full", "_selected_action": [shop.pk]}, follow=True)
    assert "already queued" in response.content.decode()
    # and a failed run can be re-run from the runs page
    ForecastRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    runs = reverse("admin:inventory_ai_forecastrun_changelist")
    admin_client.post(runs, {"action": "rerun_runs", "_selected_action": [run.pk]}, follow=True)
    assert ForecastRun.objects.filter(store=shop, status=RunStatus.QUEUED).count() == 1


def test_the_retrain_command_queues_a_run_and_says_why_it_does_not(shop, run_command, small_options):
    from django.core.management import CommandError

    seed_demand(shop, 4, weeks=20)
    # a refresh before any forecast has nothing to refresh
    out, _ = run_command("retrain", "--store", shop.domain, "--refresh")
    assert "nothing to refresh" in out
    # a full retrain is queued
    out, _ = run_command("retrain", "--store", "TEST-GIFTS.myshopify.com")
    run = ForecastRun.objects.get(store=shop)
    assert f"queued as run #{run.pk}" in out
    # a second one is refused while it is active
    with pytest.raises(CommandError, match="already queued"):
        run_command("retrain", "--store", shop.domain)
    with pytest.raises(CommandError, match="No store named"):
        run_command("retrain", "--store", "nowhere.example")


def test_a_run_as_of_an_earlier_day_forecasts_from_there(shop, small_options):
    # given a history up to last week, and a Wednesday about four weeks before today
    seed_demand(shop, 4, weeks=30)
    today = timezone.localdate()
    wednesday = today - timedelta(days=28 + (today.weekday() - 2) % 7)

    # when a run is made as of that Wednesday
    run = drive(retraining.start_retrain(shop, as_of=wednesday))

    # then its history ends with the week ending the Sunday before, and its forecasts start the Monday after
    assert run.data_until == wednesday - timedelta(days=3)
    first = Forecast.objects.filter(run=run).order_by("period_start").first()
    assert first.period_start == wednesday - timedelta(days=2)
    assert run.skus_done == 4


def test_a_chunk_whose_process_keeps_dying_fails_the_run_with_the_reason(shop, small_options, admin_client):
    # given a planned run whose first chunk was already started RETRAIN_MAX_ATTEMPTS times without finishing (each
    # time its worker process was killed, and the task was delivered again)
    seed_demand(shop, 14, weeks=30)
    run = retraining.start_retrain(shop, trigger="test")
    retraining.plan_run(run.pk)
    chunk = run.chunks.get(index=0)
    for _ in range(3):
        assert steps.start_chunk_step(run, chunk, "backtest")

    # when the task is delivered once more
    outcome = retraining.backtest_chunk(run.pk, 0)

    # then the run failed, saying which step of which chunk died how often, and nothing was forecast
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "run failed" in outcome
    assert "backtest of chunk 0 (7 SKUs) was started 3 times and never finished" in run.error_log
    assert "died each time (killed for memory, or crashed)" in run.error_log
    assert not Forecast.objects.filter(run=run).exists()
    # and the other chunks' deliveries find the run failed and do nothing
    assert retraining.backtest_chunk(run.pk, 1) == "no such running run"
    # and the run's page in the admin shows the reason
    page = admin_client.get(f"/admin/inventory_ai/forecastrun/{run.pk}/change/")
    assert "was started 3 times and never finished" in page.content.decode()


def test_a_chunk_counts_the_starts_of_each_step_apart(shop, small_options):
    # given a run whose chunks were each backtested after one lost delivery
    seed_demand(shop, 7, weeks=30)
    run = retraining.start_retrain(shop, trigger="test")
    retraining.plan_run(run.pk)
    chunk = run.chunks.get(index=0)
    steps.start_chunk_step(run, chunk, "backtest")
    retraining.backtest_chunk(run.pk, 0)
    retraining.train_feature_models(run.pk)

    # then the forecast step starts its own count: a chunk is never failed for its backtest's redeliveries
    chunk.refresh_from_db()
    assert chunk.backtest_status == "done"
    assert (chunk.step_attempts, chunk.attempts) == (0, 2)
    retraining.forecast_chunk(run.pk, 0)
    chunk.refresh_from_db()
    run.refresh_from_db()
    assert (chunk.step_attempts, chunk.attempts, run.status) == (1, 3, RunStatus.SUCCEEDED)


def test_a_network_part_whose_process_keeps_dying_is_left_out(shop, small_options, monkeypatch):
    # given a store big enough for the network whose backtest part was started three times already
    monkeypatch.setattr(network, "train_final_network", lambda *args, **kwargs: None)
    seed_demand(shop, 102, weeks=20)
    run = retraining.start_retrain(shop, trigger="test")
    retraining.plan_run(run.pk)
    run.refresh_from_db()
    assert run.global_backtest_status == "pending"
    ForecastRun.objects.filter(pk=run.pk).update(global_backtest_attempts=3)

    # when it is delivered again, and the rest of the run goes on
    retraining.train_global_model(run.pk, retraining.GLOBAL_BACKTEST)
    run = drive(run)

    # then the run succeeded on local models, with the reason noted
    assert run.status == RunStatus.SUCCEEDED
    assert run.global_backtest_status == "failed"
    assert "global network (backtest): started 3 times and never finished" in run.error_log
    assert run.skus_done == 102


def test_the_network_is_not_trained_when_too_few_selling_skus_could_use_it(shop, small_options, monkeypatch):
    # given 102 selling SKUs with 66 weeks of history: the smooth ones hold a year and a quarter, so they are
    # seasonal and choose among the models that read their year; only the intermittent third could use the network
    def refuse(*args, **kwargs):
        raise AssertionError("the network was trained")

    monkeypatch.setattr(network, "backtest_networks", refuse)
    monkeypatch.setattr(network, "train_final_network", refuse)
    seed_demand(shop, 102, weeks=66)
    run = retraining.start_retrain(shop, trigger="test")
    retraining.plan_run(run.pk)
    run.refresh_from_db()
    assert run.global_backtest_status == "pending"  # the plan counts SKUs that sold in the last year: 102

    # when the run goes through its steps
    run = drive(run)

    # then both network parts were skipped with the reason, and the seasonal SKUs got a model that reads the year
    assert run.status == RunStatus.SUCCEEDED, run.error_log
    assert (run.global_backtest_status, run.global_status) == ("skipped", "skipped")
    found = re.search(
        r"global network \(backtest\): not trained: (\d+) SKUs could use it .*, fewer than 100", run.error_log
    )
    assert found, run.error_log
    assert 25 <= int(found.group(1)) <= 34  # (about) the intermittent third
    assert "global network (final): not trained" in run.error_log
    # (66 weeks leave no backtest window with a year and a quarter before it: the seasonal class's default model)
    assert run.model_counts.get("mstl", 0) >= 102 - 34
    assert run.skus_done == 102


def test_a_store_whose_sales_stopped_long_ago_is_forecast_as_inactive_and_told_so(shop, small_options, run_command):
    # given a store whose recorded sales ended two years before today (an old export, imported)
    variants = seed_demand(shop, 9, weeks=40)
    DailyDemand.objects.filter(variant__store=shop).update(date=F("date") - timedelta(days=730))

    # when it is retrained as of today
    out, _ = run_command("retrain", "--store", shop.domain)
    run = drive(ForecastRun.objects.get(store=shop))

    # then every SKU is forecast as inactive (zero), the run says why and what to do, and no network was planned
    assert run.status == RunStatus.SUCCEEDED, run.error_log
    assert run.model_counts == {"inactive": 9}
    assert set(ForecastResult.objects.filter(run=run).values_list("demand_class", flat=True)) == {"inactive"}
    assert Forecast.objects.filter(run=run).count() == 9 * run.horizon
    assert not Forecast.objects.filter(run=run, mean__gt=0).exists()
    last_sale = DailyDemand.objects.filter(variant__in=variants).order_by("-date").first().date
    assert f"None of the 9 SKUs sold in the year up to {run.data_until}" in run.error_log
    assert f"retrain with --as-of {last_sale + timedelta(days=1)}" in run.error_log
    assert (run.global_backtest_status, run.global_status) == ("skipped", "skipped")


def test_a_run_reads_each_sku_over_its_useful_history_only(shop, small_options):
    # given a SKU selling every day for six years up to the last complete week, and one dead for three years
    alive, dead = seed_demand(shop, 2, weeks=6 * 52)[:2]
    DailyDemand.objects.filter(variant=dead, date__gt=timezone.localdate() - timedelta(days=3 * 365)).delete()
    run = retraining.start_retrain(shop, trigger="test")
    retraining.plan_run(run.pk)
    run.refresh_from_db()

    # when a chunk reads its series
    series = {uid: values for uid, _, values in steps.read_series(run, [alive.pk, dead.pk])}

    # then the live one spans the 240 weeks of its useful history and the dead one its last year of zeros
    assert len(series[str(alive.pk)]) == 240
    assert len(series[str(dead.pk)]) == 52
    assert not series[str(dead.pk)].any()


@pytest.mark.django_db
def test_nightly_retrains_are_spread_over_the_window_and_start_once_a_night(shop, settings):
    from inventory_ai.services.retraining.starting import nightly_window
    from inventory_ai.services.stores import upsert_store

    # given four active stores and a window of four hours from 02:00 UTC
    settings.RETRAIN_HOUR_UTC, settings.RETRAIN_WINDOW_HOURS = 2, 4
    stores = [shop] + [upsert_store("woocommerce", f"https://shop{n}.example", webhook_secret="s")[0] for n in range(3)]
    for number, store in enumerate(stores):
        seed_demand(store, 2, weeks=10, prefix=f"N{number}")
    night, length = nightly_window()  # the latest window's start (runs made now count as made in it)
    assert (night.hour, length) == (2, timedelta(hours=4))

    def started_at(minutes: int) -> list[str]:
        ids = retraining.start_nightly_retrains(night + timedelta(minutes=minutes))
        return sorted(ForecastRun.objects.filter(pk__in=ids).values_list("store__domain", flat=True))

    # before the window nothing starts; then one store an hour, each once
    assert started_at(-10) == []
    assert started_at(0) == [stores[0].domain]
    assert started_at(10) == []
    ForecastRun.objects.update(status=RunStatus.SUCCEEDED)  # tonight's first run is over: it is not started again
    assert started_at(60) == [stores[1].domain]
    assert started_at(230) == sorted([stores[2].domain, stores[3].domain])
    assert started_at(239) == []
    assert started_at(240) == []  # the window is over
    assert ForecastRun.objects.filter(trigger="schedule").count() == 4


def test_the_feature_models_learn_from_a_sample_of_a_big_store_and_forecast_every_sku(
    shop, small_options, settings, monkeypatch
):
    from forecasting.model_catalog import FEATURE_MODELS
    from inventory_ai.services.retraining import backtest
    from inventory_ai.services.retraining.backtest import training_sample
    from inventory_ai.services.retraining.forecast import feature_forecasts
    from inventory_ai.services.retraining.steps import feature_file, read_drivers, read_series, trained_features

    # given a store of 24 selling SKUs and feature models that learn from at most 10 of them
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "FEATURE_MODEL_MAX_SERIES": 10}
    variants = seed_demand(shop, 24, weeks=60)
    read = []
    monkeypatch.setattr(backtest, "read_drivers", lambda run, series: read.append(len(series)) or reader(run, series))
    reader = steps.read_drivers

    # when a full retrain runs
    run = drive(retraining.start_retrain(shop, trigger="test"))

    # then the feature models were trained, and every SKU has their backtest, sampled or not
    assert run.status == RunStatus.SUCCEEDED, run.error_log
    assert run.features_status == "done", run.error_log
    written = {}
    for index in run.chunks.values_list("index", flat=True):
        written.update(model_registry.read_json(run.artifacts, feature_file(index)))
    assert set(written) == {str(v.pk) for v in variants}
    assert all(set(entry["backtest"]) == set(FEATURE_MODELS) for entry in written.values())
    # the drivers were read for the sample (10 SKUs), then a chunk at a time (7), never for the whole store at once
    assert max(read) == 10
    assert sorted(set(read)) == [3, 7, 10]
    # and their final fits forecast, with its explanation, exactly the SKUs whose model reads one of them
    series = read_series(run, [v.pk for v in variants])
    names, matrices = read_drivers(run, series)
    models = ["lightgbm", "ets", "ridge+ets", "lightgbm+ridge"] * 6
    predicted = feature_forecasts(run, steps.run_plan(run), series, models, names, matrices)
    assert [sorted(by_model) for by_model in predicted] == [["lightgbm"], [], ["ridge"], ["lightgbm", "ridge"]] * 6
    for by_model in predicted:
        for prediction in by_model.values():
            assert len(prediction["mean"]) == run.horizon
            assert np.all(np.isfinite(prediction["mean"]))
            assert any(key.startswith("why-") for key in prediction)
    # a chunk's SKUs are forecast as they would be among all of the store's: one batch or another, the same numbers
    alone = feature_forecasts(run, steps.run_plan(run), series[:1], models[:1], names, matrices[:1])
    assert alone[0]["lightgbm"]["mean"] == pytest.approx(predicted[0]["lightgbm"]["mean"])
    assert trained_features(run) is trained_features(run)  # read once per process
    # the sample: 10 of 24 positions, seeded, in order; everything below the limit
    sample = training_sample(24, 10, 0)
    assert sample == training_sample(24, 10, 0)
    assert len(set(sample)) == 10
    assert sample == sorted(sample)
    assert training_sample(8, 10, 0) == list(range(8))
