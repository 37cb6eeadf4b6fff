"""Orders, their lines, and refunds: the source of demand."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from inventory_ai.choices import OrderSource, OrderStatus


class Order(models.Model):
    """An order as the store reports it, kept at its newest known state.

    `platform_updated_at` orders the updates: a payload older than it never overwrites this row (platforms retry
    with the original payload and deliver out of order). Only OPEN orders count as demand.
    """

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="orders"
    )
    platform_id = models.CharField(verbose_name=_("platform id"), max_length=64)
    number = models.CharField(verbose_name=_("number"), max_length=64, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), help_text=_("When the order was placed (UTC)"))
    cancelled_at = models.DateTimeField(verbose_name=_("cancelled at"), null=True, blank=True)
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.OPEN
    )
    platform_status = models.CharField(
        verbose_name=_("platform status"), max_length=32, blank=True, help_text=_("The platform's own status value")
    )
    currency = models.CharField(verbose_name=_("currency"), max_length=3, blank=True)
    location = models.ForeignKey(
        "inventory_ai.Location", verbose_name=_("location"), on_delete=models.PROTECT, related_name="orders"
    )
    source = models.CharField(verbose_name=_("source"), max_length=16, choices=OrderSource.choices)
    platform_updated_at = models.DateTimeField(verbose_name=_("platform updated at"))
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
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

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    platform_id = models.CharField(verbose_name=_("platform id"), max_length=64)
    variant = models.ForeignKey(
        "inventory_ai.Variant", verbose_name=_("variant"), on_delete=models.PROTECT, related_name="order_lines"
    )
    quantity = models.IntegerField(verbose_name=_("quantity"))
    current_quantity = models.IntegerField(verbose_name=_("current quantity"))
    refunded_quantity = models.IntegerField(verbose_name=_("refunded quantity"), default=0)
    unit_price = models.DecimalField(verbose_name=_("unit price"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [models.UniqueConstraint(fields=["order", "platform_id"], name="order_line_unique_per_order")]

    def __str__(self) -> str:
        return f"{self.order} / {self.platform_id}"


class Refund(models.Model):
    """A refund (or return) of some lines of one order; applied exactly once thanks to its unique platform id."""

    store = models.ForeignKey(
        "inventory_ai.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="refunds"
    )
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="refunds")
    platform_id = models.CharField(verbose_name=_("platform id"), max_length=64)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [models.UniqueConstraint(fields=["store", "platform_id"], name="refund_unique_per_store")]

    def __str__(self) -> str:
        return self.platform_id


class RefundLine(models.Model):
    """Units of one order line given back in a refund. `restock_type` is the platform's (cancel, return, no_restock)."""

    refund = models.ForeignKey(Refund, verbose_name=_("refund"), on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, verbose_name=_("order line"), on_delete=models.CASCADE, related_name="refund_lines"
    )
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"))
    restock_type = models.CharField(verbose_name=_("restock type"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")
        constraints = [
            models.UniqueConstraint(fields=["refund", "order_line"], name="refund_line_unique_per_refund"),
        ]

    def __str__(self) -> str:
        return f"{self.refund} / {self.order_line}: {self.quantity}"
