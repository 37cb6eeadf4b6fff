"""Connecting a WooCommerce store through its key approval (`/wc-auth/v1/authorize`).

`start(site)` keeps a one-time `user_id` (an `OAuthState` for the site, ten minutes) and returns the site's
approval URL; `finish_connect(body)` takes the key WooCommerce posts to our callback, matches the one-time id (unknown,
reused or expired: refused), keeps the key encrypted with a webhook secret of our own, subscribes the site's webhooks
and starts the backfill. A refusal raises `ConnectRefused`; nothing is stored then. `returned(user_id)` is the store
the merchant comes back to.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.webhooks import PayloadError
from integrations.woocommerce import auth
from inventory_ai.choices import Platform
from inventory_ai.gateways import gateway_class
from inventory_ai.models import OAuthState, Store, SyncRun
from inventory_ai.services import subscriptions, sync_runs
from inventory_ai.services.connect_refusal import ConnectRefused
from inventory_ai.services.reconnect import reconnected
from inventory_ai.services.stores import upsert_store

logger = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
APP_NAME = "Inventory AI"
PLATFORM = Platform.WOOCOMMERCE  # the admin's "Connect a store" picks the flow by it


def start(site: str) -> str:
    """The URL of the site's key approval page for our app, with a new one-time id (also the admin's "Connect a
    store")."""
    if not settings.PUBLIC_BASE_URL:
        raise ConnectRefused(_("PUBLIC_BASE_URL is not set: WooCommerce needs an address to send the key to."), 400)
    try:
        site = gateway_class(Platform.WOOCOMMERCE).normalize_address(site)
    except ValueError as exc:
        raise ConnectRefused(str(exc), 400) from exc
    if not site.startswith("https://") and not settings.DEBUG:
        raise ConnectRefused(_("The site must use HTTPS: its REST keys would otherwise travel in the clear."), 400)
    user_id = secrets.token_urlsafe(24)
    OAuthState.objects.filter(created_at__lt=timezone.now() - STATE_LIFETIME * 6).delete()
    OAuthState.objects.create(state=user_id, platform=Platform.WOOCOMMERCE, shop=site)
    base = settings.PUBLIC_BASE_URL
    return auth.authorize_url(site, APP_NAME, user_id, f"{base}/woocommerce/return", f"{base}/woocommerce/callback")


def finish_connect(body: bytes) -> Store:
    try:
        grant = auth.parse_callback(body)
    except PayloadError as exc:
        raise ConnectRefused(str(exc), 400) from exc
    with transaction.atomic():
        claimed = OAuthState.objects.filter(
            state=grant.user_id, used_at__isnull=True, created_at__gte=timezone.now() - STATE_LIFETIME
        ).update(used_at=timezone.now())
        site = OAuthState.objects.filter(state=grant.user_id).values_list("shop", flat=True).first()
    if not claimed or not site:
        raise ConnectRefused(_("Unknown, used or expired connection id."), 403)
    credentials = {"consumer_key": grant.consumer_key, "consumer_secret": grant.consumer_secret,
                   "key_id": grant.key_id, "key_permissions": grant.permissions}  # fmt: skip
    store, _created = upsert_store(
        Platform.WOOCOMMERCE, site, webhook_secret=secrets.token_urlsafe(32), credentials=credentials
    )
    subscriptions.sync_subscriptions(store)
    reconnected(store)  # what stopped on the old credentials goes on
    with contextlib.suppress(sync_runs.SyncAlreadyRunning):  # the run under way reads the same
        sync_runs.start_sync(store, SyncRun.Kind.BACKFILL, trigger="install")
    logger.info("WooCommerce store %s connected through its key approval (%s)", site, grant.permissions)
    return store


def returned(user_id: str) -> Store | None:
    """The store a merchant comes back to from the approval page, once its key arrived."""
    site = OAuthState.objects.filter(state=user_id, used_at__isnull=False).values_list("shop", flat=True).first()
    return Store.objects.filter(domain=site).first() if site else None
