"""The product's admin site: Django's admin with a dashboard as its front page.

Installed through `InventoryAdminConfig` in INSTALLED_APPS (in place of "django.contrib.admin"), so `admin.site`
and `@admin.register` use this site.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class InventoryAdminSite(admin.AdminSite):
    # Translators: the product's name, shown as the admin's header and in the browser's title bar.
    site_header = _("Inventory AI")
    # Translators: the product's name, shown in the browser's title bar.
    site_title = _("Inventory AI")
    index_title = _("Dashboard")
    index_template = "admin/inventory_ai/dashboard.html"

    def index(self, request, extra_context=None):
        from inventory_ai import selectors

        context = {"dashboard": selectors.dashboard(), **(extra_context or {})}
        return super().index(request, context)


class InventoryAdminConfig(AdminConfig):
    default_site = "inventory_ai.admin_site.InventoryAdminSite"
