"""The API of the demand drivers: events (read and written with the model permissions), price history, and the
weather of each location."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, viewsets

from inventory_ai.api.permissions import ModelPermissions
from inventory_ai.models import DemandEvent, PriceChange, Product, Variant, WeatherDay
from inventory_ai.services import drivers


class DemandEventSerializer(serializers.ModelSerializer):
    skus = serializers.ListField(
        child=serializers.CharField(), required=False, write_only=True,
        help_text="SKUs of the event (scope 'variants'), as an alternative to variant ids",
    )  # fmt: skip
    variants = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Variant.objects.all())
    products = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Product.objects.all())

    class Meta:
        model = DemandEvent
        fields = (
            "id", "store", "name", "kind", "starts_on", "ends_on", "scope", "products", "variants", "skus",
            "product_type", "vendor", "discount_percent", "expected_uplift_percent", "source", "external_id",
            "created_by", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = ("source", "external_id", "created_by", "created_at", "updated_at")

    def validate(self, data):
        store = data.get("store") or getattr(self.instance, "store", None)
        variants = list(data.get("variants") or (self.instance.variants.all() if self.instance else []))
        skus = data.pop("skus", None)
        if skus:
            found = {v.sku: v for v in Variant.objects.filter(store=store, sku__in=skus, deleted_at__isnull=True)}
            unknown = [sku for sku in skus if sku not in found]
            if unknown:
                raise serializers.ValidationError({"skus": f"Unknown SKU(s) in this store: {', '.join(unknown[:10])}"})
            variants += [found[sku] for sku in skus]
        data["variants"] = variants
        data["products"] = list(data.get("products") or (self.instance.products.all() if self.instance else []))
        merged = {field: data.get(field, getattr(self.instance, field, None)) for field in
                  ("starts_on", "ends_on", "scope", "product_type", "vendor")}  # fmt: skip
        try:
            drivers.validate_event(
                store, merged["starts_on"], merged["ends_on"], merged["scope"] or "store", data["products"],
                data["variants"], merged["product_type"] or "", merged["vendor"] or "",
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return data

    def _save(self, instance: DemandEvent, data: dict) -> DemandEvent:
        products, variants = data.pop("products"), data.pop("variants")
        for field, value in data.items():
            setattr(instance, field, value)
        user = self.context["request"].user
        return drivers.save_event(instance, products, variants, user.get_username())

    def create(self, validated_data):
        return self._save(DemandEvent(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class DemandEventViewSet(viewsets.ModelViewSet):
    """Promotions, markdowns, launches and other events: planners create, edit and delete them (the model
    permissions); saving or deleting one asks for a refresh of the store's forecasts. Filter with `?store=<id>`."""

    serializer_class = DemandEventSerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        events = DemandEvent.objects.prefetch_related("products", "variants").order_by("-starts_on", "pk")
        store = self.request.query_params.get("store", "")
        return events.filter(store_id=int(store)) if store.isdigit() else events

    def perform_destroy(self, instance):
        # kept as a removed event (who, when, its SKUs), and its SKUs are re-forecast without it
        drivers.delete_event(instance, self.request.user.get_username())


class PriceChangeSerializer(serializers.ModelSerializer):
    on_sale = serializers.BooleanField(read_only=True)

    class Meta:
        model = PriceChange
        fields = ("id", "variant", "effective_from", "price", "compare_at_price", "on_sale", "currency", "source",
                  "flag")  # fmt: skip


class PriceChangeViewSet(viewsets.ReadOnlyModelViewSet):
    """Each variant's list prices over time, as the store reported them. Filter with `?variant=<id>`."""

    serializer_class = PriceChangeSerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        changes = PriceChange.objects.order_by("variant_id", "effective_from")
        variant = self.request.query_params.get("variant", "")
        return changes.filter(variant_id=int(variant)) if variant.isdigit() else changes


class WeatherDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = WeatherDay
        fields = ("location", "day", "kind", "temperature_min", "temperature_max", "temperature_mean",
                  "precipitation_mm", "snowfall_cm", "fetched_at")  # fmt: skip


class WeatherViewSet(viewsets.ReadOnlyModelViewSet):
    """Daily weather per location: observed, forecast, or climatology. Filter with `?location=<id>`, `?since=` and
    `?until=` (dates)."""

    serializer_class = WeatherDaySerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        days = WeatherDay.objects.order_by("location_id", "day")
        params = self.request.query_params
        if params.get("location", "").isdigit():
            days = days.filter(location_id=int(params["location"]))
        for param, lookup in (("since", "day__gte"), ("until", "day__lte")):
            if params.get(param):
                try:
                    days = days.filter(**{lookup: serializers.DateField().to_internal_value(params[param])})
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({param: exc.detail}) from exc
        return days
