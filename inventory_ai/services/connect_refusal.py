"""The refusal of a step of connecting a store (a platform's install or key approval)."""

from __future__ import annotations


class ConnectRefused(Exception):
    """A connection step refused: `message` for the merchant, `status` for the answer (400 or 403)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status
