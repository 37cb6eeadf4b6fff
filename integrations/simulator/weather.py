"""Open-Meteo's archive and forecast APIs on 127.0.0.1, answering seeded, plausible daily weather for any place.

Served (`GET`, Open-Meteo's parameters and response shape, https://open-meteo.com/en/docs):

- `/v1/archive?latitude=&longitude=&start_date=&end_date=&daily=...`: days from 1940-01-01 to today, the last
  `archive_delay_days` of them `null` (the archive's data arrive about two days late);
- `/v1/forecast?latitude=&longitude=&daily=...&forecast_days=&past_days=` (or `start_date`/`end_date`, 92 days back
  to 15 ahead): days from the location's today.

`timezone` is `GMT` when absent, `auto` (an offset of longitude / 15 hours, named `Etc/GMT...`) or a tz-database
name; `temperature_unit`, `precipitation_unit` and `timeformat` take Open-Meteo's values. Bad parameters get
Open-Meteo's error shape, `400 {"error": true, "reason": "..."}`.

The weather is a function of (seed, grid cell, day) alone, so the archive and the forecast agree on every day they
share, and a forecast comes true: a yearly temperature cycle whose mean falls and amplitude grows with latitude (the
southern hemisphere in opposite phase), day-to-day anomalies that persist (an AR(1) process, written as a finite sum
of per-day shocks so any day is computed without the days before the request), wet spells on a latitude-dependent
share of days, and snow (7 cm per 10 mm of water, as Open-Meteo counts it) only when it is cold.

Faults for tests: `fail_next(kind, count)` answers the next `count` weather requests with a stall longer than a
client's timeout, a 429 (with Retry-After), a 500, or a malformed 200. `start_weather_server()` runs these routes
alone; `ApiServer` serves them beside the store routes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ARCHIVE_PATH = "/v1/archive"
FORECAST_PATH = "/v1/forecast"
WEATHER_PATHS = frozenset({ARCHIVE_PATH, FORECAST_PATH})
DAILY_UNITS = {
    "temperature_2m_max": "°C",
    "temperature_2m_min": "°C",
    "temperature_2m_mean": "°C",
    "precipitation_sum": "mm",
    "rain_sum": "mm",
    "snowfall_sum": "cm",
}
ARCHIVE_START = date(1940, 1, 1)
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_FORECAST_DAYS, DEFAULT_FORECAST_DAYS, MAX_PAST_DAYS = 16, 7, 92
PERSISTENCE = 0.75  # lag-one autocorrelation of the daily temperature anomaly and of the wetness
MEMORY = 40  # days of shocks summed: PERSISTENCE ** 40 < 1e-5
SNOW_CM_PER_MM = 0.7
FAULT_KINDS = ("timeout", "429", "500", "not_json", "mismatched", "wrong_days", "non_numeric")

Answer = tuple[int, Any, dict[str, str]]  # status, JSON-able body (or raw bytes), extra headers


class BadRequest(Exception):
    """Answered as Open-Meteo does: HTTP 400 with `{"error": true, "reason": ...}`."""


# --- The weather ---------------------------------------------------------------------------------------------------


def _uniforms(seed: int, cell: tuple[int, int], ordinal: int, stream: int) -> tuple[float, float]:
    """Two independent uniforms in (0, 1), fixed by (seed, grid cell, day, stream)."""
    key = f"{seed}:{cell[0]}:{cell[1]}:{ordinal}:{stream}".encode()
    digest = hashlib.blake2b(key, digest_size=16).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64, (int.from_bytes(digest[8:], "big") + 0.5) / 2**64


def _normal(seed: int, cell: tuple[int, int], ordinal: int, stream: int) -> float:
    """A standard normal (Box-Muller) fixed by (seed, grid cell, day, stream)."""
    first, second = _uniforms(seed, cell, ordinal, stream)
    return math.sqrt(-2.0 * math.log(first)) * math.cos(2.0 * math.pi * second)


def _persistent(shocks: list[float], index: int) -> float:
    """Day `index`'s value of a unit-variance AR(1) process, from the MEMORY shocks ending on it."""
    total = 0.0
    for lag in range(MEMORY):
        total += PERSISTENCE**lag * shocks[index - lag]
    return total * math.sqrt(1 - PERSISTENCE**2)


def grid_cell(latitude: float, longitude: float) -> tuple[int, int]:
    """The 0.1° cell a coordinate falls in: nearby stores share their weather, as on Open-Meteo's grid."""
    return round(latitude * 10), round(longitude * 10)


