"""The simulated store's stock, with the write semantics the platforms document, and fault injection.

Shopify (GraphQL Admin API, 2026-04 and later):
- `inventorySetQuantities(input: {name, reason, referenceDocumentUri, quantities: [{inventoryItemId, locationId,
  quantity, changeFromQuantity}]})` and `inventoryAdjustQuantities(input: {name, reason, referenceDocumentUri,
  changes: [{inventoryItemId, locationId, delta, changeFromQuantity}]})`. Each quantity must carry
  `changeFromQuantity` (null opts out of the check); a value that differs from the stored one fails the whole
  mutation with `CHANGE_FROM_QUANTITY_STALE` and changes nothing.
- The `@idempotent(key: ...)` directive is required on both. A repeated key with the same input returns the first
  answer without applying anything again (failures included: Shopify answers
  `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`-style, so a new attempt needs a new key); the same key with another input
  is refused with `IDEMPOTENCY_KEY_PARAMETER_MISMATCH`.
- Cost-based throttling: a bucket of `maximum_available` points refilled at `restore_rate` per second; a request
  whose requested cost (`shopify_cost`) is more than what is left gets HTTP 200 with
  `errors: [{extensions: {code: "THROTTLED"}}]`, and what a request did not use is given back once it has run;
  every answer carries `extensions.cost.throttleStatus`.

WooCommerce (REST v3): products and variations with `manage_stock`, `stock_quantity` and `meta_data`; `PUT` writes
what it is given (no compare-and-set), batch endpoints take at most 100 updates.

Faults (`Faults`): added latency, a share of requests answered 429 or 5xx before doing anything, and a delay after a
write is applied (the client times out although the store changed: the case idempotency keys exist for).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

IDEMPOTENT = re.compile(r"@idempotent\s*\(\s*key\s*:\s*(?:\"([^\"]*)\"|\$(\w+))\s*\)")
ITEM_GID = "gid://shopify/InventoryItem/"
LOCATION_GID = "gid://shopify/Location/"


@dataclass
class Faults:
    """What goes wrong, per request, drawn from a seeded generator."""

    latency: float = 0.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    delay_after_write: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> int | None:
        """The failure status this request gets before it is handled (429, 503), or None."""
        with self._lock:
            roll = self._random.random()
        if roll < self.rate_429:
            return 429
        if roll < self.rate_429 + self.rate_5xx:
            return 503
        return None


@dataclass
class ThrottleBucket:
    """Shopify's leaky bucket of query cost points."""

    maximum_available: float = 2000.0
    restore_rate: float = 100.0
    available: float = 2000.0
    updated: float = field(default_factory=time.monotonic)

    def take(self, cost: float) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        self.available = min(self.maximum_available, self.available + (now - self.updated) * self.restore_rate)
        self.updated = now
        allowed = cost <= self.available
        if allowed:
            self.available -= cost
        status = {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.restore_rate,
        }
        return allowed, {
            "requestedQueryCost": cost,
            "actualQueryCost": cost if allowed else 0,
            "throttleStatus": status,
        }

    def settle(self, requested: float, actual: float) -> dict[str, Any]:
        """Give back what a request that was charged `requested` did not use; its cost as the answer reports it."""
        self.available = min(self.maximum_available, self.available + max(requested - actual, 0))
        status = {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.restore_rate,
        }
        return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": status}


@dataclass
class WooItem:
    """A WooCommerce product (simple or variable) or variation, with what the catalogue and stock APIs show."""

    id: int
    parent_id: int = 0
    sku: str = ""
    name: str = ""
    price: str = "10.00"
    status: str = "publish"
    manage_stock: bool = True
    stock_quantity: int | None = 0
    meta_data: dict[str, str] = field(default_factory=dict)
    date_modified: float = field(default_factory=time.time)
    variable: bool = False

    def as_json(self, variations: list[int] | None = None) -> dict[str, Any]:
        kind = "variation" if self.parent_id else ("variable" if self.variable else "simple")
        modified = datetime.fromtimestamp(self.date_modified, UTC).replace(tzinfo=None)
        body = {
            "id": self.id,
            "parent_id": self.parent_id,
            "name": self.name or f"Product {self.id}",
            "sku": self.sku,
            "type": kind,
            "status": self.status,
            "price": self.price,
            "date_modified_gmt": modified.isoformat(timespec="seconds"),
            "manage_stock": self.manage_stock,
            "stock_quantity": self.stock_quantity,
            "stock_status": "instock" if (self.stock_quantity or 0) > 0 else "outofstock",
            "meta_data": [{"key": key, "value": value} for key, value in sorted(self.meta_data.items())],
        }
        if kind == "variable":
            body["variations"] = variations or []
        return body


