"""Every SKU's planning settings out to a spreadsheet and back: supplier, lead time, review period, MOQ, case pack,
unit cost, service level and class override, as CSV or Excel.

An import is previewed first: each change (SKU, setting, value now, value in the file) and each row that cannot be
read (its line and why) is listed, and nothing is written until the planner applies the preview. Applying writes the
changes that still hold (a value changed since the preview is reported, not overwritten), each audited. An empty
cell clears a setting (the store's default applies again); a column left out of the file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from inventory_ai.choices import AuditAction, AuditSource
from inventory_ai.models import Store, Supplier, SupplierItem, Variant
from inventory_ai.services import audit, purchasing
from inventory_ai.text import csv_safe

# setting -> (its column, how a cell is read)
COLUMNS = ("sku", "product", "supplier", "lead_time_days", "review_period_days", "moq", "case_pack", "unit_cost",
           "service_level", "abc_class", "abc_class_override")  # fmt: skip
EDITABLE = ("supplier", "lead_time_days", "review_period_days", "moq", "case_pack", "unit_cost", "service_level",
            "abc_class_override")  # fmt: skip
CSV, XLSX = "csv", "xlsx"


@dataclass(frozen=True)
class Change:
    line: int
    sku: str
    setting: str
    before: str
    after: str


@dataclass
class Preview:
    changes: list[Change] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    unchanged: int = 0


def _value(variant: Variant, setting: str) -> str:
    """A setting as the spreadsheet shows it ("" when unset)."""
    if setting == "supplier":
        return purchasing.supplier_name(variant)
    value = getattr(variant, setting)
    if value is None:
        return ""
    if setting == "unit_cost":
        return _cost_text(value)
    return str(value)


def _cost_text(cost: Decimal) -> str:
    """A cost as the spreadsheet shows it and a cell is compared with it: "2", "2.5", "1.2345"."""
    return f"{cost.normalize():f}" if cost == cost.to_integral_value() else f"{cost:.4f}".rstrip("0")


def _variants(store: Store):
    return (
        Variant.objects.filter(store=store, deleted_at__isnull=True)
        .select_related("product")
        .prefetch_related("supplier_items__supplier")
        .order_by("sku", "pk")
    )


def export(store: Store, kind: str = CSV) -> bytes:
    rows = [list(COLUMNS)]
    for variant in _variants(store):
        rows.append([variant.sku, variant.display_title, *(_value(variant, name) for name in COLUMNS[2:])])
    if kind == XLSX:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = _("Planning settings")[:31]  # a sheet's name holds 31 characters
        for row in rows:
            sheet.append([csv_safe(cell) if isinstance(cell, str) else cell for cell in row])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO()
    writer = csv.writer(text)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return text.getvalue().encode("utf-8")


def _rows(content: bytes, kind: str) -> list[list[str]]:
    if kind == XLSX:
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # a file that is not a workbook: openpyxl raises several kinds
            message = _("the file is not an Excel workbook (%(error)s)") % {"error": exc.__class__.__name__}
            raise ValueError(message) from exc
        return [
            ["" if cell is None else str(cell).strip() for cell in row] for row in sheet.iter_rows(values_only=True)
        ]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252")
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]


def preview(store: Store, content: bytes, kind: str = CSV) -> Preview:
    rows = _rows(content, kind)
    if not rows:
        raise ValueError(_("the file is empty"))
    header = [re.sub(r"[\s\-]+", "_", cell.lower()) for cell in rows[0]]
    if "sku" not in header:
        # Translators: "sku" is the column's name in the file: keep it as it is
        raise ValueError(_("the file has no sku column"))
    columns = {name: header.index(name) for name in EDITABLE if name in header}
    result = Preview()
    unknown = [cell for cell in rows[0] if re.sub(r"[\s\-]+", "_", cell.lower()) not in COLUMNS and cell]
    for name in unknown:
        result.problems.append((1, _("unknown column %(column)s: ignored") % {"column": repr(name)}))
    variants = {variant.sku: variant for variant in _variants(store) if variant.sku}
    seen: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        cells = row + [""] * (len(header) - len(row))
        sku = cells[header.index("sku")].lstrip("'")
        if not any(cells):
            continue
        variant = variants.get(sku)
        if variant is None:
            result.problems.append((number, _("unknown SKU %(sku)s") % {"sku": repr(sku)} if sku else _("no SKU")))
            continue
        if sku in seen:
            twice = _("SKU %(sku)s is in the file twice: the first row counts") % {"sku": repr(sku)}
            result.problems.append((number, twice))
            continue
        seen.add(sku)
        changes = []
        try:
            for name, index in columns.items():
                new = _read(name, cells[index].lstrip("'"))
                old = _value(variant, name)
                if new != old:
                    changes.append(Change(number, sku, name, old, new))
        except ValueError as exc:
            result.problems.append((number, str(exc)))
            continue
        result.changes += changes
        result.unchanged += not changes
    return result


def _read(setting: str, cell: str) -> str:
    """A cell as the setting it sets, in the export's spelling ("" clears it); ValueError when it cannot be one."""
    if cell == "":
        return ""
    if setting == "supplier":
        return cell[:255]
    if setting == "abc_class_override":
        if cell.upper() not in ("A", "B", "C"):
            raise ValueError(_("class %(value)s is not A, B or C") % {"value": repr(cell)})
        return cell.upper()
    if setting == "service_level":
        try:
            level = float(cell.rstrip("%")) / (100 if cell.endswith("%") else 1)
        except ValueError:
            raise ValueError(_("service level %(value)s is not a number") % {"value": repr(cell)}) from None
        if not 0.5 <= level <= 0.9999:
            raise ValueError(_("service level %(value)s is not between 0.5 and 0.9999") % {"value": repr(cell)})
        return str(level)
    if setting == "unit_cost":
        try:
            cost = Decimal(cell.replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("unit cost %(value)s is not an amount") % {"value": repr(cell)}) from None
        if cost < 0:
            raise ValueError(_("unit cost %(value)s is negative") % {"value": repr(cell)})
        return _cost_text(cost)
    try:
        number = Decimal(cell)
    except InvalidOperation:
        figures = {"what": setting.replace("_", " "), "value": repr(cell)}  # the setting as its column names it
        # Translators: %(what)s names a column as the file does ("lead time days"), %(value)s quotes its cell
        raise ValueError(_("%(what)s %(value)s is not a number") % figures) from None
    if number != number.to_integral_value() or number < 0 or (setting == "case_pack" and number < 1):
        figures = {"what": setting.replace("_", " "), "value": repr(cell), "least": 1 if setting == "case_pack" else 0}
        raise ValueError(_("%(what)s %(value)s is not a whole number of %(least)s or more") % figures)
    return str(int(number))


