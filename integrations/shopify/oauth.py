"""Shopify OAuth for apps made in the Dev Dashboard: the authorization code grant (a merchant installs the app), the
client credentials grant (a store's own app), and refreshing an expiring offline token.

As Shopify documents it:
- the merchant is sent to `https://{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state`;
- Shopify comes back to the redirect URI with `code`, `hmac`, `shop`, `state`, `timestamp` (and `host`): the HMAC is
  SHA-256 keyed with the client secret over the other parameters sorted by name, as `name=value` joined by `&`, in hex;
- `POST https://{shop}/admin/oauth/access_token` exchanges the code (`client_id`, `client_secret`, `code`, and
  `expiring=1` for an offline token that expires after an hour, with a refresh token), refreshes it
  (`grant_type=refresh_token`), or grants a token to the store's own app (`grant_type=client_credentials`, valid 24
  hours, no refresh token).

Shop domains are only `*.myshopify.com`. No Django here: values in, dataclasses out, `StoreAPIError` on failure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from integrations.errors import StoreAPIError

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


@dataclass(frozen=True)
class Grant:
    """What the token endpoint granted: the access token, its scopes, when it expires (None: never), and the refresh
    token with its own expiry where the token expires."""

    access_token: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None
    refresh_token: str = ""
    refresh_expires_at: datetime | None = None

    def credentials(self) -> dict[str, str]:
        """As a store's (encrypted) credentials."""
        out = {"access_token": self.access_token, "scopes": ",".join(self.scopes)}
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at.isoformat()
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        if self.refresh_expires_at is not None:
            out["refresh_expires_at"] = self.refresh_expires_at.isoformat()
        return out


def shop_domain(value: str) -> str:
    """The shop's canonical `*.myshopify.com` domain, or ValueError: nothing else may start an install."""
    shop = (value or "").strip().lower()
    if not SHOP_DOMAIN.match(shop):
        raise ValueError(f"Not a Shopify shop domain (name.myshopify.com): {value!r}")
    return shop


def authorize_url(base_url: str, client_id: str, scopes: tuple[str, ...], redirect_uri: str, state: str) -> str:
    """Where the merchant approves the app's scopes (an offline token: no per-user grant option)."""
    query = urlencode({"client_id": client_id, "scope": ",".join(scopes), "redirect_uri": redirect_uri, "state": state})
    return f"{base_url.rstrip('/')}/admin/oauth/authorize?{query}"


def callback_hmac(params: Mapping[str, str], client_secret: str) -> str:
    """The HMAC Shopify puts on a callback's query: over every parameter but `hmac` (and the legacy `signature`)."""
    message = "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in ("hmac", "signature"))
    return hmac.new(client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_callback(params: Mapping[str, str], client_secret: str) -> bool:
    """Whether the callback's query was signed by Shopify with our client secret (constant-time comparison)."""
    given = str(params.get("hmac") or "")
    return bool(given) and bool(client_secret) and hmac.compare_digest(given, callback_hmac(params, client_secret))


def exchange_code(base_url: str, client_id: str, client_secret: str, code: str, **http: Any) -> Grant:
    """The offline token for an authorization code (an expiring one, with its refresh token)."""
    return _token(base_url, {"client_id": client_id, "client_secret": client_secret, "code": code, "expiring": "1"},
                  **http)  # fmt: skip


def refresh(base_url: str, client_id: str, client_secret: str, refresh_token: str, **http: Any) -> Grant:
    """A new expiring offline token (and refresh token) for a refresh token."""
    body = {"client_id": client_id, "client_secret": client_secret, "grant_type": "refresh_token",
            "refresh_token": refresh_token}  # fmt: skip
    return _token(base_url, body, **http)


def client_credentials(base_url: str, client_id: str, client_secret: str, **http: Any) -> Grant:
    """A token for the store's own app (client credentials grant: valid 24 hours, asked for again after)."""
    body = {"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"}
    return _token(base_url, body, **http)


def _token(
    base_url: str, body: dict[str, str], timeout: float = 10.0, transport: httpx.BaseTransport | None = None
) -> Grant:
    url = f"{base_url.rstrip('/')}/admin/oauth/access_token"
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, data=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise StoreAPIError(f"POST {url}: {exc.__class__.__name__}", transient=True) from exc
    if response.status_code >= 400:
        # the answer may echo what was sent: only its status and error code are kept
        code = _json(response).get("error", "")
        raise StoreAPIError(
            f"POST {url}: HTTP {response.status_code} {code}".strip(),
            transient=response.status_code >= 500 or response.status_code == 429,
            status=response.status_code,
        )
    answer = _json(response)
    token = str(answer.get("access_token") or "")
    if not token:
        raise StoreAPIError(f"POST {url}: the answer holds no access token", transient=False)
    now = datetime.now(UTC)

    def after(seconds: Any) -> datetime | None:
        return now + timedelta(seconds=int(seconds)) if seconds not in (None, "") else None

    return Grant(
        access_token=token,
        scopes=tuple(scope for scope in str(answer.get("scope") or "").split(",") if scope),
        expires_at=after(answer.get("expires_in")),
        refresh_token=str(answer.get("refresh_token") or ""),
        refresh_expires_at=after(answer.get("refresh_token_expires_in")),
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
