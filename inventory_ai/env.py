"""Reading the environment the way the settings do: an empty value is the same as an unset one."""

from __future__ import annotations

import os


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable into a list of non-empty stripped items (empty: the default)."""
    return [item.strip() for item in (os.environ.get(name) or default).split(",") if item.strip()]
