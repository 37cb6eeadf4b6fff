"""What drives demand besides its own history: price changes, promotions and other events, and the weather."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import DriverSource, EventKind, EventScope, WeatherKind


class PriceChange(models.Model):
    """A variant's list price (and compare-at price) from `effective_from` until the next change.

    Written when a product webhook, a backfill or a reconciliation reads a price different from the last one kept;
    a price of zero or a compare-at price below the price is kept as given and flagged, never dropped.
    """

    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="price_changes"
    )
    effective_from = models.DateTimeField(
        verbose_name=_("effective from"), help_text=_("When the platform says the variant was updated to this price")
    )
    price = models.DecimalField(verbose_name=_("price"), max_digits=12, decimal_places=2)
    compare_at_price = models.DecimalField(
        verbose_name=_("compare at price"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("The 'was' price; above the price: on sale"),
    )
    currency = models.CharField(verbose_name=_("currency"), max_length=3, blank=True)
    source = models.CharField(
        verbose_name=_("source"), max_length=16, choices=DriverSource.choices, default=DriverSource.PLATFORM
    )
    flag = models.CharField(
        verbose_name=_("flag"), max_length=255, blank=True, help_text=_("Why this price looks wrong, when it does")
    )
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("price change")
        verbose_name_plural = _("price changes")
        constraints = [
            models.UniqueConstraint(fields=["variant", "effective_from"], name="price_change_unique_per_time"),
        ]
        ordering = ["variant", "effective_from"]

    def __str__(self) -> str:
        return gettext("%(variant)s %(price)s from %(date)s") % {
            "variant": self.variant,
            "price": self.price,
            "date": f"{self.effective_from:%Y-%m-%d}",
        }

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price


class DemandEvent(models.Model):
    """A promotion, markdown, launch or other event over a date range that moves the demand of some SKUs.

    Planners record events in the admin or the API; Shopify discounts and WooCommerce sale prices become events by
    themselves (`source`, `external_id`). Past events explain the history, future ones are known drivers of the
    forecast. The scope names which SKUs: the whole store, some products, some variants, a product type or a vendor.
    """

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="demand_events"
    )
    name = models.CharField(verbose_name=_("name"), max_length=255)
    kind = models.CharField(
        verbose_name=_("kind"), max_length=16, choices=EventKind.choices, default=EventKind.PROMOTION
    )
    starts_on = models.DateField(verbose_name=_("starts on"))
    ends_on = models.DateField(verbose_name=_("ends on"), help_text=_("The last day of the event (inclusive)"))
    scope = models.CharField(
        verbose_name=_("scope"), max_length=16, choices=EventScope.choices, default=EventScope.STORE
    )
    products = models.ManyToManyField(
        "inventory_ai.Product", verbose_name=_("products"), blank=True, related_name="demand_events"
    )
    variants = models.ManyToManyField(
        "inventory_ai.Variant", verbose_name=_("variants"), blank=True, related_name="demand_events"
    )
    product_type = models.CharField(verbose_name=_("product type"), max_length=255, blank=True)
    vendor = models.CharField(verbose_name=_("vendor"), max_length=255, blank=True)
    discount_percent = models.DecimalField(
        verbose_name=_("discount percent"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("The price cut, in percent, when the event is one"),
    )
    expected_uplift_percent = models.DecimalField(
        verbose_name=_("expected uplift percent"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("What the planner expects, for reference"),
    )
    source = models.CharField(
        verbose_name=_("source"), max_length=16, choices=DriverSource.choices, default=DriverSource.MANUAL
    )
    external_id = models.CharField(
        verbose_name=_("external id"), max_length=255, blank=True, help_text=_("The platform's discount or product id")
    )
    created_by = models.CharField(verbose_name=_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("demand event")
        verbose_name_plural = _("demand events")
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

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="removed_events"
    )
    name = models.CharField(verbose_name=_("name"), max_length=255)
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=EventKind.choices)
    source = models.CharField(verbose_name=_("source"), max_length=16, choices=DriverSource.choices)
    external_id = models.CharField(verbose_name=_("external id"), max_length=255, blank=True)
    starts_on = models.DateField(verbose_name=_("starts on"))
    ends_on = models.DateField(verbose_name=_("ends on"))
    variant_ids = models.JSONField(
        verbose_name=_("variant ids"), default=list, help_text=_("The SKUs the event moved when it was removed")
    )
    removed_by = models.CharField(verbose_name=_("removed by"), max_length=150, blank=True)
    removed_at = models.DateTimeField(verbose_name=_("removed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("removed event")
        verbose_name_plural = _("removed events")
        indexes = [models.Index(fields=["store", "removed_at"], name="removed_event_store_time")]
        ordering = ["-removed_at"]

    def __str__(self) -> str:
        return gettext("%(name)s (%(starts)s – %(ends)s), removed %(removed)s") % {
            "name": self.name,
            "starts": f"{self.starts_on:%Y-%m-%d}",
            "ends": f"{self.ends_on:%Y-%m-%d}",
            "removed": f"{self.removed_at:%Y-%m-%d}",
        }


class WeatherDay(models.Model):
    """One day's weather at a location: observed (the archive), forecast (the next 16 days, replaced as they pass)
    or climatology (the same week in past years, beyond the forecast)."""

    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="weather"
    )
    day = models.DateField(verbose_name=_("day"))
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=WeatherKind.choices)
    temperature_min = models.FloatField(verbose_name=_("temperature min"), null=True, blank=True)
    temperature_max = models.FloatField(verbose_name=_("temperature max"), null=True, blank=True)
    temperature_mean = models.FloatField(verbose_name=_("temperature mean"), null=True, blank=True)
    precipitation_mm = models.FloatField(verbose_name=_("precipitation mm"), null=True, blank=True)
    snowfall_cm = models.FloatField(verbose_name=_("snowfall cm"), null=True, blank=True)
    fetched_at = models.DateTimeField(verbose_name=_("fetched at"))

    class Meta:
        verbose_name = _("weather day")
        verbose_name_plural = _("weather days")
        constraints = [models.UniqueConstraint(fields=["location", "day"], name="weather_day_unique")]
        ordering = ["location", "day"]

    def __str__(self) -> str:
        return f"{self.location} {self.day}: {self.temperature_mean} °C"


class WeatherFetch(models.Model):
    """One call to the weather service for a location, with its outcome: the admin's view of whether the weather is
    up to date, and the retry's memory. A failed fetch writes no weather at all."""

    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="weather_fetches"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=WeatherKind.choices)
    first_day = models.DateField(verbose_name=_("first day"))
    last_day = models.DateField(verbose_name=_("last day"))
    ok = models.BooleanField(verbose_name=_("ok"), default=False)
    days = models.PositiveIntegerField(verbose_name=_("days"), default=0)
    error = models.TextField(verbose_name=_("error"), blank=True)
    started_at = models.DateTimeField(verbose_name=_("started at"), auto_now_add=True)
    seconds = models.FloatField(verbose_name=_("seconds"), null=True, blank=True)

    class Meta:
        verbose_name = _("weather fetch")
        verbose_name_plural = _("weather fetches")
        indexes = [models.Index(fields=["location", "-started_at"], name="weather_fetch_recent")]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        outcome = gettext("ok") if self.ok else gettext("failed")
        return f"{self.location} {self.kind} {self.first_day}..{self.last_day}: {outcome}"


