"""One test suite shared by every provider: signatures, rotation, duplicates, topics, bodies, stores, ordering, size.

A provider's test module subclasses `WebhookProviderCases` and supplies how to post, a store, and two snapshots of
the same order (older, newer).
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from inventory_ai.models import Order, WebhookEvent
from tests.demand_helpers import stored_demand
from tests.webhook_helpers import process_pending


@pytest.mark.django_db
class WebhookProviderCases:
    order_topic: str
    unused_topic: str

    def post(self, client, topic, payload, **kwargs):  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def order_snapshots(self) -> tuple[dict, dict]:  # pragma: no cover
        raise NotImplementedError

    def test_valid_delivery_is_stored_and_processed(self, client, store):
        older, _ = self.order_snapshots()
        response = self.post(client, self.order_topic, older)
        assert response.status_code == 200
        event = WebhookEvent.objects.get()
        assert (event.status, event.topic, event.store) == ("received", self.order_topic, store)
        assert process_pending() == ["processed"]
        assert Order.objects.filter(store=store).count() == 1

    def test_bad_signature_is_refused_and_nothing_stored(self, client, store):
        older, _ = self.order_snapshots()
        response = self.post(client, self.order_topic, older, secret="wrong")
        assert response.status_code == 401
        assert not WebhookEvent.objects.exists()

    def test_missing_signature_is_refused(self, client, store):
        older, _ = self.order_snapshots()
        response = self.post(client, self.order_topic, older, **{self.signature_header: ""})
        assert response.status_code == 401
        assert not WebhookEvent.objects.exists()

    def test_rotated_secret_still_verifies(self, client, store):
        store.webhook_secrets = ["brand-new", *store.webhook_secrets]
        store.save()
        older, newer = self.order_snapshots()
        assert self.post(client, self.order_topic, older, secret=store.webhook_secrets[1]).status_code == 200
        assert self.post(client, self.order_topic, newer, secret="brand-new").status_code == 200

    def test_duplicate_delivery_is_stored_once(self, client, store):
        older, _ = self.order_snapshots()
        first = self.post(client, self.order_topic, older, **self.same_delivery())
        second = self.post(client, self.order_topic, older, **self.same_delivery())
        assert (first.status_code, second.status_code) == (200, 200)
        assert second.json()["status"] == "duplicate"
        assert WebhookEvent.objects.count() == 1

    def test_unknown_topic_is_accepted_and_ignored(self, client, store):
        response = self.post(client, self.unused_topic, {"id": 1})
        assert response.status_code == 200
        assert WebhookEvent.objects.get().status == "ignored"
        assert process_pending() == []

    def test_malformed_body_is_kept_as_failed_with_400(self, client, store):
        response = self.post(client, self.order_topic, b'{"id": 1, "line_items": [')
        assert response.status_code == 400
        event = WebhookEvent.objects.get()
        assert event.status == "failed"
        assert "unparseable" in event.last_error
        assert bytes(event.body) == b'{"id": 1, "line_items": ['

    def test_unknown_store_is_refused(self, client, store):
        older, _ = self.order_snapshots()
        response = self.post(client, self.order_topic, older, **self.other_store())
        assert response.status_code == 401
        assert not WebhookEvent.objects.exists()

    def test_out_of_order_updates_keep_the_newest_state(self, client, store):
        older, newer = self.order_snapshots()
        self.post(client, self.order_topic, newer)
        self.post(client, self.order_topic, older)  # a retry carrying the original payload, delivered late
        assert process_pending() == ["processed", "processed"]
        assert stored_demand(store) == self.demand_after_newer

    def test_oversized_body_is_refused_with_413(self, client, store):
        with override_settings(INVENTORY_AI={"WEBHOOK_MAX_BYTES": 100}):
            response = self.post(client, self.order_topic, {"padding": "x" * 200})
        assert response.status_code == 413
        assert not WebhookEvent.objects.exists()

    def test_get_is_not_allowed(self, client, store):
        assert client.get(self.url).status_code == 405
