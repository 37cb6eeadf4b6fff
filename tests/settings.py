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

# One model registry folder per test session, shared with the worker processes the tests start (they inherit it).
os.environ.setdefault("MODEL_STORAGE_DIR", tempfile.mkdtemp(prefix="inventory-ai-test-models-"))

from inventory_ai.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
