"""Application config: registers the system checks and prepares the runtime folders."""

import os

from django.apps import AppConfig
from django.conf import settings


class InventoryAIConfig(AppConfig):
    name = "inventory_ai"
    verbose_name = "Inventory AI"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inventory_ai import checks, signals  # noqa: F401  (registers the checks and receivers)

        ensure_runtime_folders()


def ensure_runtime_folders() -> None:
    """Create the folders every process expects: static files, and the embedded broker's message folders."""
    os.makedirs(settings.STATIC_ROOT, exist_ok=True)
    if getattr(settings, "EMBEDDED_BROKER", False):
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)
    backend = settings.CELERY_RESULT_BACKEND
    if backend.startswith("file://"):
        os.makedirs(backend.removeprefix("file://"), exist_ok=True)
