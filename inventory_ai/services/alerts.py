"""What needs a planner's attention in a store, as the dashboard shows it and as a daily e-mail digest.

The digest (opt-in per planner and store, `AlertSubscription`) lists the SKUs that run out before an order placed
today could arrive, the purchase orders past their expected arrival, the stock pushes in conflict or failed, and the
webhooks that failed in the last 24 hours; it is sent once per store-local day, and not at all when nothing needs
attention. A digest that cannot be sent keeps its error on the subscription and is tried again at the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.mail import EmailMessage
from django.utils import timezone

from inventory_ai.choices import AdjustmentStatus, SuggestionStatus, WebhookStatus
from inventory_ai.models import AlertSubscription, ReorderSuggestion, StockAdjustment, Store, WebhookEvent
from inventory_ai.selectors import LATE, risk_filter
from inventory_ai.services import purchasing

logger = logging.getLogger(__name__)

SHOWN = 20


@dataclass
class Attention:
    store: Store
    at_risk: list[ReorderSuggestion] = field(default_factory=list)
    late_orders: list = field(default_factory=list)
    pushes: list[StockAdjustment] = field(default_factory=list)
    failed_webhooks: int = 0

    @property
    def empty(self) -> bool:
        return not (self.at_risk or self.late_orders or self.pushes or self.failed_webhooks)


def attention(store: Store) -> Attention:
    today = store.local_today()
    at_risk = ReorderSuggestion.objects.filter(risk_filter(LATE, today), store=store, status=SuggestionStatus.PENDING)
    pushes = StockAdjustment.objects.filter(
        store=store, status__in=[AdjustmentStatus.CONFLICT, AdjustmentStatus.FAILED]
    ).select_related("variant__product")
    return Attention(
        store=store,
        at_risk=list(at_risk.select_related("variant__product").order_by("stockout_date", "pk")),
        late_orders=purchasing.late(store),
        pushes=list(pushes.order_by("-created_at")),
        failed_webhooks=WebhookEvent.objects.filter(
            store=store, status=WebhookStatus.FAILED, received_at__gte=timezone.now() - timedelta(hours=24)
        ).count(),
    )


def digest_text(found: Attention) -> str:
    store = found.store
    lines = [f"What needs attention in {store.name or store.domain} today ({store.local_today():%A %d %B}):", ""]
    if found.at_risk:
        lines.append(f"{len(found.at_risk)} SKU(s) run out before an order placed today can arrive:")
        for suggestion in found.at_risk[:SHOWN]:
            runs_out = f"runs out {suggestion.stockout_date:%d %b}" if suggestion.stockout_date else "out of stock"
            lines.append(f"  - {suggestion.variant.sku} {suggestion.variant.display_title}: {runs_out}, "
                         f"{suggestion.available} available, order {suggestion.quantity}")  # fmt: skip
        lines.append("")
    if found.late_orders:
        lines.append(f"{len(found.late_orders)} purchase order(s) past their expected arrival:")
        for order in found.late_orders[:SHOWN]:
            lines.append(f"  - {order.number} from {order.supplier.name}, expected {order.expected_on:%d %b}")
        lines.append("")
    if found.pushes:
        lines.append(f"{len(found.pushes)} stock change(s) not written to the store (conflict or failed):")
        for adjustment in found.pushes[:SHOWN]:
            lines.append(f"  - {adjustment.variant.sku}: {adjustment.get_status_display().lower()}"
                         + (f" ({adjustment.error[:120]})" if adjustment.error else ""))  # fmt: skip
        lines.append("")
    if found.failed_webhooks:
        lines += [f"{found.failed_webhooks} webhook(s) from the store failed in the last 24 hours.", ""]
    lines.append("Open the dashboard to act on them.")
    return "\n".join(lines)


def send_digests(now=None) -> dict[str, int]:
    """Send today's digest to every active subscriber with an e-mail address who has not had it yet."""
    counts = {"sent": 0, "nothing_to_say": 0, "failed": 0, "no_address": 0}
    subscriptions = AlertSubscription.objects.filter(active=True, store__active=True).select_related("user", "store")
    found_by_store: dict[int, Attention] = {}
    for subscription in subscriptions:
        store = subscription.store
        today = store.local_today()
        if subscription.last_sent_on == today:
            continue
        if not subscription.user.email:
            counts["no_address"] += 1
            continue
        if store.pk not in found_by_store:
            found_by_store[store.pk] = attention(store)
        found = found_by_store[store.pk]
        if found.empty:
            counts["nothing_to_say"] += 1
            continue
        message = EmailMessage(
            subject=f"Inventory AI: what needs attention in {store.name or store.domain}",
            body=digest_text(found),
            to=[subscription.user.email],
        )
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # any backend's failure: kept on the subscription, tried again next run
            logger.warning("alert digest to %s for %s not sent: %s", subscription.user.email, store, exc)
            AlertSubscription.objects.filter(pk=subscription.pk).update(
                last_error=f"{exc.__class__.__name__}: {exc}"[:1000]
            )
            counts["failed"] += 1
            continue
        AlertSubscription.objects.filter(pk=subscription.pk).update(last_sent_on=today, last_error="")
        counts["sent"] += 1
    return counts
