"""Webhook endpoints: answer fast, keep everything, never 200 for something not stored."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from integrations.webhooks import WebhookRejected
from integrations.woocommerce.webhooks import is_ping
from inventory_ai.choices import Platform
from inventory_ai.conf import get_option
from inventory_ai.services.webhooks import receive_webhook

logger = logging.getLogger(__name__)


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refusing anything above the limit before and while reading it."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise WebhookRejected(400, "invalid Content-Length") from exc
    if declared > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    # Read the stream directly: request.body would apply Django's own upload limit instead of ours.
    body = request.read(limit + 1)
    if len(body) > limit:
        raise WebhookRejected(413, f"body larger than {limit} bytes")
    return body


def _receive(request: HttpRequest, platform: str) -> JsonResponse:
    try:
        body = _read_body(request, get_option("WEBHOOK_MAX_BYTES"))
        if platform == Platform.WOOCOMMERCE and is_ping(request.headers, body):
            return JsonResponse({"status": "ok", "detail": "webhook ping received"})
        result = receive_webhook(platform, request.headers, body)
    except WebhookRejected as exc:
        logger.warning(
            "Refused %s webhook from %s (%s): %s",
            platform,
            request.META.get("REMOTE_ADDR"),
            request.headers.get("X-Shopify-Topic") or request.headers.get("X-WC-Webhook-Topic") or "no topic",
            exc.reason,
        )
        return JsonResponse({"status": "rejected", "detail": exc.reason}, status=exc.status)
    except DatabaseError:
        # Never 200 for something we did not keep: the platform retries a 5xx.
        logger.exception("Database unavailable while receiving a %s webhook", platform)
        response = JsonResponse({"status": "unavailable", "detail": "try again later"}, status=503)
        response["Retry-After"] = "30"
        return response
    payload = {"status": "duplicate" if result.duplicate else result.message}
    if result.status >= 400:
        payload = {"status": "rejected", "detail": result.message}
    return JsonResponse(payload, status=result.status)


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
