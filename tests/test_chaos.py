"""The chaos suite's faults, in CI: Redis killed and PostgreSQL stopped in the middle of a webhook replay, worker
processes SIGKILLed while they process it, a duplicate storm and 1,000 generated bad requests (malformed HTTP
included), each against gunicorn, real Celery workers and private PostgreSQL and Redis servers that the suite starts
(and breaks) itself. The full run, with the retrain and push kills, 10,000 bad requests and the access checks, is
`python bench/chaos.py`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SAMPLE = ROOT / "inventory_ai" / "demo" / "online_retail_sample.csv.gz"


@pytest.mark.slow
def test_nothing_is_lost_or_doubled_through_outages_kills_and_a_duplicate_storm(tmp_path):
    # given the chaos suite, run on the demo's sample of real orders with short outages
    report = tmp_path / "chaos.json"
    command = [
        sys.executable, "bench/chaos.py", "--scenarios", "redis,postgres,kill-webhooks,storm,abuse",
        "--abuse-requests", "1000", "--orders", str(SAMPLE), "--orders-per-replay", "150", "--rate", "25",
        "--fault-after", "3", "--visibility-timeout", "8", "--stale-after", "8",
        "--redis-outage", "8", "--postgres-outage", "5", "--kill-every", "2", "--json-out", str(report),
    ]  # fmt: skip

    # when it runs
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)

    # then every scenario ran and every check held
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    rows = {row["scenario"]: row for row in json.loads(report.read_text())}
    assert [name.split(".")[0] for name in rows] == ["1", "2", "3a", "4", "5"]
    failed = {
        scenario: {name: check for name, check in row["checks"].items() if not check[2]}
        for scenario, row in rows.items()
    }
    assert not any(failed.values()), (failed, result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # and the faults really happened: 503s while PostgreSQL was down, processes killed, stale snapshots sent late
    redis, postgres, killed, storm, abuse = rows.values()
    assert redis["checks"]["events stored (once each)"][0] > 120
    assert "503:" in postgres["notes"]
    assert "pool process" in killed["faults"]
    assert "whole worker" in killed["faults"]
    assert storm["checks"]["storm: stale snapshots sent after newer ones (> 0)"][0] is True
    assert abuse["load"].startswith("1,0")  # 1,000 drawn, and a few replays of them
