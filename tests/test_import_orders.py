"""`manage.py import_orders`: the Online Retail and Shopify export formats, idempotency, reporting bad rows."""

from __future__ import annotations

import csv
import gzip
import shutil
from decimal import Decimal

import pytest
from django.core.management import CommandError

from inventory_ai.models import DailyDemand, Order, OrderLine, Refund, RefundLine, Variant
from tests.conftest import FIXTURES
from tests.demand_helpers import demand_from_orders, stored_demand

SMALL = FIXTURES / "online_retail_small.csv"


def read_report(path):
    with open(path, newline="") as handle:
        return {int(row["line_number"]): row for row in csv.DictReader(handle)}


@pytest.mark.django_db
def test_online_retail_import_builds_orders_refunds_and_demand(shop, run_command, tmp_path):
    # given a small Online Retail file with sales, returns, fees, write-offs and malformed rows
    report = tmp_path / "report.csv"

    # when it is imported
    out, _ = run_command("import_orders", str(SMALL), "--store", shop.domain, "--report", str(report), "--no-progress")

    # then every sale of stock is an order line, and the invoice that reappears later in the file is one order
    assert Order.objects.filter(store=shop).count() == 4
    assert sorted(Order.objects.values_list("platform_id", flat=True)) == ["536365", "536366", "536370", "536373"]
    assert OrderLine.objects.filter(order__platform_id="536365").count() == 3
    assert OrderLine.objects.count() == 6
    # stock codes are case-insensitive: 85123A and 85123a are one variant
    assert sorted(Variant.objects.values_list("sku", flat=True)) == ["22632", "22633", "71053", "84029G", "85123A"]
    # the return C536369 became one refund of order 536365 with two lines (2 hearts, 6 of the 10 lanterns)
    refund = Refund.objects.get()
    assert refund.order.platform_id == "536365"
    assert sorted(RefundLine.objects.values_list("order_line__variant__sku", "quantity")) == [
        ("71053", 6),
        ("85123A", 2),
    ]
    # demand is net of returns, on the order's local date (23:30 in London in June is still 1 June)
    assert stored_demand(shop) == {
        ("85123A", "2010-12-01"): 4,
        ("85123A", "2010-12-02"): 4,
        ("22632", "2010-12-01"): 2,
        ("22633", "2011-06-01"): 3,
        ("84029G", "2010-12-05"): 1,
    }
    assert stored_demand(shop) == demand_from_orders(shop)
    hearts = DailyDemand.objects.get(variant__sku="85123A", date="2010-12-01")
    assert hearts.revenue == Decimal("10.20")
    # and every row that was not imported is reported with its line number and reason
    problems = read_report(report)
    assert sorted(problems) == [4, 6, 7, 9, 12, 13]
    assert "non-product code 'POST'" in problems[4]["reason"]
    assert "not a number" in problems[6]["reason"]
    assert "write-off" in problems[7]["reason"]
    assert problems[9]["partly_imported"] == "yes"
    assert "4 of 10" in problems[9]["reason"]
    assert "without a CustomerID" in problems[12]["reason"]
    assert "InvoiceDate" in problems[13]["reason"]
    assert "Rows reported:      6" in out
    assert "Rows read:          13 = 8 imported + 5 reported and skipped (1 more imported in part and reported)" in out
    assert "rows/s" in out


@pytest.mark.django_db
def test_reimport_adds_nothing(shop, run_command, tmp_path):
    # given a file imported once, compressed this time
    gz = tmp_path / "orders.csv.gz"
    with open(SMALL, "rb") as source, gzip.open(gz, "wb") as target:
        shutil.copyfileobj(source, target)
    run_command("import_orders", str(gz), "--store", shop.domain, "--no-progress")
    before = (
        Order.objects.count(),
        OrderLine.objects.count(),
        Refund.objects.count(),
        list(DailyDemand.objects.order_by("pk").values_list("units", "revenue")),
    )

    # when it is imported again (in batches of one order, so every path is exercised)
    out, _ = run_command("import_orders", str(gz), "--store", shop.domain, "--no-progress", "--batch-orders", "1")

    # then nothing changes
    after = (
        Order.objects.count(),
        OrderLine.objects.count(),
        Refund.objects.count(),
        list(DailyDemand.objects.order_by("pk").values_list("units", "revenue")),
    )
    assert after == before
    assert "0 created" in out
    assert "1 already applied" in out


