"""The Open-Meteo client against the simulator's weather API: shapes and dates, one-year pieces, determinism,
plausible climates, retries (timeouts, 429 with Retry-After, 5xx), refusals and malformed answers. No database; the
simulator runs on loopback, or in-process behind an httpx MockTransport where a test needs a hand-made answer."""

from __future__ import annotations

import math
import socket
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from integrations.simulator import StoreState, start_api_server
from integrations.simulator.weather import ARCHIVE_PATH, WeatherApi, simulate, start_weather_server
from integrations.weather import (
    DAILY_VARIABLES,
    DailyWeather,
    OpenMeteoClient,
    WeatherMalformed,
    WeatherRequestError,
    WeatherUnavailable,
)

BERLIN = (52.52, 13.41)
SYDNEY = (-33.87, 151.21)
TROMSO = (69.65, 18.96)
SINGAPORE = (1.29, 103.85)
MIMIC = "http://weather.test"


@pytest.fixture
def server():
    with start_weather_server(seed=7) as running:
        yield running


@pytest.fixture
def client(server):
    with OpenMeteoClient(server.archive_url, server.forecast_url, timeout=0.3, retries=3, backoff=0.01) as opened:
        yield opened


def in_process(api: WeatherApi, change=None, **options) -> OpenMeteoClient:
    """A client whose requests the simulator answers in-process; `change(n, status, body)` may alter the n-th."""
    calls = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        status, body, headers = api.answer(request.url.path, parse_qs(request.url.query.decode()))
        if change is not None:
            status, body, headers = change(len(calls), status, body, headers)
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    options = {"retries": 2, "backoff": 0.01} | options
    return OpenMeteoClient(
        f"{MIMIC}/v1/archive", f"{MIMIC}/v1/forecast", transport=httpx.MockTransport(handle), **options
    )


def utc_today() -> date:
    return datetime.now(UTC).date()


# --- success --------------------------------------------------------------------------------------------------------


def test_history_returns_every_day_asked_in_order_as_floats(client, server):
    # when a quarter of history is asked
    days = client.history(*BERLIN, date(2023, 1, 1), date(2023, 3, 31))

    # then every day is there once, in order, with numbers in plausible relations
    assert [record.day for record in days] == [date(2023, 1, 1) + timedelta(n) for n in range(90)]
    assert all(isinstance(record, DailyWeather) for record in days)
    for record in days:
        values = (record.temperature_min, record.temperature_mean, record.temperature_max)
        assert all(type(value) is float for value in values)
        assert record.temperature_min <= record.temperature_mean <= record.temperature_max
        assert record.precipitation_mm >= 0
        assert record.snowfall_cm >= 0
    # and it asked the archive once, in the location's time zone, for exactly our variables in our units
    ((path, query),) = server.weather.log
    assert path == ARCHIVE_PATH
    assert (query["start_date"], query["end_date"], query["timezone"]) == ("2023-01-01", "2023-03-31", "auto")
    assert query["daily"].split(",") == list(DAILY_VARIABLES)
    assert (query["temperature_unit"], query["precipitation_unit"]) == ("celsius", "mm")


def test_a_long_history_is_asked_a_year_at_a_time_and_joined_in_order(client, server):
    # when three and a half years are asked
    start, end = date(2020, 1, 1), date(2023, 6, 30)
    days = client.history(*BERLIN, start, end)

    # then four pieces of at most 366 days were asked, back to back
    pieces = [(date.fromisoformat(q["start_date"]), date.fromisoformat(q["end_date"])) for _, q in server.weather.log]
    assert len(pieces) == 4
    assert (pieces[0][0], pieces[-1][1]) == (start, end)
    assert all((last - first).days < 366 for first, last in pieces)
    assert all(later[0] == earlier[1] + timedelta(1) for earlier, later in zip(pieces, pieces[1:], strict=False))
    # and the answer is every day, in order, the same as one piece would say
    assert [record.day for record in days] == [start + timedelta(n) for n in range((end - start).days + 1)]
    assert days[400:410] == client.history(*BERLIN, days[400].day, days[409].day)


