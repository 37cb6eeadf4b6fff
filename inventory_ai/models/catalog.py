"""Locations, products and variants (one row per sellable SKU)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_VARIANT_TITLE = "Default Title"


class Location(models.Model):
    """A place that holds stock: a Shopify location, or the single implicit stock of a WooCommerce site.

    The primary location receives the demand of orders that do not name a location. Its coordinates (set in the
    admin; the store's default when empty) place its weather.
    """

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="locations"
    )
    platform_id = models.CharField(
        verbose_name=_("platform id"), max_length=64, help_text=_("The platform's location id")
    )
    name = models.CharField(verbose_name=_("name"), max_length=255, blank=True)
    is_primary = models.BooleanField(verbose_name=_("is primary"), default=False)
    active = models.BooleanField(verbose_name=_("active"), default=True)
    latitude = models.FloatField(
        verbose_name=_("latitude"),
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text=_("For its weather"),
    )
    longitude = models.FloatField(
        verbose_name=_("longitude"),
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
        help_text=_("For its weather"),
    )
    platform_updated_at = models.DateTimeField(verbose_name=_("platform updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
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

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="products"
    )
    platform_id = models.CharField(verbose_name=_("platform id"), max_length=64)
    title = models.CharField(verbose_name=_("title"), max_length=500, blank=True)
    vendor = models.CharField(verbose_name=_("vendor"), max_length=255, blank=True)
    product_type = models.CharField(verbose_name=_("product type"), max_length=255, blank=True)
    status = models.CharField(verbose_name=_("status"), max_length=32, blank=True)
    platform_updated_at = models.DateTimeField(verbose_name=_("platform updated at"), null=True, blank=True)
    deleted_at = models.DateTimeField(verbose_name=_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
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

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="variants"
    )
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="variants")
    platform_id = models.CharField(
        verbose_name=_("platform id"), max_length=64, help_text=_("The platform's variant (or simple product) id")
    )
    sku = models.CharField(verbose_name=_("sku"), max_length=255, blank=True, db_index=True)
    inventory_item_id = models.CharField(
        verbose_name=_("inventory item id"), max_length=64, blank=True, help_text=_("Shopify inventory item id")
    )
    title = models.CharField(verbose_name=_("title"), max_length=500, blank=True)
    price = models.DecimalField(verbose_name=_("price"), max_digits=12, decimal_places=2, null=True, blank=True)
    unit_cost = models.DecimalField(verbose_name=_("unit cost"), max_digits=12, decimal_places=4, null=True, blank=True)
    supplier = models.CharField(verbose_name=_("supplier"), max_length=255, blank=True)
    lead_time_days = models.PositiveIntegerField(verbose_name=_("lead time days"), null=True, blank=True)
    review_period_days = models.PositiveIntegerField(verbose_name=_("review period days"), null=True, blank=True)
    service_level = models.FloatField(
        verbose_name=_("service level"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.9999)],
    )
    moq = models.PositiveIntegerField(
        verbose_name=_("moq"), null=True, blank=True, help_text=_("Minimum order quantity")
    )
    case_pack = models.PositiveIntegerField(verbose_name=_("case pack"), null=True, blank=True)
    abc_class = models.CharField(
        verbose_name=_("abc class"), max_length=1, blank=True, help_text=_("By revenue in the last 8 weeks (A, B, C)")
    )
    abc_class_override = models.CharField(
        verbose_name=_("abc class override"), max_length=1, blank=True, choices=[("A", "A"), ("B", "B"), ("C", "C")],
        help_text=_("Set by a planner: wins over the class computed from revenue"),
    )  # fmt: skip
    xyz_class = models.CharField(
        verbose_name=_("xyz class"),
        max_length=1,
        blank=True,
        help_text=_("By demand variability (X steady .. Z erratic)"),
    )
    is_placeholder = models.BooleanField(
        verbose_name=_("is placeholder"),
        default=False,
        help_text=_("Created from an order line before the product itself was seen"),
    )
    platform_updated_at = models.DateTimeField(verbose_name=_("platform updated at"), null=True, blank=True)
    deleted_at = models.DateTimeField(verbose_name=_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        constraints = [
            models.UniqueConstraint(fields=["store", "platform_id"], name="variant_unique_per_store"),
            models.UniqueConstraint(
                fields=["store", "inventory_item_id"],
                condition=~models.Q(inventory_item_id=""),
                name="variant_inventory_item_unique_per_store",
            ),
        ]
        indexes = [models.Index(fields=["store", "sku"], name="variant_store_sku")]
        permissions = [("change_planning_settings", _("Can change SKU planning settings (import)"))]

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
