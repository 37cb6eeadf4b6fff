"""Issuing, checking and revoking API tokens (stored as digests, see `inventory_ai.models.ApiToken`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory_ai.models import ApiToken

PREFIX = "iai_"  # recognisable by secret scanners and people alike
LOOKUP_LENGTH = 12
# `last_used_at` is written at most this often per token: a busy script must not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def issue_token(user: AbstractBaseUser, name: str = "", key: str | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`, and its key: the only time the key exists outside the caller's hands.

    `key` adopts an existing key (one moved from another system); it must be long and random, as generated ones are.
    """
    if key is not None and len(key) < 32:
        raise ValueError("an adopted API key must be at least 32 characters")
    for _ in range(5):
        issued = key or new_key()
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user, name=name[:100], lookup=issued[:LOOKUP_LENGTH], digest=digest(issued)
                )
        except IntegrityError:
            if key is not None:
                raise ValueError("another API token starts with the same characters") from None
            continue  # two random keys with the same first characters: draw again
        return token, issued
    raise RuntimeError("could not draw a unique API key")


def authenticate(key: str) -> ApiToken | None:
    """The token whose key this is, or None. Constant-time on the digest; unknown lookups cost one indexed read."""
    if not key or len(key) < LOOKUP_LENGTH:
        return None
    token = ApiToken.objects.select_related("user").filter(lookup=key[:LOOKUP_LENGTH]).first()
    if token is None or not hmac.compare_digest(token.digest, digest(key)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke(lookup: str) -> int:
    """Delete the tokens whose key starts with `lookup` (as listed); how many were deleted."""
    if len(lookup) < LOOKUP_LENGTH:
        return 0
    deleted, _ = ApiToken.objects.filter(lookup=lookup[:LOOKUP_LENGTH]).delete()
    return deleted
