"""Daily weather per location from Open-Meteo: the archive for the past, the forecast for the next 16 days.

`OpenMeteoClient(archive_url, forecast_url, ...)` returns `DailyWeather` records; the store simulator serves the same
API on loopback (`integrations.simulator.weather`).
"""

from integrations.weather.client import OpenMeteoClient
from integrations.weather.constants import ARCHIVE_URL, DAILY_VARIABLES, FORECAST_URL
from integrations.weather.errors import WeatherError, WeatherMalformed, WeatherRequestError, WeatherUnavailable
from integrations.weather.parse import DailyWeather

__all__ = [
    "ARCHIVE_URL",
    "DAILY_VARIABLES",
    "FORECAST_URL",
    "DailyWeather",
    "OpenMeteoClient",
    "WeatherError",
    "WeatherMalformed",
    "WeatherRequestError",
    "WeatherUnavailable",
]
