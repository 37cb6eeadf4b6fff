"""Encryption at rest for store secrets (API credentials, webhook secrets).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a MultiFernet over the configured keys, so keys can
be rotated: the first key encrypts, all keys decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from inventory_ai.conf import get_option


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def derived_development_key() -> str:
    """A Fernet key derived from SECRET_KEY: for DEBUG/demo use only (the system check refuses it otherwise)."""
    digest = hashlib.sha256(b"inventory-ai-credentials:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> tuple[str, ...]:
    """The Fernet keys in force, the encrypting key first."""
    keys = tuple(get_option("CREDENTIALS_KEYS"))
    return keys or (derived_development_key(),)


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt_json(value: Any) -> str:
    """Serialise `value` as JSON and encrypt it; returns an ASCII token."""
    payload = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return _fernet_for(configured_keys()).encrypt(payload).decode()


def decrypt_json(token: str) -> Any:
    """Decrypt a token made by `encrypt_json`; raises DecryptionError when no configured key fits."""
    try:
        return json.loads(_fernet_for(configured_keys()).decrypt(token.encode()))
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret could not be decrypted: INVENTORY_AI_CREDENTIALS_KEYS does not contain the key it was "
            "encrypted with."
        ) from exc
