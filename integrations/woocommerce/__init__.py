"""WooCommerce: the gateway, webhook verification and normalisation, and the REST API v3 client."""
