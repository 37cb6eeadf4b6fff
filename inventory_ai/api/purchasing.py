"""The API's suppliers and purchase orders: list, create and update suppliers; list and read purchase orders with
their lines, and send, receive or cancel one, with the admin's permissions and audit (`services.purchasing`).

Sending needs the `send_purchaseorder` permission, receiving `receive_purchaseorder`, cancelling
`change_purchaseorder`; a Viewer has none of them. A change the order's state does not allow answers 409 with why.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from inventory_ai.api.permissions import ModelPermissions
from inventory_ai.choices import AuditSource
from inventory_ai.models import PurchaseOrder, PurchaseOrderLine, Supplier
from inventory_ai.services import purchasing

# --- serializers ----------------------------------------------------------------------------------------------------


class SupplierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Supplier
        fields = ("id", "store", "name", "email", "currency", "lead_time_days", "lead_time_std_days",
                  "review_period_days", "order_weekday", "min_order_value", "min_order_quantity", "case_pack",
                  "payment_terms", "notes", "created_at", "updated_at")  # fmt: skip
        read_only_fields = ("id", "created_at", "updated_at")

    def validate(self, attrs):
        if self.instance is not None and "store" in attrs and attrs["store"] != self.instance.store:
            raise serializers.ValidationError({"store": _("A supplier stays with its store.")})
        store = attrs.get("store", getattr(self.instance, "store", None))
        name = attrs.get("name", getattr(self.instance, "name", None))
        clash = Supplier.objects.filter(store=store, name__iexact=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            message = _("The store already has a supplier named %(name)s.") % {"name": repr(name)}
            raise serializers.ValidationError({"name": message})
        return attrs


class PurchaseOrderLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku", read_only=True)
    outstanding = serializers.IntegerField(read_only=True, help_text="Units still awaited")

    class Meta:
        model = PurchaseOrderLine
        fields = ("id", "variant", "sku", "quantity", "received", "outstanding", "unit_cost")
        read_only_fields = fields

    def to_representation(self, line: PurchaseOrderLine) -> dict:
        # The same fields, written directly: through each field's serializer a line cost 0.1 ms, and a page of 100
        # orders of 50 lines holds 5,000 of them.
        cost = line.unit_cost
        return {
            "id": line.pk,
            "variant": line.variant_id,
            "sku": line.variant.sku,
            "quantity": line.quantity,
            "received": line.received,
            "outstanding": line.outstanding,
            "unit_cost": None if cost is None else self.fields["unit_cost"].to_representation(cost),
        }


class PurchaseOrderSerializer(serializers.ModelSerializer):
    supplier_name = serializers.CharField(source="supplier.name", read_only=True)
    lines = PurchaseOrderLineSerializer(many=True, read_only=True)
    totals = serializers.SerializerMethodField()

    class Meta:
        model = PurchaseOrder
        fields = ("id", "store", "number", "supplier", "supplier_name", "location", "status", "currency",
                  "expected_on", "notes", "send_error", "transfer_id", "transfer_error", "created_at", "sent_at",
                  "received_at", "cancelled_at", "lines", "totals")  # fmt: skip
        read_only_fields = fields

    def get_totals(self, order: PurchaseOrder) -> dict:
        totals = purchasing.totals(order)
        return {**totals, "value": str(totals["value"])}


class SendSerializer(serializers.Serializer):
    email = serializers.BooleanField(
        default=True, help_text="E-mail the order to the supplier (false: mark it sent, ordered some other way)"
    )


class ReceiptLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The purchase order line's id")
    quantity = serializers.IntegerField(min_value=1)


class ReceiveSerializer(serializers.Serializer):
    lines = ReceiptLineSerializer(many=True, allow_empty=False)
    allow_over = serializers.BooleanField(default=False, help_text="Confirm receiving more than a line awaits")

    def validate_lines(self, lines):
        ids = [line["line"] for line in lines]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError(_("Each line at most once."))
        return lines


# --- views ----------------------------------------------------------------------------------------------------------


class SupplierViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Suppliers with their ordering terms; filter by store."""

    serializer_class = SupplierSerializer
    permission_classes = [ModelPermissions]
    queryset = Supplier.objects.select_related("store").order_by("store_id", "name")
    filterset_fields = ["store"]


class PurchaseOrderFilter(django_filters.FilterSet):
    class Meta:
        model = PurchaseOrder
        fields = ["store", "status", "supplier", "location"]


class HasPermission(BasePermission):
    """The model permission an action names (`send_purchaseorder`, ...)."""

    def __init__(self, codename: str) -> None:
        self.codename = codename
        self.message = _("You may not do this (it needs the %(permission)s permission).") % {"permission": codename}

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(f"inventory_ai.{self.codename}"))


ACTION_PERMISSIONS = {
    "send": "send_purchaseorder",
    "receive": "receive_purchaseorder",
    "cancel": "change_purchaseorder",
}


# What a listed line shows and its order's totals read: a page holds thousands of lines, and a Variant's every column
# made each one several times dearer to build.
LINE_FIELDS = PurchaseOrderLine.objects.select_related("variant").only(
    "purchase_order_id", "quantity", "received", "unit_cost", "variant__sku"
)


class OrderPages(PageNumberPagination):
    """25 orders a page (each carries its lines; `?page_size=` up to 100)."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class PurchaseOrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Purchase orders, newest first, with their lines, 25 a page; filter by store, status, supplier, location."""

    serializer_class = PurchaseOrderSerializer
    pagination_class = OrderPages
    permission_classes = [ModelPermissions]
    filterset_class = PurchaseOrderFilter
    queryset = (
        PurchaseOrder.objects.select_related("supplier")
        .prefetch_related(Prefetch("lines", queryset=LINE_FIELDS))
        .order_by("-created_at", "-pk")
    )

    def get_permissions(self):
        if self.action in ACTION_PERMISSIONS:
            return [HasPermission(ACTION_PERMISSIONS[self.action])]
        return super().get_permissions()

    def _answer(self, order: PurchaseOrder) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=order.pk)).data)

    @extend_schema(request=SendSerializer, responses={200: PurchaseOrderSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk=None) -> Response:
        """E-mail a draft to its supplier with its PDF and CSV (or mark it sent): a failed e-mail keeps it a draft."""
        body = SendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = self.get_object()
        try:
            purchasing.send(order, request.user, email=body.validated_data["email"], source=AuditSource.API)
        except purchasing.PurchasingError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self._answer(order)

    @extend_schema(request=ReceiveSerializer, responses={200: PurchaseOrderSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk=None) -> Response:
        """Receive units per line: each is added to the store's stock through the exactly-once push."""
        body = ReceiveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = self.get_object()
        quantities = {line["line"]: line["quantity"] for line in body.validated_data["lines"]}
        try:
            purchasing.receive(order, quantities, request.user, allow_over=body.validated_data["allow_over"],
                               source=AuditSource.API)  # fmt: skip
        except purchasing.OverReceipt as exc:
            # Translators: "allow_over": true is what a client sends: keep it as it is
            confirm = _('send the same lines with "allow_over": true')
            return Response({"detail": str(exc), "confirm": confirm}, status=status.HTTP_409_CONFLICT)
        except purchasing.PurchasingError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self._answer(order)

    @extend_schema(request=None, responses={200: PurchaseOrderSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        """Cancel an order not yet fully received: what it still awaited is no longer on order."""
        order = self.get_object()
        try:
            purchasing.cancel(order, request.user, source=AuditSource.API)
        except purchasing.PurchasingError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self._answer(order)
