"""Keeping each located store's weather: the observed days its forecasts learn from, and the forecast of the days
ahead, from the weather service (`integrations.weather`, Open-Meteo's API).

A fetch is all or nothing: a failed, malformed or partial answer writes no day, is recorded as a failed
`WeatherFetch` (shown in the admin) and is tried again by the next beat. Without a fresh forecast the forecasts read
climatology for the days ahead (`inventory_ai.selectors.drivers.weather_frame`), and the run says so.
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta

import pandas as pd
from django.db import transaction
from django.utils import timezone

from forecasting.data import history_start
from integrations.weather import DailyWeather, OpenMeteoClient, WeatherError
from inventory_ai.choices import WeatherKind
from inventory_ai.conf import get_option
from inventory_ai.models import Location, Store, WeatherDay, WeatherFetch
from inventory_ai.selectors.drivers import weather_location

logger = logging.getLogger(__name__)

# The archive's newest days are still empty (it runs about two days late): the archive is asked up to the day before
# those, and the forecast service (which also answers for its past days) covers the days from there.
ARCHIVE_DELAY_DAYS = 3
FORECAST_DAYS = 16


def weather_client() -> OpenMeteoClient | None:
    """The configured weather service, or None when it is switched off (no URLs)."""
    archive, forecast = get_option("WEATHER_ARCHIVE_URL"), get_option("WEATHER_FORECAST_URL")
    if not archive or not forecast:
        return None
    return OpenMeteoClient(
        archive,
        forecast,
        timeout=float(get_option("WEATHER_TIMEOUT_SECONDS")),
        api_key=get_option("WEATHER_API_KEY") or None,
    )


def coordinates(location: Location) -> tuple[float, float] | None:
    store = location.store
    if location.latitude is not None and location.longitude is not None:
        return location.latitude, location.longitude
    if store.latitude is not None and store.longitude is not None:
        return store.latitude, store.longitude
    return None


def refresh_weather(store: Store, client: OpenMeteoClient | None = None, today: date | None = None) -> list[str]:
    """Fetch what the store's weather location lacks: the observed days from the start of its useful history (or
    the day after the last one kept) to the archive's newest, then the forecast of the next days. Returns what was
    done, one line per fetch."""
    location = weather_location(store)
    client = client or weather_client()
    if location is None or client is None or coordinates(location) is None:
        return []
    today = today or timezone.localdate()
    latitude, longitude = coordinates(location)
    done = []
    newest = today - timedelta(days=ARCHIVE_DELAY_DAYS)
    kept = WeatherDay.objects.filter(location=location, kind=WeatherKind.OBSERVED).order_by("-day").first()
    first = kept.day + timedelta(days=1) if kept else history_start(pd.Timestamp(today), "D").date()
    if first <= newest:
        done.append(
            _fetch(
                location,
                WeatherKind.OBSERVED,
                first,
                newest,
                lambda: client.history(latitude, longitude, first, newest),
            )
        )
    done.append(
        _fetch(
            location,
            WeatherKind.FORECAST,
            newest + timedelta(days=1),
            today + timedelta(days=FORECAST_DAYS - 1),
            lambda: client.forecast(latitude, longitude, days=FORECAST_DAYS, past_days=ARCHIVE_DELAY_DAYS),
        )
    )
    return done


def _fetch(location: Location, kind: str, first: date, last: date, call) -> str:
    """One call, recorded; its days written in one transaction only when the whole answer is good."""
    fetch = WeatherFetch.objects.create(location=location, kind=kind, first_day=first, last_day=last)
    started = time.monotonic()
    try:
        days: list[DailyWeather] = [day for day in call() if first <= day.day <= last]
    except WeatherError as exc:
        fetch.error = f"{type(exc).__name__}: {exc}"[:2000]
        fetch.seconds = time.monotonic() - started
        fetch.save(update_fields=["error", "seconds"])
        logger.warning("weather %s of %s failed: %s", kind, location, exc)
        return f"{kind} {first}..{last}: failed ({fetch.error})"
    now = timezone.now()
    if kind == WeatherKind.OBSERVED:
        # a day the archive does not have yet (all empty) is asked again next time rather than kept empty
        days = [day for day in days if any(getattr(day, field) is not None for field in WEATHER_FIELDS)]
    with transaction.atomic():
        if kind == WeatherKind.FORECAST:
            # a new forecast replaces the old one; an observed day is never overwritten by a forecast
            WeatherDay.objects.filter(location=location, kind=WeatherKind.FORECAST).delete()
            observed = set(
                WeatherDay.objects.filter(location=location, kind=WeatherKind.OBSERVED, day__gte=first).values_list(
                    "day", flat=True
                )
            )
            days = [day for day in days if day.day not in observed]
        WeatherDay.objects.bulk_create(
            [
                WeatherDay(
                    location=location,
                    day=day.day,
                    kind=kind,
                    temperature_min=day.temperature_min,
                    temperature_max=day.temperature_max,
                    temperature_mean=day.temperature_mean,
                    precipitation_mm=day.precipitation_mm,
                    snowfall_cm=day.snowfall_cm,
                    fetched_at=now,
                )
                for day in days
            ],
            update_conflicts=True,
            unique_fields=["location", "day"],
            update_fields=["kind", *WEATHER_FIELDS, "fetched_at"],
        )
        fetch.ok, fetch.days, fetch.seconds = True, len(days), time.monotonic() - started
        fetch.save(update_fields=["ok", "days", "seconds"])
    return f"{kind} {first}..{last}: {len(days)} days"


WEATHER_FIELDS = ("temperature_min", "temperature_max", "temperature_mean", "precipitation_mm", "snowfall_cm")


def refresh_all_weather() -> dict[str, list[str]]:
    """Beat: the weather of every active store that has a located weather; a failure of one store leaves the
    others."""
    out = {}
    client = weather_client()
    if client is None:
        return out
    with client:
        for store in Store.objects.filter(active=True):
            out[store.domain] = refresh_weather(store, client)
    return out


def weather_note(store: Store, origin: date) -> str:
    """What a run should say about the store's weather: "" when its forecast covers the days after `origin`, else
    that climatology stands in for them (the weather service was unreachable)."""
    location = weather_location(store)
    if location is None or coordinates(location) is None:
        return ""
    ahead = WeatherDay.objects.filter(location=location, kind=WeatherKind.FORECAST, day__gt=origin).exists()
    if ahead:
        return ""
    failed = WeatherFetch.objects.filter(location=location, kind=WeatherKind.FORECAST, ok=False).first()
    why = f" (last failure: {failed.error})" if failed else ""
    return f"weather: no forecast for the days after {origin}; the same weeks of past years stand in for them{why}"
