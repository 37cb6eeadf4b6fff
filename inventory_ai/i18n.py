"""The language the interface speaks to each person.

Django's LocaleMiddleware picks it from the language cookie or the browser (Accept-Language); a signed-in person
who chose one keeps it on every device (`UserPreference.language`), which this middleware applies after
authentication. Choosing a language in the admin's header (`set_language`) sets the cookie and, for a signed-in
person, the preference. Mail written for a person (the alert digest) is written in their language (`language_of`).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.views.i18n import set_language as django_set_language

from inventory_ai.models import UserPreference


def supported(code: str) -> str:
    """`code` when the interface speaks it (or a variant of it), else ""."""
    if not code:
        return ""
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return ""


def _preference(user) -> str:
    """The language `user` chose, as stored ("" for none)."""
    return UserPreference.objects.filter(user=user).values_list("language", flat=True).first() or ""


def language_of(user) -> str:
    """The language chosen by `user`, else the deployment's default."""
    chosen = _preference(user) if user is not None and getattr(user, "is_authenticated", False) else ""
    return supported(chosen) or settings.LANGUAGE_CODE


# The session keeps the person's choice once read ("" for none), so a request does not ask the database again.
SESSION_KEY = "inventory_ai_language"


class UserLanguageMiddleware:
    """After LocaleMiddleware and authentication: a signed-in person's own choice wins over the browser's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = getattr(request, "session", None)
            chosen = session.get(SESSION_KEY) if session is not None else None
            if chosen is None:
                chosen = _preference(user)
                if session is not None:
                    session[SESSION_KEY] = chosen
            chosen = supported(chosen)
            if chosen:
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        return self.get_response(request)


def set_language(request):
    """Django's `set_language` (the cookie, then the redirect), and the signed-in person's preference."""
    response = django_set_language(request)
    code = supported(request.POST.get("language", ""))
    if request.method == "POST" and code and request.user.is_authenticated:
        UserPreference.objects.update_or_create(user=request.user, defaults={"language": code})
        request.session[SESSION_KEY] = code
    return response
