"""Settings come from the environment; production refuses unsafe defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.test import override_settings

from inventory_ai.checks import check_credentials_keys
from inventory_ai.conf import DEFAULTS, get_option
from tests.conftest import ROOT


def run_settings(**env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "inventory_ai.settings", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = run_settings(DEBUG="0")
    assert result.returncode != 0
    assert "refuses to start on the default secret key" in result.stderr


def test_starts_with_a_secret_key_or_in_debug():
    assert run_settings(DEBUG="0", SECRET_KEY="a-real-secret-0123456789abcdef").stdout.strip() == "False"
    assert run_settings(DEBUG="1").stdout.strip() == "True"


def test_product_options_have_documented_defaults_and_can_be_overridden():
    assert get_option("WEBHOOK_MAX_BYTES") == DEFAULTS["WEBHOOK_MAX_BYTES"] == 5 * 1024 * 1024
    with override_settings(INVENTORY_AI={"WEBHOOK_MAX_BYTES": 1024}):
        assert get_option("WEBHOOK_MAX_BYTES") == 1024


def test_credentials_keys_are_checked():
    with override_settings(DEBUG=False, INVENTORY_AI={"CREDENTIALS_KEYS": []}):
        assert [error.id for error in check_credentials_keys()] == ["inventory_ai.E002"]
    with override_settings(DEBUG=False, INVENTORY_AI={"CREDENTIALS_KEYS": ["not-a-key"]}):
        assert [error.id for error in check_credentials_keys()] == ["inventory_ai.E001"]
    with override_settings(DEBUG=True, INVENTORY_AI={"CREDENTIALS_KEYS": []}):
        assert check_credentials_keys() == []


@pytest.mark.django_db
def test_postgresql_connections_run_without_jit_compilation():
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            assert cursor.fetchone()[0] == "off"
    else:  # the embedded SQLite has no JIT and takes no such option
        assert "options" not in connection.settings_dict.get("OPTIONS", {})
