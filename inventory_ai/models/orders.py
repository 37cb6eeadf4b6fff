"""Orders, their lines, and refunds: the source of demand."""

from __future__ import annotations

from django.db import models

from inventory_ai.choices import OrderSource, OrderStatus


class Order(models.Model):
    """An order as the store reports it, kept at its newest known state.

    `platform_updated_at` orders the updates: a payload older than it never overwrites this row (platforms retry
    with the original payload and deliver out of order). Only OPEN orders count as demand.
    """

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="orders")
    platform_id = models.CharField(max_length=64)
    number = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(help_text="When the order was placed (UTC)")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    platform_status = models.CharField(max_length=32, blank=True, help_text="The platform's own status value")
    currency = models.CharField(max_length=3, blank=True)
    location = models.ForeignKey("inventory_ai.Location", on_delete=models.PROTECT, related_name="orders")
    source = models.CharField(max_length=16, choices=OrderSource.choices)
    platform_updated_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "platform_id"], name="order_unique_per_store")]
        indexes = [models.Index(fields=["store", "created_at"], name="order_store_created")]

    def __str__(self) -> str:
        return self.number or self.platform_id

    @property
    def counts_as_demand(self) -> bool:
        return self.status == OrderStatus.OPEN


class OrderLine(models.Model):
    """One line of an order.

    `quantity` is what was ordered; `current_quantity` is what remains after order edits and removals as the
    platform reports it; `refunded_quantity` adds up our refund lines. The units a line contributes to demand are
    `net_quantity` (see `inventory_ai.services.demand.line_net_units`).
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    platform_id = models.CharField(max_length=64)
    variant = models.ForeignKey("inventory_ai.Variant", on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.IntegerField()
    current_quantity = models.IntegerField()
    refunded_quantity = models.IntegerField(default=0)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "platform_id"], name="order_line_unique_per_order")]

    def __str__(self) -> str:
        return f"{self.order} / {self.platform_id}"


class Refund(models.Model):
    """A refund (or return) of some lines of one order; applied exactly once thanks to its unique platform id."""

    store = models.ForeignKey("inventory_ai.Store", on_delete=models.CASCADE, related_name="refunds")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    platform_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "platform_id"], name="refund_unique_per_store")]

    def __str__(self) -> str:
        return self.platform_id


class RefundLine(models.Model):
    """Units of one order line given back in a refund. `restock_type` is the platform's (cancel, return, no_restock)."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="refund_lines")
    quantity = models.PositiveIntegerField()
    restock_type = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["refund", "order_line"], name="refund_line_unique_per_refund"),
        ]

    def __str__(self) -> str:
        return f"{self.refund} / {self.order_line}: {self.quantity}"
