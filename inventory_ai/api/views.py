"""The REST API (v1): stores and their locations, variants with stock by location, policy and forecast, suggestions
and adjustments with the same decisions, permissions and audit as the admin, retraining runs, stats.

Reads need the model's view permission; approving or rejecting needs its approve permission; proposing an
adjustment its add permission. Token and session authentication.
"""

from __future__ import annotations

from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_ai.api import filters, serializers
from inventory_ai.api.permissions import CanDecide, ModelPermissions
from inventory_ai.choices import AuditSource, RunStatus
from inventory_ai.models import (
    Forecast,
    ForecastResult,
    ForecastRun,
    InventoryLevel,
    Location,
    ReorderSuggestion,
    StockAdjustment,
    Store,
    Variant,
)
from inventory_ai.selectors import stats
from inventory_ai.selectors.forecasts import current_run
from inventory_ai.selectors.reasons import forecast_reasons
from inventory_ai.services import health, replenishment


class StatsView(APIView):
    """Counts for operators: webhook events by status, stores, variants, orders, order lines and net units."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter("store", int, description="Only this store's counts (its id)")],
        responses={200: OpenApiResponse(description="Counts by kind")},
    )
    def get(self, request: Request) -> Response:
        store = None
        if request.query_params.get("store"):
            raw = request.query_params["store"]
            store = Store.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 19 else None
            if store is None:
                raise ValidationError({"store": [_("No store has the id %(id)s.") % {"id": raw}]})
        return Response(stats(store))


# Primary location first, then by name: the order of a store's locations (and of a variant's stock).
LOCATION_ORDER = ("-is_primary", "name", "pk")


class StoreViewSet(viewsets.ReadOnlyModelViewSet):
    """Connected stores (credentials and webhook secrets are never shown)."""

    serializer_class = serializers.StoreSerializer
    permission_classes = [ModelPermissions]
    queryset = Store.objects.annotate(
        variant_count=Count("variants", filter=Q(variants__deleted_at__isnull=True), distinct=True)
    ).order_by("domain")


class LocationViewSet(viewsets.ReadOnlyModelViewSet):
    """Every store's locations with the store's own ids (`platform_id`); filter by store, platform id, active."""

    serializer_class = serializers.LocationSerializer
    permission_classes = [ModelPermissions]
    filterset_class = filters.LocationFilter
    ordering_fields = ["name", "platform_id"]
    queryset = Location.objects.order_by("store_id", *LOCATION_ORDER)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("store_pk", int, OpenApiParameter.PATH, description="The store's id")],
        responses={200: serializers.LocationSerializer(many=True), 404: None},
    )
)
class StoreLocationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """One store's locations (stores/{id}/locations/): where its stock is held, and what adjustments name."""

    serializer_class = serializers.LocationSerializer
    permission_classes = [ModelPermissions]
    filterset_class = filters.StoreLocationFilter
    ordering_fields = ["name", "platform_id"]

    def get_queryset(self):
        return Location.objects.filter(store_id=self.kwargs.get("store_pk")).order_by(*LOCATION_ORDER)

    def list(self, request: Request, *args, **kwargs) -> Response:
        get_object_or_404(Store, pk=kwargs["store_pk"])  # an unknown store is a 404, not an empty list
        return super().list(request, *args, **kwargs)


class CountedBy:
    """Rows a paginator slices, with the count of another queryset holding the same rows more cheaply."""

    def __init__(self, rows, counted) -> None:
        self.rows, self.counted = rows, counted

    def count(self) -> int:
        return self.counted.count()

    def __getitem__(self, key):
        return self.rows[key]

    def __iter__(self):
        return iter(self.rows)


