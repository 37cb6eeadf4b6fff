"""The store platforms we connect to, by name: the one registry of gateways (`integrations.gateway`).

A new platform is a package with a gateway class, listed here; nothing else names platforms.
"""

from __future__ import annotations

from integrations.gateway import StoreGateway
from integrations.shopify.gateway import ShopifyGateway
from integrations.woocommerce.gateway import WooCommerceGateway

GATEWAYS: dict[str, type[StoreGateway]] = {
    gateway.platform: gateway for gateway in (ShopifyGateway, WooCommerceGateway)
}


class UnknownPlatform(ValueError):
    pass


def gateway_class(platform: str) -> type[StoreGateway]:
    """The gateway class of a platform (its attributes describe the platform without a connection)."""
    try:
        return GATEWAYS[platform]
    except KeyError:
        raise UnknownPlatform(f"Unknown platform {platform!r}; expected one of {', '.join(GATEWAYS)}") from None
