"""`manage.py retrain --store <domain> [--refresh] [--wait]`: enqueue a retrain and optionally follow it."""

from __future__ import annotations

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from inventory_ai.choices import RunKind, RunStatus
from inventory_ai.models import ForecastRun, Store
from inventory_ai.services import retraining
from inventory_ai.services.stores import find_store

BAR_WIDTH = 30


def progress_line(run: ForecastRun, elapsed: float) -> str:
    """`[#########.....] 1,200/3,900 SKUs  backtest  1m05s` (failed SKUs counted and shown)."""
    done = run.skus_done + run.skus_failed
    filled = int(BAR_WIDTH * run.progress)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    failed = f", {run.skus_failed:,} failed" if run.skus_failed else ""
    minutes, seconds = divmod(int(elapsed), 60)
    return f"[{bar}] {done:,}/{run.skus_total:,} SKUs{failed}  {run.get_phase_display()}  {minutes}m{seconds:02d}s"


class Command(BaseCommand):
    help = "Enqueue a retrain of a store's forecasts on the Celery workers; with --wait, show its progress."

    def add_arguments(self, parser):
        parser.add_argument("--store", required=True, help="The store's shop domain or site URL")
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="Only re-fit the current models of SKUs with new data (no model selection)",
        )
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            help="Forecast as if it were this day (YYYY-MM-DD): the history ends with the last complete period before",
        )
        parser.add_argument("--wait", action="store_true", help="Follow the run with a progress bar until it ends")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait at most (with --wait)")

    def handle(self, *args, **options):
        try:
            store = find_store(options["store"])
        except Store.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        kind = RunKind.REFRESH if options["refresh"] else RunKind.FULL
        try:
            run = retraining.start_retrain(store, kind, trigger="command", as_of=options["as_of"])
        except retraining.RetrainAlreadyRunning as exc:
            raise CommandError(f"{exc}; wait for it or follow it in the admin.") from exc
        if run is None:
            self.stdout.write(f"{store.domain}: no new data since the current forecast; nothing to refresh.")
            return
        self.stdout.write(f"{store.domain}: {run.get_kind_display()} queued as run #{run.pk}.")
        if options["wait"]:
            self._follow(run, options["timeout"])

    def _follow(self, run: ForecastRun, timeout: float) -> None:
        started = time.monotonic()
        interactive = self.stdout.isatty()
        shown = None
        while True:
            run.refresh_from_db()
            line = progress_line(run, time.monotonic() - started)
            if interactive:  # one line, redrawn
                self.stdout.write("\r" + line, ending="")
                self.stdout.flush()
            elif (state := (run.skus_done, run.skus_failed, run.phase, run.status)) != shown:  # a line per change
                self.stdout.write(line)
                shown = state
            if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
                break
            if time.monotonic() - started > timeout:
                raise CommandError(
                    f"\nRun #{run.pk} still {run.status} after {timeout:.0f} s; it goes on in the workers."
                )
            time.sleep(1.0)
        if interactive:
            self.stdout.write("")
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} {run.status}: {run.error_log or 'see the admin'}")
        counts = ", ".join(f"{model} {count}" for model, count in run.model_counts.items())
        accuracy = run.accuracy.get("all", {}).get("rmsse")
        self.stdout.write(
            f"Run #{run.pk} succeeded in {run.duration_seconds:.0f} s: {run.skus_done:,} SKUs forecast, "
            f"{run.skus_failed:,} failed; backtest RMSSE {accuracy}; models: {counts}"
        )
        if run.error_log:  # what the run noted on its way (a network left out, every SKU inactive)
            self.stdout.write(f"Notes:\n{run.error_log}")