class VariantViewSet(viewsets.ReadOnlyModelViewSet):
    """SKUs with their stock (in all and by location), effective replenishment policy and classes."""

    serializer_class = serializers.VariantSerializer
    permission_classes = [ModelPermissions]
    filterset_class = filters.VariantFilter
    ordering_fields = ["sku", "title", "available"]

    def get_queryset(self):
        stock = (
            InventoryLevel.objects.filter(variant=OuterRef("pk"))
            .values("variant")
            .annotate(total=Sum("available"))
            .values("total")
        )
        latest = Forecast.objects.filter(variant=OuterRef("pk"), run__status=RunStatus.SUCCEEDED).order_by(
            "-run__finished_at", "period_start"
        )
        return (
            Variant.objects.filter(deleted_at__isnull=True)
            .select_related("store", "product")
            .prefetch_related(
                Prefetch(
                    "inventory_levels",
                    queryset=InventoryLevel.objects.select_related("location").order_by(
                        "-location__is_primary", "location__name", "location_id"
                    ),
                )
            )
            .annotate(
                available=Coalesce(Subquery(stock), 0),
                next_period_forecast=Subquery(latest.values("mean")[:1]),
                forecast_model=Subquery(latest.values("model")[:1]),
            )
            .order_by("store_id", "sku", "pk")
        )

    def list(self, request: Request, *args, **kwargs) -> Response:
        """Sorted by stock, every SKU's total decides the page: the page's SKUs are found first by one pass summing
        the stock table (at 50,000 SKUs, not 47,000 lookups of one SKU's stock, nor every SKU joined to its store
        and product before summing), then only those are read whole. In any other order the page's rows are read
        at once, each with its own total."""
        if "available" not in request.query_params.get("ordering", ""):
            return super().list(request, *args, **kwargs)
        totals = (
            Variant.objects.filter(deleted_at__isnull=True)
            .values("pk")
            .annotate(available=Coalesce(Sum("inventory_levels__available"), 0))
        )
        totals = self.filter_queryset(totals)
        totals = totals.order_by(*totals.query.order_by, "pk")  # ties in a stable order from page to page
        # the page's count is the filtered SKUs' own, without summing their stock a second time
        counted = Variant.objects.filter(deleted_at__isnull=True)
        for backend in self.filter_backends:
            if not issubclass(backend, OrderingFilter):
                counted = backend().filter_queryset(request, counted, self)
        page = self.paginate_queryset(CountedBy(totals, counted))
        ids = [row["pk"] for row in (page if page is not None else totals)]
        rows = {variant.pk: variant for variant in self.get_queryset().filter(pk__in=ids)}
        data = self.get_serializer([rows[pk] for pk in ids if pk in rows], many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(responses=serializers.VariantForecastSerializer)
    @action(detail=True, methods=["get"])
    def forecast(self, request: Request, pk=None) -> Response:
        """The variant's current forecast: each period's mean and interval bounds, the model and its backtest."""
        variant = self.get_object()
        run = current_run(variant.store)
        periods = Forecast.objects.filter(run=run, variant=variant).order_by("period_start") if run else []
        result = ForecastResult.objects.filter(run=run, variant=variant).first() if run else None
        data = {
            "variant": variant.pk,
            "run": run.pk if run else None,
            "model": result.model if result else "",
            "backtest_rmsse": result.backtest if result else {},
            "periods": serializers.ForecastPeriodSerializer(periods, many=True).data,
            "accuracy": result.accuracy if result else {},
            "explanation": result.explanation if result else {},
            "reasons": [reason.text for reason in forecast_reasons(result.explanation if result else {})],
        }
        return Response(data)


class DecisionMixin:
    """approve / reject actions with the admin's rules: the model's approve permission, pending only, audited."""

    decision_serializer: type[drf_serializers.Serializer]
    quantity_field: str  # the body's field that approves with another quantity

    def get_permissions(self):
        if self.action in ("approve", "reject"):
            return [CanDecide()]
        return super().get_permissions()

    def decide(self, obj, approve: bool, user, quantity: int | None, note: str) -> bool:
        raise NotImplementedError

    def _decide(self, request: Request, approve: bool) -> Response:
        body = self.decision_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        obj = self.get_object()
        quantity = body.validated_data.get(self.quantity_field) if approve else None
        changed = self.decide(obj, approve, request.user, quantity, body.validated_data.get("note", ""))
        if not changed:
            detail = _("It is %(status)s, not pending: nothing changed.") % {"status": obj.status}
            return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(obj).data)


class SuggestionViewSet(DecisionMixin, viewsets.ReadOnlyModelViewSet):
    """Restock suggestions, most urgent first; filter by store, status, class, supplier, risk."""

    serializer_class = serializers.SuggestionSerializer
    permission_classes = [ModelPermissions]
    filterset_class = filters.SuggestionFilter
    queryset = (
        ReorderSuggestion.objects.select_related("variant__product")
        .prefetch_related("purchase_order_lines")
        .order_by(F("stockout_date").asc(nulls_last=True), "-created_at")
    )

    decision_serializer = serializers.DecisionSerializer
    quantity_field = "quantity"

    def decide(self, obj, approve: bool, user, quantity: int | None, note: str) -> bool:
        return replenishment.decide_suggestion(obj, approve, user, quantity, source=AuditSource.API, note=note)

    @extend_schema(request=serializers.DecisionSerializer, responses={200: serializers.SuggestionSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk=None) -> Response:
        """Approve, optionally with another quantity (logged as an edit)."""
        return self._decide(request, approve=True)

    @extend_schema(request=serializers.DecisionSerializer, responses={200: serializers.SuggestionSerializer, 409: None})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk=None) -> Response:
        return self._decide(request, approve=False)


class AdjustmentViewSet(DecisionMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Stock adjustments: propose one (a new quantity or a delta), approve or reject; approved ones are pushed."""

    serializer_class = serializers.AdjustmentSerializer
    permission_classes = [ModelPermissions]
    filterset_class = filters.AdjustmentFilter
    queryset = StockAdjustment.objects.select_related("variant", "location").order_by("-created_at")

    @extend_schema(request=serializers.AdjustmentCreateSerializer, responses={201: serializers.AdjustmentSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        body = serializers.AdjustmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            adjustment = replenishment.create_adjustment(
                data["variant"],
                data["location"],
                request.user,
                new_available=data.get("new_available"),
                delta=data.get("delta"),
                reason=data["reason"],
                note=data.get("note", ""),
                source=AuditSource.API,
            )
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(self.get_serializer(adjustment).data, status=status.HTTP_201_CREATED)

    decision_serializer = serializers.AdjustmentDecisionSerializer
    quantity_field = "new_available"

    def decide(self, obj, approve: bool, user, quantity: int | None, note: str) -> bool:
        return replenishment.decide_adjustment(obj, approve, user, quantity, source=AuditSource.API, note=note)

    @extend_schema(
        request=serializers.AdjustmentDecisionSerializer, responses={200: serializers.AdjustmentSerializer, 409: None}
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk=None) -> Response:
        """Approve (optionally with another new quantity); the push to the store is queued once this commits."""
        return self._decide(request, approve=True)

    @extend_schema(
        request=serializers.AdjustmentDecisionSerializer, responses={200: serializers.AdjustmentSerializer, 409: None}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk=None) -> Response:
        return self._decide(request, approve=False)


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Retraining runs with their status and progress."""

    serializer_class = serializers.RunSerializer
    permission_classes = [ModelPermissions]
    filterset_class = filters.RunFilter
    queryset = ForecastRun.objects.order_by("-created_at")


def healthz(request) -> JsonResponse:
    """Readiness: the database (migrations applied), the broker, and the worker and beat heartbeats; 503 if any
    fails. Open to monitors: it names no secret."""
    result = health.report()
    return JsonResponse(result, status=200 if result["ok"] else 503)