@pytest.mark.django_db
def test_small_batches_give_the_same_result(shop, run_command):
    # when the file is imported one order per transaction
    run_command("import_orders", str(SMALL), "--store", shop.domain, "--no-progress", "--batch-orders", "1")

    # then the result equals the single-batch import's
    assert OrderLine.objects.count() == 6
    assert stored_demand(shop) == demand_from_orders(shop)
    assert stored_demand(shop)[("85123A", "2010-12-01")] == 4


@pytest.mark.django_db
def test_shopify_order_export(shop, run_command, tmp_path):
    # given a Shopify order export: order-level columns on the first row of each order only
    export = tmp_path / "orders_export.csv"
    export.write_text(
        "Name,Email,Financial Status,Currency,Created at,Lineitem quantity,Lineitem name,Lineitem price,"
        "Lineitem sku,Cancelled at,Vendor,Id\n"
        "#1001,a@example.com,paid,GBP,2024-03-30 23:30:00 +0000,2,Mug - Blue,9.50,MUG-BLUE,,Acme,5001\n"
        "#1001,,,,,1,Mug - Red,9.50,MUG-RED,,Acme,\n"
        "#1002,b@example.com,paid,GBP,2024-04-02 10:00:00 +0100,1,Mug - Blue,9.50,MUG-BLUE,"
        "2024-04-03 10:00:00 +0100,Acme,5002\n"
        "#1003,c@example.com,refunded,GBP,2024-04-03 10:00:00 +0100,4,Mug - Red,9.50,MUG-RED,,Acme,5003\n"
        "#1004,d@example.com,paid,GBP,yesterday,1,Mug - Red,9.50,MUG-RED,,Acme,5004\n"
    )

    # when it is imported
    out, _ = run_command(
        "import_orders", str(export), "--store", shop.domain, "--format", "shopify-csv", "--no-progress"
    )

    # then orders are keyed by their ids, the cancelled and the refunded order count no demand
    assert sorted(Order.objects.values_list("platform_id", "status")) == [
        ("5001", "open"),
        ("5002", "cancelled"),
        ("5003", "open"),
    ]
    assert Variant.objects.filter(sku__in=["MUG-BLUE", "MUG-RED"]).count() == 2
    # 23:30 UTC on 30 March 2024 is still 30 March in London (summer time began at 01:00 UTC on 31 March)
    assert stored_demand(shop) == {("MUG-BLUE", "2024-03-30"): 2, ("MUG-RED", "2024-03-30"): 1}
    assert "Rows reported:      1" in out


@pytest.mark.django_db
def test_unknown_store_and_wrong_format_are_clear_errors(shop, run_command, tmp_path):
    with pytest.raises(CommandError, match="No store named"):
        run_command("import_orders", str(SMALL), "--store", "nope.myshopify.com")
    not_retail = tmp_path / "other.csv"
    not_retail.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="missing column"):
        run_command("import_orders", str(not_retail), "--store", shop.domain, "--no-progress")


def _planner_statistics(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_an_import_leaves_the_query_planner_statistics_of_what_it_loaded(shop, run_command):
    # given an empty store (a fresh history has no planner statistics until something analyzes its tables)
    # when a file is imported
    run_command("import_orders", str(SMALL), "--store", shop.domain, "--no-progress")

    # then the tables it filled have statistics: the retrain's reads of them get a sound plan at once, even with
    # PostgreSQL's autovacuum off or not yet come round
    # (on PostgreSQL: SQLite's planner needs no statistics for these reads)
    from django.db import connection

    if connection.vendor == "postgresql":
        for model in (DailyDemand, Order, OrderLine, Variant):
            assert _planner_statistics(model._meta.db_table) > 0, model.__name__
