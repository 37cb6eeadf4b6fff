"""The Django admin: the product's face for store admins. One module per area; importing them registers the models."""

from inventory_ai.admin import (  # noqa: F401
    access,
    alerts,
    audit,
    catalog,
    demand,
    drivers,
    events,
    forecasts,
    operations,
    orders,
    purchasing,
    replenishment,
    stores,
)
