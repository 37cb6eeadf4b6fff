"""The README's import-then-retrain path, exactly as a new user runs it: the Online Retail file as it is (its sales
end in December 2011), imported into a fresh store, then `retrain --wait` as of today through a real worker of two
pool processes on every queue.

The shared data set is used where it is (CI lays it beside the project); a checkout without it runs the same path on
the project's bundled sample of the same file. Time and memory are measured by `bench/readme_path.py`, not here.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import Max

from inventory_ai.choices import RunStatus
from inventory_ai.models import DailyDemand, Forecast, ForecastResult, ForecastRun, Variant

pytestmark = [pytest.mark.worker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SHARED_FILE = ROOT.parent / "shared" / "data" / "online_retail.csv.gz"
BUNDLED_SAMPLE = ROOT / "inventory_ai" / "demo" / "online_retail_sample.csv.gz"


def online_retail_file() -> Path:
    if SHARED_FILE.exists():
        return SHARED_FILE
    if os.environ.get("INVENTORY_AI_REQUIRE_SERVICES") == "1":
        pytest.fail(f"CI runs this path on the shared data set, which is missing at {SHARED_FILE}")
    return BUNDLED_SAMPLE


def test_the_readme_import_then_retrain_path_finishes_and_says_what_it_found(shop, start_worker, run_command):
    # given the Online Retail file imported into a store, and one worker of two processes on every queue
    run_command("import_orders", str(online_retail_file()), "--store", shop.domain, "--no-progress")
    skus = Variant.objects.filter(store=shop).count()
    assert skus > 200
    worker = start_worker(pool="prefork", concurrency=2)

    # when the store is retrained as of today, following the run
    out, _ = run_command("retrain", "--store", shop.domain, "--wait", "--timeout", "600")

    # then the run finished: no SKU has sold in the fifteen years since the file ends, so each one is forecast as
    # inactive (zero) without being padded to today, and the command says so and how to forecast from the file's end
    run = ForecastRun.objects.get(store=shop)
    assert run.status == RunStatus.SUCCEEDED, run.error_log + worker.log[-3000:]
    assert run.model_counts == {"inactive": run.skus_total}
    assert run.skus_total == run.skus_done == ForecastResult.objects.filter(run=run, ok=True).count()
    assert run.skus_total >= 0.9 * skus
    assert not Forecast.objects.filter(run=run, mean__gt=0).exists()
    assert (run.global_backtest_status, run.global_status) == ("skipped", "skipped")
    assert set(run.chunks.values_list("attempts", flat=True)) == {2}  # each step started once
    assert f"Run #{run.pk} succeeded" in out
    last_sale = DailyDemand.objects.filter(variant__store=shop, units__gt=0).aggregate(last=Max("date"))["last"]
    assert last_sale.year == 2011
    assert f"The store's last recorded sale is on {last_sale}; to forecast from a history that ends then" in out
    assert f"retrain with --as-of {last_sale + timedelta(days=1)}" in out
