"""Signal receivers: keep per-process caches in step with the rows they copy."""

from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from inventory_ai.models import Store
from inventory_ai.services.webhooks import forget_cached_stores


@receiver([post_save, post_delete], sender=Store)
def forget_store_keys(sender, **kwargs) -> None:
    # Other processes refresh within the cache's lifetime, or at once on a signature that fails.
    forget_cached_stores()


@receiver(post_migrate)
def create_roles(sender, **kwargs) -> None:
    # Permissions are created by auth's own post_migrate receiver; ours runs for our app, after it (app order).
    if sender.name == "inventory_ai":
        from inventory_ai.services.roles import ensure_roles

        ensure_roles()
