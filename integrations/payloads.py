"""Reading untrusted JSON payloads: small validators that turn bad values into PayloadError."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.webhooks import PayloadError


def as_object(payload: Any, what: str = "payload") -> dict:
    if not isinstance(payload, dict):
        raise PayloadError(f"{what} is not a JSON object")
    return payload


def as_id(value: Any, what: str) -> str:
    if isinstance(value, bool) or value in (None, ""):
        raise PayloadError(f"missing {what}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        # GraphQL-style ids ("gid://shopify/Order/123") name the same resource as the number.
        return value.rsplit("/", 1)[-1].strip()
    raise PayloadError(f"{what} {value!r} is not an id")


def optional_id(value: Any) -> str:
    return "" if value in (None, "") else as_id(value, "id")


def as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise PayloadError(f"{what} is not an integer")
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{what} {value!r} is not an integer") from exc
    if number != value and not isinstance(value, str):
        raise PayloadError(f"{what} {value!r} is not an integer")
    if abs(number) > 2**31:
        raise PayloadError(f"{what} {value!r} is out of range")
    return number


def as_money(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise PayloadError(f"amount {value!r} is not a number") from exc
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 10:
        raise PayloadError(f"amount {value!r} is out of range")
    return amount.quantize(Decimal("0.01"))


def as_text(value: Any, limit: int = 255) -> str:
    return "" if value is None else str(value)[:limit]