def test_forecast_gives_the_days_from_the_locations_today(client, server):
    # when 16 days are asked for Sydney (UTC+10), then 3 past days and 5 ahead for Berlin
    ahead = client.forecast(*SYDNEY)
    recent = client.forecast(*BERLIN, days=5, past_days=3)

    # then each is a run of consecutive days starting within a day of UTC's today
    for records, count, back in ((ahead, 16, 0), (recent, 8, 3)):
        assert len(records) == count
        assert [record.day for record in records] == [records[0].day + timedelta(n) for n in range(count)]
        assert abs((records[back].day - utc_today()).days) <= 1
    assert all(record.temperature_mean is not None for record in ahead)
    assert [q.get("forecast_days") for _, q in server.weather.log] == ["16", "5"]


def test_a_forecast_whose_today_is_days_from_the_clients_is_refused_and_the_clock_is_the_clients():
    # given a service whose clock stands at noon UTC on 2020-03-10
    moment = datetime(2020, 3, 10, 12, tzinfo=UTC)
    with start_weather_server(seed=7, clock=lambda: moment) as stale:
        # when a client on the real clock asks it for a forecast, then the answer's today is out of shape
        refused = pytest.raises(WeatherMalformed, match="the answer's today is 2020-03-10, more than a day from")
        with OpenMeteoClient(stale.archive_url, stale.forecast_url, timeout=1, retries=0) as plain, refused:
            plain.forecast(*BERLIN, days=3)
        # and a client that keeps the same clock (a test's fixed day) takes it, from the place's today
        with OpenMeteoClient(stale.archive_url, stale.forecast_url, timeout=1, clock=lambda: moment) as same:
            assert [record.day for record in same.forecast(*SYDNEY, days=2)] == [date(2020, 3, 10), date(2020, 3, 11)]


def test_the_archives_newest_days_are_none_until_its_data_arrive(client):
    # when the history up to today is asked (the simulated archive runs two days late, like Open-Meteo's)
    today = client.forecast(*BERLIN, days=1)[0].day
    days = client.history(*BERLIN, today - timedelta(9), today)

    # then the last two days have no values and the others all have
    assert [record.temperature_mean is None for record in days] == [False] * 8 + [True] * 2
    assert days[-1] == DailyWeather(today, None, None, None, None, None)


def test_the_weather_is_fixed_by_seed_and_place_and_the_forecast_comes_true(client, server):
    # given a forecast made today
    forecast = client.forecast(*BERLIN)

    # when three weeks pass and the archive is asked for the same days
    later = datetime.now(UTC) + timedelta(days=21)
    server.weather.clock = lambda: later
    archived = client.history(*BERLIN, forecast[0].day, forecast[-1].day)

    # then the archive says what the forecast said
    assert archived == forecast
    # and another server with the same seed says it too, one with another seed does not
    with start_weather_server(seed=7) as same, start_weather_server(seed=8) as other:
        for twin, equal in ((same, True), (other, False)):
            with OpenMeteoClient(twin.archive_url, twin.forecast_url, timeout=1) as second:
                assert (second.history(*BERLIN, date(2022, 1, 1), date(2022, 1, 31)) == client.history(
                    *BERLIN, date(2022, 1, 1), date(2022, 1, 31)
                )) is equal  # fmt: skip
    # and a point a few hundred metres away is in the same grid cell
    assert client.history(52.521, 13.409, date(2022, 1, 1), date(2022, 1, 3)) == client.history(
        *BERLIN, date(2022, 1, 1), date(2022, 1, 3)
    )


