"""The settings, `.env.example` and `docker-compose.yml` agree: every variable the settings read is documented, and
every one reaches the services that read it."""

from __future__ import annotations

import re

import yaml

from inventory_ai.conf import DEFAULTS
from tests.conftest import ROOT

READ = re.compile(r"""(?:os\.environ\.get|os\.environ\[|env_bool|env_list)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")


def settings_variables() -> set[str]:
    """What the settings read from the environment: by name, and every product option as INVENTORY_AI_<NAME>."""
    names = set()
    for module in ("settings.py", "product_settings.py"):
        names |= set(READ.findall((ROOT / "inventory_ai" / module).read_text()))
    return names | {f"INVENTORY_AI_{name}" for name in DEFAULTS}


def documented() -> set[str]:
    """The variables `.env.example` names, set or commented out."""
    found = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line.strip())
        if match:
            found.add(match.group(1))
    return found


def test_every_variable_the_settings_read_is_in_the_example_environment():
    missing = sorted(settings_variables() - documented())
    assert missing == [], f"not in .env.example: {missing}"


def test_every_variable_reaches_the_services_that_read_them():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app = compose["x-app"]
    # every variable the settings read is passed to every service built on the app (web, workers, beat, migrations)
    missing = sorted(settings_variables() - set(app["environment"]))
    assert missing == [], f"not passed by docker-compose.yml: {missing}"
    # and compose passes nothing the settings do not read (a misspelt name would be silently ignored)
    assert set(app["environment"]) <= settings_variables() | documented()
    for name in ("migrate", "web", "worker", "worker-ml", "beat"):
        service = compose["services"][name]
        assert service["environment"] == app["environment"], name
        assert "healthcheck" in service or name == "migrate", f"{name} has no healthcheck"


def test_long_work_weighs_less_on_the_cpu_than_short_work_and_the_web():
    # a retrain on a shared machine must not hold the webhooks up: the containers of long work (training, sync, ml)
    # get a lower CPU weight than those that answer the stores and the planners (docker's default is 1024)
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    default = 1024
    long_work = {"training", "sync", "ml"}
    weights = {"long": [], "short": []}
    for name, service in services.items():
        command = service.get("command") or []
        if "worker" in command and "--queues" in command:
            queues = set(command[command.index("--queues") + 1].split(","))
            assert not (queues & long_work and queues - long_work), f"{name} mixes short and long work: {queues}"
            weights["long" if queues & long_work else "short"].append(service.get("cpu_shares", default))
        elif name == "web":
            weights["short"].append(service.get("cpu_shares", default))
    assert len(weights["long"]) == 2, weights  # worker-training, worker-ml
    assert len(weights["short"]) == 2, weights  # web, worker
    assert max(weights["long"]) * 4 <= min(weights["short"]), weights
