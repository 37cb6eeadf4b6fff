"""System checks: configuration mistakes that must stop a deployment before it serves anything."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks

from inventory_ai.conf import get_option


@checks.register(checks.Tags.security, deploy=False)
def check_credentials_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Store secrets must be encrypted with a real key in production, and every configured key must be valid."""
    errors: list[checks.CheckMessage] = []
    keys = get_option("CREDENTIALS_KEYS")
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                checks.Error(
                    f"INVENTORY_AI_CREDENTIALS_KEYS item {index + 1} is not a valid Fernet key.",
                    hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                    id="inventory_ai.E001",
                )
            )
    if not keys and not settings.DEBUG:
        errors.append(
            checks.Error(
                "INVENTORY_AI_CREDENTIALS_KEYS is not set: store credentials would be encrypted with a key derived "
                "from SECRET_KEY.",
                hint="Set INVENTORY_AI_CREDENTIALS_KEYS to one or more Fernet keys (comma-separated, newest first).",
                id="inventory_ai.E002",
            )
        )
    return errors
