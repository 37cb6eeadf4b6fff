"""Errors of calls to the weather service.

Not `integrations.errors.StoreAPIError`: that one means "the store's API failed" and the sync code handles it as
such; a weather outage must never read as a store outage. The attributes are the same (`transient`, `status`,
`retry_after`) so a task's retry policy treats both alike.
"""

from __future__ import annotations


class WeatherError(Exception):
    """A weather call failed. `transient` errors are worth asking again later; the others are not."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class WeatherUnavailable(WeatherError):
    """The service did not answer usefully after every retry: timeouts, connection errors, 429 or 5xx.

    `retry_after` is the server's last Retry-After (seconds), when it sent one.
    """

    transient = True


class WeatherRequestError(WeatherError):
    """The service refused the request (HTTP 400 with Open-Meteo's `{"error": true, "reason": ...}`, or another
    4xx). `reason` is the service's own words. Asking again unchanged gets the same answer."""

    def __init__(self, message: str, *, reason: str = "", status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.reason = reason


class WeatherMalformed(WeatherError):
    """The service answered 200 with something that is not a well-formed daily series for the request: not JSON,
    no `daily.time`, arrays whose lengths differ from `time`, days outside the request, units other than asked, or
    values that are not numbers. Nothing of such an answer is used."""
