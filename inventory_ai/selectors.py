"""Reads used by views, the admin and the API."""

from __future__ import annotations

from django.db.models import Count, F, Sum, Value
from django.db.models.functions import Greatest, Least

from inventory_ai.choices import OrderStatus
from inventory_ai.models import Order, OrderLine, Store, Variant, WebhookEvent

# Units a line contributes to demand: the same rule as inventory_ai.services.demand.line_net_units, in SQL.
NET_LINE_UNITS = Greatest(Value(0), Least(F("current_quantity"), F("quantity") - F("refunded_quantity")))


def stats() -> dict:
    """Operator counts: webhook events by status, stores, variants, orders, lines, and net units sold."""
    by_status = dict(WebhookEvent.objects.values_list("status").annotate(count=Count("pk")).order_by())
    net_units = OrderLine.objects.filter(order__status=OrderStatus.OPEN).aggregate(units=Sum(NET_LINE_UNITS))["units"]
    return {
        "webhook_events": {s: by_status.get(s, 0) for s in ("received", "processed", "ignored", "failed")},
        "stores": Store.objects.count(),
        "active_stores": Store.objects.filter(active=True).count(),
        "variants": Variant.objects.filter(deleted_at__isnull=True).count(),
        "orders": Order.objects.count(),
        "open_orders": Order.objects.filter(status=OrderStatus.OPEN).count(),
        "order_lines": OrderLine.objects.count(),
        "net_units": int(net_units or 0),
    }
