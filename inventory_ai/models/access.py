"""API tokens, kept as digests: the database never holds a token that works."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A key for the REST API (`Authorization: Token <key>`), acting as its user.

    Only the key's SHA-256 digest is stored, with its first characters (`lookup`) to find the row and to show which
    key it is; the key itself is shown once, when it is issued. Keys are 256-bit random values, so a plain digest
    (no salt, no slow hash) is enough: nothing can be guessed from it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        verbose_name=_("name"), max_length=100, blank=True, help_text=_("What the key is for (a script, a dashboard)")
    )
    lookup = models.CharField(
        verbose_name=_("lookup"), max_length=12, unique=True, help_text=_("The key's first characters")
    )
    digest = models.CharField(verbose_name=_("digest"), max_length=64, help_text=_("SHA-256 of the key, hexadecimal"))
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(verbose_name=_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.lookup}… ({self.user}{', ' + self.name if self.name else ''})"


class UserPreference(models.Model):
    """A person's own settings: the language the interface speaks to them (blank: their browser's)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(
        verbose_name=_("language"), max_length=16, blank=True, help_text=_("A code of the LANGUAGES setting")
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        language = self.language or gettext("browser")
        return f"{self.user}: {language}"
