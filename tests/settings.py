"""Test settings: the product's own settings, with the environment defaults a test run needs.

DATABASE_URL and CELERY_BROKER_URL still come from the environment: SQLite and the embedded broker on a fresh
machine, PostgreSQL and Redis in CI (`.ci/run`).
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-in-production")
# A fixed Fernet key for tests only.
os.environ.setdefault("INVENTORY_AI_CREDENTIALS_KEYS", "pE2x7sQGQx7p3kCOvBuk0dWnGgVnKfbZ0mxsK3Y5hlM=")
# Tests keep their files (SQLite database, broker folders) apart from the demo's.
os.environ.setdefault("INVENTORY_AI_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))


def _split_for_parallel_runner() -> None:
    """The suite runs in several processes (pytest-xdist, `-n`). Each takes its own files and its own Redis
    database, so that one's Celery workers never take another's tasks nor count into its task statistics. The test
    database is already one per process (pytest-django). The worker processes a test starts inherit the split
    environment; the marker keeps them from splitting it again."""
    runner = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not runner.startswith("gw") or os.environ.get("INVENTORY_AI_TEST_SPLIT") == runner:
        return
    index = int(runner[2:])
    os.environ["INVENTORY_AI_VAR_DIR"] = str(Path(os.environ["INVENTORY_AI_VAR_DIR"]) / runner)
    # the model registry too: every process's test database numbers its first store's first run 1, and the runs'
    # artefacts (`<store>/<run>`) would be one folder that the processes' runs write and prune under each other
    os.environ["MODEL_STORAGE_DIR"] = str(Path(os.environ["MODEL_STORAGE_DIR"]) / runner)
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith(("redis://", "rediss://")):
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(broker)
        base = int(parts.path.strip("/") or 0)
        # Counting down from the configured database stays within Redis's 16 default databases.
        os.environ["CELERY_BROKER_URL"] = urlunsplit(parts._replace(path=f"/{(base - index) % 16}"))
    os.environ["INVENTORY_AI_TEST_SPLIT"] = runner


# One model registry folder per test session (per process of a parallel run), shared with the worker processes the
# tests start (they inherit it).
os.environ.setdefault("MODEL_STORAGE_DIR", tempfile.mkdtemp(prefix="inventory-ai-test-models-"))
_split_for_parallel_runner()

from inventory_ai.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
