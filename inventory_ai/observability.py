"""Error reporting to Sentry, when `SENTRY_DSN` is set.

Initialised from the settings, so the web processes (Django's views and the webhook fast path, whose unhandled
errors are logged at ERROR level and reported through the logging integration) and the Celery workers (the Celery
integration reports a task's failure) all report. No personal data is sent; a store's credentials never appear in
what is reported (the settings and the request bodies are not sent).
"""

from __future__ import annotations

import os
from typing import Any


def init_error_reporting(dsn: str | None = None, *, transport: Any = None, environ: dict | None = None) -> bool:
    """Start reporting to Sentry if a DSN is given (else `SENTRY_DSN`); returns whether it started. `transport`
    replaces the network (tests)."""
    environ = os.environ if environ is None else environ
    dsn = dsn if dsn is not None else environ.get("SENTRY_DSN", "")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=environ.get("SENTRY_ENVIRONMENT") or "production",
        release=environ.get("SENTRY_RELEASE") or None,
        traces_sample_rate=float(environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
        max_request_body_size="never",  # webhook bodies carry customers' orders
        **options,
    )
    return True
