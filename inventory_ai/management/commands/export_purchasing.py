"""`manage.py export_purchasing --store <domain> --kind suppliers|purchase-orders [--output FILE]`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory_ai.models import Store
from inventory_ai.services import purchasing_export, purchasing_import
from inventory_ai.services.stores import find_store


class Command(BaseCommand):
    help = "Export a store's suppliers or purchase orders as CSV, in the generic layout import_purchasing reads."

    def add_arguments(self, parser):
        parser.add_argument("--store", required=True, help="The store's shop domain or site URL")
        parser.add_argument("--kind", required=True, choices=purchasing_import.KINDS)
        parser.add_argument("--output", help="The file to write (default: standard output)")

    def handle(self, *args, **options):
        try:
            store = find_store(options["store"])
        except Store.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        if options["kind"] == purchasing_import.SUPPLIERS:
            text = purchasing_export.export_suppliers(store)
        else:
            text = purchasing_export.export_purchase_orders(store)
        if options["output"]:
            with open(options["output"], "w", newline="", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")
