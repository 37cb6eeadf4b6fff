"""Test helpers: a store with a known daily demand history, and a driver that runs a retrain's steps in-process."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from forecasting import engine
from inventory_ai.choices import RunPhase, RunStatus, StepStatus
from inventory_ai.models import DailyDemand, ForecastRun, Location, Product, Variant
from inventory_ai.selectors.drivers import HISTORY_ONLY, driver_frame
from inventory_ai.selectors.forecasts import last_complete_day, load_history
from inventory_ai.services import retraining


def seed_demand(store, n_variants: int, weeks: int = 60, seed: int = 0, prefix: str = "SKU") -> list[Variant]:
    """`n_variants` variants with daily demand up to the store's last complete forecast period: a third smooth and
    seasonal, a third trending, a third intermittent. Deterministic for a seed."""
    from inventory_ai.conf import get_option

    rng = np.random.default_rng(seed)
    location, _ = Location.objects.get_or_create(store=store, platform_id="1", defaults={"is_primary": True})
    last = last_complete_day(store, get_option("FORECAST_FREQ"))
    days = [last - timedelta(days=offset) for offset in range(weeks * 7 - 1, -1, -1)]
    variants, rows = [], []
    for number in range(n_variants):
        product = Product.objects.create(store=store, platform_id=f"{prefix}-p{number}", title=f"Product {number}")
        variant = Variant.objects.create(
            store=store, product=product, platform_id=f"{prefix}-v{number}", sku=f"{prefix}-{number:04d}", price=10
        )
        variants.append(variant)
        kind = number % 3
        for position, day in enumerate(days):
            if kind == 0:
                rate = 3.0 * (1.5 + np.sin(2 * np.pi * position / 365.25))
            elif kind == 1:
                rate = 0.5 + 4.0 * position / len(days)
            else:
                rate = 0.15
            units = int(rng.poisson(rate))
            if units:
                rows.append(DailyDemand(variant=variant, location=location, date=day, units=units, revenue=10 * units))
    DailyDemand.objects.bulk_create(rows, batch_size=5000)
    return variants


def drive(run: ForecastRun) -> ForecastRun:
    """Run every step of a queued run in this process, in the order the workers would, until it ends."""
    retraining.plan_run(run.pk)
    for _ in range(10):
        run.refresh_from_db()
        if run.status != RunStatus.RUNNING:
            return run
        if run.phase == RunPhase.BACKTEST:
            if run.global_backtest_status == StepStatus.PENDING:
                retraining.train_global_model(run.pk, retraining.GLOBAL_BACKTEST)
            if run.global_status == StepStatus.PENDING:
                retraining.train_global_model(run.pk, retraining.GLOBAL_FINAL)
            if run.features_status == StepStatus.PENDING:
                retraining.train_feature_models(run.pk)
            for index in run.chunks.filter(backtest_status=StepStatus.PENDING).values_list("index", flat=True):
                retraining.backtest_chunk(run.pk, index)
        elif run.phase == RunPhase.FORECAST:
            for index in run.chunks.filter(forecast_status=StepStatus.PENDING).values_list("index", flat=True):
                retraining.forecast_chunk(run.pk, index)
    run.refresh_from_db()
    return run


def engine_forecast(store, run, **options) -> pd.DataFrame:
    """What the in-process engine forecasts from the run's history with the product's drivers (the equivalence a
    distributed run must keep)."""
    history = load_history(store, run.data_until)
    ids = sorted({int(uid) for uid in history.unique_id})
    first = history.ds.min().date()
    exog = driver_frame(store, ids, run.freq, first, run.data_until, run.horizon)
    return engine.forecast_many(
        history, run.horizon, run.freq, exog=exog, history_only=HISTORY_ONLY, country=store.country_code or None,
        **options,
    )  # fmt: skip
