"""Locations, products and variants (one row per sellable SKU)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

DEFAULT_VARIANT_TITLE = "Default Title"


class Location(models.Model):
    """A place that holds stock: a Shopify location, or the single implicit stock of a WooCommerce site.

    The primary location receives the demand of orders that do not name a location. Its coordinates (set in the
    admin; the store's default when empty) place its weather.
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="locations")
    platform_id = models.CharField(max_length=64, help_text="The platform's location id")
    name = models.CharField(max_length=255, blank=True)
    is_primary = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)], help_text="For its weather"
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)], help_text="For its weather"
    )
    platform_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "platform_id"], name="location_unique_per_store"),
            models.UniqueConstraint(
                fields=["store"], condition=models.Q(is_primary=True), name="one_primary_location_per_store"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.platform_id


class Product(models.Model):
    """A product as the store lists it; its sellable units are its variants."""

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="products")
    platform_id = models.CharField(max_length=64)
    title = models.CharField(max_length=500, blank=True)
    vendor = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=32, blank=True)
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "platform_id"], name="product_unique_per_store")]

    def __str__(self) -> str:
        return self.title or self.platform_id


class Variant(models.Model):
    """One sellable SKU, the unit we forecast and replenish.

    `sku` may be empty (WooCommerce allows it), so identity is the platform's variant id; a WooCommerce simple
    product is its own variant. A variant first seen on an order line before its product arrives is created as a
    placeholder and completed when the product event comes. Replenishment fields left empty fall back to the store's
    defaults (see the `effective_*` properties).
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="variants")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    platform_id = models.CharField(max_length=64, help_text="The platform's variant (or simple product) id")
    sku = models.CharField(max_length=255, blank=True, db_index=True)
    inventory_item_id = models.CharField(max_length=64, blank=True, help_text="Shopify inventory item id")
    title = models.CharField(max_length=500, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    supplier = models.CharField(max_length=255, blank=True)
    lead_time_days = models.PositiveIntegerField(null=True, blank=True)
    review_period_days = models.PositiveIntegerField(null=True, blank=True)
    service_level = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.5), MaxValueValidator(0.9999)]
    )
    moq = models.PositiveIntegerField(null=True, blank=True, help_text="Minimum order quantity")
    case_pack = models.PositiveIntegerField(null=True, blank=True)
    abc_class = models.CharField(max_length=1, blank=True, help_text="By revenue in the last 8 weeks (A, B, C)")
    abc_class_override = models.CharField(
        max_length=1, blank=True, choices=[("A", "A"), ("B", "B"), ("C", "C")],
        help_text="Set by a planner: wins over the class computed from revenue",
    )  # fmt: skip
    xyz_class = models.CharField(max_length=1, blank=True, help_text="By demand variability (X steady .. Z erratic)")
    is_placeholder = models.BooleanField(
        default=False, help_text="Created from an order line before the product itself was seen"
    )
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "platform_id"], name="variant_unique_per_store"),
            models.UniqueConstraint(
                fields=["store", "inventory_item_id"],
                condition=~models.Q(inventory_item_id=""),
                name="variant_inventory_item_unique_per_store",
            ),
        ]
        indexes = [models.Index(fields=["store", "sku"], name="variant_store_sku")]
        permissions = [("change_planning_settings", "Can change SKU planning settings (import)")]

    def __str__(self) -> str:
        return self.sku or self.title or self.platform_id

    @property
    def display_title(self) -> str:
        """What a planner reads: the product's title, with the variant's where it has one of its own ("Default
        Title" is Shopify's name for a product's only variant)."""
        product = self.product.title if self.product_id else ""
        own = "" if self.title in ("", DEFAULT_VARIANT_TITLE) else self.title
        if product and own and own != product:
            return f"{product} – {own}"
        return product or own or self.sku or self.platform_id

    @property
    def effective_lead_time_days(self) -> int:
        return self.lead_time_days if self.lead_time_days is not None else self.store.default_lead_time_days

    @property
    def effective_review_period_days(self) -> int:
        if self.review_period_days is not None:
            return self.review_period_days
        return self.store.default_review_period_days

    @property
    def effective_service_level(self) -> float:
        return self.service_level if self.service_level is not None else self.store.default_service_level

    @property
    def effective_moq(self) -> int:
        return self.moq if self.moq is not None else self.store.default_moq

    @property
    def effective_case_pack(self) -> int:
        return self.case_pack if self.case_pack is not None else self.store.default_case_pack
