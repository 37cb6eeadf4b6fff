"""Webhook endpoints: answer fast, keep everything, never 200 for something not stored.

`respond_to_delivery` holds the whole answer; the Django views below and the WSGI fast path in
`inventory_ai.wsgi` both call it, so the two entry points cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from django.db import Error as DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from integrations.webhooks import WebhookRejected, header
from inventory_ai.choices import Platform
from inventory_ai.conf import get_option
from inventory_ai.gateways import webhook_provider
from inventory_ai.services.webhooks import receive_webhook

logger = logging.getLogger(__name__)

Answer = tuple[int, dict, dict[str, str]]  # status, JSON body, extra headers


def _read_body(declared_length: str | None, read: Callable[[int], bytes], limit: int) -> bytes:
    """The raw body, refusing anything above the limit before and while reading it."""
    try:
        declared = int(declared_length or 0)
    except ValueError as exc:
        raise WebhookRejected(400, "invalid Content-Length") from exc
    if declared > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    try:
        body = read(limit + 1)
    except Exception as exc:
        # A body the sender broke off or framed wrongly (a malformed or truncated chunked encoding): the server's
        # input stream raises its own errors (gunicorn's are not OSError), and none of them is ours to answer 500.
        raise WebhookRejected(400, "the body could not be read") from exc
    if len(body) > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    return body


def respond_to_delivery(
    platform: str, headers: Mapping[str, str], declared_length: str | None, read: Callable[[int], bytes], peer: str
) -> Answer:
    """Receive one delivery and say what to answer."""
    provider = webhook_provider(platform)
    try:
        body = _read_body(declared_length, read, get_option("WEBHOOK_MAX_BYTES"))
        if provider.is_ping(headers, body):
            return 200, {"status": "ok", "detail": "webhook ping received"}, {}
        result = receive_webhook(platform, headers, body)
    except WebhookRejected as exc:
        # A refused header may hold what no log can write (a lone surrogate): it is logged escaped.
        topic = (header(headers, provider.topic_header) or "no topic").encode("utf-8", "backslashreplace").decode()
        logger.warning("Refused %s webhook from %s (%s): %s", platform, peer, topic, exc.reason)
        return exc.status, {"status": "rejected", "detail": exc.reason}, {}
    except DatabaseError:
        # Never 200 for something we did not keep: the platform retries a 5xx.
        logger.exception("Database unavailable while receiving a %s webhook", platform)
        return 503, {"status": "unavailable", "detail": "try again later"}, {"Retry-After": "30"}
    if result.status >= 400:
        return result.status, {"status": "rejected", "detail": result.message}, {}
    return result.status, {"status": "duplicate" if result.duplicate else result.message}, {}


def _receive(request: HttpRequest, platform: str) -> JsonResponse:
    status, payload, extra = respond_to_delivery(
        platform, request.headers, request.META.get("CONTENT_LENGTH"), request.read, request.META.get("REMOTE_ADDR", "")
    )
    response = JsonResponse(payload, status=status)
    for name, value in extra.items():
        response[name] = value
    return response


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest) -> JsonResponse:
    return _receive(request, Platform.SHOPIFY)


@csrf_exempt
@require_POST
def woocommerce_webhook(request: HttpRequest) -> JsonResponse:
    return _receive(request, Platform.WOOCOMMERCE)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: the web process answers (touches neither the database nor the broker).

    Accepts POST too, so that load tests can measure the server's ceiling with the same requests they send to the
    webhook endpoints.
    """
    return JsonResponse({"status": "ok"})


# --- Error pages ----------------------------------------------------------------------------------------------------
# Django's own error views check the CSRF token of a POST, which parses its body: a broken multipart body raised
# there and the error page became a 500. These answer from the status and the Accept header alone (a plain page for
# browsers, JSON for the API and webhook senders) and never touch the body. The page's title is translated; the JSON
# `detail` stays as it is, for the programs that read it.


def _error(request: HttpRequest, status: int, detail: str, title: str) -> HttpResponse:
    if "text/html" in request.META.get("HTTP_ACCEPT", ""):
        title = escape(title)
        page = f'<!doctype html><title>{title}</title><h1>{title}</h1><p><a href="/admin/">Inventory AI</a></p>'
        return HttpResponse(page, status=status)
    return JsonResponse({"status": "error", "detail": detail}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "bad request", _("Bad request"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "permission denied", _("Permission denied"))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "not found", _("Not found"))


def server_error(request: HttpRequest) -> HttpResponse:
    # Translators: The title of the page shown when the server failed to answer a request.
    return _error(request, 500, "server error", _("Server error"))
