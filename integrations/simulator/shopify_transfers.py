"""Shopify's inventory transfers and their shipments, as the GraphQL Admin API documents them, in the simulator.

- `inventoryTransfers(first:)`: the shop's transfers (the merchant's own, which a test adds, and the app's).
- `inventoryTransferCreateAsReadyToShip(input: {destinationLocationId, originLocationId, lineItems, referenceName,
  tags})`: a transfer ready to ship; without an origin, its stock comes from outside the shop.
- `inventoryShipmentCreateInTransit(input: {movementId, lineItems: [{inventoryItemId, quantity}]})`: a shipment of
  the transfer's items, in transit: its units count as `incoming` at the destination.
- `inventoryShipmentReceive(id, lineItems: [{shipmentLineItemId, quantity, reason}])`: ACCEPTED units move from
  incoming to available; REJECTED and CANCELED ones leave incoming. More than a line still awaits is refused.

Each mutation requires the `@idempotent(key:)` directive (API version 2026-04 on): the same key with the same input
answers the first result again and changes nothing.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

from integrations.simulator.inventory import ITEM_GID, InventoryStore

TRANSFER_GID = "gid://shopify/InventoryTransfer/"
SHIPMENT_GID = "gid://shopify/InventoryShipment/"
SHIPMENT_LINE_GID = "gid://shopify/InventoryShipmentLineItem/"
MUTATIONS = {
    "inventoryTransferCreateAsReadyToShip": "_create_transfer",
    "inventoryShipmentCreateInTransit": "_ship",
    "inventoryShipmentReceive": "_receive",
}
OPERATIONS = re.compile(r"\b(inventoryTransfers|" + "|".join(MUTATIONS) + r")\s*\(")
REASONS = ("ACCEPTED", "REJECTED", "CANCELED")


@dataclass
class ShipmentLine:
    id: str
    item: str
    quantity: int
    accepted: int = 0
    rejected: int = 0

    @property
    def unreceived(self) -> int:
        return self.quantity - self.accepted - self.rejected


@dataclass
class Shipment:
    id: str
    transfer: str
    lines: dict[str, ShipmentLine] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if all(line.unreceived == 0 for line in self.lines.values()):
            return "RECEIVED"
        if any(line.accepted or line.rejected for line in self.lines.values()):
            return "PARTIALLY_RECEIVED"
        return "IN_TRANSIT"


@dataclass
class Transfer:
    id: str
    destination: str
    origin: str | None
    items: dict[str, int]
    reference: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = "READY_TO_SHIP"


class ShopifyTransfers:
    """The shop's transfers; units in transit are kept in the inventory's `incoming`, under its lock."""

    def __init__(self, inventory: InventoryStore) -> None:
        self.inventory = inventory
        self.transfers: dict[str, Transfer] = {}
        self.shipments: dict[str, Shipment] = {}
        self._ids = itertools.count(1001)

    def add_merchant_transfer(self, destination: str, items: dict[str, int]) -> str:
        """A transfer the merchant made in Shopify's admin (a draft: nothing incoming yet)."""
        with self.inventory.lock:
            transfer = Transfer(str(next(self._ids)), str(destination), None, dict(items), status="DRAFT")
            self.transfers[transfer.id] = transfer
            return transfer.id

    def answer(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The body of one transfer request (`data` or `errors`)."""
        for name, method in MUTATIONS.items():
            if re.search(rf"\b{name}\s*\(", query):
                apply = getattr(self, method)
                payload = variables.get("input") if "input" in variables else {
                    k: v for k, v in variables.items() if k != "idempotencyKey"
                }  # fmt: skip
                data = self.inventory.idempotent(query, variables, name, apply, payload)
                return data if "errors" in data else {"data": data}
        if re.search(r"\binventoryTransfers\s*\(", query):
            with self.inventory.lock:
                first = int(variables.get("first") or 1)
                nodes = [{"id": TRANSFER_GID + t} for t in list(self.transfers)[:first]]
            return {"data": {"inventoryTransfers": {"nodes": nodes}}}
        return {"errors": [{"message": "The simulator does not implement this operation"}]}

    # --- the mutations (called under the inventory's lock) ----------------------------------------------------------

    def _create_transfer(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        destination = _numeric(data.get("destinationLocationId") or "")
        if not destination or not any(location == destination for _, location in self.inventory.levels):
            return _errors("LOCATION_NOT_FOUND", "The destination location does not exist", "destinationLocationId")
        items: dict[str, int] = {}
        for entry in data.get("lineItems") or []:
            quantity = int(entry.get("quantity") or 0)
            if quantity <= 0:
                return _errors("INVALID_QUANTITY", "Quantity must be greater than 0", "lineItems")
            item = _numeric(entry.get("inventoryItemId") or "")
            items[item] = items.get(item, 0) + quantity
        if not items:
            return _errors("LINE_ITEMS_EMPTY", "A transfer needs at least one line item", "lineItems")
        origin = data.get("originLocationId")
        transfer = Transfer(
            str(next(self._ids)), destination, _numeric(origin) if origin else None, items,
            str(data.get("referenceName") or ""), list(data.get("tags") or []),
        )  # fmt: skip
        self.transfers[transfer.id] = transfer
        return {"inventoryTransfer": {"id": TRANSFER_GID + transfer.id, "status": transfer.status}, "userErrors": []}

    def _ship(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        transfer = self.transfers.get(_numeric(data.get("movementId") or ""))
        if transfer is None or transfer.status not in ("READY_TO_SHIP", "IN_PROGRESS"):
            return _errors("TRANSFER_NOT_FOUND", "The transfer does not exist or cannot be shipped", "movementId")
        shipped = {
            line.item: line.quantity
            for shipment in self.shipments.values()
            if shipment.transfer == transfer.id
            for line in shipment.lines.values()
        }
        shipment = Shipment(str(next(self._ids)), transfer.id)
        for entry in data.get("lineItems") or []:
            item, quantity = _numeric(entry.get("inventoryItemId") or ""), int(entry.get("quantity") or 0)
            if quantity <= 0 or quantity > transfer.items.get(item, 0) - shipped.get(item, 0):
                return _errors("INVALID_QUANTITY", f"Item {item} is not on the transfer in that quantity", "lineItems")
            line = ShipmentLine(str(next(self._ids)), item, quantity)
            shipment.lines[line.id] = line
        if not shipment.lines:
            return _errors("LINE_ITEMS_EMPTY", "A shipment needs at least one line item", "lineItems")
        for line in shipment.lines.values():
            where = (line.item, transfer.destination)
            self.inventory.incoming[where] = self.inventory.incoming.get(where, 0) + line.quantity
        self.shipments[shipment.id] = shipment
        transfer.status = "IN_PROGRESS"
        return {"inventoryShipment": _shipment_node(shipment), "userErrors": []}

    def _receive(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        shipment = self.shipments.get(_numeric(data.get("id") or ""))
        if shipment is None:
            return _errors("NOT_FOUND", "The shipment does not exist", "id")
        plan = []
        for index, entry in enumerate(data.get("lineItems") or []):
            line = shipment.lines.get(_numeric(entry.get("shipmentLineItemId") or ""))
            quantity, reason = int(entry.get("quantity") or 0), entry.get("reason")
            if line is None:
                return _errors("NOT_FOUND", "The shipment line item does not exist", "lineItems", index)
            if reason not in REASONS:
                return _errors("INVALID", f"Unknown reason {reason}", "lineItems", index)
            if quantity <= 0 or quantity > line.unreceived:
                message = f"Quantity {quantity} is more than the {line.unreceived} units the line still awaits"
                return _errors("INVALID_QUANTITY", message, "lineItems", index)
            plan.append((line, quantity, reason))
        destination = self.transfers[shipment.transfer].destination
        for line, quantity, reason in plan:
            where = (line.item, destination)
            self.inventory.incoming[where] = max(self.inventory.incoming.get(where, 0) - quantity, 0)
            if reason != "ACCEPTED":
                line.rejected += quantity
                continue
            line.accepted += quantity
            before = self.inventory.levels.get(where, 0)
            self.inventory.levels[where] = before + quantity
            self.inventory.level_updated[where] = time.time()
            self.inventory.applied.append(
                {"platform": "shopify", "item": line.item, "location": destination, "before": before,
                 "after": before + quantity, "key": key, "reference": f"shipment {shipment.id}"}
            )  # fmt: skip
        if shipment.status == "RECEIVED" and all(
            s.status == "RECEIVED" for s in self.shipments.values() if s.transfer == shipment.transfer
        ):
            self.transfers[shipment.transfer].status = "TRANSFERRED"
        return {"inventoryShipment": {"id": SHIPMENT_GID + shipment.id, "status": shipment.status}, "userErrors": []}


def _shipment_node(shipment: Shipment) -> dict[str, Any]:
    nodes = [
        {"id": SHIPMENT_LINE_GID + line.id, "quantity": line.quantity, "inventoryItem": {"id": ITEM_GID + line.item}}
        for line in shipment.lines.values()
    ]
    return {"id": SHIPMENT_GID + shipment.id, "status": shipment.status, "lineItems": {"nodes": nodes}}


def _numeric(gid: str) -> str:
    return str(gid).rsplit("/", 1)[-1]


def _errors(code: str, message: str, name: str, index: int | None = None) -> dict[str, Any]:
    path = [name] if index is None else [name, str(index)]
    return {"userErrors": [{"code": code, "field": path, "message": message}]}


__all__ = ["OPERATIONS", "ShopifyTransfers"]
