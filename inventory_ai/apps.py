"""Application config: registers the system checks and prepares the embedded broker's folders."""

from django.apps import AppConfig


class InventoryAIConfig(AppConfig):
    name = "inventory_ai"
    verbose_name = "Inventory AI"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inventory_ai import checks  # noqa: F401  (registers the checks)
        from inventory_ai.celery import ensure_embedded_broker_folders

        ensure_embedded_broker_folders()
