"""Errors of calls to a store's API."""

from __future__ import annotations


class StoreAPIError(Exception):
    """A store API call failed. `transient` errors (timeouts, 429, 5xx) are worth retrying; others are not.

    `retry_after` is the store's own word on when to ask again (a throttled request), when it gave one.
    """

    def __init__(
        self, message: str, *, transient: bool, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        """The store is pacing us (HTTP 429, or a cost bucket that is empty): not a failure of the request."""
        return self.retry_after is not None or self.status == 429


class UnsupportedOperation(StoreAPIError):
    """The platform's API offers no way to do what was asked (not worth retrying)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class StillRunning(Exception):
    """The store is still preparing what was asked (a bulk operation): ask again after `retry_after` seconds.

    Not a failure, so not a StoreAPIError: waiting for it counts against no retry limit.
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