def test_climates_are_plausible():
    # given three years of simulated weather at four places
    years = {name: simulate(0, *place, date(2021, 1, 1), date(2023, 12, 31)) for name, place in (
        ("berlin", BERLIN), ("sydney", SYDNEY), ("tromso", TROMSO), ("singapore", SINGAPORE))}  # fmt: skip

    def mean_of(name: str, month: int) -> float:
        return statistics.mean(d["temperature_2m_mean"] for d in years[name] if d["day"].month == month)

    # then the Arctic winter is far colder than the tropics', and the tropics barely have seasons
    assert mean_of("tromso", 1) < mean_of("singapore", 1) - 25
    assert abs(mean_of("singapore", 7) - mean_of("singapore", 1)) < 3
    # and the northern summer is warm, the southern hemisphere's July is its winter
    assert mean_of("berlin", 7) > mean_of("berlin", 1) + 12
    assert mean_of("sydney", 7) < mean_of("sydney", 1) - 6
    for name, days in years.items():
        # and it rains on some days, not all, and snows only when it is cold
        wet = sum(d["precipitation_sum"] > 0 for d in days) / len(days)
        assert 0.1 < wet < 0.7, name
        assert all(d["temperature_2m_mean"] <= 2 for d in days if d["snowfall_sum"] > 0), name
    assert sum(d["snowfall_sum"] for d in years["tromso"]) > 100
    assert sum(d["snowfall_sum"] for d in years["singapore"]) == 0
    # and today's anomaly tells about tomorrow's (autocorrelated, not white noise)
    means = [d["temperature_2m_mean"] for d in years["berlin"]]
    anomalies = [means[i] - statistics.mean(means[max(0, i - 15) : i + 16]) for i in range(len(means))]
    assert statistics.correlation(anomalies[1:], anomalies[:-1]) > 0.4


# --- retries --------------------------------------------------------------------------------------------------------


def test_a_timeout_is_retried(client, server):
    # given a server that stalls past the client's 0.3 s timeout once
    server.weather.fail_next("timeout", seconds=1.5)

    # when history is asked
    started = time.perf_counter()
    days = client.history(*BERLIN, date(2023, 5, 1), date(2023, 5, 7))

    # then the second attempt answered, without waiting for the stall to end
    assert len(days) == 7
    assert (server.weather.requests, client.requests) == (2, 2)
    assert time.perf_counter() - started < 1.2


def test_a_429_waits_as_long_as_retry_after_says(client, server):
    # given a rate-limited answer asking for one second
    server.weather.fail_next("429", retry_after=1)

    # when the forecast is asked (backoff alone would wait 10 ms)
    started = time.perf_counter()
    days = client.forecast(*BERLIN, days=3)

    # then it waited the second and the next attempt answered
    assert len(days) == 3
    assert time.perf_counter() - started >= 0.95
    assert client.requests == 2


def test_retry_after_is_capped_and_its_absence_falls_back_to_backoff():
    # given a service that asks for an hour, then (like Open-Meteo) names no wait at all, then answers
    def change(n, status, body, headers):
        if n == 1:
            return 429, {"error": True, "reason": "Hourly API request limit exceeded."}, {"Retry-After": "3600"}
        if n == 2:
            return 503, b"unavailable", {}
        return status, body, headers

    with in_process(WeatherApi(seed=1), change, max_wait=0.05, retries=2) as client:
        # when history is asked
        started = time.perf_counter()
        days = client.history(*BERLIN, date(2023, 1, 1), date(2023, 1, 2))

    # then it waited at most the cap each time and got the third answer
    assert (len(days), client.requests) == (2, 3)
    assert time.perf_counter() - started < 0.5


def test_persistent_5xx_raises_weather_unavailable_after_every_retry(client, server):
    # given a service failing every time
    server.weather.fail_next("500", count=10)

    # when history is asked
    with pytest.raises(WeatherUnavailable) as raised:
        client.history(*BERLIN, date(2023, 1, 1), date(2023, 1, 2))

    # then it tried 1 + 3 times and says why, as a transient error
    assert server.weather.requests == 4
    assert (raised.value.status, raised.value.transient) == (500, True)
    assert "Something went wrong. (gave up after 4 attempts)" in str(raised.value)


