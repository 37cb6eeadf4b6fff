"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_ai.settings")

app = Celery("inventory_ai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
