"""Purchasing: suppliers, what each supplies, purchase orders with their lines, and the receipts against them.

An approved restock suggestion becomes a line of a draft purchase order of its supplier and location. A sent order is
on its way until it is received; what its lines still await (ordered minus received) is what the policy counts as on
order. Each receipt adds stock through the same exactly-once push as any approved adjustment.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from inventory_ai.choices import PurchaseOrderStatus


class Supplier(models.Model):
    """Who a store buys from, with the terms a planner orders by (empty: the store's defaults)."""

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="suppliers")
    name = models.CharField(max_length=255)
    email = models.EmailField(blank=True, help_text="Where purchase orders are sent")
    currency = models.CharField(max_length=3, blank=True, help_text="The currency it invoices in (empty: the store's)")
    lead_time_days = models.PositiveIntegerField(null=True, blank=True, help_text="Mean days from order to arrival")
    lead_time_std_days = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0)], help_text="How much the lead time varies (days)"
    )
    review_period_days = models.PositiveIntegerField(null=True, blank=True, help_text="Days between orders")
    order_weekday = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[
            (n, day)
            for n, day in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))
        ],  # fmt: skip
        help_text="The day of the week orders are placed, if the supplier takes them on one",
    )
    min_order_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    min_order_quantity = models.PositiveIntegerField(null=True, blank=True)
    case_pack = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    payment_terms = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["store", "name"]
        constraints = [models.UniqueConstraint(fields=["store", "name"], name="supplier_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_currency(self) -> str:
        return self.currency or self.store.currency


class SupplierItem(models.Model):
    """A variant one supplier supplies, with its terms; a variant may have several suppliers, one preferred."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="items")
    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.CASCADE, related_name="supplier_items")
    supplier_sku = models.CharField(max_length=255, blank=True)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    pack_size = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    moq = models.PositiveIntegerField(null=True, blank=True, help_text="Minimum order quantity")
    preferred = models.BooleanField(default=False)

    class Meta:
        ordering = ["variant", "-preferred", "supplier"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "variant"], name="supplier_item_unique"),
            models.UniqueConstraint(
                fields=["variant"], condition=models.Q(preferred=True), name="one_preferred_supplier_per_variant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant} from {self.supplier}"


class PurchaseOrder(models.Model):
    """An order to one supplier for one location: draft, sent, partially received, received, or cancelled."""

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="purchase_orders")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    location = models.ForeignKey("inventory_ai.Location", on_delete=models.PROTECT, related_name="purchase_orders")
    number = models.CharField(max_length=64, help_text="The order's number, unique in its store")
    status = models.CharField(max_length=20, choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.DRAFT)
    currency = models.CharField(max_length=3)
    expected_on = models.DateField(null=True, blank=True, help_text="When the goods should arrive")
    notes = models.TextField(blank=True)
    send_error = models.TextField(blank=True, help_text="Why the last sending failed (the order stays a draft)")
    transfer_id = models.CharField(
        max_length=64, blank=True, help_text="The store's inbound transfer its deliveries are received on"
    )
    transfer_error = models.TextField(blank=True, help_text="Why no inbound transfer could be made in the store")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["store", "number"], name="purchase_order_number_unique")]
        indexes = [models.Index(fields=["store", "status"], name="purchase_order_store_status")]
        permissions = [
            ("send_purchaseorder", "Can send purchase orders to suppliers"),
            ("receive_purchaseorder", "Can receive purchase orders"),
        ]

    def __str__(self) -> str:
        return f"PO {self.number} ({self.supplier})"


class PurchaseOrderLine(models.Model):
    """A variant ordered on a purchase order: how many, at what cost, and how many have arrived."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.PROTECT, related_name="purchase_order_lines")
    quantity = models.PositiveIntegerField(help_text="Units ordered")
    received = models.PositiveIntegerField(default=0, help_text="Units received so far")
    shipment_id = models.CharField(max_length=64, blank=True, help_text="The store's shipment it arrives on")
    shipment_line_id = models.CharField(max_length=64, blank=True, help_text="Its line on that shipment")
    unit_cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    suggestions = models.ManyToManyField(
        "inventory_ai.ReorderSuggestion", blank=True, related_name="purchase_order_lines",
        help_text="The approved suggestions this line orders",
    )  # fmt: skip

    class Meta:
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

    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, related_name="receipts")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    adjustment = models.OneToOneField(
        "inventory_ai.StockAdjustment", null=True, blank=True, on_delete=models.SET_NULL, related_name="receipt"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["line", "received_at"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.line.variant} received"
