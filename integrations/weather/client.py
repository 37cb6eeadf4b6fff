"""Every outbound call to Open-Meteo: daily history from the archive, daily forecast for the next days.

Open-Meteo needs no key on its free endpoints (`api.open-meteo.com`, `archive-api.open-meteo.com`), which its terms
limit to non-commercial use (fewer than 600 calls a minute, 5,000 an hour, 10,000 a day, per IP, a call over more
than two weeks or ten variables counting as several). Its commercial endpoints (`customer-api...`,
`customer-archive-api...`) take the same parameters plus `apikey`: pass their URLs and `api_key`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

import httpx

from integrations.weather.constants import (
    ARCHIVE_URL,
    DAILY_VARIABLES,
    DEFAULT_BACKOFF,
    DEFAULT_MAX_WAIT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    FORECAST_URL,
    MAX_DAYS_PER_REQUEST,
    MAX_FORECAST_DAYS,
    MAX_PAST_DAYS,
)
from integrations.weather.errors import WeatherMalformed, WeatherRequestError, WeatherUnavailable
from integrations.weather.parse import DailyWeather, check_days, parse_daily

logger = logging.getLogger(__name__)

# Dates are asked in the location's own time zone (`timezone=auto`, resolved by Open-Meteo from the coordinates):
# its daily values are 24-hour aggregations from local midnight, the same days as our per-store-local-day demand.
# With UTC a Sydney store's "day" would run from 10:00 to 10:00 local time and half of each evening's rain would
# land on the next day's sales. Open-Meteo also requires a time zone whenever daily variables are asked.
TIMEZONE = "auto"


class OpenMeteoClient:
    """Daily weather at a latitude/longitude from Open-Meteo's archive and forecast APIs (or the simulator's).

    Every request has `timeout`; timeouts, connection errors, 429 and 5xx are tried again up to `retries` times
    with exponential backoff from `backoff` seconds (honouring Retry-After, at most `max_wait` seconds), then raise
    WeatherUnavailable. A refusal raises WeatherRequestError, an answer out of shape WeatherMalformed; a call returns
    every day it asked for or raises, never part of them. A forecast whose "today" lies more than a day from the
    UTC day of `clock` (the real time unless a test or a simulator sets another) is out of shape.
    """

    def __init__(
        self,
        archive_url: str = ARCHIVE_URL,
        forecast_url: str = FORECAST_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_wait: float = DEFAULT_MAX_WAIT,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if retries < 0 or backoff < 0 or max_wait < 0 or timeout <= 0:
            raise ValueError("timeout must be positive; retries, backoff and max_wait not negative")
        self.archive_url = archive_url
        self.forecast_url = forecast_url
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.api_key = api_key
        self.requests = 0  # HTTP requests sent, retries included
        self.clock = clock  # the time a forecast's "today" is checked against (a test's fixed day, a simulator's)
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)
        self._random = random.Random()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenMeteoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def history(self, latitude: float, longitude: float, start: date, end: date) -> list[DailyWeather]:
        """Every day from `start` to `end` (inclusive, the location's local days) from the archive, in order.

        The archive's newest days may be None: its data arrive a few days late (ask the forecast's `past_days`
        for them). A range longer than a year is asked one year at a time; if any piece fails, the call raises.
        """
        latitude, longitude = _check_coordinates(latitude, longitude)
        start, end = _day(start, "start"), _day(end, "end")
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        records: list[DailyWeather] = []
        piece_start = start
        while piece_start <= end:
            piece_end = min(end, piece_start + timedelta(days=MAX_DAYS_PER_REQUEST - 1))
            params = {"start_date": piece_start.isoformat(), "end_date": piece_end.isoformat()}
            check = partial(check_days, expected=_days(piece_start, piece_end))
            records.extend(self._daily(self.archive_url, latitude, longitude, params, check))
            piece_start = piece_end + timedelta(days=1)
        return records

    def forecast(
        self, latitude: float, longitude: float, days: int = MAX_FORECAST_DAYS, *, past_days: int = 0
    ) -> list[DailyWeather]:
        """`days` days from the location's today (today included), after `past_days` days before it (0 to 92:
        recent days the archive does not hold yet), in order."""
        latitude, longitude = _check_coordinates(latitude, longitude)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_FORECAST_DAYS:
            raise ValueError(f"days must be an integer from 1 to {MAX_FORECAST_DAYS}, not {days!r}")
        if isinstance(past_days, bool) or not isinstance(past_days, int) or not 0 <= past_days <= MAX_PAST_DAYS:
            raise ValueError(f"past_days must be an integer from 0 to {MAX_PAST_DAYS}, not {past_days!r}")

        def check(records: list[DailyWeather]) -> None:
            if not records:
                raise WeatherMalformed(f"the answer has no days; {past_days + days} were asked")
            # The location's today is the service's to say (its time zone): within a day of UTC's, UTC+14 to -12.
            today, utc_today = records[0].day + timedelta(days=past_days), self.clock().astimezone(UTC).date()
            if abs((today - utc_today).days) > 1:
                raise WeatherMalformed(f"the answer's today is {today}, more than a day from {utc_today} (UTC)")
            check_days(records, _days(records[0].day, today + timedelta(days=days - 1)))

        params = {"forecast_days": days, "past_days": past_days}
        return self._daily(self.forecast_url, latitude, longitude, params, check)

    # --- HTTP -----------------------------------------------------------------------------------------------------

    def _daily(
        self,
        url: str,
        latitude: float,
        longitude: float,
        extra: dict[str, Any],
        check: Callable[[list[DailyWeather]], None],
    ) -> list[DailyWeather]:
        """The days of one request, parsed and checked against what was asked (`check` raises WeatherMalformed)."""
        params: dict[str, Any] = {
            "latitude": _coordinate(latitude),
            "longitude": _coordinate(longitude),
            "daily": ",".join(DAILY_VARIABLES),
            "timezone": TIMEZONE,
            # The defaults, said out loud: the parser refuses other units rather than mistake °F for °C.
            "temperature_unit": "celsius",
            "precipitation_unit": "mm",
            "timeformat": "iso8601",
            **extra,
        }
        if self.api_key:
            params["apikey"] = self.api_key
        body = self._get_json(url, params)
        try:
            records = parse_daily(body, DAILY_VARIABLES)
            check(records)
        except WeatherMalformed as exc:
            raise WeatherMalformed(f"GET {url}: {exc}") from None
        return records

    def _get_json(self, url: str, params: dict[str, Any]) -> Any:
        """The JSON of one successful GET, after retries."""
        failure = ""
        status: int | None = None
        retry_after: float | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                wait = self._wait(attempt, retry_after)
                logger.info("weather: %s; attempt %d of %d in %.2f s", failure, attempt + 1, self.retries + 1, wait)
                time.sleep(wait)
            self.requests += 1
            try:
                response = self._client.get(url, params=params)
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections, broken HTTP
                failure, status, retry_after = f"GET {url}: {exc.__class__.__name__}: {exc}", None, None
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                reason = _reason(response)
                failure = f"GET {url}: HTTP {status}" + (f": {reason}" if reason else "")
                continue
            if status != 200:
                reason = _reason(response)
                message = reason or response.text[:200]
                raise WeatherRequestError(f"GET {url}: HTTP {status}: {message}", reason=reason, status=status)
            try:
                return response.json()
            except ValueError:
                raise WeatherMalformed(f"GET {url}: the answer is not JSON: {response.text[:80]!r}") from None
        raise WeatherUnavailable(
            f"{failure} (gave up after {self.retries + 1} attempts)",
            status=status,
            retry_after=retry_after,
        )

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_wait)
        # Exponential, with jitter so that workers refused together do not all come back in the same instant.
        delay = self.backoff * 2 ** (attempt - 1)
        return min(delay * (0.5 + self._random.random() / 2), self.max_wait)


def _check_coordinates(latitude: float, longitude: float) -> tuple[float, float]:
    """The coordinates as floats (a model's Decimal fields welcome); ValueError when not on the globe."""
    checked = []
    for name, value, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        try:
            number = float(value) if not isinstance(value, bool | str | bytes) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
        if not -limit <= number <= limit:
            raise ValueError(f"{name} must be between -{limit} and {limit}, not {value}")
        checked.append(number)
    return checked[0], checked[1]


def _coordinate(value: float) -> str:
    # Five decimals is about a metre: more than the ~1-10 km grid cells Open-Meteo answers from.
    return f"{value:.5f}".rstrip("0").rstrip(".")


def _day(value: date, name: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}")
    return value


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _reason(response: httpx.Response) -> str:
    """Open-Meteo's `{"error": true, "reason": "..."}`, or "" when the body is something else."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get("error") is True and isinstance(body.get("reason"), str):
        return body["reason"]
    return ""


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: delay-seconds or an HTTP date (RFC 9110 10.2.3); None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None
