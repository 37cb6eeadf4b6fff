"""Query filters of the API's lists (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory_ai.models import ForecastRun, Location, ReorderSuggestion, StockAdjustment, Variant
from inventory_ai.selectors import RISKS, risk_filter


class VariantFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(lookup_expr="iexact")
    search = django_filters.CharFilter(method="filter_search", label=_("SKU or title contains"))
    supplier = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Variant
        fields = ["store", "sku", "abc_class", "xyz_class", "supplier"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(sku__icontains=value) | Q(title__icontains=value) | Q(product__title__icontains=value))


class StoreLocationFilter(django_filters.FilterSet):
    """Filters of one store's locations (the store is in the path)."""

    platform_id = django_filters.CharFilter(help_text="The store's own id of the location")

    class Meta:
        model = Location
        fields = ["platform_id", "active", "is_primary"]


class LocationFilter(StoreLocationFilter):
    class Meta(StoreLocationFilter.Meta):
        fields = ["store", *StoreLocationFilter.Meta.fields]


class SuggestionFilter(django_filters.FilterSet):
    risk = django_filters.ChoiceFilter(choices=list(RISKS.items()), method="filter_risk")
    supplier = django_filters.CharFilter(field_name="variant__supplier", lookup_expr="iexact")
    sku = django_filters.CharFilter(field_name="variant__sku", lookup_expr="iexact")

    class Meta:
        model = ReorderSuggestion
        fields = ["store", "status", "abc_class", "xyz_class", "location", "variant", "supplier", "sku", "risk"]

    def filter_risk(self, queryset, name, value):
        return queryset.filter(risk_filter(value, timezone.localdate()))


class AdjustmentFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="variant__sku", lookup_expr="iexact")

    class Meta:
        model = StockAdjustment
        fields = ["store", "status", "reason", "location", "variant", "sku"]


class RunFilter(django_filters.FilterSet):
    class Meta:
        model = ForecastRun
        fields = ["store", "status", "kind"]
