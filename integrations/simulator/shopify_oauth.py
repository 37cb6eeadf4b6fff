"""The simulated shop's OAuth endpoints, as Shopify documents them for apps made in the Dev Dashboard.

- `GET /admin/oauth/authorize?client_id&scope&redirect_uri&state`: the consent page (an HTML page with an "Install"
  link, which a browser test clicks); an unknown client id is refused.
- `GET /admin/oauth/authorize/approve?...`: the merchant approved: a 302 to `redirect_uri` with `code`, `hmac`,
  `host`, `shop`, `state` and `timestamp`, signed with the app's client secret.
- `POST /admin/oauth/access_token` (form or JSON): a code (single use, 10 minutes) for an offline token — expiring
  after an hour with a refresh token when `expiring=1` —, a refresh token for a new pair, or the client credentials
  grant (24 hours). Each granted token is accepted by the Admin API until it expires.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from integrations.shopify.oauth import callback_hmac

CODE_SECONDS = 600
EXPIRING_SECONDS = 3600
CLIENT_CREDENTIALS_SECONDS = 86_399
REFRESH_SECONDS = 90 * 86_400


class ShopifyOAuth:
    """One app (client id and secret) on the simulated shop `shop`, and what it granted."""

    def __init__(self, client_id: str, client_secret: str, shop: str, scopes: tuple[str, ...] = ()) -> None:
        self.client_id, self.client_secret, self.shop = client_id, client_secret, shop
        self.scopes = scopes  # what the merchant grants (empty: what the app asks for)
        self.codes: dict[str, tuple[float, str]] = {}  # code -> (expiry, scope)
        self.tokens: dict[str, float | None] = {}  # access token -> expiry (None: never)
        self.refresh_tokens: dict[str, tuple[float, str]] = {}
        self.grants = 0
        self._lock = threading.Lock()

    def accepts(self, token: str) -> bool:
        with self._lock:
            if token not in self.tokens:
                return False
            expiry = self.tokens[token]
            return expiry is None or expiry > time.time()

    def consent(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        params = {key: values[0] for key, values in query.items()}
        if params.get("client_id") != self.client_id:
            return 400, {"errors": "Oauth error invalid_request: The client_id is invalid"}, {}
        approve = "/admin/oauth/authorize/approve?" + urlencode(params)
        page = (
            "<!doctype html><html><body><h1>Install app</h1>"
            f"<p>The app asks for: {html.escape(params.get('scope', ''))}</p>"
            f'<a id="install" href="{html.escape(approve)}">Install</a></body></html>'
        )
        return 200, page.encode(), {"Content-Type": "text/html; charset=utf-8"}

    def approve(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        params = {key: values[0] for key, values in query.items()}
        if params.get("client_id") != self.client_id or not params.get("redirect_uri"):
            return 400, {"errors": "Oauth error invalid_request"}, {}
        code = secrets.token_hex(16)
        with self._lock:
            self.codes[code] = (time.time() + CODE_SECONDS, ",".join(self.scopes) or params.get("scope", ""))
        back = {"code": code, "host": "c2ltdWxhdG9y", "shop": self.shop, "state": params.get("state", ""),
                "timestamp": str(int(time.time()))}  # fmt: skip
        back["hmac"] = callback_hmac(back, self.client_secret)
        return 302, b"", {"Location": f"{params['redirect_uri']}?{urlencode(back)}"}

    def token(self, raw: bytes, content_type: str) -> tuple[int, Any, dict[str, str]]:
        if "json" in content_type:
            try:
                body = {key: str(value) for key, value in json.loads(raw or b"{}").items()}
            except (ValueError, AttributeError):
                return 400, {"error": "invalid_request"}, {}
        else:
            body = {key: values[0] for key, values in parse_qs(raw.decode("utf-8", "replace")).items()}
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client"}, {}
        grant = body.get("grant_type", "authorization_code")
        now = time.time()
        with self._lock:
            if grant == "client_credentials":
                return 200, self._issue(",".join(self.scopes), CLIENT_CREDENTIALS_SECONDS, refresh=False), {}
            if grant == "refresh_token":
                found = self.refresh_tokens.pop(body.get("refresh_token", ""), None)
                if found is None or found[0] < now:
                    return 400, {"error": "invalid_grant"}, {}
                return 200, self._issue(found[1], EXPIRING_SECONDS, refresh=True), {}
            found = self.codes.pop(body.get("code", ""), None)  # a code is used once
            if found is None or found[0] < now:
                return 400, {"error": "invalid_grant"}, {}
            expiring = body.get("expiring") == "1"
            return 200, self._issue(found[1], EXPIRING_SECONDS if expiring else None, refresh=expiring), {}

    def _issue(self, scope: str, seconds: int | None, refresh: bool) -> dict[str, Any]:
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[token] = None if seconds is None else time.time() + seconds
        self.grants += 1
        answer: dict[str, Any] = {"access_token": token, "scope": scope}
        if seconds is not None:
            answer["expires_in"] = seconds
        if refresh:
            refresh_token = "shprt_" + secrets.token_hex(16)
            self.refresh_tokens[refresh_token] = (time.time() + REFRESH_SECONDS, scope)
            answer.update(refresh_token=refresh_token, refresh_token_expires_in=REFRESH_SECONDS)
        return answer
