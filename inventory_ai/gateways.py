"""The one place that picks a store's gateway by its platform (CONVENTIONS.md: one door per platform).

Everything else in `inventory_ai` asks the gateway (`store_gateway(store)`) or its class (`gateway_class(platform)`:
what the platform can do, its webhook provider, how a store's address is written) and never compares platform
names; tests/test_layout.py keeps it so.

Gateways are kept per process and reused between tasks. Building an httpx client costs more than a request to a
nearby store (it loads the TLS trust store), and a reused client keeps its connections open, so a worker pushing
thousands of adjustments makes one client per store, not one per request. A change of address, credentials, API
version or timeout makes a new gateway.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings

from integrations.errors import StoreAPIError
from integrations.gateway import StoreGateway
from integrations.platforms import GATEWAYS, UnknownPlatform, gateway_class
from integrations.webhooks import Provider
from inventory_ai.conf import get_option

if TYPE_CHECKING:
    from inventory_ai.models import Store

__all__ = [
    "GATEWAYS",
    "UnknownPlatform",
    "default_api_version",
    "forget_gateways",
    "gateway_class",
    "platform_base_url",
    "store_gateway",
    "webhook_provider",
]

# Product options that stand in for a platform's own address of every store (the simulator, tests).
BASE_URL_OPTIONS = {"shopify": "SHOPIFY_BASE_URL"}
# The settings naming the product's own app on a platform (its OAuth client).
APP_SETTINGS = {"shopify": ("SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET")}
# Product options that override a platform's own default API version for new stores.
API_VERSION_OPTIONS = {"shopify": "SHOPIFY_API_VERSION"}
MAX_GATEWAYS = 32
_gateways: OrderedDict[tuple, StoreGateway] = OrderedDict()
_lock = threading.Lock()


def webhook_provider(platform: str) -> Provider:
    """How the platform's webhook deliveries are read (verify, deduplicate, normalise)."""
    return gateway_class(platform).webhooks


def default_api_version(platform: str) -> str:
    option = API_VERSION_OPTIONS.get(platform)
    return get_option(option) if option else gateway_class(platform).default_api_version


def store_gateway(store: Store) -> StoreGateway:
    """The store's gateway, built from its address, credentials, API version and the configured timeout.

    Raises StoreAPIError when the gateway refuses the address (API keys never go to a remote site without HTTPS):
    call it where a failed store call is handled.
    """
    version = store.api_version or default_api_version(store.platform)
    timeout = float(get_option("STORE_API_TIMEOUT_SECONDS"))
    renew_credentials(store, timeout)
    secret = hashlib.sha256(json.dumps(store.credentials, sort_keys=True).encode()).hexdigest()
    key = (store.pk, store.platform, store.effective_api_base_url, secret, version, timeout)
    with _lock:
        gateway = _gateways.get(key)
        if gateway is not None:
            _gateways.move_to_end(key)
            return gateway
        gateway = _gateways[key] = gateway_class(store.platform)(
            store.effective_api_base_url, store.credentials, api_version=version, timeout=timeout,
            on_unauthorized=partial(_renew_after_refusal, store.pk, timeout),
        )  # fmt: skip
        while len(_gateways) > MAX_GATEWAYS:
            _, oldest = _gateways.popitem(last=False)
            oldest.close()
        return gateway


def platform_base_url(platform: str, address: str) -> str:
    """Where a store's API (and OAuth) addresses are built: the option standing in for the platform when set, else
    the platform's own address for the store."""
    option = BASE_URL_OPTIONS.get(platform)
    override = (get_option(option) or "").rstrip("/") if option else ""
    return override or gateway_class(platform).api_base_url(address)


def app_credentials(platform: str) -> dict[str, str]:
    """The product's own app on the platform (Shopify: the Dev Dashboard app's client id and secret), if any."""
    names = APP_SETTINGS.get(platform)
    if names is None:
        return {}
    return {"client_id": getattr(settings, names[0], ""), "client_secret": getattr(settings, names[1], "")}


def renew_credentials(store: Store, timeout: float) -> bool:
    """Renew the store's credentials in place when they are about to expire (the gateway says when and how); returns
    whether they were renewed. A refusal raises StoreAPIError (see `_renew_locked`)."""
    if not gateway_class(store.platform).credentials_expiring(store.credentials):
        return False  # the common case, decided without a call
    store.credentials = _renew_locked(store.pk, timeout, force=False).credentials
    return True


def _renew_after_refusal(store_id: int, timeout: float) -> str | None:
    """The store answered 401 to a token we thought valid (revoked, or run out early): renew it now if it can be
    renewed, and give the new access token; None when it cannot (a pasted token, or a refused renewal: the 401
    stands)."""
    try:
        return _renew_locked(store_id, timeout, force=True).credentials.get("access_token")
    except StoreAPIError:
        return None


def _renew_locked(store_id: int, timeout: float, force: bool) -> Store:
    """Renew the store's credentials under a lock on its row, so that two workers do not both renew: when they are
    due (another worker may have renewed them meanwhile), or at once with `force`. Returns the store as saved. A
    refusal for good (a revoked refresh token, the app uninstalled, credentials that cannot be renewed) marks the
    store's connection as failing and raises a 401, so that the work needing it waits for the store to be connected
    again; an unreachable store raises its transient error, for the caller to retry."""
    from django.db import transaction

    from inventory_ai.models import Store as StoreModel

    try:
        with transaction.atomic():
            locked = StoreModel.objects.select_for_update().get(pk=store_id)
            cls = gateway_class(locked.platform)
            if force and not cls.credentials_renewable(locked.credentials):
                raise StoreAPIError("the credentials cannot be renewed (a pasted token)", transient=False)
            if force or cls.credentials_expiring(locked.credentials):
                locked.credentials = cls.renew_credentials(
                    locked.effective_api_base_url, locked.credentials, app_credentials(locked.platform), timeout=timeout
                )
                locked.connection_error = ""
                locked.save(update_fields=["credentials", "connection_error"])
    except StoreAPIError as exc:
        if exc.transient:
            raise
        message = f"the store refused our credentials (revoked, or the app uninstalled): connect it again ({exc})"
        StoreModel.objects.filter(pk=store_id).update(connection_error=message[:500])
        raise StoreAPIError(message, transient=False, status=401) from exc
    return locked


def forget_gateways() -> None:
    """Close every cached gateway (tests; a worker shutting down)."""
    with _lock:
        while _gateways:
            _, gateway = _gateways.popitem()
            gateway.close()