def test_a_service_that_cannot_be_reached_is_unavailable():
    # given a port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"

    # when the forecast is asked, then the connection errors are retried and end as WeatherUnavailable
    with OpenMeteoClient(f"{url}/archive", f"{url}/forecast", timeout=0.3, retries=1, backoff=0.01) as client:
        with pytest.raises(WeatherUnavailable, match="ConnectError"):
            client.forecast(*BERLIN)
        assert client.requests == 2


# --- refusals and malformed answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["not_json", "mismatched", "wrong_days", "non_numeric"])
def test_a_malformed_answer_raises_and_is_not_retried(client, server, kind):
    # given one malformed answer
    server.weather.fail_next(kind)

    # when history is asked, then nothing comes back but WeatherMalformed, after one request
    with pytest.raises(WeatherMalformed):
        client.history(*BERLIN, date(2023, 1, 1), date(2023, 1, 31))
    assert server.weather.requests == 1


def test_one_malformed_piece_of_a_long_history_fails_the_whole_call():
    # given a service whose second one-year piece has an array a day short
    api = WeatherApi(seed=3)

    def change(n, status, body, headers):
        if n == 2:
            body["daily"]["snowfall_sum"].pop()
        return status, body, headers

    # when three years are asked, then the call raises: no partial history
    with in_process(api, change) as client, pytest.raises(WeatherMalformed, match="snowfall_sum"):
        client.history(*BERLIN, date(2019, 1, 1), date(2021, 12, 31))
    assert api.requests == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda body: body.pop("daily"), "no `daily`"),
        (lambda body: body["daily"].pop("time"), "daily.time"),
        (lambda body: body["daily"].pop("temperature_2m_mean"), "temperature_2m_mean"),
        (lambda body: body["daily"]["precipitation_sum"].__setitem__(0, True), "not a number"),
        (lambda body: body["daily"]["time"].__setitem__(1, "2023-02-30"), "calendar day"),
        (lambda body: body["daily"]["time"].reverse(), "order"),
        (lambda body: body["daily_units"].__setitem__("temperature_2m_max", "°F"), "°F"),
    ],
)
def test_answers_out_of_shape_are_refused(change, message):
    # given an answer changed by hand
    def corrupt(n, status, body, headers):
        change(body)
        return status, body, headers

    # when history is asked, then it is refused with a reason
    with in_process(WeatherApi(), corrupt) as client, pytest.raises(WeatherMalformed, match=message):
        client.history(*BERLIN, date(2023, 1, 1), date(2023, 1, 5))


def test_null_values_are_none():
    # given an answer where one value is missing
    def blank(n, status, body, headers):
        body["daily"]["temperature_2m_min"][1] = None
        return status, body, headers

    # when history is asked, then that value is None and the others are numbers
    with in_process(WeatherApi(), blank) as client:
        days = client.history(*BERLIN, date(2023, 1, 1), date(2023, 1, 3))
    assert days[1].temperature_min is None
    assert None not in (days[1].temperature_max, days[0].temperature_min)


def test_a_400_raises_weather_request_error_with_the_services_reason(client, server):
    # when history before the archive's first day is asked
    with pytest.raises(WeatherRequestError) as raised:
        client.history(*BERLIN, date(1930, 1, 1), date(1930, 1, 31))

    # then Open-Meteo's reason comes through, and the refusal was not retried
    assert (raised.value.status, raised.value.transient) == (400, False)
    assert raised.value.reason.startswith("Parameter 'start_date' is out of allowed range from 1940-01-01 to ")
    assert server.weather.requests == 1


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(90.5, 0), (-91, 0), (0, 180.01), (0, -181), (math.nan, 0), (0, math.inf)]
)
def test_coordinates_out_of_range_are_refused_before_any_request(client, server, latitude, longitude):
    with pytest.raises(ValueError, match="latitude|longitude"):
        client.history(latitude, longitude, date(2023, 1, 1), date(2023, 1, 2))
    with pytest.raises(ValueError, match="latitude|longitude"):
        client.forecast(latitude, longitude)
    assert server.weather.requests == 0


