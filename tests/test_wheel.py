"""The package installs into another Django project: the wheel is built, installed apart from this checkout, and a
minimal host project (its own settings and URLs, the app as the README says) migrates and serves the admin."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

HOST_SETTINGS = """
import os
from pathlib import Path

BASE = Path(__file__).resolve().parent
SECRET_KEY = "a-host-project-key-for-this-test-only-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "inventory_ai.apps.InventoryAIConfig",
    "inventory_ai.admin_site.InventoryAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "inventory_ai.i18n.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "host_urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE / "host.sqlite3")}}
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = str(BASE / "static")
os.environ["INVENTORY_AI_VAR_DIR"] = str(BASE / "var")
from inventory_ai.product_settings import *  # noqa
"""

HOST_URLS = """
from django.urls import include, path

urlpatterns = [path("", include("inventory_ai.urls"))]
"""

RUN = """
import django
from django.core.management import call_command
from django.test import Client

django.setup()
import inventory_ai

call_command("migrate", verbosity=0)
call_command("check", "--fail-level", "ERROR")
from django.contrib.auth import get_user_model

user = get_user_model().objects.create_superuser("host-admin", "admin@host.example", "host-pass-123")
client = Client()
client.force_login(user)
page = client.get("/admin/")
print("FROM", inventory_ai.__file__)
print("STATUS", page.status_code)
print("DASHBOARD", "dashboard" in page.content.decode())
print("SUPPLIERS", client.get("/admin/inventory_ai/supplier/").status_code)
# the compiled Chinese catalogue travels in the wheel: the suppliers' page in Chinese names them so
chinese = client.get("/admin/inventory_ai/supplier/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
print("CHINESE", "供应商" in chinese)
"""


@pytest.mark.slow
def test_the_wheel_installs_into_a_host_project_that_migrates_and_serves_the_admin(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for package in ("inventory_ai", "forecasting", "integrations"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist, site, host = tmp_path / "dist", tmp_path / "site", tmp_path / "host"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)], check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    [wheel] = dist.glob("inventory_ai-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True,
                   timeout=300)  # fmt: skip
    host.mkdir()
    (host / "host_settings.py").write_text(textwrap.dedent(HOST_SETTINGS))
    (host / "host_urls.py").write_text(HOST_URLS)
    (host / "run.py").write_text(RUN)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "CELERY_", "DJANGO"))}
    env.update(PYTHONPATH=f"{site}{os.pathsep}{host}", DJANGO_SETTINGS_MODULE="host_settings")
    result = subprocess.run([sys.executable, "run.py"], cwd=host, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["FROM"].startswith(str(site))  # the installed package, not this checkout
    assert (lines["STATUS"], lines["DASHBOARD"], lines["SUPPLIERS"], lines["CHINESE"]) == ("200", "True", "200", "True")
