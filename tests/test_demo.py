"""`make demo` end to end: a simulated shop's history (CSV import and signed webhooks), web + worker + beat on the
embedded broker, a reconciliation with the shop and the first retrain, then a clean stop."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, free_port


@pytest.mark.slow
def test_demo_runs_the_whole_loop_to_the_first_forecasts_and_stops(tmp_path):
    # given a fresh machine's defaults: no DATABASE_URL, no broker URL (SQLite and the embedded broker)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "CELERY_"))}
    env.update(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="inventory_ai.settings",
        INVENTORY_AI_VAR_DIR=str(tmp_path / "var"),
        DEMO_EXIT_AFTER_RETRAIN="1",
    )
    env.pop("INVENTORY_AI_REQUIRE_SERVICES", None)

    # when the demo runs until its first retrain is done
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    # then it imported the history, had its webhooks processed, read the shop's catalogue and stock, trained the
    # forecasts and proposed restocks, printed the users, and stopped everything
    output = result.stdout
    assert result.returncode == 0, output[-3000:] + result.stderr[-3000:]
    assert "Rows read:" in output
    accepted = re.search(r"([\d,]+) webhooks accepted", output)
    assert accepted
    assert int(accepted.group(1).replace(",", "")) > 1000
    connected = re.search(r"Connected demo-gift-shop\.myshopify\.com through the app .* (\d+) webhook topics", output)
    assert connected, output[-3000:]  # the demo shop is connected as a merchant would, through OAuth
    assert int(connected.group(1)) == 21
    assert "240 products and 240 stock levels read" in output
    assert "3 discounts read (2 promotions)" in output  # the customer-only code is no promotion
    forecasts = re.search(
        r"([\d,]+) forecasts \(run #1\); ([\d,]+) restock suggestions pending \(([\d,]+) late, ([\d,]+) to order "
        r"this week, ([\d,]+) fine for now\)",
        output,
    )
    assert forecasts, output[-3000:]
    assert int(forecasts.group(1).replace(",", "")) == 240 * 12
    assert int(forecasts.group(2).replace(",", "")) > 0
    # the demo shop's stock is a realistic mix: the planner sees suggestions of all three urgencies
    late, this_week, later = (int(forecasts.group(n).replace(",", "")) for n in (3, 4, 5))
    assert min(late, this_week, later) > 0, forecasts.group(0)
    assert "Inventory AI is running: http://127.0.0.1:" in output
    assert re.search(r"Planner: planner / \S+", output)
    assert re.search(r"Viewer: viewer / \S+", output)
    assert output.rstrip().endswith("Stopped.")
    assert (tmp_path / "var" / "inventory_ai.sqlite3").exists()