def test_coordinates_may_come_as_decimals_or_integers(client, server):
    # when a model's DecimalField coordinates are passed
    days = client.history(Decimal("52.520000"), 13, date(2023, 1, 1), date(2023, 1, 1))

    # then they are sent as plain numbers
    assert len(days) == 1
    assert (server.weather.log[0][1]["latitude"], server.weather.log[0][1]["longitude"]) == ("52.52", "13")


@pytest.mark.parametrize("call", [
    lambda client: client.forecast(*BERLIN, days=0),
    lambda client: client.forecast(*BERLIN, days=17),
    lambda client: client.forecast(*BERLIN, past_days=93),
    lambda client: client.history(*BERLIN, date(2023, 1, 2), date(2023, 1, 1)),
])  # fmt: skip
def test_impossible_ranges_are_refused_before_any_request(client, server, call):
    with pytest.raises(ValueError, match="days|before"):
        call(client)
    assert server.weather.requests == 0


# --- the simulator's API ----------------------------------------------------------------------------------------------


def test_the_simulator_answers_in_open_meteos_shape(server):
    # when the archive is asked for two variables in the location's time zone
    params = {"latitude": 52.52, "longitude": 13.41, "start_date": "2023-01-01", "end_date": "2023-01-03"}
    params |= {"daily": "temperature_2m_max,precipitation_sum", "timezone": "auto"}
    body = httpx.get(server.archive_url, params=params).json()

    # then the answer names the grid cell and time zone, and holds only the variables asked, with their units
    assert (body["latitude"], body["longitude"], body["timezone"], body["utc_offset_seconds"]) == (
        52.5, 13.4, "Etc/GMT-1", 3600)  # fmt: skip
    assert body["daily_units"] == {"time": "iso8601", "temperature_2m_max": "°C", "precipitation_sum": "mm"}
    assert set(body["daily"]) == {"time", "temperature_2m_max", "precipitation_sum"}
    assert body["daily"]["time"] == ["2023-01-01", "2023-01-02", "2023-01-03"]


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/v1/archive", {"latitude": 95, "longitude": 0}, "Latitude must be in range of -90 to 90°. Given: 95.0."),
        ("/v1/archive", {"latitude": 1, "longitude": 2}, "Both 'start_date' and 'end_date' must be set in the url"),
        ("/v1/forecast", {"latitude": 1, "longitude": 2, "forecast_days": 17}, "Forecast days is invalid."),
        ("/v1/forecast", {"latitude": 1, "longitude": 2, "daily": "sunshine"}, "invalid String value sunshine"),
        ("/v1/forecast", {"latitude": 1, "longitude": 2, "timezone": "Mars/Olympus"}, "Invalid timezone"),
    ],
)
def test_the_simulator_refuses_bad_parameters_as_open_meteo_does(server, path, params, reason):
    response = httpx.get(server.url + path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] is True
    assert reason in body["reason"]


def test_the_store_api_server_also_serves_the_weather_routes():
    # given the store simulator's API server (store routes and weather routes on one port)
    with start_api_server(StoreState()) as api:
        urls = (f"{api.url}/v1/archive", f"{api.url}/v1/forecast")
        with OpenMeteoClient(*urls, timeout=1, retries=1, backoff=0.01) as client:
            # when the weather is asked through it, then it answers as the standalone server does
            assert client.history(*BERLIN, date(2023, 1, 1), date(2023, 1, 5)) == [
                DailyWeather(record["day"], record["temperature_2m_min"], record["temperature_2m_max"],
                             record["temperature_2m_mean"], record["precipitation_sum"], record["snowfall_sum"])
                for record in simulate(0, *BERLIN, date(2023, 1, 1), date(2023, 1, 5))
            ]  # fmt: skip
            assert len(client.forecast(*BERLIN, days=2)) == 2
            # and its faults reach the client, a body that is not JSON included
            api.weather.fail_next("not_json")
            with pytest.raises(WeatherMalformed, match="not JSON"):
                client.forecast(*BERLIN)
        # and the store routes still ask for their credentials
        assert httpx.get(f"{api.url}/wp-json/wc/v3/orders/1").status_code == 401
        assert api.weather.requests == 3
