"""Purchase orders: approved suggestions on their supplier's draft, sent with a PDF and a CSV, received into stock
pushed once to the store (the simulator), and what open orders await counted as on order."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import InventoryStore
from integrations.simulator.state import StoreState
from inventory_ai import dispatch
from inventory_ai.choices import AdjustmentReason, AdjustmentStatus, AuditAction, PurchaseOrderStatus, SuggestionStatus
from inventory_ai.models import (
    AuditEntry,
    InventoryLevel,
    Product,
    PurchaseOrder,
    ReorderSuggestion,
    Supplier,
    SupplierItem,
    Variant,
)
from inventory_ai.services import purchasing, push, replenishment
from tests.conftest import read_all
from tests.purchasing_helpers import ITEM, LOCATION, sent_order, stocked_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_tasks(monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda name, *args, **kw: sent.append((name, *args)))
    return sent


def pending(variant) -> ReorderSuggestion:
    return ReorderSuggestion.objects.get(variant=variant, status=SuggestionStatus.PENDING)


def test_approved_suggestions_go_on_their_suppliers_draft_and_count_as_on_order(forecast_store, planner):
    shop, _, variants = forecast_store
    Product.objects.filter(variants__in=variants[:2]).update(vendor="Paper Mill Ltd")
    Product.objects.filter(variants=variants[2]).update(vendor="")
    replenishment.recompute_suggestions(shop, [v.pk for v in variants[:3]])
    first, second, third = (pending(v) for v in variants[:3])

    # when a planner approves the three, one with an edited quantity
    assert replenishment.decide_suggestion(first, approve=True, user=planner, quantity=first.suggested_qty + 3)
    assert replenishment.decide_suggestion(second, approve=True, user=planner)
    assert replenishment.decide_suggestion(third, approve=True, user=planner)

    # then the two of one vendor are lines of one draft of that supplier, the third on the "no supplier yet" draft
    mill = PurchaseOrder.objects.get(supplier__name="Paper Mill Ltd")
    assert mill.status == PurchaseOrderStatus.DRAFT
    assert {(line.variant_id, line.quantity) for line in mill.lines.all()} == {
        (variants[0].pk, first.suggested_qty + 3),
        (variants[1].pk, second.suggested_qty),
    }
    assert PurchaseOrder.objects.get(supplier__name=purchasing.NO_SUPPLIER).lines.get().variant_id == variants[2].pk
    assert mill.number != PurchaseOrder.objects.get(supplier__name=purchasing.NO_SUPPLIER).number
    # and the next computation counts them on order: nothing more is suggested
    replenishment.recompute_suggestions(shop, [v.pk for v in variants[:3]])
    assert not ReorderSuggestion.objects.filter(variant__in=variants[:3], status=SuggestionStatus.PENDING).exists()
    assert purchasing.on_order([variants[0].pk])[variants[0].pk] == first.suggested_qty + 3

    # until the order is cancelled: what it awaited is no longer on order
    purchasing.cancel(mill, planner)
    assert purchasing.on_order([variants[0].pk, variants[1].pk]) == {}
    replenishment.recompute_suggestions(shop, [variants[0].pk])
    suggestion = pending(variants[0])
    assert suggestion.on_order == 0
    # a new approval opens a new draft (the cancelled one takes no more lines)
    replenishment.decide_suggestion(suggestion, approve=True, user=planner)
    assert PurchaseOrder.objects.filter(supplier__name="Paper Mill Ltd", status=PurchaseOrderStatus.DRAFT).count() == 1
    actions = set(AuditEntry.objects.filter(target_type="purchase_order").values_list("action", flat=True))
    assert actions >= {AuditAction.CREATE, AuditAction.EDIT, AuditAction.CANCEL}


def test_a_preferred_supplier_its_cost_and_packs_shape_the_draft(forecast_store, planner):
    shop, _, variants = forecast_store
    variant = variants[0]
    mill = Supplier.objects.create(store=shop, name="Mill", email="orders@mill.example", min_order_value=500,
                                   case_pack=6, lead_time_days=10)  # fmt: skip
    other = Supplier.objects.create(store=shop, name="Other")
    SupplierItem.objects.create(supplier=other, variant=variant, unit_cost=Decimal("9.00"))
    SupplierItem.objects.create(supplier=mill, variant=variant, unit_cost=Decimal("2.50"), pack_size=12,
                                supplier_sku="M-1", preferred=True)  # fmt: skip
    replenishment.recompute_suggestions(shop, [variant.pk])
    suggestion = pending(variant)
    replenishment.decide_suggestion(suggestion, approve=True, user=planner, quantity=13)

    order = PurchaseOrder.objects.get(supplier=mill)
    line = order.lines.get()
    assert (line.quantity, line.unit_cost) == (13, Decimal("2.5000"))
    # rounded up to the supplier's packs of 12 for this variant; still below the supplier's minimum order value
    assert purchasing.round_to_packs(order, planner) == 1
    line.refresh_from_db()
    assert line.quantity == 24
    assert purchasing.totals(order) == {"units": 24, "value": Decimal("60.00"), "lines_without_cost": 0,
                                        "below_min_value": True, "below_min_quantity": False}  # fmt: skip
    with pytest.raises(purchasing.PurchasingError, match="negative"):
        purchasing.edit_line(line, planner, quantity=-1)


def test_sending_emails_the_pdf_and_csv_and_sets_the_expected_arrival(forecast_store, planner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    shop, _, variants = forecast_store
    mill = Supplier.objects.create(store=shop, name="Mill & Sons <Ltd>", lead_time_days=10)
    SupplierItem.objects.create(supplier=mill, variant=variants[0], preferred=True, supplier_sku="M-77",
                                unit_cost=Decimal("1.25"))  # fmt: skip
    replenishment.recompute_suggestions(shop, [variants[0].pk])
    replenishment.decide_suggestion(pending(variants[0]), approve=True, user=planner, quantity=40)
    order = PurchaseOrder.objects.get(supplier=mill)

    # a supplier without an e-mail address: the order stays a draft and says why
    with pytest.raises(purchasing.PurchasingError, match="no e-mail address"):
        purchasing.send(order, planner)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.DRAFT
    assert "no e-mail address" in order.send_error
    assert mail.outbox == []

    # with one, the e-mail goes with the order as a PDF and a CSV
    Supplier.objects.filter(pk=mill.pk).update(email="orders@mill.example")
    purchasing.send(order, planner)
    assert order.status == PurchaseOrderStatus.SENT
    assert order.send_error == ""
    assert order.expected_on == shop.local_today() + timedelta(days=10)
    [message] = mail.outbox
    assert message.to == ["orders@mill.example"]
    assert order.number in message.subject
    names = {name: (content, kind) for name, content, kind in message.attachments}
    pdf, kind = names[f"{order.number}.pdf"]
    assert kind == "application/pdf"
    assert pdf.startswith(b"%PDF-")
    rows = list(csv.DictReader(io.StringIO(names[f"{order.number}.csv"][0])))
    assert [(r["sku"], r["supplier_sku"], r["quantity"], r["unit_cost"], r["line_total"]) for r in rows] == [
        (variants[0].sku, "M-77", "40", "1.25", "50.00")
    ]
    # a sent order is not edited or sent again
    with pytest.raises(purchasing.PurchasingError, match="cannot be sent"):
        purchasing.send(order, planner)
    with pytest.raises(purchasing.PurchasingError, match="cannot be edited"):
        purchasing.edit_line(order.lines.get(), planner, quantity=1)


@pytest.fixture
def simulator():
    with ApiServer(StoreState(), inventory=InventoryStore(), access_token="shpat_po") as server:
        server.start()
        yield server


@pytest.fixture
def stocked(simulator):
    """A Shopify store on the simulator with one variant stocked 5 at one location, known to both sides."""
    return stocked_store(simulator, "po-test.myshopify.com", "shpat_po")


def test_receiving_pushes_each_receipt_to_the_store_once_and_closes_the_order(simulator, stocked, planner, sent_tasks):
    store, variant, location = stocked
    order = sent_order(store, variant, location, planner)
    line = order.lines.get()

    # when 12 of 30 arrive
    [receipt] = purchasing.receive(order, {line.pk: 12}, planner)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
    adjustment = receipt.adjustment
    assert (adjustment.status, adjustment.reason, adjustment.delta) == (
        AdjustmentStatus.APPROVED, AdjustmentReason.RESTOCK, 12)  # fmt: skip
    assert ("push_adjustment_task", adjustment.pk) in sent_tasks
    # then the push adds them to the store once, however often it runs
    assert push.push_adjustment(adjustment.pk) == AdjustmentStatus.PUSHED
    push.push_adjustment(adjustment.pk)
    assert simulator.inventory.level(ITEM, LOCATION) == 17
    assert len(simulator.inventory.applied) == 1
    assert purchasing.on_order([variant.pk]) == {variant.pk: 18}

    # more than still awaited needs a confirmation
    with pytest.raises(purchasing.OverReceipt, match="more than ordered"):
        purchasing.receive(order, {line.pk: 20}, planner)
    assert purchasing.on_order([variant.pk]) == {variant.pk: 18}
    receipts = purchasing.receive(order, {line.pk: 20}, planner, allow_over=True)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED
    assert order.received_at is not None
    assert purchasing.on_order([variant.pk]) == {}
    push.push_adjustment(receipts[0].adjustment.pk)
    assert simulator.inventory.level(ITEM, LOCATION) == 37
    # a received order takes no more
    with pytest.raises(purchasing.PurchasingError, match="cannot be received"):
        purchasing.receive(order, {line.pk: 1}, planner)
    assert AuditEntry.objects.filter(target_type="purchase_order", action=AuditAction.RECEIVE).count() == 2


def test_receiving_refuses_a_cancelled_order_bad_lines_and_quantities(stocked, planner, sent_tasks):
    store, variant, location = stocked
    order = sent_order(store, variant, location, planner)
    line = order.lines.get()
    with pytest.raises(purchasing.PurchasingError, match="at least 1"):
        purchasing.receive(order, {line.pk: 0}, planner)
    with pytest.raises(purchasing.PurchasingError, match="has no line"):
        purchasing.receive(order, {line.pk + 999: 1}, planner)
    purchasing.cancel(order, planner)
    with pytest.raises(purchasing.PurchasingError, match="cancelled: it cannot be received"):
        purchasing.receive(order, {line.pk: 1}, planner)
    assert line.receipts.count() == 0
    assert [task for task in sent_tasks if task[0] == "push_adjustment_task"] == []


def test_a_late_order_is_listed(stocked, planner, sent_tasks):
    store, variant, location = stocked
    order = sent_order(store, variant, location, planner)
    assert purchasing.late(store) == []
    PurchaseOrder.objects.filter(pk=order.pk).update(expected_on=store.local_today() - timedelta(days=1))
    assert [late.pk for late in purchasing.late(store)] == [order.pk]


def test_the_admin_edits_a_draft_sends_receives_and_serves_its_documents(client, stocked, planner, viewer, sent_tasks):
    from django.urls import reverse

    store, variant, location = stocked
    suggestion = ReorderSuggestion.objects.create(
        store=store, variant=variant, location=location, available=5, reorder_point=10, order_up_to=35,
        suggested_qty=30, lead_time_days=7, review_period_days=7, service_level=0.95,
        service_measure="fill_rate", weekly_demand=10, reason="test",
    )  # fmt: skip
    replenishment.decide_suggestion(suggestion, approve=True, user=planner)
    order = PurchaseOrder.objects.get(store=store)
    line = order.lines.get()
    change = reverse("admin:inventory_ai_purchaseorder_change", args=[order.pk])
    changelist = reverse("admin:inventory_ai_purchaseorder_changelist")

    # a viewer reads the order and its PDF but runs no action
    client.force_login(viewer)
    assert client.get(change).status_code == 200
    pdf = client.get(reverse("admin:purchaseorder_document", args=[order.pk, "pdf"]))
    assert pdf.content.startswith(b"%PDF-")
    assert client.post(changelist, {"action": "mark_sent", "_selected_action": [order.pk]}).status_code == 403
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.DRAFT

    # a planner edits the draft's line, marks it sent and receives what it awaits
    client.force_login(planner)
    page = client.get(change)
    assert "30 units" in page.content.decode()
    form = {
        "expected_on": "", "notes": "Deliver to the back door",
        "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "1", "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000",
        "lines-0-id": str(line.pk), "lines-0-purchase_order": str(order.pk), "lines-0-quantity": "36",
        "lines-0-unit_cost": "2.00",
    }  # fmt: skip
    assert client.post(change, form).status_code == 302
    line.refresh_from_db()
    assert (line.quantity, line.unit_cost) == (36, Decimal("2.0000"))
    assert AuditEntry.objects.filter(target_type="purchase_order", action=AuditAction.EDIT,
                                     after__quantity=36).exists()  # fmt: skip
    client.post(changelist, {"action": "mark_sent", "_selected_action": [order.pk]})
    client.post(changelist, {"action": "receive_all", "_selected_action": [order.pk]})
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED
    assert line.receipts.get().quantity == 36
    assert sum(1 for name, *_ in sent_tasks if name == "push_adjustment_task") == 1


def test_what_the_store_itself_has_on_its_way_counts_as_on_order_once(stocked, simulator, planner, sent_tasks):
    from inventory_ai.gateways import store_gateway
    from inventory_ai.services.records import apply_records

    store, variant, location = stocked
    # the merchant ordered 12 in Shopify itself (a purchase order or a transfer): its `incoming` at the location
    simulator.inventory.set_incoming(ITEM, LOCATION, 12)
    with store_gateway(store) as gateway:
        levels, _ = read_all(gateway.read_stock_levels, location_ids=[LOCATION])
    [level] = levels
    assert (level.available, level.incoming) == (5, 12)
    apply_records(store, levels)
    assert InventoryLevel.objects.get(variant=variant, location=location).incoming == 12
    # ours are not in Shopify's incoming (we push stock on receipt): both count, once each
    sent_order(store, variant, location, planner, quantity=30)
    assert purchasing.on_order([variant.pk]) == {variant.pk: 42}
    # a stock webhook does not say what is incoming: it keeps what the last read said
    from integrations.records import InventoryLevelRecord

    apply_records(store, [InventoryLevelRecord(available=4, updated_at=timezone.now(), inventory_item_id=ITEM,
                                               location_id=LOCATION)])  # fmt: skip
    assert InventoryLevel.objects.get(variant=variant, location=location).incoming == 12


def test_a_suppliers_terms_set_the_policy_of_its_items_that_have_none_of_their_own(forecast_store, planner):
    shop, _, variants = forecast_store
    variant = variants[0]
    mill = Supplier.objects.create(store=shop, name="Mill", lead_time_days=28, review_period_days=14, case_pack=6)
    SupplierItem.objects.create(supplier=mill, variant=variant, preferred=True, pack_size=10, moq=40)
    replenishment.recompute_suggestions(shop, [variant.pk])
    suggestion = pending(variant)
    assert (suggestion.lead_time_days, suggestion.review_period_days) == (28, 14)
    assert suggestion.suggested_qty % 10 == 0  # its pack for this item, before the supplier's case of 6
    assert suggestion.suggested_qty >= 40
    # the variant's own setting wins over its supplier's
    Variant.objects.filter(pk=variant.pk).update(lead_time_days=7)
    replenishment.recompute_suggestions(shop, [variant.pk])
    assert pending(variant).lead_time_days == 7


def test_a_sync_makes_a_supplier_for_each_vendor_of_the_catalogue(shop):
    Product.objects.create(store=shop, platform_id="1", title="A", vendor="Paper Mill")
    Product.objects.create(store=shop, platform_id="2", title="B", vendor="paper mill")
    Product.objects.create(store=shop, platform_id="3", title="C", vendor="Ink & Co")
    Product.objects.create(store=shop, platform_id="4", title="D", vendor="")
    Supplier.objects.create(store=shop, name="Ink & Co", email="ink@ink.example")
    assert purchasing.suppliers_from_vendors(shop) == 1
    assert sorted(Supplier.objects.filter(store=shop).values_list("name", flat=True)) == ["Ink & Co", "Paper Mill"]
    assert purchasing.suppliers_from_vendors(shop) == 0


def test_a_supplier_whose_lead_time_varies_gets_more_protection(forecast_store):
    shop, _, variants = forecast_store
    variant = variants[0]
    mill = Supplier.objects.create(store=shop, name="Mill", lead_time_days=14)
    SupplierItem.objects.create(supplier=mill, variant=variant, preferred=True)
    replenishment.recompute_suggestions(shop, [variant.pk])
    steady = pending(variant).order_up_to
    Supplier.objects.filter(pk=mill.pk).update(lead_time_std_days=7.0)
    replenishment.recompute_suggestions(shop, [variant.pk])
    assert pending(variant).order_up_to > steady
