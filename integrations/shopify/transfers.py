"""Supplier deliveries as Shopify inventory transfers: made in transit when an order is sent, received line by line.

A transfer with a destination and no origin is stock arriving from outside the shop. Created ready to ship
(`inventoryTransferCreateAsReadyToShip`) and given an in-transit shipment (`inventoryShipmentCreateInTransit`), its
lines count as `incoming` at the destination until `inventoryShipmentReceive` accepts them into `available`, or
cancels them. Every one of these mutations takes an `@idempotent` key (required from API version 2026-04): a retried
request never makes a second transfer or receives a unit twice.

A shipment holds at most `SHIPMENT_LINES` lines here (the page of line ids read back with it); a longer order ships
in several.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from integrations.errors import StoreAPIError
from integrations.gateway import InboundLine, InboundShipment
from integrations.shopify.graphql import numeric_id

SHIPMENT_LINES = 250

TRANSFERS_EXIST = """
query TransfersExist { inventoryTransfers(first: 1) { nodes { id } } }
"""

CREATE_TRANSFER = """
mutation InboundTransfer($input: InventoryTransferCreateAsReadyToShipInput!, $idempotencyKey: String!) {
  inventoryTransferCreateAsReadyToShip(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryTransfer { id status }
    userErrors { code field message }
  }
}
"""

SHIP = """
mutation InboundShipment($input: InventoryShipmentCreateInput!, $idempotencyKey: String!) {
  inventoryShipmentCreateInTransit(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryShipment { id status lineItems(first: 250) { nodes { id quantity inventoryItem { id } } } }
    userErrors { code field message }
  }
}
"""

RECEIVE = """
mutation ReceiveShipment($id: ID!, $lineItems: [InventoryShipmentReceiveItemInput!]!, $idempotencyKey: String!) {
  inventoryShipmentReceive(id: $id, lineItems: $lineItems) @idempotent(key: $idempotencyKey) {
    inventoryShipment { id status }
    userErrors { code field message }
  }
}
"""

TRANSFER_GID = "gid://shopify/InventoryTransfer/"
SHIPMENT_GID = "gid://shopify/InventoryShipment/"
SHIPMENT_LINE_GID = "gid://shopify/InventoryShipmentLineItem/"


def uses_transfers(client: Any) -> bool:
    """Whether the shop has any inventory transfer; a grant without the transfer scopes reads as none."""
    try:
        data = client.graphql(TRANSFERS_EXIST)
    except StoreAPIError as exc:
        if exc.status == 403:  # the grant lacks read_inventory_transfers: received as plain additions
            return False
        raise
    return bool(((data.get("inventoryTransfers") or {}).get("nodes")) or [])


def create_inbound(
    client: Any, reference: str, location_id: str, lines: Sequence[InboundLine], idempotency_key: str
) -> InboundShipment:
    """A transfer to the location from outside the shop, shipped in transit in shipments of up to SHIPMENT_LINES."""
    transfer_input = {
        "destinationLocationId": f"gid://shopify/Location/{location_id}",
        "referenceName": reference,
        "tags": ["Inventory AI"],
        "lineItems": [_item(line) for line in lines],
    }
    data = client.graphql(CREATE_TRANSFER, {"input": transfer_input, "idempotencyKey": f"{idempotency_key}-transfer"})
    payload = data.get("inventoryTransferCreateAsReadyToShip") or {}
    _raise_user_errors("inventoryTransferCreateAsReadyToShip", payload)
    transfer_id = numeric_id((payload.get("inventoryTransfer") or {}).get("id"))
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(lines), SHIPMENT_LINES):
        chunk = lines[start : start + SHIPMENT_LINES]
        shipment_input = {"movementId": TRANSFER_GID + transfer_id, "lineItems": [_item(line) for line in chunk]}
        key = f"{idempotency_key}-shipment-{start // SHIPMENT_LINES}"
        data = client.graphql(SHIP, {"input": shipment_input, "idempotencyKey": key})
        payload = data.get("inventoryShipmentCreateInTransit") or {}
        _raise_user_errors("inventoryShipmentCreateInTransit", payload)
        shipment = payload.get("inventoryShipment") or {}
        shipment_id = numeric_id(shipment.get("id"))
        by_item = {
            numeric_id((node.get("inventoryItem") or {}).get("id")): numeric_id(node.get("id"))
            for node in (shipment.get("lineItems") or {}).get("nodes") or []
        }
        for line in chunk:
            line_id = by_item.get(str(line.inventory_item_id))
            if line_id is None:
                message = f"shipment {shipment_id} came back without item {line.inventory_item_id}"
                raise StoreAPIError(message, transient=False)
            found[line.key] = (shipment_id, line_id)
    return InboundShipment(transfer_id=transfer_id, lines=found)


def receive(
    client: Any, shipment_id: str, line_id: str, quantity: int, idempotency_key: str, reason: str = "ACCEPTED"
) -> dict[str, Any]:
    """Receive `quantity` units of one shipment line (ACCEPTED: into available; CANCELED: no longer incoming).
    The mutation's payload; user errors are in it, not raised."""
    variables = {
        "id": SHIPMENT_GID + shipment_id,
        "lineItems": [{"shipmentLineItemId": SHIPMENT_LINE_GID + line_id, "quantity": quantity, "reason": reason}],
        "idempotencyKey": idempotency_key,
    }
    return client.graphql(RECEIVE, variables).get("inventoryShipmentReceive") or {}


def cancel(client: Any, shipment_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str) -> None:
    """Units of a shipment that will not arrive, cancelled so the shop no longer counts them as incoming."""
    items = [
        {"shipmentLineItemId": SHIPMENT_LINE_GID + line_id, "quantity": units, "reason": "CANCELED"}
        for line_id, units in lines
        if units > 0
    ]
    if not items:
        return
    variables = {"id": SHIPMENT_GID + shipment_id, "lineItems": items, "idempotencyKey": idempotency_key}
    payload = client.graphql(RECEIVE, variables).get("inventoryShipmentReceive") or {}
    _raise_user_errors("inventoryShipmentReceive", payload)


def _item(line: InboundLine) -> dict[str, Any]:
    return {"inventoryItemId": f"gid://shopify/InventoryItem/{line.inventory_item_id}", "quantity": line.quantity}


def _raise_user_errors(mutation: str, payload: dict[str, Any]) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
        raise StoreAPIError(f"{mutation} refused: {detail}", transient=False, status=422)
