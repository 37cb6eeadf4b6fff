"""Small display filters for the admin pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def thousands(value) -> str:
    """1234567 -> "1,234,567"."""
    if value in (None, ""):
        return "0"
    return f"{int(value):,}"


@register.filter
def money(value) -> str:
    """A value with two decimals and thousands separators."""
    if value in (None, ""):
        return "-"
    return f"{Decimal(value):,.2f}"


@register.filter
def age(value: timedelta | None) -> str:
    """A duration in its largest whole unit: "45 s", "12 min", "3 h", "2 d"."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@register.filter
def signed(value) -> str:
    """12 -> "+12", -3 -> "-3", with thousands separators."""
    return f"{int(value or 0):+,}"
