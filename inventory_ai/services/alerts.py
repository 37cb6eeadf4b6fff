"""What needs a planner's attention in a store, as the dashboard shows it and as a daily e-mail digest.

The digest (opt-in per planner and store, `AlertSubscription`) lists the SKUs that run out before an order placed
today could arrive, the purchase orders past their expected arrival, the stock pushes in conflict or failed, and the
webhooks that failed in the last 24 hours; it is sent once per store-local day, and not at all when nothing needs
attention. A digest that cannot be sent keeps its error on the subscription and is tried again at the next run. Each
planner's digest is written in their own language (`inventory_ai.i18n.language_of`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.mail import EmailMessage
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inventory_ai.choices import AdjustmentStatus, SuggestionStatus, WebhookStatus
from inventory_ai.i18n import language_of
from inventory_ai.models import AlertSubscription, ReorderSuggestion, StockAdjustment, Store, WebhookEvent
from inventory_ai.selectors import LATE, risk_filter
from inventory_ai.services import purchasing
from inventory_ai.text import day_month, weekday_date

logger = logging.getLogger(__name__)

SHOWN = 20
BULLET = "  - "  # an item of a list in the digest


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
    """The digest's text in the active language."""
    store = found.store
    heading = _("What needs attention in %(store)s today (%(date)s):") % {
        "store": store.name or store.domain,
        "date": weekday_date(store.local_today()),
    }
    lines = [heading, ""]
    if found.at_risk:
        count = len(found.at_risk)
        lines.append(
            ngettext(
                "%(count)s SKU(s) run out before an order placed today can arrive:",
                "%(count)s SKU(s) run out before an order placed today can arrive:",
                count,
            )
            % {"count": count}
        )
        lines += [BULLET + _at_risk_line(suggestion) for suggestion in found.at_risk[:SHOWN]]
        lines.append("")
    if found.late_orders:
        count = len(found.late_orders)
        lines.append(
            ngettext(
                "%(count)s purchase order(s) past their expected arrival:",
                "%(count)s purchase order(s) past their expected arrival:",
                count,
            )
            % {"count": count}
        )
        for order in found.late_orders[:SHOWN]:
            late = _("%(number)s from %(supplier)s, expected %(expected)s") % {
                "number": order.number,
                "supplier": order.supplier.name,
                "expected": day_month(order.expected_on),
            }
            lines.append(BULLET + late)
        lines.append("")
    if found.pushes:
        count = len(found.pushes)
        lines.append(
            ngettext(
                "%(count)s stock change(s) not written to the store (conflict or failed):",
                "%(count)s stock change(s) not written to the store (conflict or failed):",
                count,
            )
            % {"count": count}
        )
        lines += [BULLET + _push_line(adjustment) for adjustment in found.pushes[:SHOWN]]
        lines.append("")
    if found.failed_webhooks:
        count = found.failed_webhooks
        failed = ngettext(
            "%(count)s webhook(s) from the store failed in the last 24 hours.",
            "%(count)s webhook(s) from the store failed in the last 24 hours.",
            count,
        )
        lines += [failed % {"count": count}, ""]
    lines.append(_("Open the dashboard to act on them."))
    return "\n".join(lines)


def _at_risk_line(suggestion: ReorderSuggestion) -> str:
    figures = {
        "sku": suggestion.variant.sku,
        "title": suggestion.variant.display_title,
        "available": suggestion.available,
        "quantity": suggestion.quantity,
    }
    if suggestion.stockout_date:
        figures["runs_out"] = day_month(suggestion.stockout_date)
        return _("%(sku)s %(title)s: runs out %(runs_out)s, %(available)s available, order %(quantity)s") % figures
    return _("%(sku)s %(title)s: out of stock, %(available)s available, order %(quantity)s") % figures


def _push_line(adjustment: StockAdjustment) -> str:
    figures = {"sku": adjustment.variant.sku, "status": adjustment.get_status_display().lower()}
    if adjustment.error:
        # the store's own words, as it answered
        figures["error"] = adjustment.error[:120]
        return _("%(sku)s: %(status)s (%(error)s)") % figures
    return _("%(sku)s: %(status)s") % figures


def digest(found: Attention, user) -> tuple[str, str]:
    """The digest's subject and text for one planner, in their language."""
    store = found.store
    with translation.override(language_of(user)):
        subject = _("Inventory AI: what needs attention in %(store)s") % {"store": store.name or store.domain}
        return subject, digest_text(found)


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
        subject, body = digest(found, subscription.user)
        message = EmailMessage(subject=subject, body=body, to=[subscription.user.email])
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
