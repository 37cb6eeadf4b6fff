"""Suppliers and purchase orders from Stocky's exports and the generic layout: bad rows reported with their line and
reason, good ones imported, a second import changing nothing, and the export read back as it was."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from inventory_ai.choices import PurchaseOrderStatus
from inventory_ai.models import (
    InventoryLevel,
    Location,
    Product,
    PurchaseOrder,
    StockAdjustment,
    Supplier,
    SupplierItem,
    Variant,
)
from inventory_ai.services import purchasing, purchasing_export, purchasing_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(shop):
    product = Product.objects.create(store=shop, platform_id="1", title="Notebook", vendor="Mill")
    variants = [
        Variant.objects.create(store=shop, product=product, platform_id=str(10 + n), sku=f"NB-{n}") for n in range(3)
    ]
    Location.objects.create(store=shop, platform_id="9", name="Warehouse", is_primary=True)
    Location.objects.create(store=shop, platform_id="8", name="Shop Floor")
    for variant in variants:
        InventoryLevel.objects.create(variant=variant, location=Location.objects.get(platform_id="9"), available=4,
                                      platform_updated_at=timezone.now())  # fmt: skip
    return shop, variants


SUPPLIERS_CSV = (
    (
        "Supplier Name,Email,Lead Time Days,Min Order Value,Case Pack,Payment Terms,SKU,Supplier SKU,Unit Cost,"
        "Pack Size,Preferred,Colour\n"
    )
    + """Paper Mill,orders@mill.example,12,"1,250.00",6,Net 30,NB-0,M-0,$2.50,12,yes,red
Paper Mill,orders@mill.example,12,"1,250.00",6,Net 30,NB-1,M-1,2.75,,,blue
Ink & Co,not-an-address,5,,,,,,,,,
Ink & Co,ink@ink.example,5,,,,NB-9,,1.00,,,
Ink & Co,ink@ink.example,5,,0,,,,,,,
Pens Ltd,,7,,,,,,,,,
"""
)


def test_suppliers_and_what_each_supplies_import_once_with_bad_rows_reported(catalogue):
    shop, variants = catalogue
    report = purchasing_import.import_suppliers(shop, SUPPLIERS_CSV)

    mill = Supplier.objects.get(store=shop, name="Paper Mill")
    assert (mill.email, mill.lead_time_days, mill.min_order_value, mill.case_pack, mill.payment_terms) == (
        "orders@mill.example", 12, Decimal("1250.00"), 6, "Net 30")  # fmt: skip
    item = SupplierItem.objects.get(supplier=mill, variant=variants[0])
    assert (item.supplier_sku, item.unit_cost, item.pack_size, item.preferred) == ("M-0", Decimal("2.5000"), 12, True)
    assert SupplierItem.objects.get(supplier=mill, variant=variants[1]).unit_cost == Decimal("2.7500")
    assert Supplier.objects.filter(store=shop, name="Pens Ltd").exists()
    assert not Supplier.objects.filter(store=shop, name="Ink & Co").exists()  # every row of it was bad
    assert report.problems == [
        (1, "unknown column 'Colour': ignored"),
        (4, "e-mail 'not-an-address' is not an address"),
        (5, "unknown SKU 'NB-9'"),
        (6, "case pack must be at least 1"),
    ]
    # the preferred supplier is the one orders go to
    assert purchasing.supplier_for(variants[0]) == mill

    again = purchasing_import.import_suppliers(shop, SUPPLIERS_CSV)
    assert (again.created, again.updated) == (0, 0)
    assert Supplier.objects.filter(store=shop).count() == 2


STOCKY_ORDERS_CSV = (
    (
        "Purchase Order,Supplier,Status,Location to receive stock,Expected Date,Product,SKU,Ordered Quantity,"
        "Received Quantity,Cost Price,Ordered On\n"
    )
    + """PO-1001,Paper Mill,Partially Received,Warehouse,2026-12-20,Notebook,NB-0,24,10,$2.50,2026-11-30
