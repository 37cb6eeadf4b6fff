"""The global network in a retrain: it learns from a bounded sample of a big store and forecasts every SKU a chunk at
a time, so that its memory does not grow with the store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from forecasting import network
from inventory_ai.choices import RunStatus
from inventory_ai.services import model_registry, retraining
from inventory_ai.services.retraining import backtest, steps
from inventory_ai.services.retraining.steps import NETWORK_FILES, chunk_file
from tests.retrain_helpers import drive, seed_demand

pytestmark = pytest.mark.django_db


def test_the_network_learns_from_a_sample_of_a_big_store_and_forecasts_every_sku_chunk_by_chunk(
    shop, settings, monkeypatch
):
    # given a store of 120 selling SKUs in chunks of 50, and a network (and feature models) that learn from at most
    # 60 of them
    settings.INVENTORY_AI = {
        **settings.INVENTORY_AI,
        "RETRAIN_CHUNK_SIZE": 50,
        "FORECAST_HORIZON": 4,
        "NETWORK_MAX_SERIES": 60,
        "FEATURE_MODEL_MAX_SERIES": 60,
    }
    variants = seed_demand(shop, 120, weeks=30)
    series_reads, driver_reads, trained_on = [], [], []
    read_series, read_drivers = steps.read_series, steps.read_drivers
    monkeypatch.setattr(
        backtest, "read_series", lambda run, ids: series_reads.append(len(ids)) or read_series(run, ids)
    )
    monkeypatch.setattr(
        backtest, "read_drivers", lambda run, series: driver_reads.append(len(series)) or read_drivers(run, series)
    )
    train_final = network.train_final_network
    monkeypatch.setattr(
        network,
        "train_final_network",
        lambda series, *args, **kwargs: trained_on.append(len(series)) or train_final(series, *args, **kwargs),
    )

    # when a full retrain runs
    run = drive(retraining.start_retrain(shop, trigger="test"))

    # then both of the network's parts were trained, on the sample of 60 SKUs
    assert run.status == RunStatus.SUCCEEDED, run.error_log
    assert (run.global_backtest_status, run.global_status) == ("done", "done"), run.error_log
    assert trained_on == [60]
    # and every SKU has the network's backtest and forecast, written chunk by chunk
    found = {part: {} for part in (retraining.GLOBAL_BACKTEST, retraining.GLOBAL_FINAL)}
    for index in run.chunks.values_list("index", flat=True):
        for part, results in found.items():
            results.update(model_registry.read_json(run.artifacts, chunk_file(part, index)))
    every = {str(variant.pk) for variant in variants}
    assert set(found[retraining.GLOBAL_FINAL]) == set(found[retraining.GLOBAL_BACKTEST]) == every
    assert all(len(forecast["mean"]) == 4 for forecast in found[retraining.GLOBAL_FINAL].values())
    assert all(by_cutoff for by_cutoff in found[retraining.GLOBAL_BACKTEST].values())
    # never reading the whole store at once: the sample (60), then a chunk at a time (50, 50, 20), in each part
    assert max(series_reads) == max(driver_reads) == 60
    assert sorted(set(driver_reads)) == [20, 50, 60]
    # and a SKU's forecast is the same predicted alone as among its chunk
    with tempfile.TemporaryDirectory() as folder:
        model_registry.download(run.artifacts, Path(folder), NETWORK_FILES)
        saved = network.load_network(folder)
    one = read_series(run, [variants[0].pk])
    alone = network.predict_global(saved, one, 4, run.freq, tuple(run.levels))
    np.testing.assert_allclose(alone[0]["mean"], found[retraining.GLOBAL_FINAL][str(variants[0].pk)]["mean"], rtol=1e-5)


def test_a_store_within_the_limit_is_learnt_whole():
    assert backtest.training_sample(80, 5000, 0) == list(range(80))