class ForecastOverride(models.Model):
    """A planner's correction of the forecast of some SKUs (or of a product type) over a date range: an absolute
    figure per forecast period, or a change in percent, with the reason. The policy plans from the overridden
    forecast; the model's own forecast stays beside it on the chart, and once the range has passed the override is
    scored against what sold like a model is."""

    class Method(models.TextChoices):
        UNITS = "units", _("Units per period")
        PERCENT = "percent", _("Change in percent")

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="forecast_overrides"
    )
    scope = models.CharField(
        verbose_name=_("scope"),
        max_length=16,
        choices=[(EventScope.VARIANTS, _("Some SKUs")), (EventScope.PRODUCT_TYPE, _("A product type"))],
        default=EventScope.VARIANTS,
    )
    variants = models.ManyToManyField(
        "inventory_ai.Variant", verbose_name=_("variants"), blank=True, related_name="forecast_overrides"
    )
    product_type = models.CharField(verbose_name=_("product type"), max_length=255, blank=True)
    starts_on = models.DateField(verbose_name=_("starts on"))
    ends_on = models.DateField(verbose_name=_("ends on"), help_text=_("The last day it applies to (inclusive)"))
    method = models.CharField(verbose_name=_("method"), max_length=8, choices=Method.choices, default=Method.PERCENT)
    value = models.DecimalField(
        verbose_name=_("value"),
        max_digits=12,
        decimal_places=2,
        # xgettext:no-python-format
        help_text=_("Units per period, or the change in percent (-30 = 30% less)"),
    )
    reason = models.CharField(verbose_name=_("reason"), max_length=500)
    active = models.BooleanField(verbose_name=_("active"), default=True)
    created_by = models.CharField(verbose_name=_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("forecast override")
        verbose_name_plural = _("forecast overrides")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="override_ends_after_start"
            ),
        ]
        ordering = ["-starts_on", "pk"]

    def __str__(self) -> str:
        if self.method == self.Method.UNITS:
            what = gettext("%(value)s units") % {"value": self.value}
        else:
            what = f"{self.value:+}%"
        return gettext("%(what)s from %(starts)s to %(ends)s: %(reason)s") % {
            "what": what,
            "starts": f"{self.starts_on:%Y-%m-%d}",
            "ends": f"{self.ends_on:%Y-%m-%d}",
            "reason": self.reason[:60],
        }
