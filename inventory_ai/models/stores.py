"""Connected stores."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import FillRateScope, Platform, ReceivingMethod, ServiceMeasure
from inventory_ai.conf import get_option
from inventory_ai.fields import EncryptedJSONField
from inventory_ai.gateways import UnknownPlatform, gateway_class, platform_base_url


def normalize_store_domain(platform: str, value: str) -> str:
    """The canonical name of a store, as its platform's gateway writes it: a Shopify shop domain, or a WooCommerce
    site URL without a trailing slash (raises ValueError when `value` cannot be one).

    Shopify: `Example.myshopify.com`, `https://example.myshopify.com/` -> `example.myshopify.com`.
    WooCommerce: `https://Shop.Example/` -> `https://shop.example` (scheme kept: the site URL is how WooCommerce
    names itself in `X-WC-Webhook-Source`; a path is kept for sites installed below the root).
    """
    return gateway_class(platform).normalize_address(value)


def _default_lead_time() -> int:
    return get_option("DEFAULT_LEAD_TIME_DAYS")


def _default_review_period() -> int:
    return get_option("DEFAULT_REVIEW_PERIOD_DAYS")


def _default_service_level() -> float:
    return get_option("DEFAULT_SERVICE_LEVEL")


def validate_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except Exception as exc:  # ZoneInfo raises several types for bad keys; all mean the same to the user
        raise ValidationError(_("Unknown time zone %(value)r"), code="invalid", params={"value": value}) from exc


class Store(models.Model):
    """A connected Shopify shop or WooCommerce site.

    `domain` names the store everywhere (commands, webhooks, the API): the shop domain for Shopify, the site URL for
    WooCommerce. API credentials and webhook secrets are encrypted at rest; `webhook_secrets` is a list so that a
    secret can be rotated while the platform still signs with the old one. The replenishment defaults apply to every
    variant that does not set its own.
    """

    platform = models.CharField(verbose_name=_("platform"), max_length=20, choices=Platform.choices)
    domain = models.CharField(
        verbose_name=_("domain"),
        max_length=255,
        unique=True,
        help_text=_("Shop domain (Shopify) or site URL (WooCommerce)"),
    )
    name = models.CharField(verbose_name=_("name"), max_length=255, blank=True)
    api_base_url = models.URLField(
        verbose_name=_("api base url"),
        blank=True,
        help_text=_("Override of the store's API address (a local store simulator in tests and the demo)"),
    )
    api_version = models.CharField(verbose_name=_("api version"), max_length=20, blank=True)
    timezone = models.CharField(
        verbose_name=_("timezone"), max_length=64, default="UTC", validators=[validate_timezone]
    )
    currency = models.CharField(verbose_name=_("currency"), max_length=3, default="USD")
    country_code = models.CharField(
        verbose_name=_("country code"),
        max_length=2,
        blank=True,
        help_text=_("ISO 3166-1 alpha-2, for holiday calendars"),
    )
    subdivision_code = models.CharField(
        verbose_name=_("subdivision code"),
        max_length=10,
        blank=True,
        help_text=_("ISO 3166-2 subdivision (state, region) for regional holidays, e.g. BY"),
    )
    latitude = models.FloatField(
        verbose_name=_("latitude"),
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text=_("Default coordinates of the store's weather, for locations without their own"),
    )
    longitude = models.FloatField(
        verbose_name=_("longitude"), null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    credentials = EncryptedJSONField(
        verbose_name=_("credentials"), default=dict, blank=True, help_text=_("API credentials, encrypted at rest")
    )
    webhook_secrets = EncryptedJSONField(
        verbose_name=_("webhook secrets"),
        default=list,
        blank=True,
        help_text=_("Webhook signing secrets, newest first"),
    )
    active = models.BooleanField(verbose_name=_("active"), default=True)
    connection_error = models.CharField(
        verbose_name=_("connection error"),
        max_length=500,
        blank=True,
        help_text=_("Why the store refuses our credentials (revoked, expired), until it is connected again"),
    )
    webhook_subscriptions = models.JSONField(
        verbose_name=_("webhook subscriptions"),
        default=dict,
        blank=True,
        help_text=_("The last check of the webhook subscriptions the product keeps on the store: each topic's state"),
    )

    default_lead_time_days = models.PositiveIntegerField(
        verbose_name=_("default lead time days"), default=_default_lead_time
    )
    default_review_period_days = models.PositiveIntegerField(
        verbose_name=_("default review period days"), default=_default_review_period
    )
    default_service_level = models.FloatField(
        verbose_name=_("default service level"),
        default=_default_service_level,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.9999)],
    )
    default_moq = models.PositiveIntegerField(
        verbose_name=_("default moq"), default=1, help_text=_("Minimum order quantity")
    )
    default_case_pack = models.PositiveIntegerField(verbose_name=_("default case pack"), default=1)
    service_measure = models.CharField(
        verbose_name=_("service measure"),
        max_length=16,
        choices=ServiceMeasure.choices,
        default=ServiceMeasure.FILL_RATE,
        help_text=_(
            "How the service level is read: the share of demand served from stock, or cycles without stock-out"
        ),
    )
    fill_rate_scope = models.CharField(
        verbose_name=_("fill rate scope"),
        max_length=8,
        choices=FillRateScope.choices,
        default=FillRateScope.ITEM,
        help_text=_(
            "With a fill rate: every item at the service level, or the store's items together (more stock on "
            "items that serve many units cheaply, less on slow, dear ones; the same share of demand served for less)"
        ),
    )
    receiving = models.CharField(
        verbose_name=_("receiving"),
        max_length=10,
        choices=ReceivingMethod.choices,
        default=ReceivingMethod.AUTO,
        help_text=_(
            "How a purchase order's deliveries reach the store's stock (transfers: Shopify only): sent, the "
            "order becomes an inbound transfer in transit, counted as incoming, and each receipt is accepted on it"
        ),
    )
    uses_transfers = models.BooleanField(
        verbose_name=_("uses transfers"),
        default=False,
        help_text=_("The store keeps inventory transfers (read when an order is sent)"),
    )
    ordering_cost = models.DecimalField(
        verbose_name=_("ordering cost"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Cost of placing one order (enables EOQ)"),
    )
    holding_cost_rate = models.FloatField(
        verbose_name=_("holding cost rate"),
        null=True,
        blank=True,
        help_text=_("Yearly cost of holding stock, as a share of its unit cost (e.g. 0.25)"),
    )
    overstock_days = models.PositiveIntegerField(
        verbose_name=_("overstock days"), default=180, help_text=_("Stock covering more days is overstock")
    )
    dead_stock_days = models.PositiveIntegerField(
        verbose_name=_("dead stock days"), default=90, help_text=_("Stock unsold for this many days is dead")
    )

    stock_health_at = models.DateTimeField(
        verbose_name=_("stock health computed at"),
        null=True,
        blank=True,
        help_text=_("When the overstock and dead-stock report was last computed"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.name or self.domain

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_today(self) -> date:
        """Today in the store's time zone (its events and days of demand are local days)."""
        return timezone.now().astimezone(self.tzinfo).date()

    def clean(self) -> None:
        try:
            gateway = gateway_class(self.platform)
        except UnknownPlatform:
            return  # the platform field's own validation says what is wrong
        try:
            self.domain = gateway.normalize_address(self.domain)
        except ValueError as exc:
            raise ValidationError({"domain": str(exc)}) from exc

    @property
    def effective_api_base_url(self) -> str:
        """Where this store's API lives: the store's override, else the platform's address derived from the domain
        (or the option standing in for the platform: `gateways.platform_base_url`)."""
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        return platform_base_url(self.platform, self.domain)
