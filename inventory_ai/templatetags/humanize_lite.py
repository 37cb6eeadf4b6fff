"""Small display filters for the admin pages.

Numbers go through Django's localisation (`number_format` with grouping forced on), so they read "1,234,567" in
English and follow the separators of the active language elsewhere; the duration units are translatable.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import ngettext

register = template.Library()

_CENT = Decimal("0.01")


def _grouped(value, decimal_pos: int | None = None) -> str:
    """A number with the active language's decimal and thousands separators (grouping on whatever the settings)."""
    return number_format(value, decimal_pos=decimal_pos, use_l10n=True, force_grouping=True)


@register.filter
def thousands(value) -> str:
    """1234567 -> "1,234,567"."""
    if value in (None, ""):
        return _grouped(0)
    return _grouped(int(value))


@register.filter
def money(value) -> str:
    """A value with two decimals and thousands separators."""
    if value in (None, ""):
        return "-"
    # Rounded here (half to even, as format() did): number_format cuts surplus decimals off instead of rounding.
    return _grouped(Decimal(value).quantize(_CENT), decimal_pos=2)


@register.filter
def age(value: timedelta | None) -> str:
    """A duration in its largest whole unit: "45 s", "12 min", "3 h", "2 d"."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds >= 86400:
        days = seconds // 86400
        # Translators: A duration in whole days, abbreviated ("2 d").
        return ngettext("%(count)s d", "%(count)s d", days) % {"count": _grouped(days)}
    if seconds >= 3600:
        hours = seconds // 3600
        # Translators: A duration in whole hours, abbreviated ("3 h").
        return ngettext("%(count)s h", "%(count)s h", hours) % {"count": _grouped(hours)}
    if seconds >= 60:
        minutes = seconds // 60
        # Translators: A duration in whole minutes, abbreviated ("12 min").
        return ngettext("%(count)s min", "%(count)s min", minutes) % {"count": _grouped(minutes)}
    # Translators: A duration in seconds, abbreviated ("45 s").
    return ngettext("%(count)s s", "%(count)s s", seconds) % {"count": _grouped(seconds)}


@register.filter
def signed(value) -> str:
    """12 -> "+12", -3 -> "-3", with thousands separators."""
    number = int(value or 0)
    return ("-" if number < 0 else "+") + _grouped(abs(number))
