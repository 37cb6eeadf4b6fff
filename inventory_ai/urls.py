"""URL configuration."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from inventory_ai import connect_views, i18n, metrics, views
from inventory_ai.api import views as api_views

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", i18n.set_language, name="set_language"),
    path("webhooks/shopify/", views.shopify_webhook, name="webhook-shopify"),
    path("shopify/install", connect_views.shopify_install_view, name="shopify-install"),
    path("shopify/callback", connect_views.shopify_callback_view, name="shopify-callback"),
    path("woocommerce/connect", connect_views.woocommerce_connect_view, name="woocommerce-connect"),
    path("woocommerce/callback", connect_views.woocommerce_callback_view, name="woocommerce-callback"),
    path("woocommerce/return", connect_views.woocommerce_return_view, name="woocommerce-return"),
    path("webhooks/woocommerce/", views.woocommerce_webhook, name="webhook-woocommerce"),
    path("api/v1/", include("inventory_ai.api.urls")),
    path("healthz/live", views.live, name="healthz-live"),
    path("healthz", api_views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
]

handler400 = "inventory_ai.views.bad_request"
handler403 = "inventory_ai.views.permission_denied"
handler404 = "inventory_ai.views.not_found"
handler500 = "inventory_ai.views.server_error"