def simulate(seed: int, latitude: float, longitude: float, start: date, end: date) -> list[dict[str, Any]]:
    """Each day from `start` to `end`: `day` and the DAILY_UNITS variables (°C, mm, cm), rounded as Open-Meteo
    rounds them."""
    cell = grid_cell(latitude, longitude)
    lat = abs(cell[0] / 10)
    sin2 = math.sin(math.radians(lat)) ** 2
    beyond = max(lat - 20.0, 0.0)
    annual_mean = 27.0 - 0.3 * beyond - 0.0065 * beyond**2  # ~27 °C in the tropics, ~12 at 50°, ~-2 at 70°
    amplitude = 1.0 + 14.0 * sin2  # half the summer-winter difference: ~1 °C at the equator, ~9 at 50°
    anomaly_sd = 1.0 + 2.5 * math.sin(math.radians(lat))
    wet_share = 0.15 + 0.35 * math.exp(-((lat / 12) ** 2)) + 0.3 * math.exp(-(((lat - 55) / 15) ** 2))
    wet_threshold = _normal_quantile(1.0 - wet_share)
    wet_mean_mm = 4.0 + 8.0 * math.exp(-((lat / 15) ** 2))
    hemisphere = -1.0 if cell[0] < 0 else 1.0
    first = start.toordinal() - MEMORY + 1
    ordinals = range(first, end.toordinal() + 1)
    temperature_shocks = [_normal(seed, cell, ordinal, 0) for ordinal in ordinals]
    wetness_shocks = [_normal(seed, cell, ordinal, 1) for ordinal in ordinals]
    days = []
    for index in range(MEMORY - 1, len(ordinals)):
        day = date.fromordinal(ordinals[index])
        # Coldest around 20 January in the north, 20 July in the south.
        phase = 2.0 * math.pi * (day.timetuple().tm_yday - 20) / 365.25
        mean = annual_mean - hemisphere * amplitude * math.cos(phase)
        mean += anomaly_sd * _persistent(temperature_shocks, index)
        wet = _persistent(wetness_shocks, index) > wet_threshold
        spread_noise, amount_uniform = _uniforms(seed, cell, ordinals[index], 2)
        precipitation = -wet_mean_mm * math.log(amount_uniform) if wet else 0.0
        spread = (9.0 if not wet else 6.0) + 3.0 * (spread_noise - 0.5)  # clouds narrow the day's range
        snow_share = min(max((2.0 - mean) / 4.0, 0.0), 1.0)  # all snow below -2 °C, none above 2 °C
        precipitation = round(precipitation, 1)
        snowfall = round(precipitation * snow_share * SNOW_CM_PER_MM, 2)
        days.append(
            {
                "day": day,
                "temperature_2m_max": round(mean + 0.55 * spread, 1),
                "temperature_2m_min": round(mean - 0.45 * spread, 1),
                "temperature_2m_mean": round(mean, 1),
                "precipitation_sum": precipitation,
                "rain_sum": round(precipitation * (1.0 - snow_share), 1),
                "snowfall_sum": snowfall,
            }
        )
    return days


def _normal_quantile(probability: float) -> float:
    """The standard normal's quantile (bisection on erf: called once per request)."""
    low, high = -8.0, 8.0
    for _ in range(60):
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


# --- The API -------------------------------------------------------------------------------------------------------


