"""Open-Meteo's daily answer -> `DailyWeather` records, all or nothing.

The documented shape: `{"latitude", "longitude", "timezone", "daily_units": {...}, "daily": {"time": [...],
"<variable>": [...]}}`, one array per requested variable, each as long as `time`, `null` where the model has no
value (the archive's last days before its data arrive, for one).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from integrations.weather.constants import (
    DAILY_UNITS,
    PRECIPITATION,
    SNOWFALL,
    TEMPERATURE_MAX,
    TEMPERATURE_MEAN,
    TEMPERATURE_MIN,
)
from integrations.weather.errors import WeatherMalformed

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DailyWeather:
    """One day's weather at a location: temperatures in °C, precipitation in mm, snowfall in cm; None where the
    service has no value for that day."""

    day: date
    temperature_min: float | None
    temperature_max: float | None
    temperature_mean: float | None
    precipitation_mm: float | None
    snowfall_cm: float | None


def parse_daily(body: Any, variables: tuple[str, ...] = tuple(DAILY_UNITS)) -> list[DailyWeather]:
    """The days of one answer, in the order given; raises WeatherMalformed on anything out of shape."""
    if not isinstance(body, dict):
        raise WeatherMalformed(f"the answer is a JSON {type(body).__name__}, not an object")
    daily = body.get("daily")
    if not isinstance(daily, dict):
        raise WeatherMalformed("the answer has no `daily` object")
    times = daily.get("time")
    if not isinstance(times, list):
        raise WeatherMalformed("the answer has no `daily.time` array")
    _check_units(body.get("daily_units"), variables)
    days = [_day(value, index) for index, value in enumerate(times)]
    columns = {}
    for name in variables:
        values = daily.get(name)
        if not isinstance(values, list):
            raise WeatherMalformed(f"the answer has no `daily.{name}` array")
        if len(values) != len(days):
            raise WeatherMalformed(f"`daily.{name}` has {len(values)} values for {len(days)} days")
        columns[name] = [_number(value, name, index) for index, value in enumerate(values)]
    missing: list[float | None] = [None] * len(days)
    return [
        DailyWeather(
            day=day,
            temperature_min=columns.get(TEMPERATURE_MIN, missing)[index],
            temperature_max=columns.get(TEMPERATURE_MAX, missing)[index],
            temperature_mean=columns.get(TEMPERATURE_MEAN, missing)[index],
            precipitation_mm=columns.get(PRECIPITATION, missing)[index],
            snowfall_cm=columns.get(SNOWFALL, missing)[index],
        )
        for index, day in enumerate(days)
    ]


def check_days(records: list[DailyWeather], expected: list[date]) -> None:
    """The answer holds exactly the expected days, each once, in order (nothing outside the request, no gap)."""
    days = [record.day for record in records]
    if days == expected:
        return
    outside = sorted(set(days) - set(expected))
    if outside:
        raise WeatherMalformed(
            f"the answer has {len(outside)} day(s) outside {expected[0]}..{expected[-1]}, first {outside[0]}"
            if expected
            else f"the answer has {len(days)} day(s) where none were asked"
        )
    if len(set(days)) != len(days):
        raise WeatherMalformed("the answer repeats days")
    if len(days) != len(expected):
        raise WeatherMalformed(f"the answer has {len(days)} of the {len(expected)} days asked")
    raise WeatherMalformed("the answer's days are out of order")


def _check_units(units: Any, variables: tuple[str, ...]) -> None:
    # Values in other units (°F, inches) would pass every other check and be wrong by a factor: refuse them.
    if units is None:
        return
    if not isinstance(units, dict):
        raise WeatherMalformed("`daily_units` is not an object")
    for name in variables:
        unit = units.get(name)
        if unit is not None and unit != DAILY_UNITS[name]:
            raise WeatherMalformed(f"`daily.{name}` is in {unit!r}, not {DAILY_UNITS[name]!r}")


def _day(value: Any, index: int) -> date:
    if not isinstance(value, str) or not ISO_DAY.match(value):
        raise WeatherMalformed(f"`daily.time[{index}]` is not a YYYY-MM-DD day: {value!r:.40}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WeatherMalformed(f"`daily.time[{index}]` is not a calendar day: {value!r}") from None


def _number(value: Any, name: str, index: int) -> float | None:
    if value is None:
        return None
    # bool is an int to Python, never a measurement; NaN and infinities are not JSON but Python's parser takes them.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WeatherMalformed(f"`daily.{name}[{index}]` is not a number: {value!r:.40}")
    return float(value)
