"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_ai.settings")

app = Celery("inventory_ai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_embedded_broker_folders() -> None:
    """Create the folders of the filesystem broker (embedded mode) so that producers and workers can start."""
    from django.conf import settings

    if getattr(settings, "EMBEDDED_BROKER", False):
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)
        backend = settings.CELERY_RESULT_BACKEND
        if backend.startswith("file://"):
            os.makedirs(backend[len("file://") :], exist_ok=True)
