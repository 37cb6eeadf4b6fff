"""`manage.py rebuild_demand [--store <domain>]`: recompute daily demand from stored orders."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from inventory_ai.models import Store
from inventory_ai.services.demand import rebuild_demand
from inventory_ai.services.stores import find_store


class Command(BaseCommand):
    help = "Recompute DailyDemand from orders (all stores, or one). Out-of-stock flags are kept."

    def add_arguments(self, parser):
        parser.add_argument("--store", help="The store's shop domain or site URL (default: every store)")

    def handle(self, *args, **options):
        try:
            stores = [find_store(options["store"])] if options["store"] else list(Store.objects.all())
        except Store.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        for store in stores:
            started = time.monotonic()
            cells = rebuild_demand(store)
            self.stdout.write(f"{store.domain}: {cells:,} demand cells rebuilt in {time.monotonic() - started:.1f} s")
