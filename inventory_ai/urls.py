"""URL configuration."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Inventory AI"
admin.site.site_title = "Inventory AI"
admin.site.index_title = "Demand forecasting and replenishment"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
