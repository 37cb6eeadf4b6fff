"""What drives demand besides its own history: price changes, promotions and other events, and the weather."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from inventory_ai.choices import DriverSource, EventKind, EventScope, WeatherKind


class PriceChange(models.Model):
    """A variant's list price (and compare-at price) from `effective_from` until the next change.

    Written when a product webhook, a backfill or a reconciliation reads a price different from the last one kept;
    a price of zero or a compare-at price below the price is kept as given and flagged, never dropped.
    """

    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="price_changes")
    effective_from = models.DateTimeField(help_text="When the platform says the variant was updated to this price")
    price = models.DecimalField(max_digits=12, decimal_places=2)
    compare_at_price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="The 'was' price; above the price: on sale"
    )
    currency = models.CharField(max_length=3, blank=True)
    source = models.CharField(max_length=16, choices=DriverSource.choices, default=DriverSource.PLATFORM)
    flag = models.CharField(max_length=255, blank=True, help_text="Why this price looks wrong, when it does")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "effective_from"], name="price_change_unique_per_time"),
        ]
        ordering = ["variant", "effective_from"]

    def __str__(self) -> str:
        return f"{self.variant} {self.price} from {self.effective_from:%Y-%m-%d}"

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price


class DemandEvent(models.Model):
    """A promotion, markdown, launch or other event over a date range that moves the demand of some SKUs.

    Planners record events in the admin or the API; Shopify discounts and WooCommerce sale prices become events by
    themselves (`source`, `external_id`). Past events explain the history, future ones are known drivers of the
    forecast. The scope names which SKUs: the whole store, some products, some variants, a product type or a vendor.
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="demand_events")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=EventKind.choices, default=EventKind.PROMOTION)
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="The last day of the event (inclusive)")
    scope = models.CharField(max_length=16, choices=EventScope.choices, default=EventScope.STORE)
    products = models.ManyToManyField("inventory_ai.Product", blank=True, related_name="demand_events")
    variants = models.ManyToManyField("inventory_ai.Variant", blank=True, related_name="demand_events")
    product_type = models.CharField(max_length=255, blank=True)
    vendor = models.CharField(max_length=255, blank=True)
    discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="The price cut, in percent, when the event is one",
    )
    expected_uplift_percent = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="What the planner expects, for reference"
    )
    source = models.CharField(max_length=16, choices=DriverSource.choices, default=DriverSource.MANUAL)
    external_id = models.CharField(max_length=255, blank=True, help_text="The platform's discount or product id")
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="event_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["store", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="event_unique_per_platform_id",
            ),
        ]
        indexes = [models.Index(fields=["store", "starts_on", "ends_on"], name="event_store_dates")]
        ordering = ["-starts_on", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on:%Y-%m-%d} – {self.ends_on:%Y-%m-%d})"


class RemovedEvent(models.Model):
    """An event deleted by a planner or by the store (a deleted discount): what it was, who removed it and when,
    and the SKUs it moved then, so that the next refresh re-forecasts them without it."""

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="removed_events")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    source = models.CharField(max_length=16, choices=DriverSource.choices)
    external_id = models.CharField(max_length=255, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    variant_ids = models.JSONField(default=list, help_text="The SKUs the event moved when it was removed")
    removed_by = models.CharField(max_length=150, blank=True)
    removed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["store", "removed_at"], name="removed_event_store_time")]
        ordering = ["-removed_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on:%Y-%m-%d} – {self.ends_on:%Y-%m-%d}), removed {self.removed_at:%Y-%m-%d}"


class WeatherDay(models.Model):
    """One day's weather at a location: observed (the archive), forecast (the next 16 days, replaced as they pass)
    or climatology (the same week in past years, beyond the forecast)."""

    location = models.ForeignKey("inventory_ai.Location", on_delete=models.CASCADE, related_name="weather")
    day = models.DateField()
    kind = models.CharField(max_length=16, choices=WeatherKind.choices)
    temperature_min = models.FloatField(null=True, blank=True)
    temperature_max = models.FloatField(null=True, blank=True)
    temperature_mean = models.FloatField(null=True, blank=True)
    precipitation_mm = models.FloatField(null=True, blank=True)
    snowfall_cm = models.FloatField(null=True, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["location", "day"], name="weather_day_unique")]
        ordering = ["location", "day"]

    def __str__(self) -> str:
        return f"{self.location} {self.day}: {self.temperature_mean} °C"


class WeatherFetch(models.Model):
    """One call to the weather service for a location, with its outcome: the admin's view of whether the weather is
    up to date, and the retry's memory. A failed fetch writes no weather at all."""

    location = models.ForeignKey("inventory_ai.Location", on_delete=models.CASCADE, related_name="weather_fetches")
    kind = models.CharField(max_length=16, choices=WeatherKind.choices)
    first_day = models.DateField()
    last_day = models.DateField()
    ok = models.BooleanField(default=False)
    days = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["location", "-started_at"], name="weather_fetch_recent")]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "failed"
        return f"{self.location} {self.kind} {self.first_day}..{self.last_day}: {outcome}"


class ForecastOverride(models.Model):
    """A planner's correction of the forecast of some SKUs (or of a product type) over a date range: an absolute
    figure per forecast period, or a change in percent, with the reason. The policy plans from the overridden
    forecast; the model's own forecast stays beside it on the chart, and once the range has passed the override is
    scored against what sold like a model is."""

    class Method(models.TextChoices):
        UNITS = "units", "Units per period"
        PERCENT = "percent", "Change in percent"

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="forecast_overrides")
    scope = models.CharField(
        max_length=16,
        choices=[(EventScope.VARIANTS, "Some SKUs"), (EventScope.PRODUCT_TYPE, "A product type")],
        default=EventScope.VARIANTS,
    )
    variants = models.ManyToManyField("inventory_ai.Variant", blank=True, related_name="forecast_overrides")
    product_type = models.CharField(max_length=255, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="The last day it applies to (inclusive)")
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.PERCENT)
    value = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Units per period, or the change in percent (-30 = 30% less)"
    )
    reason = models.CharField(max_length=500)
    active = models.BooleanField(default=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="override_ends_after_start"
            ),
        ]
        ordering = ["-starts_on", "pk"]

    def __str__(self) -> str:
        what = f"{self.value} units" if self.method == self.Method.UNITS else f"{self.value:+}%"
        return f"{what} from {self.starts_on:%Y-%m-%d} to {self.ends_on:%Y-%m-%d}: {self.reason[:60]}"
