"""Overstock and dead stock: the value they tie up per currency, their cover and what to do, on an admin page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory_ai.models import DailyDemand, ForecastRun, InventoryLevel, Location, Product, StockHealthRow, Variant
from inventory_ai.selectors.stock_health import stock_health, stored_totals
from inventory_ai.services.stores import upsert_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(forecast_store):
    shop, _, variants = forecast_store
    location = Location.objects.get(store=shop)
    # a steady seller with two years of stock, and one that has not sold for four months
    Variant.objects.filter(pk=variants[0].pk).update(unit_cost=Decimal("2.00"))
    InventoryLevel.objects.filter(variant=variants[0]).update(available=5000)
    Variant.objects.filter(pk=variants[1].pk).update(unit_cost=Decimal("3.00"))
    DailyDemand.objects.filter(variant=variants[1], date__gte=timezone.localdate() - timedelta(days=120)).delete()
    # another store, in another currency, with stock of an item it never sold
    other, _ = upsert_store("shopify", "usd-shop.myshopify.com", credentials={"access_token": "x"}, currency="USD")
    product = Product.objects.create(store=other, platform_id="1", title="Mug")
    mug = Variant.objects.create(store=other, product=product, platform_id="2", sku="MUG", unit_cost=Decimal("4.50"))
    spot = Location.objects.create(store=other, platform_id="3", name="Main", is_primary=True)
    InventoryLevel.objects.create(variant=mug, location=spot, available=10, platform_updated_at=timezone.now())
    return shop, other, variants, location


def test_overstock_and_dead_stock_with_their_value_per_currency(stocked):
    shop, other, variants, _ = stocked
    health = stock_health([shop, other])
    rows = {row.variant.sku: row for row in health.rows}
    steady = rows[variants[0].sku]
    assert steady.overstock
    assert not steady.dead
    assert steady.weeks_of_cover > 26
    assert steady.value == Decimal("10000.00")
    assert steady.excess_units > 0
    assert "Stop reordering" in steady.action
    stale = rows[variants[1].sku]
    assert stale.dead
    assert stale.days_since_sale >= 90
    assert "Dead stock" in stale.action
    assert rows["MUG"].days_since_sale is None
    # per currency, never summed across currencies; dearest first
    assert set(health.totals) == {"GBP", "USD"}
    assert health.totals["USD"]["value"] == Decimal("45.00")
    assert health.totals["GBP"]["value"] >= Decimal("10000.00") + stale.value
    assert health.rows[0] == steady
    # the SKUs selling normally at a normal stock are not on the list
    assert variants[2].sku not in rows


def test_the_admin_page_and_its_csv(client, viewer, stocked):
    shop, _, variants, _ = stocked
    client.force_login(viewer)
    url = reverse("admin:inventory_ai_variant_stock_health")
    page = client.get(url, {"store": shop.pk}).content.decode()
    assert "Overstock and dead stock" in page
    assert variants[0].sku in page
    assert "MUG" not in page  # another store's
    assert "USD" not in page
    rows = list(csv.DictReader(io.StringIO(client.get(url, {"csv": "1"}).content.decode())))
    assert {row["currency"] for row in rows} == {"GBP", "USD"}
    assert "Overstock and dead stock" in client.get(reverse("admin:index")).content.decode()


def test_the_page_shows_the_dearest_rows_a_page_at_a_time(client, viewer, stocked, monkeypatch):
    from inventory_ai.admin import catalog

    shop, _, _, _ = stocked
    client.force_login(viewer)
    url = reverse("admin:inventory_ai_variant_stock_health")
    flagged = len(stock_health([shop]).rows)
    assert flagged >= 2
    monkeypatch.setattr(catalog, "STOCK_HEALTH_PAGE", 1)
    first = client.get(url, {"store": shop.pk}).content.decode()
    assert first.count('class="dead"') + first.count('class="overstock"') == 1
    assert f"Page 1 of {flagged} ({flagged} SKUs)" in first
    last = client.get(url, {"store": shop.pk, "page": flagged}).content.decode()
    assert f"Page {flagged} of {flagged}" in last
    assert "next</a>" not in last
    # the totals and the CSV still cover every row
    rows = list(csv.DictReader(io.StringIO(client.get(url, {"csv": "1", "store": shop.pk}).content.decode())))
    assert len(rows) == flagged


def test_the_report_is_kept_until_the_next_forecast_run(client, viewer, stocked):
    from inventory_ai.services import replenishment

    shop, _, variants, _ = stocked
    client.force_login(viewer)
    url = reverse("admin:inventory_ai_variant_stock_health")
    # the first view computes the store's report and keeps it
    first = client.get(url, {"store": shop.pk}).content.decode()
    shop.refresh_from_db()
    assert shop.stock_health_at is not None
    kept = StockHealthRow.objects.get(variant=variants[0])
    assert (kept.on_hand, kept.value, kept.dead) == (5000, Decimal("10000.00"), False)
    assert "Computed" in first
    # a stock change shows after the next forecast run, which recomputes the report with the suggestions
    InventoryLevel.objects.filter(variant=variants[0]).update(available=6000)
    assert StockHealthRow.objects.get(variant=variants[0]).on_hand == 5000
    run = ForecastRun.objects.filter(store=shop, status="succeeded").latest("finished_at")
    counts = replenishment.recompute_store_suggestions(shop.pk, run.pk, None)
    assert counts["stock_health_rows"] == StockHealthRow.objects.filter(store=shop).count() >= 2
    assert StockHealthRow.objects.get(variant=variants[0]).value == Decimal("12000.00")
    assert "12,000.00" in client.get(url, {"store": shop.pk}).content.decode()
    # a refresh run that changed no forecast recomputes no suggestion, but the report all the same
    InventoryLevel.objects.filter(variant=variants[0]).update(available=7000)
    assert replenishment.recompute_store_suggestions(shop.pk, run.pk, []) == {
        "stock_health_rows": counts["stock_health_rows"]
    }
    assert StockHealthRow.objects.get(variant=variants[0]).on_hand == 7000
    # the page's totals are the database's sums of the kept rows
    totals = stored_totals([shop])
    assert totals["GBP"]["value"] == stock_health([shop]).totals["GBP"]["value"]
