from django.urls import path

from inventory_ai.api.views import StatsView

urlpatterns = [
    path("stats/", StatsView.as_view(), name="api-stats"),
]
