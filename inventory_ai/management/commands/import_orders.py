"""`manage.py import_orders <csv[.gz]> --store <domain>`: import order history from a file."""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import reset_queries
from django.utils import timezone
from tqdm import tqdm

from integrations.online_retail import OnlineRetailReader
from integrations.records import OrderRecord, RefundRecord, RowProblem
from integrations.shopify.order_export import ShopifyOrderExportReader
from inventory_ai.choices import OrderSource
from inventory_ai.conf import get_option
from inventory_ai.models import DailyDemand, Order, OrderLine, Store, Variant
from inventory_ai.services.bulk import refresh_statistics
from inventory_ai.services.catalog import CatalogCache
from inventory_ai.services.orders import ApplyResult, apply_order_records, apply_refund_records
from inventory_ai.services.stores import find_store

FORMATS = ("online-retail", "shopify-csv")
EXAMPLES_PER_REASON = 5


def _reason_category(reason: str) -> str:
    """Group reasons that differ only in their values (codes, counts) for the summary."""
    return re.sub(r"'[^']*'|\d+", "#", reason)


class Command(BaseCommand):
    help = (
        "Import order history from a CSV file (optionally gzip-compressed) into a store, exactly as webhooks would "
        "record it. Idempotent: importing the same file again adds nothing. Malformed rows are reported with their "
        "line number and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, plain or .gz")
        parser.add_argument("--store", required=True, help="The store's shop domain or site URL")
        parser.add_argument("--format", choices=FORMATS, default="online-retail")
        parser.add_argument(
            "--source-timezone",
            help="Time zone of naive timestamps in the file (Online Retail); default: the store's time zone",
        )
        parser.add_argument("--batch-orders", type=int, default=None, help="Orders per database transaction")
        parser.add_argument("--report", help="Write every reported row (line number, reason) to this CSV file")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar")

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            store = find_store(options["store"])
        except Store.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        batch_orders = options["batch_orders"] or get_option("IMPORT_BATCH_ORDERS")
        if batch_orders < 1:
            raise CommandError("--batch-orders must be at least 1")
        try:
            source_tz = ZoneInfo(options["source_timezone"]) if options["source_timezone"] else store.tzinfo
        except Exception as exc:  # ZoneInfo raises several types for a bad key
            raise CommandError(f"Unknown time zone {options['source_timezone']!r}") from exc
        if options["format"] == "online-retail":
            reader = OnlineRetailReader(tz=source_tz, currency=store.currency)
        else:
            reader = ShopifyOrderExportReader(default_currency=store.currency)

        report_path = Path(options["report"]) if options["report"] else self._default_report_path(store)
        started = time.monotonic()
        catalog = CatalogCache(store)
        totals = ApplyResult()
        # per reason: how many rows, and the first few line numbers (every one is in the report file)
        problems_by_reason: dict[str, list[int]] = defaultdict(lambda: [0])
        problem_count = partial_count = 0
        orders: list[OrderRecord] = []
        refunds: list[RefundRecord] = []

        def flush() -> None:
            if orders:
                totals.merge(apply_order_records(store, orders, source=OrderSource.CSV_IMPORT, catalog=catalog))
                orders.clear()
            if refunds:
                totals.merge(apply_refund_records(store, refunds))
                refunds.clear()
            reset_queries()  # with DEBUG on, Django keeps the last 9,000 statements: whole batches of rows

        raw = open(path, "rb")  # noqa: SIM115  (closed in the finally below; the progress bar reads its position)
        report_file = None
        try:
            binary = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
            # An undecodable byte becomes U+FFFD in that row's text instead of aborting the whole import.
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
            progress = tqdm(
                total=os.path.getsize(path),
                unit="B",
                unit_scale=True,
                desc=f"Importing {path.name}",
                disable=options["no_progress"],
                file=self.stderr,
            )
            position = 0
            try:
                for item in reader.read(text):
                    if isinstance(item, RowProblem):
                        problem_count += 1
                        partial_count += item.partial
                        seen = problems_by_reason[_reason_category(item.reason)]
                        seen[0] += 1
                        if len(seen) <= EXAMPLES_PER_REASON:
                            seen.append(item.line_number)
                        if report_file is None:
                            report_path.parent.mkdir(parents=True, exist_ok=True)
                            report_file = open(report_path, "w", newline="")  # noqa: SIM115
                            report_writer = csv.writer(report_file)
                            report_writer.writerow(["line_number", "partly_imported", "reason"])
                        report_writer.writerow([item.line_number, "yes" if item.partial else "no", item.reason])
                        continue
                    (orders if isinstance(item, OrderRecord) else refunds).append(item)
                    if len(orders) >= batch_orders:
                        flush()
                        progress.update(raw.tell() - position)
                        position = raw.tell()
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            flush()
            progress.update(os.path.getsize(path) - position)
            progress.close()
            if reader.rows_imported:
                refresh_statistics([Variant, Order, OrderLine, DailyDemand])
        finally:
            raw.close()
            if report_file is not None:
                report_file.close()

        elapsed = time.monotonic() - started
        self._print_summary(reader, totals, problems_by_reason, (problem_count, partial_count), report_path, elapsed)

    def _default_report_path(self, store: Store) -> Path:
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        safe_name = "".join(ch if ch.isalnum() else "-" for ch in store.domain)
        return Path(settings.VAR_DIR) / "import-reports" / f"{safe_name}-{stamp}.csv"

    def _print_summary(self, reader, totals, problems_by_reason, counts, report_path, elapsed) -> None:
        out = self.stdout
        rows = reader.rows_read
        problem_count, partial_count = counts
        out.write(
            f"Rows read:          {rows:,} = {reader.rows_imported:,} imported + {problem_count - partial_count:,} "
            f"reported and skipped ({partial_count:,} more imported in part and reported)"
        )
        out.write(
            f"Orders:             {totals.orders_created:,} created, {totals.orders_updated:,} updated, "
            f"{totals.orders_unchanged:,} already up to date"
        )
        out.write(f"Order lines:        {totals.lines_created:,} created")
        out.write(
            f"Refunds:            {totals.refunds_created:,} created, {totals.refunds_unchanged:,} already applied"
        )
        out.write(f"Daily demand cells: {totals.demand_cells_changed:,} changed")
        if totals.problems:
            out.write(self.style.WARNING(f"Not applied:        {len(totals.problems):,}"))
            for problem in totals.problems[:EXAMPLES_PER_REASON]:
                out.write(f"  {problem}")
        if problem_count:
            out.write(self.style.WARNING(f"Rows reported:      {problem_count:,} (every one listed in {report_path})"))
            for reason, (count, *lines) in sorted(problems_by_reason.items(), key=lambda item: -item[1][0]):
                examples = ", ".join(str(n) for n in lines)
                more = ", ..." if count > len(lines) else ""
                out.write(f"  {count:>7,}  {reason}  (lines {examples}{more})")
        rate = rows / elapsed if elapsed > 0 else float("inf")
        out.write(self.style.SUCCESS(f"Done in {elapsed:.1f} s: {rate:,.0f} rows/s"))
