from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from inventory_ai.api import drivers, purchasing, views

router = DefaultRouter()
router.register("stores", views.StoreViewSet)
router.register(r"stores/(?P<store_pk>\d+)/locations", views.StoreLocationViewSet, basename="store-location")
router.register("locations", views.LocationViewSet)
router.register("variants", views.VariantViewSet, basename="variant")
router.register("suggestions", views.SuggestionViewSet)
router.register("adjustments", views.AdjustmentViewSet)
router.register("runs", views.RunViewSet)
router.register("events", drivers.DemandEventViewSet, basename="event")
router.register("overrides", drivers.ForecastOverrideViewSet, basename="override")
router.register("prices", drivers.PriceChangeViewSet, basename="price")
router.register("weather", drivers.WeatherViewSet, basename="weather")
router.register("suppliers", purchasing.SupplierViewSet)
router.register("purchase-orders", purchasing.PurchaseOrderViewSet)

urlpatterns = [
    path("stats/", views.StatsView.as_view(), name="api-stats"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
]
