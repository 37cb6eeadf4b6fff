"""WSGI entry point (gunicorn inventory_ai.wsgi).

Webhook deliveries are the one high-volume path: platforms send them in bursts and retry anything slower than a few
seconds. `WebhookFastPath` answers POSTs to the webhook URLs without Django's URL resolver and middleware stack
(sessions, CSRF, authentication and messages do nothing for a signed machine-to-machine POST), through the same
`respond_to_delivery` as the Django views; everything else goes to Django. Measured in bench/webhooks.py.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_ai.settings")

logger = logging.getLogger("inventory_ai.webhooks")

STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _EnvironHeaders(dict):
    """Request headers from a WSGI environ, readable as `X-Shopify-Topic` (the form `integrations` asks for)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        super().__init__(
            (key[5:].replace("_", "-").title(), value) for key, value in environ.items() if key.startswith("HTTP_")
        )

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.title(), default)


class WebhookFastPath:
    def __init__(self, django_app: Callable, paths: dict[str, str]) -> None:
        self.django_app = django_app
        self.paths = paths

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        platform = self.paths.get(environ.get("PATH_INFO", ""))
        if platform is None or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        from django.core import signals

        from inventory_ai.views import respond_to_delivery

        # The signals Django's own handler sends around a request (they close connections that are too old or broken).
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            status, payload, extra = respond_to_delivery(
                platform,
                _EnvironHeaders(environ),
                environ.get("CONTENT_LENGTH"),
                environ["wsgi.input"].read,
                environ.get("REMOTE_ADDR", ""),
            )
        except Exception:  # the same as Django would do for an unhandled error: log it and answer 500
            logger.exception("Unhandled error while receiving a %s webhook", platform)
            status, payload, extra = 500, {"status": "error"}, {}
        finally:
            signals.request_finished.send(sender=self.__class__)
        body = json.dumps(payload).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            *extra.items(),
        ]
        start_response(f"{status} {STATUS_TEXT.get(status, '')}".strip(), headers)
        return [body]


application = WebhookFastPath(
    get_wsgi_application(), {"/webhooks/shopify/": "shopify", "/webhooks/woocommerce/": "woocommerce"}
)
