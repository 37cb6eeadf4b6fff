"""A purchase order's whole cycle in a real browser: suggestions approved, the draft edited and sent (the e-mail
with its PDF and CSV in the outbox), received in part and then in full, each receipt pushed once to the store
(the simulator)."""

from __future__ import annotations

import pytest
from django.core import mail

from integrations.simulator.api_server import ApiServer
from integrations.simulator.inventory import InventoryStore
from integrations.simulator.state import StoreState
from inventory_ai import dispatch
from inventory_ai.choices import PurchaseOrderStatus, SuggestionStatus
from inventory_ai.models import (
    InventoryLevel,
    Location,
    PurchaseOrder,
    ReorderSuggestion,
    Store,
    Supplier,
    Variant,
)
from inventory_ai.services import push
from inventory_ai.services.roles import PLANNER, create_staff_user
from tests.test_browser import browser, log_in, planned_store  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def shop_on_simulator(planned_store, settings):  # noqa: F811
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    shop, variants = planned_store
    simulator = ApiServer(StoreState(), inventory=InventoryStore(), access_token="shpat_test").start()
    Store.objects.filter(pk=shop.pk).update(api_base_url=simulator.url)
    location = Location.objects.get(store=shop)
    for number, variant in enumerate(variants):
        Variant.objects.filter(pk=variant.pk).update(inventory_item_id=str(9000 + number))
        level = InventoryLevel.objects.get(variant=variant, location=location).available
        simulator.inventory.set_level(str(9000 + number), location.platform_id, level)
    Supplier.objects.create(store=shop, name="North Lane", email="orders@northlane.example", lead_time_days=10)
    yield shop, variants, location, simulator
    simulator.stop()


def test_suggestions_become_an_order_that_is_sent_received_in_part_then_whole(
    shop_on_simulator,
    live_server,
    browser,  # noqa: F811 (the fixture)
    monkeypatch,
):
    shop, variants, location, simulator = shop_on_simulator
    pushes = []
    # the pushes the receipts queue are run below, in order (no worker here)
    monkeypatch.setattr(
        dispatch, "send", lambda name, *args, **kw: pushes.append(args[0]) if name == "push_adjustment_task" else None
    )
    create_staff_user("pat.planner", PLANNER, "planner-pass-1")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, live_server.url, "pat.planner", "planner-pass-1")

    # the planner approves the suggestions of North Lane's items from the list
    north = [v for number, v in enumerate(variants) if number % 2 == 0]
    ours = ReorderSuggestion.objects.filter(variant__in=north, status=SuggestionStatus.PENDING)
    page.goto(f"{live_server.url}/admin/inventory_ai/reordersuggestion/?status__exact=pending")
    for suggestion in ours[:2]:
        page.check(f"input.action-select[value='{suggestion.pk}']")
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#decision-form")
    page.click("#confirm-decision")
    page.wait_for_selector("#changelist")
    order = PurchaseOrder.objects.get(store=shop, supplier__name="North Lane")
    assert order.status == PurchaseOrderStatus.DRAFT
    first, second = order.lines.order_by("pk")

    # edits a line of the draft and sends it: the supplier's e-mail carries the PDF and the CSV
    page.goto(f"{live_server.url}/admin/inventory_ai/purchaseorder/{order.pk}/change/")
    page.fill("input[name='lines-0-quantity']", "40")
    page.fill("input[name='lines-0-unit_cost']", "1.50")
    page.click("input[name='_continue']")
    page.wait_for_selector("#send-order")
    first.refresh_from_db()
    assert first.quantity == 40
    page.click("#send-order")
    page.wait_for_selector(".messagelist")
    assert "sent by e-mail" in page.inner_text(".messagelist")
    [message] = mail.outbox
    assert message.to == ["orders@northlane.example"]
    assert {name.rsplit(".", 1)[1] for name, *_ in message.attachments} == {"pdf", "csv"}
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.SENT

    # part of the first line arrives; it is added to the store's stock once
    item = str(9000 + [v.pk for v in variants].index(first.variant_id))
    before = simulator.inventory.level(item, location.platform_id)
    page.click("#receive-order")
    page.wait_for_selector("#receive-form")
    page.fill(f"input[name='line-{first.pk}']", "25")
    page.click("#confirm-receipt")
    page.wait_for_selector(".messagelist")
    assert "partially received" in page.inner_text(".messagelist")
    assert len(pushes) == 1
    for _ in range(2):  # a retried push applies nothing twice
        push.push_adjustment(pushes[0])
    assert simulator.inventory.level(item, location.platform_id) == before + 25
    assert len(simulator.inventory.applied) == 1

    # more than awaited asks for a confirmation; then the rest arrives and the order is closed
    page.click("#receive-order")
    page.fill(f"input[name='line-{first.pk}']", "20")
    page.click("#confirm-receipt")
    page.wait_for_selector("#receive-error")
    assert "more than ordered" in page.inner_text("#receive-error")
    page.fill(f"input[name='line-{first.pk}']", "15")
    page.fill(f"input[name='line-{second.pk}']", str(second.quantity))
    page.click("#confirm-receipt")
    page.wait_for_selector(".messagelist")
    assert "is now received" in page.inner_text(".messagelist")
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED
    assert len(pushes) == 3
    for adjustment in pushes[1:]:
        push.push_adjustment(adjustment)
    assert simulator.inventory.level(item, location.platform_id) == before + 40
    assert len(simulator.inventory.applied) == 3
    assert page.locator("#receive-order").count() == 0  # nothing left to receive
