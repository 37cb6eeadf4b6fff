"""A sent purchase order as the store's own inbound transfer, where the store keeps transfers (Shopify).

Sent, an order of a store that receives on transfers (`Store.receiving`: always, or by default where the shop already
has transfers) becomes a transfer to its location, shipped and in transit: the merchant sees it in the store's admin
and the store counts its units as incoming. Each receipt of a line is then accepted on that shipment line (the push
sends it through the gateway with the adjustment's idempotency key, so it is received once), and a cancelled order
cancels what its shipment still awaited. Units received beyond the shipment's line are an addition, as on a store
without transfers; so is every receipt of an order whose transfer could not be made (`transfer_error` says why).

The store's `incoming` therefore holds our in-transit units too: `purchasing.on_order` counts each unit once by
taking ours out of the store's figure. Our copy of `incoming` follows each change we make (shipped, accepted,
cancelled) until the next reconciliation reads the store's own.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from integrations.errors import StoreAPIError
from integrations.gateway import InboundLine
from inventory_ai import dispatch
from inventory_ai.choices import AuditAction, AuditSource, PurchaseOrderStatus, ReceivingMethod
from inventory_ai.gateways import gateway_class, store_gateway
from inventory_ai.models import InventoryLevel, PurchaseOrder, PurchaseOrderLine, Store
from inventory_ai.services import audit

logger = logging.getLogger(__name__)


def may_use_transfers(store: Store) -> bool:
    """Whether a sent order of the store is worth offering to its gateway as a transfer."""
    return gateway_class(store.platform).supports_transfers and store.receiving != ReceivingMethod.ADDITION


def after_send(order: PurchaseOrder) -> None:
    """Called as an order is sent (inside its transaction): make its transfer once that commits."""
    if may_use_transfers(order.store):
        dispatch.send("open_inbound_transfer_task", order.pk)


def after_cancel(order: PurchaseOrder) -> None:
    """Called as an order is cancelled (inside its transaction): cancel what its shipment still awaited."""
    if order.transfer_id:
        dispatch.send("cancel_inbound_transfer_task", order.pk)


def idempotency_key(order: PurchaseOrder, what: str) -> str:
    return f"inventory-ai-po-{order.store_id}-{order.pk}-{what}"


def open_inbound_transfer(order_id: int) -> str:
    """Make the order's inbound transfer in the store, unless it has one or the store receives by additions.
    Returns what happened. A transient store error raises (the task retries, with the same idempotency keys);
    a lasting one is kept on the order, whose receipts are then additions."""
    with transaction.atomic():
        order = PurchaseOrder.objects.select_for_update().select_related("store", "location").get(pk=order_id)
        if order.transfer_id or order.status not in (PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED):
            return "nothing to do"
        store = order.store
        gateway = store_gateway(store)
        if store.receiving == ReceivingMethod.AUTO:
            uses = gateway.uses_transfers()
            if uses != store.uses_transfers:
                Store.objects.filter(pk=store.pk).update(uses_transfers=uses)
            if not uses:
                return "the store keeps no transfers: receipts are additions"
        lines = list(
            PurchaseOrderLine.objects.select_for_update()
            .select_related("variant")
            .filter(purchase_order=order, received__lt=F("quantity"))
            .exclude(variant__inventory_item_id="")
        )
        inbound = [InboundLine(line.pk, line.variant.inventory_item_id, line.outstanding) for line in lines]
        if not inbound:
            return "no line awaits units"
        try:
            made = gateway.create_inbound_transfer(
                order.number, order.location.platform_id, inbound, idempotency_key(order, "transfer")
            )
        except StoreAPIError as exc:
            if exc.transient:
                raise
            logger.warning("purchase order %s: no inbound transfer: %s", order.number, exc)
            PurchaseOrder.objects.filter(pk=order.pk).update(transfer_error=str(exc)[:1000])
            return f"refused: {exc}"
        for line in lines:
            shipment_id, line_id = made.lines[line.pk]
            PurchaseOrderLine.objects.filter(pk=line.pk).update(shipment_id=shipment_id, shipment_line_id=line_id)
            _add_incoming(line.variant_id, order.location_id, line.outstanding)
        PurchaseOrder.objects.filter(pk=order.pk).update(transfer_id=made.transfer_id, transfer_error="")
        audit.record(order, AuditAction.EDIT, None, AuditSource.SYSTEM,
                     after={"transfer": made.transfer_id, "lines": len(lines)},
                     note="inbound transfer made in the store")  # fmt: skip
    return f"transfer {made.transfer_id}"


def cancel_inbound_transfer(order_id: int) -> str:
    """What the cancelled order's shipments still awaited, cancelled in the store (no longer incoming there)."""
    with transaction.atomic():
        order = PurchaseOrder.objects.select_for_update().select_related("store").get(pk=order_id)
        if order.status != PurchaseOrderStatus.CANCELLED or not order.transfer_id:
            return "nothing to do"
        lines = list(
            PurchaseOrderLine.objects.filter(purchase_order=order, received__lt=F("quantity")).exclude(
                shipment_line_id=""
            )
        )
        by_shipment: dict[str, list[PurchaseOrderLine]] = {}
        for line in lines:
            by_shipment.setdefault(line.shipment_id, []).append(line)
        gateway = store_gateway(order.store)
        for shipment_id, shipped in by_shipment.items():
            gateway.cancel_inbound(
                shipment_id,
                [(line.shipment_line_id, line.outstanding) for line in shipped],
                idempotency_key(order, f"cancel-{shipment_id}"),
            )
            for line in shipped:
                _add_incoming(line.variant_id, order.location_id, -line.outstanding)
        # the shipment lines are settled: no later cancellation sends them again
        PurchaseOrderLine.objects.filter(pk__in=[line.pk for line in lines]).update(shipment_id="", shipment_line_id="")
    return f"{len(lines)} lines cancelled in the store"


def accepted(variant_id: int, location_id: int, units: int) -> None:
    """Units accepted on a shipment line: no longer incoming in our copy of the store's levels."""
    _add_incoming(variant_id, location_id, -units)


def _add_incoming(variant_id: int, location_id: int, units: int) -> None:
    InventoryLevel.objects.filter(variant_id=variant_id, location_id=location_id).update(
        incoming=Greatest(F("incoming") + units, 0)
    )
