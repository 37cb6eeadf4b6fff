"""API authentication: `Authorization: Token <key>`, checked against stored digests."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from inventory_ai.services.api_tokens import authenticate


class HashedTokenAuthentication(TokenAuthentication):
    """REST framework's token scheme (same header), with keys kept as SHA-256 digests instead of in clear."""

    def authenticate_credentials(self, key: str):
        token = authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token
