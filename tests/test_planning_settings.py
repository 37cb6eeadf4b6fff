"""SKU planning settings out to CSV or Excel and back, previewed before anything is written."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from inventory_ai.models import AuditEntry, Variant
from inventory_ai.services import planning_settings, purchasing, replenishment

pytestmark = pytest.mark.django_db


def rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def as_csv(table: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue().encode()


def test_an_export_read_back_changes_nothing(forecast_store):
    shop, _, variants = forecast_store
    Variant.objects.filter(pk=variants[0].pk).update(lead_time_days=21, unit_cost=Decimal("2.5"), service_level=0.97)
    exported = planning_settings.export(shop)
    table = rows(exported)
    assert len(table) == len(variants)
    first = next(row for row in table if row["sku"] == variants[0].sku)
    assert (first["lead_time_days"], first["unit_cost"], first["service_level"]) == ("21", "2.5", "0.97")
    found = planning_settings.preview(shop, exported)
    assert (found.changes, found.problems, found.unchanged) == ([], [], len(variants))


def test_a_file_is_previewed_then_applied_with_bad_rows_reported(forecast_store, planner):
    shop, _, variants = forecast_store
    table = rows(planning_settings.export(shop))
    by_sku = {row["sku"]: row for row in table}
    by_sku[variants[0].sku]["lead_time_days"] = "28"
    by_sku[variants[0].sku]["service_level"] = "98%"
    by_sku[variants[1].sku]["supplier"] = "Paper Mill"
    by_sku[variants[1].sku]["case_pack"] = "12"
    by_sku[variants[2].sku]["abc_class_override"] = "a"
    by_sku[variants[3].sku]["moq"] = "-4"
    by_sku[variants[4].sku]["service_level"] = "1.5"
    by_sku[variants[5].sku]["abc_class_override"] = "D"
    table.append({**table[0], "sku": "NOPE-1"})
    found = planning_settings.preview(shop, as_csv(table))

    assert {(c.sku, c.setting, c.before, c.after) for c in found.changes} == {
        (variants[0].sku, "lead_time_days", "", "28"),
        (variants[0].sku, "service_level", "", "0.98"),
        (variants[1].sku, "supplier", "", "Paper Mill"),
        (variants[1].sku, "case_pack", "", "12"),
        (variants[2].sku, "abc_class_override", "", "A"),
    }
    reasons = [reason for _, reason in found.problems]
    assert reasons == ["moq '-4' is not a whole number of 0 or more",
                       "service level '1.5' is not between 0.5 and 0.9999", "class 'D' is not A, B or C",
                       "unknown SKU 'NOPE-1'"]  # fmt: skip
    # nothing is written by a preview
    assert Variant.objects.get(pk=variants[0].pk).lead_time_days is None

    written, stale = planning_settings.apply(shop, found.changes, planner)
    assert (written, stale) == (5, [])
    first = Variant.objects.get(pk=variants[0].pk)
    assert (first.lead_time_days, first.service_level) == (28, 0.98)
    assert purchasing.supplier_for(Variant.objects.get(pk=variants[1].pk)).name == "Paper Mill"
    assert AuditEntry.objects.filter(target_type="variant", target_id=variants[0].pk, actor=planner).exists()
    # a class set by a planner wins over the one computed from revenue
    replenishment.update_classes(shop, shop.local_today())
    assert Variant.objects.get(pk=variants[2].pk).abc_class == "A"


def test_a_value_changed_since_the_preview_is_not_overwritten(forecast_store, planner):
    shop, _, variants = forecast_store
    table = rows(planning_settings.export(shop))
    next(row for row in table if row["sku"] == variants[0].sku)["moq"] = "10"
    found = planning_settings.preview(shop, as_csv(table))
    Variant.objects.filter(pk=variants[0].pk).update(moq=7)  # someone else changed it meanwhile
    written, stale = planning_settings.apply(shop, found.changes, planner)
    assert written == 0
    assert stale == [f"{variants[0].sku} moq: changed since the preview, not overwritten"]
    assert Variant.objects.get(pk=variants[0].pk).moq == 7


def test_excel_round_trip(forecast_store):
    shop, _, variants = forecast_store
    book = load_workbook(io.BytesIO(planning_settings.export(shop, planning_settings.XLSX)))
    sheet = book.active
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == variants[0].sku)
    row[header.index("lead_time_days")].value = 9
    out = io.BytesIO()
    book.save(out)
    found = planning_settings.preview(shop, out.getvalue(), planning_settings.XLSX)
    assert [(c.sku, c.setting, c.after) for c in found.changes] == [(variants[0].sku, "lead_time_days", "9")]
    with pytest.raises(ValueError, match="not an Excel workbook"):
        planning_settings.preview(shop, b"not a workbook", planning_settings.XLSX)


def test_the_admin_previews_and_applies_and_a_viewer_only_downloads(forecast_store, client, planner, viewer):
    shop, _, variants = forecast_store
    url = reverse("admin:inventory_ai_variant_planning_settings")
    table = rows(planning_settings.export(shop))
    next(row for row in table if row["sku"] == variants[0].sku)["lead_time_days"] = "35"
    upload = SimpleUploadedFile("settings.csv", as_csv(table), content_type="text/csv")

    client.force_login(viewer)
    assert client.get(url, {"store": shop.pk, "export": "csv"}).status_code == 200
    assert client.post(url, {"store": shop.pk, "file": upload}).status_code == 403

    client.force_login(planner)
    upload.seek(0)
    page = client.post(url, {"store": shop.pk, "file": upload})
    text = page.content.decode()
    assert "1 change(s)" in text
    assert "lead_time_days" in text
    assert Variant.objects.get(pk=variants[0].pk).lead_time_days is None
    done = client.post(url, {"store": shop.pk, "token": page.context["token"]}, follow=True)
    assert "1 setting(s) changed." in done.content.decode()
    assert Variant.objects.get(pk=variants[0].pk).lead_time_days == 35
    # a preview is applied once
    again = client.post(url, {"store": shop.pk, "token": page.context["token"]}, follow=True)
    assert "That preview has expired" in again.content.decode()
