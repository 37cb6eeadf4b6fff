"""Keeping a store's weather from the weather service (the simulator serves Open-Meteo's API): the observed days, the
forecast, failures recorded with nothing written, and the climatology note when the forecast is missing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from integrations.simulator.weather import start_weather_server
from integrations.weather import OpenMeteoClient
from inventory_ai.choices import WeatherKind
from inventory_ai.models import Location, WeatherDay, WeatherFetch
from inventory_ai.services import weather

TODAY = date(2026, 12, 5)


@pytest.fixture
def service():
    clock = lambda: datetime(2026, 12, 5, 12, tzinfo=UTC)  # noqa: E731
    with start_weather_server(seed=3, clock=clock) as server:
        client = OpenMeteoClient(server.archive_url, server.forecast_url, timeout=0.5, retries=1, backoff=0.01,
                                 max_wait=0.05, clock=clock)  # fmt: skip
        yield server, client


@pytest.fixture
def located(shop):
    shop.latitude, shop.longitude = 51.5, -0.12
    shop.save()
    return Location.objects.create(store=shop, platform_id="1", is_primary=True, name="London")


def test_the_observed_days_and_the_forecast_are_kept_and_only_new_days_fetched_again(shop, located, service):
    server, client = service
    # when the weather is refreshed the first time
    done = weather.refresh_weather(shop, client, today=TODAY)

    # then the observed days run from the start of the useful history to the archive's newest, the forecast after
    observed = WeatherDay.objects.filter(location=located, kind=WeatherKind.OBSERVED)
    forecast = WeatherDay.objects.filter(location=located, kind=WeatherKind.FORECAST)
    newest = TODAY - timedelta(days=weather.ARCHIVE_DELAY_DAYS)
    assert observed.order_by("-day").first().day == newest
    assert observed.count() > 3 * 360
    assert forecast.order_by("day").first().day == newest + timedelta(days=1)
    assert forecast.order_by("-day").first().day == TODAY + timedelta(days=weather.FORECAST_DAYS - 1)
    assert all(fetch.ok for fetch in WeatherFetch.objects.all()), done
    # London is colder in January than in July
    winter = observed.filter(day__month=1).values_list("temperature_mean", flat=True)
    summer = observed.filter(day__month=7).values_list("temperature_mean", flat=True)
    assert sum(winter) / len(winter) + 5 < sum(summer) / len(summer)

    # when it is refreshed again two days later, only the new observed days are asked
    requests = server.weather.requests
    server.weather.clock = lambda: datetime(2026, 12, 7, 12, tzinfo=UTC)
    weather.refresh_weather(shop, client, today=TODAY + timedelta(days=2))
    assert server.weather.requests == requests + 2  # one archive call, one forecast call
    assert observed.order_by("-day").first().day == newest + timedelta(days=2)
    assert not forecast.filter(day__lte=newest + timedelta(days=2)).exists()  # observed days replace forecasts


def test_a_failed_or_malformed_answer_writes_nothing_and_is_tried_again(shop, located, service):
    server, client = service
    # given a service that fails every call, then one that answers out of shape
    server.weather.fail_next("500", count=4)  # two calls, each tried twice
    weather.refresh_weather(shop, client, today=TODAY)
    assert not WeatherDay.objects.exists()
    failed = WeatherFetch.objects.filter(ok=False)
    assert failed.count() == 2
    errors = [fetch.error for fetch in failed]
    assert all("WeatherUnavailable" in error for error in errors), errors
    server.weather.fail_next("mismatched", count=2)  # an answer out of shape is not retried
    weather.refresh_weather(shop, client, today=TODAY)
    assert not WeatherDay.objects.exists()
    assert all("WeatherMalformed" in f.error for f in WeatherFetch.objects.filter(ok=False).order_by("-pk")[:2])
    # and the run is told that the days ahead read climatology
    assert "the same weeks of past years stand in for them" in weather.weather_note(shop, TODAY)

    # when the service is back, the next refresh fetches everything
    weather.refresh_weather(shop, client, today=TODAY)
    assert WeatherDay.objects.filter(kind=WeatherKind.OBSERVED).exists()
    assert weather.weather_note(shop, TODAY) == ""


def test_a_store_without_coordinates_has_no_weather(shop, service):
    Location.objects.create(store=shop, platform_id="1", is_primary=True)
    assert weather.refresh_weather(shop, service[1], today=TODAY) == []
    assert not WeatherFetch.objects.exists()
