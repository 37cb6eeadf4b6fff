"""Shopify: the gateway, webhook verification and normalisation, the Admin API client, and the order-export CSV
format."""
