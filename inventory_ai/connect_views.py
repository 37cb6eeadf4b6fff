"""The store connection pages: Shopify's app install (authorization code grant) and its callback; WooCommerce's key
approval (`/wc-auth/v1/authorize`), the callback its site posts the key to, and the page the merchant returns to.

Both answer a refusal with a short page (400 or 403) that says why, and log it; nothing is stored then. A successful
install lands the merchant on the store's page in the admin, where the backfill's progress shows.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from inventory_ai.services import shopify_install, woocommerce_connect
from inventory_ai.services.connect_refusal import ConnectRefused

logger = logging.getLogger(__name__)


def _refused(request: HttpRequest, refusal: ConnectRefused) -> HttpResponse:
    logger.warning("store connection refused (%s %s): %s", request.method, request.path, refusal.message)
    # Translators: The title of the page saying why a store could not be connected.
    title = escape(_("Not connected"))
    page = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{escape(refusal.message)}</p>"
    return HttpResponse(page, status=refusal.status, content_type="text/html; charset=utf-8")


@require_GET
def shopify_install_view(request: HttpRequest) -> HttpResponse:
    """`?shop=name.myshopify.com`: to the shop's approval page for our app."""
    try:
        return HttpResponseRedirect(shopify_install.start(request.GET.get("shop", "")))
    except ConnectRefused as refusal:
        return _refused(request, refusal)


@require_GET
def shopify_callback_view(request: HttpRequest) -> HttpResponse:
    """Shopify's answer after the merchant approved: the store is connected and its backfill started."""
    try:
        installed = shopify_install.finish_install({key: request.GET[key] for key in request.GET})
    except ConnectRefused as refusal:
        return _refused(request, refusal)
    store = installed.store
    if installed.missing_scopes:
        again = reverse("shopify-install") + f"?shop={store.domain}"
        messages.warning(
            request,
            # Translators: "scopes" lists the Shopify access scopes not granted, e.g. "read_orders, read_products".
            _("%(domain)s is connected, but without %(scopes)s: approve them at %(url)s")
            % {"domain": store.domain, "scopes": ", ".join(installed.missing_scopes), "url": again},
        )
    else:
        messages.success(request, _("%(domain)s is connected; its history is being read.") % {"domain": store.domain})
    return HttpResponseRedirect(reverse("admin:inventory_ai_store_change", args=[store.pk]))


@require_GET
def woocommerce_connect_view(request: HttpRequest) -> HttpResponse:
    """`?url=https://shop.example`: to the site's approval page for a REST key of our app."""
    try:
        return HttpResponseRedirect(woocommerce_connect.start(request.GET.get("url", "")))
    except ConnectRefused as refusal:
        return _refused(request, refusal)


@csrf_exempt  # WooCommerce's site posts the key server to server; the one-time id is the check
@require_POST
def woocommerce_callback_view(request: HttpRequest) -> HttpResponse:
    """The key the site posts once the merchant approved: 200 keeps it (anything else makes WooCommerce delete it)."""
    if not request.is_secure() and not settings.DEBUG:  # the demo (DEBUG) runs on plain HTTP
        return _refused(request, ConnectRefused(_("Keys are taken over HTTPS only."), 403))
    try:
        store = woocommerce_connect.finish_connect(request.body)
    except ConnectRefused as refusal:
        return _refused(request, refusal)
    return HttpResponse(f"connected {escape(store.domain)}", content_type="text/plain")


@require_GET
def woocommerce_return_view(request: HttpRequest) -> HttpResponse:
    """Where the site sends the merchant back: the store's page once its key arrived, else why not."""
    if request.GET.get("success") != "1":
        refusal = ConnectRefused(_("The key was not approved on the site: nothing was connected."), 400)
        return _refused(request, refusal)
    store = woocommerce_connect.returned(request.GET.get("user_id", ""))
    if store is None:
        return _refused(request, ConnectRefused(_("The site's key did not arrive: try connecting again."), 400))
    messages.success(request, _("%(domain)s is connected; its history is being read.") % {"domain": store.domain})
    return HttpResponseRedirect(reverse("admin:inventory_ai_store_change", args=[store.pk]))
