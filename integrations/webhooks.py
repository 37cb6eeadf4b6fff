"""What every platform's webhook handling shares: signatures, errors, the delivery headers, the provider registry.

Signatures are checked here with the standard library rather than Shopify's `shopifyapp` verifier: that verifier
takes the body as text (so the raw bytes would be decoded before being checked) and a fixed current/old secret pair,
while our inbox verifies the exact bytes received against a store's list of secrets, the same way for both platforms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class WebhookRejected(Exception):
    """A delivery we refuse, with the HTTP status to answer and a reason safe to show the sender."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PayloadError(ValueError):
    """A verified body that is not a payload we can read (not JSON, not an object, a required field missing)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """The parts of a delivery's headers we use and record."""

    store_key: str
    topic: str
    signature: str
    delivery_id: str = ""
    event_id: str = ""
    triggered_at: datetime | None = None
    api_version: str = ""
    recorded_headers: dict[str, str] = field(default_factory=dict)


def hmac_sha256_base64(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(body: bytes, signature: str, secrets: Sequence[str]) -> bool:
    """Whether `signature` is base64(HMAC-SHA256(body, s)) for any secret s, each compared in constant time."""
    if not signature:
        return False
    matched = False
    for secret in secrets:
        # No early exit: the time taken does not depend on which secret matched.
        matched |= hmac.compare_digest(hmac_sha256_base64(body, secret).encode(), signature.strip().encode())
    return matched


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def header(headers: Mapping[str, str], name: str) -> str:
    """A header value, case-insensitively (WSGI gives HTTP_X_..., tests and simulators give X-...)."""
    value = headers.get(name)
    if value is None:
        value = headers.get("HTTP_" + name.upper().replace("-", "_"), "")
    return value.strip()


class Provider(Protocol):
    """One store platform's webhook rules (a store gateway's `webhooks`)."""

    platform: str
    ignored_topics: frozenset[str]
    handled_topics: frozenset[str]
    topic_header: str

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the delivery only tests the endpoint (unsigned, answered 200 and not kept)."""
        ...

    def read_delivery(self, headers: Mapping[str, str]) -> Delivery: ...

    def dedup_key(self, delivery: Delivery, body: bytes, payload: Any) -> str: ...

    def normalize(self, topic: str, payload: Any) -> list[Any]: ...


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 from either platform (`2024-03-01T10:00:00-05:00`, `...Z`); None when empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"timestamp {value!r} is not a string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"unreadable timestamp {value!r}") from exc
