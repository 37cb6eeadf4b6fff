"""Text a database column can hold, and numbers and dates as a person reads them in the active language.

A signed JSON body may say anything its grammar allows, and two things it allows cannot be stored as text: a lone
UTF-16 surrogate (`"\\udb8c"` is a valid escape; Python reads it into a string that has no UTF-8 encoding, so the
database driver cannot even send it) and NUL (`"\\u0000"`; PostgreSQL text refuses it). C1 controls and
non-characters are valid Unicode and are stored as they come.

Numbers and dates inside translated sentences (`number`, `percent`, `day_month`, `full_date`, `weekday_date`) read
in English exactly as they always did (Python's own formatting: "1,234", "95%", "05 Dec"), and in any other active
language with its own separators and date formats (Django's localisation).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import translation
from django.utils.formats import date_format, number_format
from django.utils.translation import pgettext

_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable_character(value: str) -> str:
    """The first character of `value` a text column cannot hold (NUL or a lone surrogate); "" when there is none."""
    if value.isascii():
        return "\x00" if "\x00" in value else ""
    match = _SURROGATE.search(value)
    if "\x00" in value and (match is None or value.index("\x00") < match.start()):
        return "\x00"
    return match.group() if match else ""


def describe_character(character: str) -> str:
    """What a person reads about a character that cannot be stored."""
    if character == "\x00":
        return "a NUL character"
    return f"a lone UTF-16 surrogate (U+{ord(character):04X})"


def storable(value: str) -> str:
    """`value` as a column can hold it: NULs left out, lone surrogates written as escapes (`\\udb8c`)."""
    if not unstorable_character(value):
        return value
    return value.replace("\x00", "").encode("utf-8", "backslashreplace").decode("utf-8")


def find_unstorable_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """(Where, which character) for the first text inside `value` (records, tuples, lists, dicts) that a column
    cannot hold, or None. `path` names it the way a person reads it: `order.lines[0].variant.sku`."""
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if character := unstorable_character(item):
                return where or "a value", describe_character(character)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            prefix = where or _record_name(item)
            fields = dataclasses.fields(item)
            pending.extend((f"{prefix}.{field.name}", getattr(item, field.name)) for field in reversed(fields))
        elif isinstance(item, list | tuple):
            pending.extend((f"{where}[{index}]", element) for index, element in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for key, element in reversed(list(item.items())):
                pending.append((f"{where}[{key!r}]", element))
                pending.append((f"{where} (a key)", key))
    return None


def _record_name(record: Any) -> str:
    """`OrderRecord` -> `order`, `InventoryLevelRecord` -> `inventory_level`, `OrderDeleted` -> `order_deleted`."""
    name = type(record).__name__.removesuffix("Record")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def csv_safe(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: one starting with =, +, - or @ (not a number) would be a formula (CSV
    injection), so it is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- numbers and dates in the active language ---------------------------------------------------------------------


def speaks_english() -> bool:
    """Whether the active language is English (or none is active: the source texts are English)."""
    language = translation.get_language()
    return not language or language == "en" or language.startswith("en-")


def number(value: float | int | Decimal, decimals: int | None = None, grouping: bool = True) -> str:
    """A number with `decimals` places (None: a whole number as it is), thousands grouped unless `grouping` is off:
    "1,234.5" in English, the active language's separators elsewhere."""
    if speaks_english():
        if decimals is None:
            return f"{value:,}" if grouping else f"{value}"
        return f"{value:,.{decimals}f}" if grouping else f"{value:.{decimals}f}"
    # rounded as in English first: Django's number_format cuts surplus decimals off instead of rounding
    rounded = Decimal(f"{value:.{decimals}f}") if decimals is not None else value
    return number_format(rounded, decimal_pos=decimals, use_l10n=True, force_grouping=grouping)


def percent(share: float, decimals: int = 0) -> str:
    """A share of 1 as a percentage: "95%", "96.2%"."""
    if speaks_english():
        return f"{share:.{decimals}%}"
    return number(share * 100, decimals, grouping=False) + "%"


def day_month(day: date, padded: bool = True) -> str:
    """A day of the year: "05 Dec" ("5 Dec" unpadded) in English, the active language's month-and-day format
    elsewhere."""
    if speaks_english():
        return f"{day:%d %b}" if padded else f"{day:%-d %b}"
    return date_format(day, "MONTH_DAY_FORMAT")


def full_date(day: date) -> str:
    """A date with its year: "05 December 2026" in English, the active language's date format elsewhere."""
    if speaks_english():
        return f"{day:%d %B %Y}"
    return date_format(day, "DATE_FORMAT")


def weekday_date(day: date) -> str:
    """A day with its weekday: "Saturday 05 December" in English."""
    if speaks_english():
        return f"{day:%A %d %B}"
    # Translators: the order of a weekday and a day of the year ("Saturday 05 December") in a date.
    pattern = pgettext("a weekday and a day of the year", "%(weekday)s %(day)s")
    return pattern % {"weekday": date_format(day, "l"), "day": date_format(day, "MONTH_DAY_FORMAT")}
