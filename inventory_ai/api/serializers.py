"""API representations. Secrets never appear: stores are shown without credentials or webhook secrets."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory_ai.choices import AdjustmentReason
from inventory_ai.models import (
    Forecast,
    ForecastRun,
    InventoryLevel,
    Location,
    ReorderSuggestion,
    StockAdjustment,
    Store,
    Variant,
)
from inventory_ai.selectors import risk_of
from inventory_ai.selectors.reasons import reason_text


class StoreSerializer(serializers.ModelSerializer):
    variant_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Store
        fields = ("id", "platform", "domain", "name", "active", "timezone", "currency", "country_code", "variant_count")


class LocationSerializer(serializers.ModelSerializer):
    platform_id = serializers.CharField(read_only=True, help_text="The store's own id of the location")
    active = serializers.BooleanField(
        read_only=True, help_text="False once the store has deactivated or deleted it: it takes no adjustments"
    )

    class Meta:
        model = Location
        fields = ("id", "store", "platform_id", "name", "is_primary", "active", "platform_updated_at")
        read_only_fields = fields


class StockLevelSerializer(serializers.ModelSerializer):
    """A variant's stock at one location, as the store last reported it."""

    location_platform_id = serializers.CharField(source="location.platform_id", read_only=True)
    location_name = serializers.CharField(source="location.name", read_only=True)
    location_active = serializers.BooleanField(source="location.active", read_only=True)

    class Meta:
        model = InventoryLevel
        fields = (
            "location",
            "location_platform_id",
            "location_name",
            "location_active",
            "available",
            "on_hand",
            "platform_updated_at",
        )
        read_only_fields = fields


class PolicySerializer(serializers.Serializer):
    lead_time_days = serializers.IntegerField()
    review_period_days = serializers.IntegerField()
    service_level = serializers.FloatField()
    moq = serializers.IntegerField()
    case_pack = serializers.IntegerField()


class VariantSerializer(serializers.ModelSerializer):
    available = serializers.IntegerField(read_only=True, help_text="Stock available over the store's locations")
    stock = StockLevelSerializer(
        source="inventory_levels", many=True, read_only=True, help_text="Stock by location (primary location first)"
    )
    product_title = serializers.CharField(source="product.title", read_only=True)
    policy = serializers.SerializerMethodField(help_text="Effective replenishment settings (own, class or store)")
    next_period_forecast = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Mean demand forecast for the next period (latest succeeded run)"
    )
    forecast_model = serializers.CharField(read_only=True, allow_null=True, help_text="The model of that forecast")

    class Meta:
        model = Variant
        fields = (
            "id",
            "store",
            "sku",
            "title",
            "product_title",
            "price",
            "unit_cost",
            "supplier",
            "abc_class",
            "xyz_class",
            "available",
            "stock",
            "policy",
            "next_period_forecast",
            "forecast_model",
        )

    def get_policy(self, variant: Variant) -> PolicySerializer:
        return PolicySerializer(
            {
                "lead_time_days": variant.effective_lead_time_days,
                "review_period_days": variant.effective_review_period_days,
                "service_level": variant.effective_service_level,
                "moq": variant.effective_moq,
                "case_pack": variant.effective_case_pack,
            }
        ).data


class ForecastPeriodSerializer(serializers.ModelSerializer):
    intervals = serializers.JSONField(source="bounds", help_text='Bounds by name: "lo-80", "hi-80", "lo-95", ...')

    class Meta:
        model = Forecast
        fields = ("period_start", "period_end", "mean", "intervals", "model")


class VariantForecastSerializer(serializers.Serializer):
    variant = serializers.IntegerField()
    run = serializers.IntegerField(allow_null=True)
    model = serializers.CharField(allow_blank=True)
    backtest_rmsse = serializers.DictField(child=serializers.FloatField(allow_null=True))
    periods = ForecastPeriodSerializer(many=True)
    accuracy = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
        help_text="Backtest MSE, RMSE, MASE and R² of the chosen model and every candidate",
    )
    explanation = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="What each driver group adds to each period's forecast, in units (feature models only)",
    )
    reasons = serializers.ListField(child=serializers.CharField(), help_text="The largest effects, in plain words")


class SuggestionSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    title = serializers.CharField(source="variant.title", read_only=True)
    product = serializers.CharField(
        source="variant.display_title", read_only=True, help_text="The product's title, with the variant's own"
    )
    risk = serializers.SerializerMethodField(help_text="late, this_week or later: when an order must be placed")
    quantity = serializers.IntegerField(read_only=True, help_text="The approved quantity if edited, else suggested")
    purchase_order = serializers.SerializerMethodField(help_text="The purchase order an approval put it on")
    reason = serializers.SerializerMethodField(help_text="Why this quantity, in words (in the request's language)")

    class Meta:
        model = ReorderSuggestion
        fields = (
            "id",
            "store",
            "variant",
            "sku",
            "title",
            "product",
            "risk",
            "location",
            "status",
            "suggested_qty",
            "approved_qty",
            "quantity",
            "available",
            "on_order",
            "reorder_point",
            "order_up_to",
            "stockout_date",
            "order_by",
            "lead_time_days",
            "service_level",
            "service_measure",
            "abc_class",
            "xyz_class",
            "weekly_demand",
            "expected_fill_rate",
            "unit_cost",
            "reason",
            "forecast_run",
            "created_at",
            "decided_at",
            "decided_by",
            "purchase_order",
        )
        read_only_fields = fields

    def get_risk(self, suggestion: ReorderSuggestion) -> str:
        return risk_of(suggestion.order_by, timezone.localdate())

    def get_reason(self, suggestion: ReorderSuggestion) -> str:
        return reason_text(suggestion)

    def get_purchase_order(self, suggestion: ReorderSuggestion) -> int | None:
        lines = suggestion.purchase_order_lines.all()  # prefetched by the list
        return max(lines, key=lambda line: line.pk).purchase_order_id if lines else None


class DecisionSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(
        required=False, min_value=0, help_text="Approve with this quantity instead of the proposed one"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class AdjustmentSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    location_platform_id = serializers.CharField(source="location.platform_id", read_only=True)
    location_name = serializers.CharField(source="location.name", read_only=True)
    delta = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockAdjustment
        fields = (
            "id",
            "store",
            "variant",
            "sku",
            "location",
            "location_platform_id",
            "location_name",
            "expected_available",
            "new_available",
            "delta",
            "reason",
            "note",
            "status",
            "created_at",
            "created_by",
            "decided_at",
            "decided_by",
            "pushed_at",
            "push_attempts",
            "store_quantity_before",
            "store_quantity_after",
            "follow_up",
            "error",
        )
        read_only_fields = fields


class AdjustmentCreateSerializer(serializers.Serializer):
    """A manual adjustment: the new quantity, or a change on the quantity last read from the store.

    The location is named by our id (`location`) or by the store's own id (`location_platform_id`, looked up among
    the variant's store's locations), exactly one of the two.
    """

    variant = serializers.PrimaryKeyRelatedField(queryset=Variant.objects.all())
    location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), required=False, help_text="Our id of the location (see stores/{id}/locations/)"
    )
    location_platform_id = serializers.CharField(
        required=False, max_length=64, help_text="Or the store's own id of the location, instead of `location`"
    )
    new_available = serializers.IntegerField(required=False, min_value=0)
    delta = serializers.IntegerField(required=False)
    reason = serializers.ChoiceField(choices=AdjustmentReason.choices, default=AdjustmentReason.MANUAL)
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    def validate(self, data):
        if ("new_available" in data) == ("delta" in data):
            raise serializers.ValidationError(_("Give either new_available or delta, not both."))
        data["location"] = self._location(data)
        data.pop("location_platform_id", None)
        return data

    def _location(self, data) -> Location:
        variant = data["variant"]
        if ("location" in data) == ("location_platform_id" in data):
            raise serializers.ValidationError(
                {"location": _("Give exactly one of location (our id) and location_platform_id (the store's id).")}
            )
        if "location_platform_id" in data:
            platform_id = data["location_platform_id"]
            location = Location.objects.filter(store_id=variant.store_id, platform_id=platform_id).first()
            if location is None:
                raise serializers.ValidationError(
                    {
                        "location_platform_id": _("The variant's store has no location with the id %(id)s.")
                        % {"id": platform_id}
                    }
                )
            field = "location_platform_id"
        else:
            location, field = data["location"], "location"
            if location.store_id != variant.store_id:
                raise serializers.ValidationError({field: _("The location belongs to another store than the variant.")})
        if not location.active:
            raise serializers.ValidationError({field: _("The location is no longer active in the store.")})
        return location


class AdjustmentDecisionSerializer(serializers.Serializer):
    new_available = serializers.IntegerField(
        required=False, min_value=0, help_text="Approve with this quantity instead of the proposed one"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class RunSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = ForecastRun
        fields = (
            "id",
            "store",
            "kind",
            "status",
            "phase",
            "progress",
            "skus_total",
            "skus_done",
            "skus_failed",
            "model_counts",
            "accuracy",
            "created_at",
            "started_at",
            "finished_at",
            "trigger",
        )
        read_only_fields = fields