class InventoryStore:
    """Stock levels of one simulated store, for both platforms' APIs; every method is thread-safe."""

    def __init__(self, faults: Faults | None = None, bucket: ThrottleBucket | None = None) -> None:
        self.faults = faults or Faults()
        self.bucket = bucket or ThrottleBucket()
        self.lock = threading.Lock()
        self.levels: dict[tuple[str, str], int] = {}  # (inventory item id, location id) -> available
        self.level_updated: dict[tuple[str, str], float] = {}  # when each level last changed (epoch seconds)
        # units on their way to a location by the merchant's own purchase orders and transfers (`incoming`)
        self.incoming: dict[tuple[str, str], int] = {}
        self.woo: dict[int, WooItem] = {}
        self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
        self.applied: list[dict[str, Any]] = []  # every change applied, in order (what tests count)
        self.requests = 0

    # --- direct access (the store's own activity, and tests) -------------------------------------------------------

    def set_incoming(self, item_id: str, location_id: str, units: int) -> None:
        """The merchant ordered `units` in Shopify itself (a purchase order or a transfer on its way)."""
        with self.lock:
            self.incoming[(str(item_id), str(location_id))] = units

    def set_level(self, item_id: str, location_id: str, available: int) -> None:
        with self.lock:
            self.levels[(str(item_id), str(location_id))] = available
            self.level_updated[(str(item_id), str(location_id))] = time.time()

    def level(self, item_id: str, location_id: str) -> int | None:
        with self.lock:
            return self.levels.get((str(item_id), str(location_id)))

    def sell(self, item_id: str, location_id: str, units: int) -> int:
        """An order arriving at the store: stock goes down without our app doing anything."""
        with self.lock:
            key = (str(item_id), str(location_id))
            self.levels[key] = self.levels.get(key, 0) - units
            self.level_updated[key] = time.time()
            return self.levels[key]

    def add_woo_item(self, item: WooItem) -> None:
        with self.lock:
            self.woo[item.id] = item

    def woo_sell(self, item_id: int, units: int) -> None:
        with self.lock:
            item = self.woo[item_id]
            item.stock_quantity = (item.stock_quantity or 0) - units
            item.date_modified = time.time()

    # --- Shopify GraphQL ----------------------------------------------------------------------------------------

    def shopify_graphql(self, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        """Answer one stock request (read a level, a location's levels, set or adjust): its body, `data` or
        `errors` (the server has already charged its cost)."""
        variables = variables or {}
        with self.lock:
            self.requests += 1
        if "inventorySetQuantities" in query:
            data = self.idempotent(query, variables, "inventorySetQuantities", self._set_quantities)
        elif "inventoryAdjustQuantities" in query:
            data = self.idempotent(query, variables, "inventoryAdjustQuantities", self._adjust_quantities)
        elif "inventoryItem" in query and "inventoryLevel" in query:
            data = self._read_level(variables)
        else:
            return {"errors": [{"message": "The simulator does not implement this operation"}]}
        return data if "errors" in data else {"data": data}

    def idempotent(
        self, query: str, variables: dict[str, Any], field_name: str, apply, payload: Any = None
    ) -> dict[str, Any]:
        """Run `apply(payload, key)` under the lock once per idempotency key (`payload`: the mutation's `input`
        unless given): a repeated key with the same payload answers the first result again."""
        match = IDEMPOTENT.search(query)
        key = (match.group(1) if match.group(1) is not None else variables.get(match.group(2))) if match else None
        if not key:
            message = f"{field_name} requires an idempotency key: add the @idempotent(key: ...) directive"
            return {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
        payload = variables.get("input") if payload is None else payload
        fingerprint = json.dumps(payload, sort_keys=True)
        with self.lock:
            known = self.idempotency.get(key)
            if known is not None:
                if known[0] != fingerprint:
                    return {
                        field_name: _user_errors(
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            "The same idempotency key cannot be used with different operation parameters.",
                        )
                    }
                return known[1]  # the first answer, nothing applied again
            result = {field_name: apply(payload or {}, key)}
            self.idempotency[key] = (fingerprint, result)
        if self.faults.delay_after_write:
            time.sleep(self.faults.delay_after_write)
        return result

    def _set_quantities(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        return self._compare_and_apply(data, key, "quantities", lambda entry, current: int(entry["quantity"]))

    def _adjust_quantities(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        return self._compare_and_apply(data, key, "changes", lambda entry, current: current + int(entry["delta"]))

    def _compare_and_apply(self, data: dict[str, Any], key: str, list_name: str, target) -> dict[str, Any]:
        """Check every entry's `changeFromQuantity` against the stored quantity, then apply all or nothing."""
        plan = []
        for index, entry in enumerate(data.get(list_name) or []):
            item_location = (_numeric(entry["inventoryItemId"]), _numeric(entry["locationId"]))
            if "changeFromQuantity" not in entry:
                return _user_errors("INVALID", "changeFromQuantity is required (null opts out)", index, list_name)
            current = self.levels.get(item_location)
            if current is None:
                message = "The item is not stocked at the location"
                return _user_errors("ITEM_NOT_STOCKED_AT_LOCATION", message, index, list_name)
            expected = entry["changeFromQuantity"]
            if expected is not None and expected != current:
                message = "The quantity has changed since it was read: read it again and retry"
                return _user_errors("CHANGE_FROM_QUANTITY_STALE", message, index, list_name)
            plan.append((item_location, current, target(entry, current)))
        return self._apply(plan, data, key)

    def _apply(self, plan, data: dict[str, Any], key: str) -> dict[str, Any]:
        changes = []
        for item_location, before, after in plan:
            self.levels[item_location] = after
            self.level_updated[item_location] = time.time()
            self.applied.append(
                {
                    "platform": "shopify",
                    "item": item_location[0],
                    "location": item_location[1],
                    "before": before,
                    "after": after,
                    "key": key,
                    "reference": data.get("referenceDocumentUri"),
                }
            )
            changes.append(
                {
                    "name": data.get("name", "available"),
                    "delta": after - before,
                    "quantityAfterChange": after,
                    "item": {"id": ITEM_GID + item_location[0]},
                    "location": {"id": LOCATION_GID + item_location[1]},
                }
            )
        group = {
            "id": f"gid://shopify/InventoryAdjustmentGroup/{len(self.applied)}",
            "reason": data.get("reason"),
            "referenceDocumentUri": data.get("referenceDocumentUri"),
            "changes": changes,
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    def _read_level(self, variables: dict[str, Any]) -> dict[str, Any]:
        item, location = _numeric(variables.get("id", "")), _numeric(variables.get("locationId", ""))
        with self.lock:
            available = self.levels.get((item, location))
        if available is None:
            return {"inventoryItem": {"id": ITEM_GID + item, "inventoryLevel": None}}
        level = {
            "quantities": [{"name": "available", "quantity": available}],
            "location": {"id": LOCATION_GID + location},
        }
        return {"inventoryItem": {"id": ITEM_GID + item, "inventoryLevel": level}}

    def inventory_items(self) -> list[dict[str, Any]]:
        """Every stocked item with its levels, as the `inventoryItems { inventoryLevels }` connections give them (a
        bulk query reads them so: `quantities` named `available` and `incoming`)."""
        with self.lock:
            by_item: dict[str, list[tuple[str, str]]] = {}
            for key in self.levels:
                by_item.setdefault(key[0], []).append(key)
            items = []
            for item in sorted(by_item, key=lambda item: (len(item), item)):
                levels = [
                    {
                        "id": f"gid://shopify/InventoryLevel/{item}?inventory_item_id={item}&location_id={key[1]}",
                        "updatedAt": datetime.fromtimestamp(self.level_updated.get(key, 0), UTC).isoformat(),
                        "location": {"id": LOCATION_GID + key[1]},
                        "quantities": [
                            {"name": "available", "quantity": self.levels[key]},
                            {"name": "incoming", "quantity": self.incoming.get(key, 0)},
                        ],
                    }
                    for key in sorted(by_item[item], key=lambda key: (len(key[1]), key[1]))
                ]
                items.append({"id": ITEM_GID + item, "inventoryLevels": {"nodes": levels}})
            return items

    # --- WooCommerce REST ----------------------------------------------------------------------------------------

    def woo_get(self, item_id: int, parent_id: int | None = None) -> tuple[int, Any]:
        with self.lock:
            self.requests += 1
            item = self.woo.get(item_id)
            if item is None or (parent_id is not None and item.parent_id != parent_id):
                return 404, _woo_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return 200, item.as_json()

    def woo_list(
        self, parent_id: int | None, modified_after: datetime | None, include: set[int] | None = None
    ) -> list[dict[str, Any]]:
        """Products (parent_id None: simple and variable ones) or one product's variations, oldest id first;
        `include` keeps only those ids (WooCommerce's `include` parameter)."""
        with self.lock:
            self.requests += 1
            wanted = [
                item
                for item in self.woo.values()
                if (item.parent_id == parent_id if parent_id is not None else item.parent_id == 0)
                and (modified_after is None or item.date_modified > modified_after.timestamp())
                and (include is None or item.id in include)
            ]
            children: dict[int, list[int]] = {}
            for item in self.woo.values():
                if item.parent_id:
                    children.setdefault(item.parent_id, []).append(item.id)
            return [item.as_json(sorted(children.get(item.id, []))) for item in sorted(wanted, key=lambda i: i.id)]

    def woo_update(self, item_id: int, body: dict[str, Any], parent_id: int | None = None) -> tuple[int, Any]:
        with self.lock:
            self.requests += 1
            return self._woo_update(item_id, body, parent_id)

    def _woo_update(self, item_id: int, body: dict[str, Any], parent_id: int | None) -> tuple[int, Any]:
        item = self.woo.get(item_id)
        if item is None or (parent_id is not None and item.parent_id != parent_id):
            return 404, _woo_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        if "stock_quantity" in body:
            quantity = body["stock_quantity"]
            if quantity is not None and not isinstance(quantity, int):
                return 400, _woo_error(400, "rest_invalid_param", "Invalid parameter(s): stock_quantity")
            before = item.stock_quantity
            item.stock_quantity = quantity
            self.applied.append(
                {
                    "platform": "woocommerce",
                    "item": str(item_id),
                    "before": before,
                    "after": quantity,
                    "key": next((m.get("value") for m in body.get("meta_data", []) if isinstance(m, dict)), None),
                }
            )
        if "manage_stock" in body:
            item.manage_stock = bool(body["manage_stock"])
        for meta in body.get("meta_data", []) or []:
            if isinstance(meta, dict) and "key" in meta:
                item.meta_data[str(meta["key"])] = str(meta.get("value", ""))
        item.date_modified = time.time()
        return 200, item.as_json()

    def woo_batch(self, body: dict[str, Any], parent_id: int | None = None) -> tuple[int, Any]:
        updates = body.get("update") or []
        if len(updates) > 100:
            return 400, _woo_error(
                400,
                "woocommerce_rest_request_entity_too_large",
                "Unable to accept more than 100 items for this request.",
            )
        with self.lock:
            self.requests += 1
            answers = []
            for update in updates:
                status, answer = self._woo_update(int(update.get("id", 0)), update, parent_id)
                if status != 200:
                    answer = {
                        "id": update.get("id"),
                        "error": {"code": answer["code"], "message": answer["message"], "data": {"status": status}},
                    }
                answers.append(answer)
        return 200, {"update": answers}


def _numeric(gid: str) -> str:
    return str(gid).rsplit("/", 1)[-1]


def _user_errors(code: str, message: str, index: int | None = None, list_name: str = "quantities") -> dict[str, Any]:
    field = ["input", list_name, str(index)] if index is not None else ["input"]
    return {"inventoryAdjustmentGroup": None, "userErrors": [{"code": code, "field": field, "message": message}]}


def _woo_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}
