"""Custom model fields."""

from __future__ import annotations

from typing import Any

from django.db import models

from inventory_ai.crypto import decrypt_json, encrypt_json


class EncryptedJSONField(models.TextField):
    """A JSON value stored encrypted (Fernet) in a text column.

    The database only ever sees ciphertext; Python code sees the decoded value. Not searchable by design.
    """

    description = "JSON encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        if value == "":
            return self.get_default()
        return decrypt_json(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt_json(value)

    def value_to_string(self, obj: Any) -> str:
        # Fixtures and dumpdata must not leak secrets in plain text: serialise the ciphertext.
        return self.get_prep_value(self.value_from_object(obj)) or ""
