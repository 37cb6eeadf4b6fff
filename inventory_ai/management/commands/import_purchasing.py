"""`manage.py import_purchasing <csv> --store <domain> --kind suppliers|purchase-orders [--format stocky|generic]`."""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inventory_ai.models import Store
from inventory_ai.services import purchasing_import
from inventory_ai.services.stores import find_store

SHOWN_PROBLEMS = 20


class Command(BaseCommand):
    help = (
        "Import suppliers (with what each supplies) or purchase orders (with their lines, costs and received "
        "quantities) from a CSV: Stocky's exports or the generic layout. Columns are matched by name. Every row not "
        "imported is reported with its line and reason; importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file")
        parser.add_argument("--store", required=True, help="The store's shop domain or site URL")
        parser.add_argument("--kind", required=True, choices=purchasing_import.KINDS)
        parser.add_argument(
            "--format", choices=purchasing_import.FORMATS, default="generic",
            help="The generic layout, or Stocky's exports (their column names besides the generic ones)",
        )  # fmt: skip
        parser.add_argument("--report", help="Write every reported row (line, reason) to this CSV file")

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        try:
            store = find_store(options["store"])
        except Store.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            text = path.read_text(encoding="cp1252")  # spreadsheets saved on Windows
        importer = (
            purchasing_import.import_suppliers
            if options["kind"] == purchasing_import.SUPPLIERS
            else purchasing_import.import_purchase_orders
        )
        try:
            report = importer(store, text, options["format"])
        except purchasing_import.ImportRefused as exc:
            raise CommandError(f"{path.name}: {exc}") from exc
        # the report, in the deployment's language (LANGUAGE_CODE); the CSV keeps its column names
        summary = ngettext(
            "%(kind)s into %(store)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
            "%(reported)s row(s) reported",
            "%(kind)s into %(store)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
            "%(reported)s row(s) reported",
            len(report.problems),
        )
        self.stdout.write(summary % {"kind": options["kind"], "store": store, "created": report.created,
                                     "updated": report.updated, "unchanged": report.unchanged,
                                     "reported": len(report.problems)})  # fmt: skip
        for line, reason in report.problems[:SHOWN_PROBLEMS]:
            self.stdout.write("  " + _("line %(line)s: %(reason)s") % {"line": line, "reason": reason})
        if len(report.problems) > SHOWN_PROBLEMS:
            self.stdout.write("  " + _("... and %(count)s more") % {"count": len(report.problems) - SHOWN_PROBLEMS})
        if options["report"] and report.problems:
            with open(options["report"], "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["line", "reason"])
                writer.writerows(report.problems)
            self.stdout.write("  " + _("every reported row: %(path)s") % {"path": options["report"]})
