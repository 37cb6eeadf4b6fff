"""Errors of calls to a store's API."""


class StoreAPIError(Exception):
    """A store API call failed. `transient` errors (timeouts, 429, 5xx) are worth retrying; others are not."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
