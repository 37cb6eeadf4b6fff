"""The API of the demand drivers: events and forecast overrides (read and written with the model permissions),
price history, and the weather of each location."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import ngettext
from rest_framework import mixins, serializers, viewsets

from inventory_ai.api.permissions import ModelPermissions
from inventory_ai.choices import AuditSource, EventScope
from inventory_ai.models import DemandEvent, ForecastOverride, PriceChange, Product, Variant, WeatherDay
from inventory_ai.selectors.drivers import override_score
from inventory_ai.services import drivers


def with_skus(data: dict, store, instance) -> list[Variant]:
    """The variants a write names: its `variants` (or the instance's), plus those its `skus` name in the store; an
    unknown SKU is refused by name."""
    variants = list(data.get("variants") or (instance.variants.all() if instance else []))
    skus = data.pop("skus", None)
    if skus:
        found = {v.sku: v for v in Variant.objects.filter(store=store, sku__in=skus, deleted_at__isnull=True)}
        unknown = [sku for sku in skus if sku not in found]
        if unknown:
            message = ngettext(
                "Unknown SKU(s) in this store: %(skus)s", "Unknown SKU(s) in this store: %(skus)s", len(unknown)
            ) % {"skus": ", ".join(unknown[:10])}
            raise serializers.ValidationError({"skus": message})
        variants += [found[sku] for sku in skus]
    return variants


class SkuScopedSerializer(serializers.ModelSerializer):
    """An event or an override: its SKUs by variant id or by SKU (see `with_skus`)."""

    skus = serializers.ListField(
        child=serializers.CharField(), required=False, write_only=True,
        help_text="SKUs (scope 'variants'), as an alternative to variant ids",
    )  # fmt: skip
    variants = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Variant.objects.all())


class DemandEventSerializer(SkuScopedSerializer):
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
        data["variants"] = with_skus(data, store, self.instance)
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


class ForecastOverrideSerializer(SkuScopedSerializer):
    score = serializers.SerializerMethodField(help_text="Against what sold, beside the model, once periods passed")

    class Meta:
        model = ForecastOverride
        fields = ("id", "store", "scope", "variants", "skus", "product_type", "starts_on", "ends_on", "method",
                  "value", "reason", "active", "created_by", "created_at", "updated_at", "score")  # fmt: skip
        read_only_fields = ("created_by", "created_at", "updated_at")

    def get_score(self, override: ForecastOverride) -> dict | None:
        found = override_score(override)
        if found is None:
            return None
        return {"periods": found.periods, "override_mae": found.override_mae, "model_mae": found.model_mae,
                "override_rmse": found.override_rmse, "model_rmse": found.model_rmse, "text": found.text}  # fmt: skip

    def validate(self, data):
        store = data.get("store") or getattr(self.instance, "store", None)
        data["variants"] = variants = with_skus(data, store, self.instance)
        candidate = ForecastOverride(**{
            field: data.get(field, getattr(self.instance, field, None))
            for field in ("store", "scope", "product_type", "starts_on", "ends_on", "method", "value", "reason")
        })  # fmt: skip
        candidate.scope = candidate.scope or EventScope.VARIANTS
        candidate.product_type, candidate.reason = candidate.product_type or "", candidate.reason or ""
        try:
            drivers.check_override(candidate, variants)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return data

    def _save(self, instance: ForecastOverride, data: dict) -> ForecastOverride:
        variants = data.pop("variants")
        for field, value in data.items():
            setattr(instance, field, value)
        return drivers.save_override(instance, variants, self.context["request"].user, AuditSource.API)

    def create(self, validated_data):
        return self._save(ForecastOverride(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class ForecastOverrideViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Planners override the forecast of some SKUs or a product type over a date range (units per period, or a change
    in percent), with a reason; every change is audited and the suggestions are recomputed from the overridden
    forecast. An override is turned off with `active: false`, never deleted (its audit trail and score stay). Each
    one carries its score against what sold once its periods have passed. Filter with `?store=<id>`."""

    serializer_class = ForecastOverrideSerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        overrides = ForecastOverride.objects.prefetch_related("variants").order_by("-starts_on", "pk")
        store = self.request.query_params.get("store", "")
        return overrides.filter(store_id=int(store)) if store.isdigit() else overrides


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
