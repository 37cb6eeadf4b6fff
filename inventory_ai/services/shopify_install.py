"""Connecting a Shopify store through the product's app (Shopify's authorization code grant).

`start(shop)` validates the shop domain, keeps a single-use `state` and returns the shop's approval URL;
`finish_install(params)` checks the callback's HMAC, its shop and its state (single use, ten minutes), exchanges the
code for an expiring offline token (and its refresh token), keeps them encrypted with the scopes granted, subscribes
the store's webhooks and starts the store's backfill. Every refusal raises `ConnectRefused` with what the merchant
reads and the HTTP status; nothing is stored then. The token is renewed before it expires
(`inventory_ai.gateways.renew_credentials`).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import StoreAPIError
from integrations.shopify import oauth
from inventory_ai.choices import Platform
from inventory_ai.conf import get_option
from inventory_ai.gateways import app_credentials, platform_base_url
from inventory_ai.models import OAuthState, Store, SyncRun
from inventory_ai.services import subscriptions, sync_runs
from inventory_ai.services.connect_refusal import ConnectRefused
from inventory_ai.services.reconnect import reconnected
from inventory_ai.services.stores import upsert_store

logger = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
CALLBACK_PATH = "/shopify/callback"


PLATFORM = Platform.SHOPIFY  # the admin's "Connect a store" picks the flow by it


@dataclass(frozen=True)
class Installed:
    store: Store
    missing_scopes: tuple[str, ...]
    backfill: SyncRun | None


def shop_base_url(shop: str) -> str:
    """Where the shop's OAuth and Admin API addresses are built (the SHOPIFY_BASE_URL option stands in for Shopify)."""
    return platform_base_url(Platform.SHOPIFY, shop)


def redirect_uri() -> str:
    return f"{settings.PUBLIC_BASE_URL}{CALLBACK_PATH}"


def _app() -> dict[str, str]:
    app = app_credentials(Platform.SHOPIFY)
    if not app.get("client_id") or not app.get("client_secret") or not settings.PUBLIC_BASE_URL:
        raise ConnectRefused(
            _("The Shopify app is not configured: set SHOPIFY_CLIENT_ID, SHOPIFY_CLIENT_SECRET and PUBLIC_BASE_URL."),
            400,
        )
    return app


def start(shop: str) -> str:
    """The URL of the shop's approval page for our app, with a new single-use state (also the admin's "Connect a
    store")."""
    app = _app()
    try:
        shop = oauth.shop_domain(shop)
    except ValueError as exc:
        raise ConnectRefused(str(exc), 400) from exc
    state = secrets.token_urlsafe(32)
    # states past their use are dropped as new ones are made: the table stays the size of the installs under way
    OAuthState.objects.filter(created_at__lt=timezone.now() - STATE_LIFETIME * 6).delete()
    OAuthState.objects.create(state=state, platform=Platform.SHOPIFY, shop=shop)
    scopes = tuple(settings.SHOPIFY_SCOPES)
    return oauth.authorize_url(shop_base_url(shop), app["client_id"], scopes, redirect_uri(), state)


def finish_install(params: dict[str, str], backfill: bool = True) -> Installed:
    """Check the callback, take the token, connect the store and start its backfill (unless the history comes by
    another way: the demo imports it from a file)."""
    app = _app()
    if not oauth.verify_callback(params, app["client_secret"]):
        raise ConnectRefused(_("The answer from Shopify is not signed with this app's secret."), 403)
    try:
        shop = oauth.shop_domain(params.get("shop", ""))
    except ValueError as exc:
        raise ConnectRefused(str(exc), 400) from exc
    with transaction.atomic():
        # single use: the first callback to claim the state wins, a replay finds it used (a state is unique, and
        # the shop it was made for must be this myshopify.com shop)
        claimed = OAuthState.objects.filter(
            state=params.get("state", ""),
            used_at__isnull=True,
            created_at__gte=timezone.now() - STATE_LIFETIME,
        ).update(used_at=timezone.now())
        known = OAuthState.objects.filter(state=params.get("state", "")).values_list("shop", flat=True).first()
    if not claimed or known != shop:
        raise ConnectRefused(_("This install link was already used, has expired or belongs to another shop."), 403)
    base = shop_base_url(shop)
    try:
        grant = oauth.exchange_code(base, app["client_id"], app["client_secret"], params.get("code", ""),
                                    timeout=float(get_option("STORE_API_TIMEOUT_SECONDS")))  # fmt: skip
    except StoreAPIError as exc:
        logger.warning("the token exchange for %s failed: %s", shop, exc)
        refused = _("Shopify refused the install (%(status)s): try again.") % {"status": exc.status or _("no answer")}
        raise ConnectRefused(refused, 400) from exc
    store, _created = upsert_store(
        Platform.SHOPIFY,
        shop,
        webhook_secret=app["client_secret"],  # Shopify signs an app's webhooks with its client secret
        credentials=grant.credentials(),
    )
    if not store.active:
        store.active = True
        store.save(update_fields=["active"])
    subscriptions.sync_subscriptions(store)  # the topics the product reads, at this deployment's address
    missing = tuple(scope for scope in settings.SHOPIFY_SCOPES if scope not in grant.scopes)
    reconnected(store)  # what stopped on the old credentials goes on
    run = None
    try:
        run = sync_runs.start_sync(store, SyncRun.Kind.BACKFILL, trigger="install") if backfill else None
    except sync_runs.SyncAlreadyRunning as exc:
        run = exc.run
    logger.info("Shopify store %s connected through the app (scopes %s)", shop, ",".join(grant.scopes))
    return Installed(store, missing, run)
