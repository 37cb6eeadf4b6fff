"""The store connection pages: Shopify's app install (authorization code grant) and its callback.

Both answer a refusal with a short page (400 or 403) that says why, and log it; nothing is stored then. A successful
install lands the merchant on the store's page in the admin, where the backfill's progress shows.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET

from inventory_ai.services import shopify_install

logger = logging.getLogger(__name__)


def _refused(request: HttpRequest, refusal: shopify_install.InstallRefused) -> HttpResponse:
    logger.warning("store connection refused (%s %s): %s", request.method, request.path, refusal.message)
    page = f"<!doctype html><title>Not connected</title><h1>Not connected</h1><p>{escape(refusal.message)}</p>"
    return HttpResponse(page, status=refusal.status, content_type="text/html; charset=utf-8")


@require_GET
def shopify_install_view(request: HttpRequest) -> HttpResponse:
    """`?shop=name.myshopify.com`: to the shop's approval page for our app."""
    try:
        return HttpResponseRedirect(shopify_install.start_install(request.GET.get("shop", "")))
    except shopify_install.InstallRefused as refusal:
        return _refused(request, refusal)


@require_GET
def shopify_callback_view(request: HttpRequest) -> HttpResponse:
    """Shopify's answer after the merchant approved: the store is connected and its backfill started."""
    try:
        installed = shopify_install.finish_install({key: request.GET[key] for key in request.GET})
    except shopify_install.InstallRefused as refusal:
        return _refused(request, refusal)
    store = installed.store
    if installed.missing_scopes:
        again = reverse("shopify-install") + f"?shop={store.domain}"
        messages.warning(
            request,
            f"{store.domain} is connected, but without {', '.join(installed.missing_scopes)}: approve them at {again}",
        )
    else:
        messages.success(request, f"{store.domain} is connected; its history is being read.")
    return HttpResponseRedirect(reverse("admin:inventory_ai_store_change", args=[store.pk]))
