"""Purchasing: suppliers, what each supplies, purchase orders with their lines, and the receipts against them.

An approved restock suggestion becomes a line of a draft purchase order of its supplier and location. A sent order is
on its way until it is received; what its lines still await (ordered minus received) is what the policy counts as on
order. Each receipt adds stock through the same exactly-once push as any approved adjustment.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import PurchaseOrderStatus


class Supplier(models.Model):
    """Who a store buys from, with the terms a planner orders by (empty: the store's defaults)."""

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="suppliers"
    )
    name = models.CharField(verbose_name=_("name"), max_length=255)
    email = models.EmailField(verbose_name=_("email"), blank=True, help_text=_("Where purchase orders are sent"))
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        blank=True,
        help_text=_("The currency it invoices in (empty: the store's)"),
    )
    lead_time_days = models.PositiveIntegerField(
        verbose_name=_("lead time days"), null=True, blank=True, help_text=_("Mean days from order to arrival")
    )
    lead_time_std_days = models.FloatField(
        verbose_name=_("lead time std days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        help_text=_("How much the lead time varies (days)"),
    )
    review_period_days = models.PositiveIntegerField(
        verbose_name=_("review period days"), null=True, blank=True, help_text=_("Days between orders")
    )
    order_weekday = models.PositiveSmallIntegerField(
        verbose_name=_("order weekday"),
        null=True,
        blank=True,
        choices=list(WEEKDAYS.items()),
        help_text=_("The day of the week orders are placed, if the supplier takes them on one"),
    )
    min_order_value = models.DecimalField(
        verbose_name=_("min order value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    min_order_quantity = models.PositiveIntegerField(verbose_name=_("min order quantity"), null=True, blank=True)
    case_pack = models.PositiveIntegerField(
        verbose_name=_("case pack"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    payment_terms = models.CharField(verbose_name=_("payment terms"), max_length=100, blank=True)
    notes = models.TextField(verbose_name=_("notes"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        ordering = ["store", "name"]
        constraints = [models.UniqueConstraint(fields=["store", "name"], name="supplier_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_currency(self) -> str:
        return self.currency or self.store.currency


class SupplierItem(models.Model):
    """A variant one supplier supplies, with its terms; a variant may have several suppliers, one preferred."""

    supplier = models.ForeignKey(Supplier, verbose_name=_("supplier"), on_delete=models.CASCADE, related_name="items")
    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.CASCADE, related_name="supplier_items"
    )
    supplier_sku = models.CharField(verbose_name=_("supplier sku"), max_length=255, blank=True)
    unit_cost = models.DecimalField(verbose_name=_("unit cost"), max_digits=12, decimal_places=4, null=True, blank=True)
    pack_size = models.PositiveIntegerField(
        verbose_name=_("pack size"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    moq = models.PositiveIntegerField(
        verbose_name=_("moq"), null=True, blank=True, help_text=_("Minimum order quantity")
    )
    preferred = models.BooleanField(verbose_name=_("preferred"), default=False)

    class Meta:
        verbose_name = _("supplier item")
        verbose_name_plural = _("supplier items")
        ordering = ["variant", "-preferred", "supplier"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "variant"], name="supplier_item_unique"),
            models.UniqueConstraint(
                fields=["variant"], condition=models.Q(preferred=True), name="one_preferred_supplier_per_variant"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(variant)s from %(supplier)s") % {"variant": self.variant, "supplier": self.supplier}


class PurchaseOrder(models.Model):
    """An order to one supplier for one location: draft, sent, partially received, received, or cancelled."""

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="purchase_orders"
    )
    supplier = models.ForeignKey(
        Supplier, verbose_name=_("supplier"), on_delete=models.PROTECT, related_name="purchase_orders"
    )
    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.PROTECT, related_name="purchase_orders"
    )
    number = models.CharField(
        verbose_name=_("number"), max_length=64, help_text=_("The order's number, unique in its store")
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=20, choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.DRAFT
    )
    currency = models.CharField(verbose_name=_("currency"), max_length=3)
    expected_on = models.DateField(
        verbose_name=_("expected on"), null=True, blank=True, help_text=_("When the goods should arrive")
    )
    notes = models.TextField(verbose_name=_("notes"), blank=True)
    send_error = models.TextField(
        verbose_name=_("send error"), blank=True, help_text=_("Why the last sending failed (the order stays a draft)")
    )
    transfer_id = models.CharField(
        verbose_name=_("transfer id"),
        max_length=64,
        blank=True,
        help_text=_("The store's inbound transfer its deliveries are received on"),
    )
    transfer_error = models.TextField(
        verbose_name=_("transfer error"), blank=True, help_text=_("Why no inbound transfer could be made in the store")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sent_at = models.DateTimeField(verbose_name=_("sent at"), null=True, blank=True)
    received_at = models.DateTimeField(verbose_name=_("received at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(verbose_name=_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["store", "number"], name="purchase_order_number_unique")]
        indexes = [models.Index(fields=["store", "status"], name="purchase_order_store_status")]
        permissions = [
            ("send_purchaseorder", _("Can send purchase orders to suppliers")),
            ("receive_purchaseorder", _("Can receive purchase orders")),
        ]

    def __str__(self) -> str:
        return gettext("PO %(number)s (%(supplier)s)") % {"number": self.number, "supplier": self.supplier}


class PurchaseOrderLine(models.Model):
    """A variant ordered on a purchase order: how many, at what cost, and how many have arrived."""

    purchase_order = models.ForeignKey(
        PurchaseOrder, verbose_name=_("purchase order"), on_delete=models.CASCADE, related_name="lines"
    )
    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.PROTECT, related_name="purchase_order_lines"
    )
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"), help_text=_("Units ordered"))
    received = models.PositiveIntegerField(verbose_name=_("received"), default=0, help_text=_("Units received so far"))
    shipment_id = models.CharField(
        verbose_name=_("shipment id"), max_length=64, blank=True, help_text=_("The store's shipment it arrives on")
    )
    shipment_line_id = models.CharField(
        verbose_name=_("shipment line id"), max_length=64, blank=True, help_text=_("Its line on that shipment")
    )
    unit_cost = models.DecimalField(verbose_name=_("unit cost"), max_digits=12, decimal_places=4, null=True, blank=True)
    suggestions = models.ManyToManyField(
        "inventory_ai.ReorderSuggestion", verbose_name=_("suggestions"), blank=True,
        related_name="purchase_order_lines", help_text=_("The approved suggestions this line orders"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        ordering = ["purchase_order", "pk"]
        constraints = [models.UniqueConstraint(fields=["purchase_order", "variant"], name="purchase_order_line_unique")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.variant}"

    @property
    def outstanding(self) -> int:
        """Units still awaited (an over-receipt awaits none)."""
        return max(self.quantity - self.received, 0)

    @property
    def value(self):
        return self.unit_cost * self.quantity if self.unit_cost is not None else None


class Receipt(models.Model):
    """Units of one line received, and the stock adjustment that adds them to the store."""

    line = models.ForeignKey(
        PurchaseOrderLine, verbose_name=_("line"), on_delete=models.CASCADE, related_name="receipts"
    )
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"), validators=[MinValueValidator(1)])
    adjustment = models.OneToOneField(
        "inventory_ai.StockAdjustment",
        verbose_name=_("adjustment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="receipt",
    )
    received_at = models.DateTimeField(verbose_name=_("received at"), auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("received by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["line", "received_at"]

    def __str__(self) -> str:
        return gettext("%(quantity)s x %(variant)s received") % {
            "quantity": self.quantity,
            "variant": self.line.variant,
        }
