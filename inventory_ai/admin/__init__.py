"""The Django admin: the product's face for store admins. One module per area; importing them registers the models."""

from inventory_ai.admin import access, catalog, forecasts, replenishment, stores, sync  # noqa: F401
