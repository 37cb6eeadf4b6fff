"""`make demo` end to end: the demo command starts web + worker + beat on the embedded broker and stops cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, free_port


@pytest.mark.slow
def test_demo_starts_serves_the_admin_and_stops(tmp_path):
    # given a fresh machine's defaults: no DATABASE_URL, no broker URL (SQLite and the embedded broker)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "CELERY_"))}
    env.update(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="inventory_ai.settings",
        INVENTORY_AI_VAR_DIR=str(tmp_path / "var"),
        DEMO_EXIT_AFTER_READY="1",
    )
    env.pop("INVENTORY_AI_REQUIRE_SERVICES", None)

    # when the demo runs until it is ready
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # then it imported the sample, served the admin, got an answer from its worker, and stopped everything
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Rows read:" in result.stdout
    assert "Inventory AI is running: http://127.0.0.1:" in result.stdout
    assert "password: " in result.stdout
    assert result.stdout.rstrip().endswith("Stopped.")
    assert (tmp_path / "var" / "inventory_ai.sqlite3").exists()
