"""The admin's and the API's lists ask the database the same number of questions whatever the number of rows: a
page of 30 variants, suggestions or purchase orders costs what a page of 5 costs (no query per row)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory_ai.choices import PurchaseOrderStatus
from inventory_ai.models import (
    InventoryLevel,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderSuggestion,
    Supplier,
    SupplierItem,
    Variant,
)
from inventory_ai.services import stock_health
from inventory_ai.services.api_tokens import issue_token

pytestmark = pytest.mark.django_db

ADMIN_PAGES = (
    "/admin/",
    "/admin/inventory_ai/variant/",
    "/admin/inventory_ai/variant/?o=-3",
    "/admin/inventory_ai/reordersuggestion/",
    "/admin/inventory_ai/purchaseorder/",
    "/admin/inventory_ai/supplier/",
    "/admin/inventory_ai/variant/stock-health/",
)
API_LISTS = (
    "/api/v1/variants/",
    "/api/v1/variants/?ordering=-available",
    "/api/v1/suggestions/",
    "/api/v1/purchase-orders/",
    "/api/v1/suppliers/",
    "/api/v1/locations/",
)


def grow(store, count: int, start: int) -> None:
    """`count` more SKUs, each with stock at two locations, a pending suggestion, a supplier of its own and a line
    on a sent purchase order of that supplier."""
    primary, _ = Location.objects.get_or_create(store=store, platform_id="1", defaults={"is_primary": True})
    second, _ = Location.objects.get_or_create(store=store, platform_id="2", defaults={"name": "Back room"})
    today = store.local_today()
    for number in range(start, start + count):
        product = Product.objects.create(store=store, platform_id=f"p{number}", title=f"Mug {number}", vendor="Kiln")
        variant = Variant.objects.create(
            store=store, product=product, platform_id=f"v{number}", sku=f"MUG-{number}", price=10, unit_cost=4
        )
        for location in (primary, second):
            InventoryLevel.objects.create(
                variant=variant, location=location, available=number % 7, platform_updated_at=timezone.now()
            )
        supplier = Supplier.objects.create(store=store, name=f"Kiln {number}", currency="GBP", lead_time_days=14)
        SupplierItem.objects.create(supplier=supplier, variant=variant, unit_cost=4, preferred=True)
        ReorderSuggestion.objects.create(
            store=store, variant=variant, location=primary, available=number % 7, reorder_point=10, order_up_to=30,
            suggested_qty=20, lead_time_days=14, review_period_days=7, service_level=0.95,
            service_measure="fill_rate", weekly_demand=5, reason="test", unit_cost=4,
            stockout_date=today + timedelta(days=number % 20), order_by=today + timedelta(days=number % 20 - 14),
        )  # fmt: skip
        order = PurchaseOrder.objects.create(
            store=store, supplier=supplier, location=primary, number=f"PO-{number}", currency="GBP",
            status=PurchaseOrderStatus.SENT, expected_on=today + timedelta(days=3),
        )  # fmt: skip
        PurchaseOrderLine.objects.create(purchase_order=order, variant=variant, quantity=12, unit_cost=4)


def queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.content[:500])
    return len(captured.captured_queries)


def test_admin_pages_cost_the_same_number_of_queries_for_5_or_30_rows(client, shop, planner):
    client.force_login(planner)
    grow(shop, 5, 0)
    stock_health.refresh(shop)  # the stock-health report, as a forecast run leaves it
    client.get("/admin/")  # the session learns the person's language here, not in a count
    few = {url: queries(client, url) for url in ADMIN_PAGES}
    grow(shop, 25, 5)
    stock_health.refresh(shop)
    many = {url: queries(client, url) for url in ADMIN_PAGES}
    assert many == few


def test_api_lists_cost_the_same_number_of_queries_for_5_or_30_rows(client, shop, planner):
    _, key = issue_token(planner, "counts")
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    grow(shop, 5, 0)
    client.get("/api/v1/", **auth)  # the token's last use is written at most once a while: here, not in a count
    few = {url: queries(client, url, **auth) for url in API_LISTS}
    grow(shop, 25, 5)
    many = {url: queries(client, url, **auth) for url in API_LISTS}
    assert many == few


def test_the_api_sorts_variants_by_their_stock_over_every_location(client, shop, planner):
    # given 30 SKUs with stock at two locations (number % 7 units at each)
    _, key = issue_token(planner, "sorted")
    grow(shop, 30, 0)

    # when the variants are listed by stock, most first, then least first
    most = client.get("/api/v1/variants/?ordering=-available,sku", HTTP_AUTHORIZATION=f"Token {key}").json()
    least = client.get("/api/v1/variants/?ordering=available,sku", HTTP_AUTHORIZATION=f"Token {key}").json()

    # then each SKU shows its total over both locations, and the pages follow it
    def expected(row):
        return 2 * (int(row["sku"].split("-")[1]) % 7)

    assert most["count"] == least["count"] == 30
    assert [row["available"] for row in most["results"]] == [expected(row) for row in most["results"]]
    assert [row["available"] for row in most["results"]][:5] == [12] * 4 + [10]
    assert [row["sku"] for row in least["results"]][:5] == ["MUG-0", "MUG-14", "MUG-21", "MUG-28", "MUG-7"]
    # a search keeps to its SKUs in that order too (MUG-1 and MUG-10 to MUG-19)
    found = client.get("/api/v1/variants/?search=MUG-1&ordering=-available,sku", HTTP_AUTHORIZATION=f"Token {key}")
    assert found.json()["count"] == 11
    assert [row["sku"] for row in found.json()["results"]][:3] == ["MUG-13", "MUG-12", "MUG-19"]