def apply(store: Store, changes: list[Change], user, source: str = AuditSource.ADMIN) -> tuple[int, list[str]]:
    """Write the previewed changes that still hold; returns how many were written and what had changed since."""
    written, stale = 0, []
    by_sku: dict[str, list[Change]] = {}
    for change in changes:
        by_sku.setdefault(change.sku, []).append(change)
    with transaction.atomic():
        variants = {v.sku: v for v in _variants(store).filter(sku__in=list(by_sku)).select_for_update(of=("self",))}
        for sku, wanted in by_sku.items():
            variant = variants.get(sku)
            if variant is None:
                stale.append(_("%(sku)s: no longer in the store") % {"sku": sku})
                continue
            before, after = {}, {}
            for change in wanted:
                if _value(variant, change.setting) != change.before:
                    stale.append(
                        _("%(sku)s %(setting)s: changed since the preview, not overwritten")
                        % {"sku": sku, "setting": change.setting}
                    )
                    continue
                _set(variant, change.setting, change.after)
                before[change.setting], after[change.setting] = change.before, change.after
            if after:
                variant.save()
                audit.record(variant, AuditAction.EDIT, user, source, before=before, after=after,
                             note="planning settings import")  # fmt: skip
                written += len(after)
    return written, stale


def _set(variant: Variant, setting: str, value: str) -> None:
    if setting == "supplier":
        _prefer(variant, value)
        variant.supplier = value
    elif setting == "abc_class_override":
        variant.abc_class_override = value
        if value:
            variant.abc_class = value
    elif setting == "unit_cost":
        variant.unit_cost = Decimal(value) if value else None
    elif setting == "service_level":
        variant.service_level = float(value) if value else None
    else:
        setattr(variant, setting, int(value) if value else None)


def _prefer(variant: Variant, name: str) -> None:
    """Make the supplier named the variant's preferred one (made when new); "" leaves none preferred."""
    SupplierItem.objects.filter(variant=variant, preferred=True).update(preferred=False)
    if name:
        supplier = Supplier.objects.filter(
            store_id=variant.store_id, name__iexact=name
        ).first() or Supplier.objects.create(store_id=variant.store_id, name=name)
        SupplierItem.objects.update_or_create(supplier=supplier, variant=variant, defaults={"preferred": True})
    variant._prefetched_objects_cache = {}