PO-1001,Paper Mill,Partially Received,Warehouse,2026-12-20,Notebook,NB-1,12,0,2.75,2026-11-30
PO-1002,Paper Mill,Ordered,,2026-12-24,Notebook,NB-0,6,0,2.50,2026-12-01
PO-1002,Ink & Co,Ordered,,2026-12-24,Notebook,NB-1,6,0,2.50,2026-12-01
PO-1003,Paper Mill,Ordered,Shop Floor,,Notebook,NB-2,8,0,2.50,2026-12-01
PO-1003,Paper Mill,Ordered,Shop Floor,,Notebook,NB-404,8,0,2.50,2026-12-01
PO-1004,Paper Mill,Ordered,,,Notebook,NB-2,-3,0,2.50,2026-12-01
PO-1005,Paper Mill,Ordered,,,Notebook,NB-2,3,0,abc,2026-12-01
PO-1006,Paper Mill,Received,,,Notebook,NB-2,5,5,"1.299,50",2026-11-01
"""
)


def test_a_stocky_export_of_purchase_orders_imports_whole_orders_once_without_touching_stock(catalogue):
    shop, variants = catalogue
    report = purchasing_import.import_purchase_orders(shop, STOCKY_ORDERS_CSV, "stocky")

    assert set(PurchaseOrder.objects.filter(store=shop).values_list("number", flat=True)) == {"PO-1001", "PO-1006"}
    first = PurchaseOrder.objects.get(number="PO-1001")
    assert (first.status, first.supplier.name, first.location.name, str(first.expected_on)) == (
        PurchaseOrderStatus.PARTIALLY_RECEIVED, "Paper Mill", "Warehouse", "2026-12-20")  # fmt: skip
    assert sorted((line.variant.sku, line.quantity, line.received, line.unit_cost) for line in first.lines.all()) == [
        ("NB-0", 24, 10, Decimal("2.5000")),
        ("NB-1", 12, 0, Decimal("2.7500")),
    ]
    assert PurchaseOrder.objects.get(number="PO-1006").lines.get().unit_cost == Decimal("1299.5000")
    # what the open order still awaits is on order; received quantities are history: no stock was pushed
    assert purchasing.on_order([v.pk for v in variants]) == {variants[0].pk: 14, variants[1].pk: 12}
    assert not StockAdjustment.objects.exists()
    reasons = dict(report.problems)
    assert {line for line, _ in report.problems} == {4, 5, 6, 7, 8, 9}  # every column is one Stocky writes
    assert "more than one supplier" in reasons[4]
    assert "more than one supplier" in reasons[5]
    assert reasons[7] == "unknown SKU 'NB-404'"
    assert reasons[6] == "PO PO-1003 has lines that cannot be imported"
    assert "whole number of 0 or more" in reasons[8]
    assert reasons[9] == "cost 'abc' is not an amount"

    again = purchasing_import.import_purchase_orders(shop, STOCKY_ORDERS_CSV, "stocky")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_the_generic_layout_does_not_read_stockys_names(catalogue):
    shop, _ = catalogue
    with pytest.raises(purchasing_import.ImportRefused, match="no column for number, quantity"):
        purchasing_import.import_purchase_orders(shop, STOCKY_ORDERS_CSV, "generic")


def test_the_commands_import_and_export_and_the_export_reads_back_unchanged(catalogue, run_command, tmp_path):
    shop, variants = catalogue
    orders = tmp_path / "orders.csv"
    orders.write_text(STOCKY_ORDERS_CSV)
    report = tmp_path / "report.csv"
    out, _ = run_command("import_purchasing", str(orders), "--store", shop.domain, "--kind", "purchase-orders",
                         "--format", "stocky", "--report", str(report))  # fmt: skip
    assert "2 created, 0 updated, 0 unchanged" in out
    assert "line 7: unknown SKU 'NB-404'" in out
    assert "line,reason" in report.read_text().splitlines()[0]
    with pytest.raises(CommandError, match="No such file"):
        run_command("import_purchasing", str(tmp_path / "none.csv"), "--store", shop.domain, "--kind", "suppliers")

    # what we export is the generic layout, which imports back as it is
    exported = tmp_path / "export.csv"
    run_command("export_purchasing", "--store", shop.domain, "--kind", "purchase-orders", "--output", str(exported))
    back = purchasing_import.import_purchase_orders(shop, exported.read_text())
    assert (back.created, back.updated, back.unchanged, back.problems) == (0, 0, 2, [])
    purchasing_import.import_suppliers(shop, SUPPLIERS_CSV)
    suppliers = purchasing_export.export_suppliers(shop)
    back = purchasing_import.import_suppliers(shop, suppliers)
    assert (back.created, back.updated, back.problems) == (0, 0, [])
