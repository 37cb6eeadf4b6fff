"""Webhook signatures as the platforms compute them: base64 of HMAC-SHA256 over the exact body bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac


def hmac_sha256_base64(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def sign_shopify(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` header value (the secret is the app's client secret)."""
    return hmac_sha256_base64(body, secret)


def sign_woocommerce(body: bytes, secret: str) -> str:
    """The `X-WC-Webhook-Signature` header value (the secret is the webhook's secret)."""
    return hmac_sha256_base64(body, secret)
