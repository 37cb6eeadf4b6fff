"""WooCommerce's app authentication endpoint (`/wc-auth/v1/authorize`, WooCommerce 2.4+): the merchant approves a
REST key for the app on their own site, and WooCommerce POSTs the key to the app's callback as JSON
(`key_id`, `user_id`, `consumer_key`, `consumer_secret`, `key_permissions`) before sending the merchant back to
`return_url` with `success` and `user_id`. The callback must answer 200, or WooCommerce deletes the key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from integrations.webhooks import PayloadError

SCOPE = "read_write"  # stock writes need write access


@dataclass(frozen=True)
class KeyGrant:
    key_id: str
    user_id: str
    consumer_key: str
    consumer_secret: str
    permissions: str


def authorize_url(site: str, app_name: str, user_id: str, return_url: str, callback_url: str) -> str:
    query = urlencode({"app_name": app_name, "scope": SCOPE, "user_id": user_id, "return_url": return_url,
                       "callback_url": callback_url})  # fmt: skip
    return f"{site.rstrip('/')}/wc-auth/v1/authorize?{query}"


def parse_callback(body: bytes) -> KeyGrant:
    """The key WooCommerce posted; PayloadError when the body is not one."""
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise PayloadError("the key callback's body is not JSON") from exc
    if not isinstance(data, dict):
        raise PayloadError("the key callback's body is not an object")
    fields = {name: str(data.get(name) or "") for name in ("key_id", "user_id", "consumer_key", "consumer_secret")}
    if not all(fields.values()):
        raise PayloadError("the key callback lacks " + ", ".join(name for name, value in fields.items() if not value))
    if not fields["consumer_key"].startswith("ck_") or not fields["consumer_secret"].startswith("cs_"):
        raise PayloadError("the key callback's key is not a WooCommerce REST key")
    return KeyGrant(permissions=str(data.get("key_permissions") or ""), **fields)
