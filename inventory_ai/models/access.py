"""API tokens, kept as digests: the database never holds a token that works."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A key for the REST API (`Authorization: Token <key>`), acting as its user.

    Only the key's SHA-256 digest is stored, with its first characters (`lookup`) to find the row and to show which
    key it is; the key itself is shown once, when it is issued. Keys are 256-bit random values, so a plain digest
    (no salt, no slow hash) is enough: nothing can be guessed from it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the key is for (a script, a dashboard)")
    lookup = models.CharField(max_length=12, unique=True, help_text="The key's first characters")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the key, hexadecimal")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.lookup}… ({self.user}{', ' + self.name if self.name else ''})"


class UserPreference(models.Model):
    """A person's own settings: the language the interface speaks to them (blank: their browser's)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(max_length=16, blank=True, help_text="A code of the LANGUAGES setting")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or 'browser'}"
