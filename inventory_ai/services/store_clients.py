"""API clients for a store, kept per process and reused between tasks.

Building an httpx client costs more than a request to a nearby store (it loads the TLS trust store), and a reused
client keeps its connections open, so a worker pushing thousands of adjustments makes one client per store, not one
per request. A change of address, credentials, API version or timeout makes a new client.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

from integrations.shopify.client import ShopifyClient
from integrations.woocommerce.client import WooCommerceClient
from inventory_ai.conf import get_option
from inventory_ai.models import Store

MAX_CLIENTS = 32
_clients: OrderedDict[tuple, ShopifyClient | WooCommerceClient] = OrderedDict()
_lock = threading.Lock()


def _key(store: Store, version: str, timeout: float) -> tuple:
    secret = hashlib.sha256(json.dumps(store.credentials, sort_keys=True).encode()).hexdigest()
    return (store.pk, store.platform, store.effective_api_base_url, secret, version, timeout)


def _cached(key: tuple, build):
    with _lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        client = _clients[key] = build()
        while len(_clients) > MAX_CLIENTS:
            _, oldest = _clients.popitem(last=False)
            oldest.close()
        return client


def shopify_client(store: Store) -> ShopifyClient:
    version = store.api_version or get_option("SHOPIFY_API_VERSION")
    timeout = float(get_option("STORE_API_TIMEOUT_SECONDS"))
    token = store.credentials.get("access_token", "")
    return _cached(
        _key(store, version, timeout),
        lambda: ShopifyClient(store.effective_api_base_url, token, version, timeout=timeout),
    )


def woocommerce_client(store: Store) -> WooCommerceClient:
    timeout = float(get_option("STORE_API_TIMEOUT_SECONDS"))
    credentials = store.credentials
    return _cached(
        _key(store, "wc/v3", timeout),
        lambda: WooCommerceClient(
            store.effective_api_base_url,
            credentials.get("consumer_key", ""),
            credentials.get("consumer_secret", ""),
            timeout=timeout,
        ),
    )


def forget_clients() -> None:
    """Close every cached client (tests; a worker shutting down)."""
    with _lock:
        while _clients:
            _, client = _clients.popitem()
            client.close()
