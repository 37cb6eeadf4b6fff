"""The simulated WooCommerce site's app authorisation and webhooks, as WooCommerce documents and implements them.

`/wc-auth/v1/authorize?app_name&scope&user_id&return_url&callback_url` shows the approval page; approving
(`/wc-auth/v1/access_granted?...`) creates a REST key, POSTs it to `callback_url` as JSON (`key_id`, `user_id`,
`consumer_key`, `consumer_secret`, `key_permissions`), deletes it again unless the callback answers 200, and sends the
browser to `return_url` with `success` and `user_id`.

`/wp-json/wc/v3/webhooks` lists, creates, updates (`PUT .../<id>`) and deletes (`DELETE .../<id>?force=true`)
webhooks; `fail_deliveries(id, n)` stands for deliveries that failed: after `MAX_FAILURES` in a row WooCommerce
disables the webhook (`status: disabled`), as its `woocommerce_max_webhook_delivery_failures` (5) does.
"""

from __future__ import annotations

import html
import itertools
import secrets
import threading
from typing import Any
from urllib.parse import urlencode

import httpx

MAX_FAILURES = 5


class WooAuth:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # consumer key -> secret, of the keys granted and kept
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def accepts(self, key: str, secret: str) -> bool:
        with self._lock:
            return bool(key) and secrets.compare_digest(self.keys.get(key, "\0"), secret)

    def consent(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        params = {key: values[0] for key, values in query.items()}
        missing = [
            name for name in ("app_name", "scope", "user_id", "return_url", "callback_url") if not params.get(name)
        ]
        if missing or params["scope"] not in ("read", "write", "read_write"):
            return 400, {"code": "woocommerce_rest_invalid_request", "message": f"Missing: {', '.join(missing)}"}, {}
        if not params["callback_url"].startswith(("https://", "http://127.", "http://localhost")):
            # WooCommerce requires an HTTPS callback; the simulator lets a loopback test server through
            return 400, {"code": "woocommerce_rest_invalid_callback", "message": "The callback_url needs HTTPS"}, {}
        approve = "/wc-auth/v1/access_granted?" + urlencode(params)
        page = (
            f"<!doctype html><html><body><h1>{html.escape(params['app_name'])} would like to connect</h1>"
            f"<p>Access: {html.escape(params['scope'])}</p>"
            f'<a id="approve" href="{html.escape(approve)}">Approve</a></body></html>'
        )
        return 200, page.encode(), {"Content-Type": "text/html; charset=utf-8"}

    def approve(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        params = {key: values[0] for key, values in query.items()}
        key, secret = "ck_" + secrets.token_hex(20), "cs_" + secrets.token_hex(20)
        with self._lock:
            key_id = next(self._ids)
            self.keys[key] = secret
        body = {"key_id": key_id, "user_id": params.get("user_id", ""), "consumer_key": key,
                "consumer_secret": secret, "key_permissions": params.get("scope", "")}  # fmt: skip
        try:
            answer = httpx.post(params.get("callback_url", ""), json=body, timeout=10)
            kept = answer.status_code == 200
        except httpx.HTTPError:
            kept = False
        if not kept:  # WooCommerce deletes a key its callback did not take
            with self._lock:
                self.keys.pop(key, None)
        back = urlencode({"success": "1" if kept else "0", "user_id": params.get("user_id", "")})
        return 302, b"", {"Location": f"{params.get('return_url', '')}?{back}"}


class WooWebhooks:
    def __init__(self) -> None:
        self.hooks: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(hook) for _, hook in sorted(self.hooks.items())]

    def create(self, body: dict[str, Any]) -> tuple[int, Any]:
        if not str(body.get("delivery_url") or "").startswith(("https://", "http://")) or not body.get("topic"):
            return 400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): delivery_url, topic"}
        with self._lock:
            number = next(self._ids)
            self.hooks[number] = {
                "id": number, "name": str(body.get("name") or ""), "topic": str(body["topic"]),
                "delivery_url": str(body["delivery_url"]), "status": str(body.get("status") or "active"),
                "secret": str(body.get("secret") or ""), "failure_count": 0,
            }  # fmt: skip
            return 201, dict(self.hooks[number])

    def update(self, number: int, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            hook = self.hooks.get(number)
            if hook is None:
                return 404, {"code": "woocommerce_rest_webhook_invalid_id", "message": "Invalid ID."}
            for field in ("name", "status", "delivery_url", "secret"):
                if field in body:
                    hook[field] = str(body[field])
            if body.get("status") == "active":
                hook["failure_count"] = 0
            return 200, dict(hook)

    def delete(self, number: int, force: bool) -> tuple[int, Any]:
        if not force:
            return 501, {"code": "woocommerce_rest_trash_not_supported", "message": "Webhooks do not support trashing."}
        with self._lock:
            hook = self.hooks.pop(number, None)
        if hook is None:
            return 404, {"code": "woocommerce_rest_webhook_invalid_id", "message": "Invalid ID."}
        return 200, {**hook, "status": "deleted"}

    def fail_deliveries(self, number: int, times: int) -> None:
        with self._lock:
            hook = self.hooks[number]
            hook["failure_count"] += times
            if hook["failure_count"] >= MAX_FAILURES:
                hook["status"] = "disabled"
