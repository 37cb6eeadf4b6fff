"""The webhook subscriptions the product keeps on a store connected through its app.

On connect and in every reconciliation, the topics the product reads (`gateway.subscription_topics`) are compared
with what the store has: a missing topic is subscribed at `<PUBLIC_BASE_URL>/webhooks/<platform>/`, a subscription
of ours at another address is moved to it, a duplicate or a topic we no longer read is removed. Each topic's state is
kept on the store (`Store.webhook_subscriptions`, shown in the admin and by `doctor`); a topic the store refused is
recorded as failing with the store's reason, and the next reconciliation tries it again; one the platform disabled
after failed deliveries (WooCommerce) is turned back on. Stores connected with a pasted token
(a legacy custom app) keep the subscriptions their merchant made by hand.
"""

from __future__ import annotations

import logging
from collections import Counter

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.errors import StoreAPIError
from inventory_ai.gateways import gateway_class, store_gateway
from inventory_ai.models import Store

logger = logging.getLogger(__name__)

OK, CREATED, FIXED, ENABLED, FAILED = "ok", "created", "fixed", "enabled again", "failed"


def webhook_address(store: Store) -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse(f'webhook-{store.platform}')}"


def managed(store: Store) -> bool:
    """Whether the product keeps this store's subscriptions: it knows its public address, and the store was connected
    through the app (credentials that renew themselves, or WooCommerce keys granted to the app through /wc-auth)."""
    credentials = store.credentials
    return bool(settings.PUBLIC_BASE_URL) and bool(
        gateway_class(store.platform).credentials_renewable(credentials) or credentials.get("key_id")
    )


def sync_subscriptions(store: Store) -> dict:
    """Make the store's subscriptions what the product needs; returns (and keeps on the store) the report:
    `topics` (topic -> ok, created, fixed or failed), `removed`, `errors` (topic -> the store's reason)."""
    cls = gateway_class(store.platform)
    address = webhook_address(store)
    report: dict = {"checked_at": timezone.now().isoformat(), "address": address, "topics": {}, "removed": [],
                    "errors": {}}  # fmt: skip
    try:
        gateway = store_gateway(store)
        existing = gateway.list_webhook_subscriptions()
    except StoreAPIError as exc:
        report["errors"]["*"] = str(exc)[:300]
        return _keep(store, report)
    ours = [sub for sub in existing if sub.ours or sub.address == address]
    needed = set(cls.subscription_topics)
    secret = store.webhook_secrets[0] if store.webhook_secrets else ""
    doomed = [sub for sub in ours if sub.topic not in needed]
    for topic in sorted(needed):
        here = [sub for sub in ours if sub.topic == topic]
        right = [sub for sub in here if sub.address == address]
        if right:
            report["topics"][topic] = OK
            doomed += right[1:]  # a duplicate would deliver every event twice
            if not right[0].active:  # disabled by the platform after failed deliveries
                try:
                    gateway.enable_webhook_subscription(right[0].subscription_id)
                    report["topics"][topic] = ENABLED
                except StoreAPIError as exc:
                    report["topics"][topic], report["errors"][topic] = FAILED, str(exc)[:300]
            continue
        try:
            if here:  # ours at an old address: moved there (a duplicate at yet another address goes)
                gateway.update_webhook_subscription(here[0].subscription_id, address)
                if not here[0].active:
                    gateway.enable_webhook_subscription(here[0].subscription_id)
                doomed += here[1:]
            else:
                gateway.create_webhook_subscription(topic, address, secret)
        except StoreAPIError as exc:
            report["topics"][topic], report["errors"][topic] = FAILED, str(exc)[:300]
            continue
        report["topics"][topic] = FIXED if here else CREATED
    for sub in doomed:
        try:
            gateway.delete_webhook_subscription(sub.subscription_id)
            report["removed"].append(f"{sub.topic} {sub.address}")
        except StoreAPIError as exc:
            report["errors"][f"remove {sub.topic}"] = str(exc)[:300]
    counts = Counter(report["topics"].values())
    if counts[CREATED] or counts[FIXED] or report["removed"] or report["errors"]:
        logger.info("webhook subscriptions of %s: %s, %d removed, %d error(s)", store, dict(counts),
                    len(report["removed"]), len(report["errors"]))  # fmt: skip
    return _keep(store, report)


def _keep(store: Store, report: dict) -> dict:
    store.webhook_subscriptions = report
    Store.objects.filter(pk=store.pk).update(webhook_subscriptions=report)
    return report


def problems(store: Store) -> list[str]:
    """What is wrong with the store's kept subscriptions, in words in the active language (empty when all is well or
    nothing is kept); the store's reasons are quoted as it gave them."""
    report = store.webhook_subscriptions or {}
    if not managed(store):
        return []
    if not report:
        return [_("its webhook subscriptions were never checked (a reconciliation does it)")]
    by_reason: dict[str, list[str]] = {}
    for topic, reason in sorted(report.get("errors", {}).items()):
        by_reason.setdefault(reason, []).append(topic)
    # one line per reason: a refused address fails every topic alike
    out = []
    for reason, topics in by_reason.items():
        if len(topics) == 1:
            out.append(_("%(topic)s: %(reason)s") % {"topic": topics[0], "reason": reason})
            continue
        several = ngettext(
            "%(count)s topics (%(topics)s...): %(reason)s", "%(count)s topics (%(topics)s...): %(reason)s", len(topics)
        )
        out.append(several % {"count": len(topics), "topics": ", ".join(topics[:3]), "reason": reason})
    missing = sorted(set(gateway_class(store.platform).subscription_topics) - set(report.get("topics", {})))
    if missing:
        out.append(_("not subscribed: %(topics)s") % {"topics": ", ".join(missing)})
    return out
