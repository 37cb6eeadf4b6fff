"""Text a database column can hold.

A signed JSON body may say anything its grammar allows, and two things it allows cannot be stored as text: a lone
UTF-16 surrogate (`"\\udb8c"` is a valid escape; Python reads it into a string that has no UTF-8 encoding, so the
database driver cannot even send it) and NUL (`"\\u0000"`; PostgreSQL text refuses it). C1 controls and
non-characters are valid Unicode and are stored as they come.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

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
