"""The API's suppliers and purchase orders: an approval names its order; send, receive and cancel with their
permissions and refusals."""

from __future__ import annotations

import pytest
from django.core import mail
from rest_framework.test import APIClient

from inventory_ai import dispatch
from inventory_ai.choices import AuditAction, AuditSource, SuggestionStatus
from inventory_ai.models import AuditEntry, Product, PurchaseOrder, ReorderSuggestion, Supplier
from inventory_ai.services import replenishment
from inventory_ai.services.api_tokens import issue_token

pytestmark = pytest.mark.django_db


def as_user(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    return client


@pytest.fixture
def approved(forecast_store, planner, monkeypatch):
    """A suggestion approved through the API, and the answer."""
    monkeypatch.setattr(dispatch, "send", lambda *args, **kw: None)  # no worker: pushes are not run here
    shop, _, variants = forecast_store
    Product.objects.filter(variants=variants[0]).update(vendor="Paper Mill Ltd")
    replenishment.recompute_suggestions(shop, [variants[0].pk])
    suggestion = ReorderSuggestion.objects.get(variant=variants[0], status=SuggestionStatus.PENDING)
    answer = as_user(planner).post(f"/api/v1/suggestions/{suggestion.pk}/approve/", {"quantity": 20}, format="json")
    return shop, suggestion, answer


def test_an_approval_answers_with_its_purchase_order(approved, planner):
    shop, suggestion, answer = approved
    assert answer.status_code == 200, answer.content
    order = PurchaseOrder.objects.get(pk=answer.json()["purchase_order"])
    assert order.supplier.name == "Paper Mill Ltd"

    client = as_user(planner)
    listed = client.get("/api/v1/purchase-orders/", {"status": "draft", "supplier": order.supplier_id}).json()
    [row] = listed["results"] if isinstance(listed, dict) else listed
    assert (row["number"], row["supplier_name"], row["status"]) == (order.number, "Paper Mill Ltd", "draft")
    assert [(line["sku"], line["quantity"], line["outstanding"]) for line in row["lines"]] == [
        (suggestion.variant.sku, 20, 20)
    ]
    assert row["totals"]["units"] == 20
    assert client.get("/api/v1/purchase-orders/", {"status": "sent"}).json()["count"] == 0


def test_send_receive_and_cancel_with_their_refusals(approved, planner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    shop, suggestion, answer = approved
    client = as_user(planner)
    order_id = answer.json()["purchase_order"]
    base = f"/api/v1/purchase-orders/{order_id}"

    # the supplier has no e-mail address: refused, still a draft, and the reason kept on the order
    refused = client.post(f"{base}/send/", {}, format="json")
    assert refused.status_code == 409
    assert "no e-mail address" in refused.json()["detail"]
    assert client.get(f"{base}/").json()["send_error"] == refused.json()["detail"]
    Supplier.objects.filter(purchase_orders=order_id).update(email="orders@mill.example")
    sent = client.post(f"{base}/send/", {}, format="json")
    assert sent.status_code == 200, sent.content
    assert (sent.json()["status"], sent.json()["send_error"]) == ("sent", "")
    assert len(mail.outbox) == 1
    line = sent.json()["lines"][0]["id"]

    # part of it arrives
    part = client.post(f"{base}/receive/", {"lines": [{"line": line, "quantity": 8}]}, format="json")
    assert part.status_code == 200, part.content
    assert (part.json()["status"], part.json()["lines"][0]["received"]) == ("partially_received", 8)
    # more than awaited asks for a confirmation
    over = client.post(f"{base}/receive/", {"lines": [{"line": line, "quantity": 15}]}, format="json")
    assert over.status_code == 409
    assert "allow_over" in over.json()["confirm"]
    bad = client.post(f"{base}/receive/", {"lines": [{"line": line, "quantity": 0}]}, format="json")
    assert bad.status_code == 400
    rest = client.post(f"{base}/receive/", {"lines": [{"line": line, "quantity": 15}], "allow_over": True},
                       format="json")  # fmt: skip
    assert rest.json()["status"] == "received"
    # a received order cannot be cancelled
    assert client.post(f"{base}/cancel/").status_code == 409
    entries = AuditEntry.objects.filter(target_type="purchase_order", target_id=order_id, source=AuditSource.API)
    actions = {AuditAction.CREATE, AuditAction.EDIT, AuditAction.SEND, AuditAction.RECEIVE}  # made by the approval
    assert set(entries.values_list("action", flat=True)) == actions


def test_a_viewer_reads_but_cannot_send_receive_cancel_or_keep_suppliers(approved, viewer):
    shop, _, answer = approved
    client = as_user(viewer)
    base = f"/api/v1/purchase-orders/{answer.json()['purchase_order']}"
    assert client.get(f"{base}/").status_code == 200
    assert client.post(f"{base}/send/", {"email": False}, format="json").status_code == 403
    assert client.post(f"{base}/receive/", {"lines": [{"line": 1, "quantity": 1}]}, format="json").status_code == 403
    assert client.post(f"{base}/cancel/").status_code == 403
    assert client.get("/api/v1/suppliers/").status_code == 200
    assert client.post("/api/v1/suppliers/", {"store": shop.pk, "name": "X"}, format="json").status_code == 403
    assert PurchaseOrder.objects.get().status == "draft"


def test_suppliers_are_created_updated_and_kept_unique_per_store(shop, planner):
    client = as_user(planner)
    terms = {"email": "a@mill.example", "lead_time_days": 12, "min_order_value": "250.00"}
    made = client.post("/api/v1/suppliers/", {"store": shop.pk, "name": "Mill", **terms}, format="json")
    assert made.status_code == 201, made.content
    supplier = made.json()["id"]
    changed = client.patch(f"/api/v1/suppliers/{supplier}/", {"lead_time_days": 9, "case_pack": 6}, format="json")
    assert (changed.json()["lead_time_days"], changed.json()["case_pack"]) == (9, 6)
    twin = client.post("/api/v1/suppliers/", {"store": shop.pk, "name": "mill"}, format="json")
    assert twin.status_code == 400
    assert "already has a supplier" in str(twin.json())
    assert client.post("/api/v1/suppliers/", {"store": shop.pk, "name": "Bad", "email": "nope"},
                       format="json").status_code == 400  # fmt: skip
    assert [row["name"] for row in client.get("/api/v1/suppliers/", {"store": shop.pk}).json()["results"]] == ["Mill"]


def test_orders_come_25_a_page_each_line_with_its_fields(approved, planner):
    # given 30 more orders of the same supplier
    shop, suggestion, answer = approved
    order = PurchaseOrder.objects.get(pk=answer.json()["purchase_order"])
    PurchaseOrder.objects.bulk_create(
        PurchaseOrder(store=shop, supplier=order.supplier, location=order.location, number=f"PO-X{n:03d}",
                      currency=order.currency)
        for n in range(30)
    )  # fmt: skip
    client = as_user(planner)

    # then a page holds 25 of the 31 unless asked for more, 100 at most
    first = client.get("/api/v1/purchase-orders/").json()
    assert (first["count"], len(first["results"])) == (31, 25)
    assert len(client.get("/api/v1/purchase-orders/", {"page_size": 500}).json()["results"]) == 31
    # and a line says what its model holds, the cost as a fixed-point string
    stored = order.lines.get()
    order.lines.update(unit_cost="1.5")
    [line] = client.get(f"/api/v1/purchase-orders/{order.pk}/").json()["lines"]
    assert line == {
        "id": stored.pk, "variant": suggestion.variant_id, "sku": suggestion.variant.sku, "quantity": 20,
        "received": 0, "outstanding": 20, "unit_cost": "1.5000",
    }  # fmt: skip
