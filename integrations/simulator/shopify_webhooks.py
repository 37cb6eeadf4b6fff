"""The simulated shop's webhook subscriptions of the app, as the GraphQL Admin API keeps them:
`webhookSubscriptions(first, after)` lists them, `webhookSubscriptionCreate(topic, webhookSubscription: {uri})` adds
one (an HTTPS address only, or a loopback one; one per topic and address), `webhookSubscriptionUpdate(id,
webhookSubscription: {uri})` moves one to another address (the same rules), `webhookSubscriptionDelete(id)` removes
one."""

from __future__ import annotations

import itertools
import threading
from typing import Any


class ShopifySubscriptions:
    def __init__(self) -> None:
        self.subscriptions: dict[int, dict[str, str]] = {}  # id -> {"topic": ENUM, "uri": address}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def answer(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if "webhookSubscriptionCreate" in query:
                return {"webhookSubscriptionCreate": self._create(variables)}
            if "webhookSubscriptionUpdate" in query:
                return {"webhookSubscriptionUpdate": self._update(variables)}
            if "webhookSubscriptionDelete" in query:
                return {"webhookSubscriptionDelete": self._delete(variables)}
            nodes = [self._node(number) for number in sorted(self.subscriptions)]
            start = int(variables.get("cursor") or 0)
            first = max(1, min(int(variables.get("first") or 50), 250))
            more = start + first < len(nodes)
            info = {"hasNextPage": more, "endCursor": str(start + first) if more else None}
            return {"webhookSubscriptions": {"nodes": nodes[start : start + first], "pageInfo": info}}

    def _node(self, number: int) -> dict[str, Any]:
        return {"id": f"gid://shopify/WebhookSubscription/{number}", **self.subscriptions[number]}

    def _create(self, variables: dict[str, Any]) -> dict[str, Any]:
        topic = str(variables.get("topic") or "")
        uri = str((variables.get("webhookSubscription") or {}).get("uri") or "")
        refused = self._refused(topic, uri)
        if refused:
            return refused
        number = next(self._ids)
        self.subscriptions[number] = {"topic": topic, "uri": uri}
        return {"webhookSubscription": self._node(number), "userErrors": []}

    def _update(self, variables: dict[str, Any]) -> dict[str, Any]:
        number = _number(variables.get("id"))
        uri = str((variables.get("webhookSubscription") or {}).get("uri") or "")
        if number not in self.subscriptions:
            return {"webhookSubscription": None,
                    "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}  # fmt: skip
        refused = self._refused(self.subscriptions[number]["topic"], uri)
        if refused:
            return refused
        self.subscriptions[number]["uri"] = uri
        return {"webhookSubscription": self._node(number), "userErrors": []}

    def _refused(self, topic: str, uri: str) -> dict[str, Any] | None:
        # Shopify delivers to HTTPS addresses only; the simulator lets a loopback address through for the demo
        if not uri.startswith(("https://", "http://127.", "http://localhost")):
            return {"webhookSubscription": None, "userErrors": [{"field": ["uri"], "message": "Address is invalid"}]}
        if any(sub == {"topic": topic, "uri": uri} for sub in self.subscriptions.values()):
            message = "Address for this topic has already been taken"
            return {"webhookSubscription": None, "userErrors": [{"field": ["uri"], "message": message}]}
        return None

    def _delete(self, variables: dict[str, Any]) -> dict[str, Any]:
        number = _number(variables.get("id"))
        if self.subscriptions.pop(number, None) is None:
            return {"deletedWebhookSubscriptionId": None,
                    "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}  # fmt: skip
        return {"deletedWebhookSubscriptionId": f"gid://shopify/WebhookSubscription/{number}", "userErrors": []}


def _number(gid: Any) -> int:
    tail = str(gid or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0