class WeatherApi:
    """Answers Open-Meteo's `/v1/archive` and `/v1/forecast` (mount it in any HTTP server: `answer`).

    `clock` says what time it is (an aware UTC datetime); tests move it to let days pass. `requests` counts the
    weather requests and `log` keeps each one's path and parameters.
    """

    def __init__(
        self, seed: int = 0, *, archive_delay_days: int = 2, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.seed = seed
        self.archive_delay_days = archive_delay_days
        self.clock = clock or (lambda: datetime.now(UTC))
        self.requests = 0
        self.log: list[tuple[str, dict[str, str]]] = []
        self._faults: deque[tuple[str, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def fail_next(self, kind: str, count: int = 1, *, seconds: float = 2.0, retry_after: float | None = 1) -> None:
        """Answer the next `count` weather requests with a fault, after any already queued:

        `timeout` (stall `seconds`, longer than the client waits, then answer), `429` (Open-Meteo's minutely
        limit reason, with `Retry-After: retry_after` unless None: Open-Meteo itself sends none), `500`,
        `not_json`, `mismatched` (one array a day short), `wrong_days` (every day a year off), `non_numeric` (a
        value as text).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._faults.extend([(kind, {"seconds": seconds, "retry_after": retry_after})] * count)

    def close(self) -> None:
        """Cut short any stall in progress (a server stopping)."""
        self._closing.set()

    def answer(self, path: str, query: dict[str, list[str]]) -> Answer:
        with self._lock:
            self.requests += 1
            self.log.append((path, {name: ",".join(values) for name, values in query.items()}))
            kind, options = self._faults.popleft() if self._faults else ("", {})
        if kind == "timeout":
            self._closing.wait(options["seconds"])
        elif kind == "429":
            reason = "Minutely API request limit exceeded. Please try again in one minute."
            retry_after = options["retry_after"]
            return (
                429,
                {"error": True, "reason": reason},
                {} if retry_after is None else {"Retry-After": f"{retry_after:g}"},
            )
        elif kind == "500":
            return 500, {"error": True, "reason": "Something went wrong."}, {}
        elif kind == "not_json":
            return 200, b"<html><body>502 Bad Gateway</body></html>", {}
        try:
            body = self._daily(path, query)
        except BadRequest as exc:
            return 400, {"error": True, "reason": str(exc)}, {}
        if kind in ("mismatched", "wrong_days", "non_numeric"):
            _corrupt(body, kind)
        return 200, body, {}

    def _daily(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        latitude = _coordinate(query, "latitude", 90)
        longitude = _coordinate(query, "longitude", 180)
        now = self.clock()
        offset, zone, abbreviation = _timezone(_one(query, "timezone"), longitude, now)
        local_today = (now + timedelta(seconds=offset)).date()
        start, end = self._range(path, query, local_today)
        variables = [name for text in query.get("daily", []) for name in text.split(",") if name]
        for name in variables:
            if name not in DAILY_UNITS:
                raise BadRequest(f"Cannot initialize DailyVariable from invalid String value {name} for key daily")
        fahrenheit = _choice(query, "temperature_unit", ("celsius", "fahrenheit")) == "fahrenheit"
        inch = _choice(query, "precipitation_unit", ("mm", "inch")) == "inch"
        unixtime = _choice(query, "timeformat", ("iso8601", "unixtime")) == "unixtime"
        cell = grid_cell(latitude, longitude)
        body: dict[str, Any] = {
            "latitude": cell[0] / 10,
            "longitude": cell[1] / 10,
            "generationtime_ms": 0.1,
            "utc_offset_seconds": offset,
            "timezone": zone,
            "timezone_abbreviation": abbreviation,
            "elevation": 38.0,
        }
        if not variables:
            return body
        days = simulate(self.seed, latitude, longitude, start, end)
        missing_after = local_today - timedelta(days=self.archive_delay_days)
        units = {"time": "unixtime" if unixtime else "iso8601"}
        times = [_epoch(day["day"], offset) if unixtime else day["day"].isoformat() for day in days]
        daily: dict[str, list[Any]] = {"time": times}
        for name in variables:
            unit = DAILY_UNITS[name]
            values = [day[name] for day in days]
            if unit == "°C" and fahrenheit:
                unit, values = "°F", [round(value * 9 / 5 + 32, 1) for value in values]
            elif unit == "mm" and inch:
                unit, values = "inch", [round(value / 25.4, 3) for value in values]
            if path == ARCHIVE_PATH:
                values = [
                    None if day["day"] > missing_after else value for day, value in zip(days, values, strict=True)
                ]
            units[name] = unit
            daily[name] = values
        return body | {"daily_units": units, "daily": daily}

    def _range(self, path: str, query: dict[str, list[str]], local_today: date) -> tuple[date, date]:
        start_text, end_text = _one(query, "start_date"), _one(query, "end_date")
        if path == ARCHIVE_PATH or start_text or end_text:
            if not start_text or not end_text:
                raise BadRequest("Both 'start_date' and 'end_date' must be set in the url")
            if path == FORECAST_PATH and (_int(query, "past_days", 0) or _int(query, "forecast_days", 0)):
                raise BadRequest("Parameter 'past_days' is mutually exclusive with 'start_date' and 'end_date'")
            start, end = _date(start_text, "start_date"), _date(end_text, "end_date")
            if end < start:
                raise BadRequest("End-date must be larger or equals than start-date")
            if path == ARCHIVE_PATH:
                allowed = (ARCHIVE_START, local_today)
            else:
                allowed = (local_today - timedelta(days=MAX_PAST_DAYS), local_today + timedelta(MAX_FORECAST_DAYS - 1))
            for name, value in (("start_date", start), ("end_date", end)):
                if not allowed[0] <= value <= allowed[1]:
                    raise BadRequest(f"Parameter '{name}' is out of allowed range from {allowed[0]} to {allowed[1]}")
            return start, end
        forecast_days = _int(query, "forecast_days", DEFAULT_FORECAST_DAYS)
        past_days = _int(query, "past_days", 0)
        if not 0 <= forecast_days <= MAX_FORECAST_DAYS:
            raise BadRequest(
                f"Forecast days is invalid. Allowed range 0 to {MAX_FORECAST_DAYS}. Given {forecast_days}."
            )
        if not 0 <= past_days <= MAX_PAST_DAYS:
            raise BadRequest(f"Past days is invalid. Allowed range 0 to {MAX_PAST_DAYS}. Given {past_days}.")
        start = local_today - timedelta(days=past_days)
        return start, local_today + timedelta(days=forecast_days - 1)


def _corrupt(body: dict[str, Any], kind: str) -> None:
    daily = body.get("daily")
    if not daily or not daily["time"]:
        return
    variable = next(name for name in daily if name != "time")
    if kind == "mismatched":
        daily[variable] = daily[variable][:-1]
    elif kind == "wrong_days":
        daily["time"] = [
            value + 366 * 86400 if isinstance(value, int) else str(int(value[:4]) + 1) + value[4:]
            for value in daily["time"]
        ]
    elif kind == "non_numeric":
        daily[variable][0] = "12,5"


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[-1].strip() if values else ""


def _coordinate(query: dict[str, list[str]], name: str, limit: int) -> float:
    text = _one(query, name)
    if not text:
        raise BadRequest(f"Value of type 'String' required for key '{name}'.")
    if "," in text:
        raise BadRequest("The simulator answers one location per request")
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"Data corrupted at path '{name}'. Invalid float: {text}.") from None
    if not -limit <= value <= limit or math.isnan(value):
        label = name.capitalize()
        raise BadRequest(f"{label} must be in range of -{limit} to {limit}°. Given: {value}.")
    return value


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    text = _one(query, name)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"Data corrupted at path '{name}'. Invalid integer: {text}.") from None


def _date(text: str, name: str) -> date:
    try:
        if not ISO_DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"Invalid date format in parameter '{name}': {text}") from None


def _choice(query: dict[str, list[str]], name: str, allowed: tuple[str, ...]) -> str:
    value = _one(query, name) or allowed[0]
    if value not in allowed:
        kind = "".join(part.capitalize() for part in name.split("_"))
        raise BadRequest(f"Cannot initialize {kind} from invalid String value {value} for key {name}")
    return value


def _timezone(name: str, longitude: float, now: datetime) -> tuple[int, str, str]:
    """(UTC offset in seconds, identifier, abbreviation): `auto` resolves from the longitude alone."""
    if not name or name.upper() in ("GMT", "UTC"):
        return 0, "GMT", "GMT"
    if name == "auto":
        hours = round(longitude / 15)
        if hours == 0:
            return 0, "GMT", "GMT"
        return hours * 3600, f"Etc/GMT{-hours:+d}", f"{hours:+03d}"  # the tz database's Etc signs are inverted
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest("Invalid timezone") from None
    # Open-Meteo applies the zone's offset of the moment to every day of the answer, as this does.
    local = now.astimezone(zone)
    return int(local.utcoffset().total_seconds()), name, local.tzname() or name


def _epoch(day: date, offset: int) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) - offset


# --- The standalone server -----------------------------------------------------------------------------------------


class WeatherServer:
    """The weather routes alone on a daemon thread; `archive_url` and `forecast_url` are what a client needs."""

    def __init__(self, seed: int = 0, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.weather = WeatherApi(seed, **options)
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(self.weather.answer))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def archive_url(self) -> str:
        return self.url + ARCHIVE_PATH

    @property
    def forecast_url(self) -> str:
        return self.url + FORECAST_PATH

    def start(self) -> WeatherServer:
        # A short poll so that stopping (once per test) takes milliseconds rather than the default half second.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="weather-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.weather.close()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> WeatherServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def send_answer(handler: BaseHTTPRequestHandler, status: int, body: Any, extra: dict[str, str]) -> None:
    """Write one answer: JSON, or raw bytes as they are (a malformed body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    # A client that gave up waiting (a timeout it will retry) has nobody left to answer.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.send_response(status, HTTPStatus(status).phrase)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)


def _handler_for(answer: Callable[[str, dict[str, list[str]]], Answer]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "inventory-ai-weather-simulator"
        disable_nagle_algorithm = True  # see api_server: no delayed-ACK stall on keep-alive connections

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path in WEATHER_PATHS:
                send_answer(self, *answer(parts.path, parse_qs(parts.query)))
            else:
                send_answer(self, 404, {"error": True, "reason": "Not Found"}, {})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def start_weather_server(seed: int = 0, **options: Any) -> WeatherServer:
    """Start the weather routes alone (`port=0` picks a free port; `archive_delay_days`, `clock` as WeatherApi)."""
    return WeatherServer(seed, **options).start()
