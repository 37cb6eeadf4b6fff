"""Open-Meteo's endpoints, the daily variables we read, and the limits its documentation gives.

Sources: https://open-meteo.com/en/docs (forecast API) and https://open-meteo.com/en/docs/historical-weather-api
(archive), their "Errors" sections, and https://open-meteo.com/en/terms and /en/pricing (usage limits).
"""

from __future__ import annotations

ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive"
FORECAST_URL = "https://api.open-meteo.com/v1/forecast"

# The daily aggregations we keep, with the unit Open-Meteo reports for each in `daily_units` when the request asks
# for Celsius and millimetres (its defaults; we ask explicitly). Snowfall is in centimetres whatever
# `precipitation_unit` says.
TEMPERATURE_MIN = "temperature_2m_min"
TEMPERATURE_MAX = "temperature_2m_max"
TEMPERATURE_MEAN = "temperature_2m_mean"
PRECIPITATION = "precipitation_sum"
SNOWFALL = "snowfall_sum"
DAILY_UNITS = {
    TEMPERATURE_MIN: "°C",
    TEMPERATURE_MAX: "°C",
    TEMPERATURE_MEAN: "°C",
    PRECIPITATION: "mm",
    SNOWFALL: "cm",
}
DAILY_VARIABLES = tuple(DAILY_UNITS)

MAX_FORECAST_DAYS = 16  # `forecast_days`: 0 to 16
MAX_PAST_DAYS = 92  # `past_days`: 0 to 92
# The longest history asked in one request. Open-Meteo counts a request over more than two weeks as several calls
# (weight grows with the days), so splitting saves no quota; it bounds each answer (a year of five variables is
# ~15 kB, decades are hundreds of kB that one slow read can time out on) and lets one failed piece be retried alone.
MAX_DAYS_PER_REQUEST = 366

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
# The longest wait between two attempts, even when the server's Retry-After asks for more: the caller (a task with
# its own retry schedule) is better placed to wait minutes than a worker blocked in a sleep.
DEFAULT_MAX_WAIT = 30.0
