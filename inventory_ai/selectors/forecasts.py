"""Reads of forecast runs and demand history: the store's current run, the last complete period, daily demand."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from django.db.models import IntegerField, Min, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from forecasting.data import period_alias
from inventory_ai.choices import RunStatus
from inventory_ai.models import DailyDemand, ForecastRun, Store


def current_run(store: Store) -> ForecastRun | None:
    """The store's current forecast: its newest succeeded run."""
    return ForecastRun.objects.filter(store=store, status=RunStatus.SUCCEEDED).order_by("-finished_at", "-pk").first()


def last_complete_day(store: Store, freq: str, now: datetime | None = None) -> date:
    """The last day of the last complete period in the store's time zone: a run never reads a half-finished week."""
    today = (now or timezone.now()).astimezone(store.tzinfo).date()
    period = pd.Period(today, freq=period_alias(freq))
    return (period.start_time - pd.Timedelta(days=1)).date()


def load_history(
    store: Store, data_until: date, variant_ids: list[int] | None = None, since: date | None = None
) -> pd.DataFrame:
    """Daily demand per variant over all its locations from `since` (default: the beginning) up to `data_until`:
    `unique_id` (the variant id as text), `ds`, `y`, and `censored` (out of stock at every location with a row that
    day)."""
    rows = DailyDemand.objects.filter(variant__store=store, date__lte=data_until)
    if since is not None:
        rows = rows.filter(date__gte=since)
    if variant_ids is not None:
        rows = rows.filter(variant_id__in=variant_ids)
    values = (
        rows.values("variant_id", "date")
        .annotate(units=Sum("units"), in_stock=Min(Cast("out_of_stock", IntegerField())))
        .values_list("variant_id", "date", "units", "in_stock")
    )
    frame = pd.DataFrame(list(values), columns=["unique_id", "ds", "y", "censored"])
    frame["unique_id"] = frame["unique_id"].astype(str)
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame["y"] = frame["y"].clip(lower=0).astype(float)
    frame["censored"] = frame["censored"].astype(bool)
    return frame
