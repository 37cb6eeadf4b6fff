"""The simulated shop's bulk query operations, as Shopify documents them.

`bulkOperationRunQuery` checks the query and snapshots its result; `node(id:)` reports the operation CREATED, then
RUNNING, then COMPLETED with the URL of its JSONL file, which is served without credentials (a signed URL) and
honours a `Range: bytes=N-` request. Each object of the result is one line; an object of a nested connection names
its parent's id in `__parentId`. With `groupObjects: true` the children follow their parent; without it (the default
since 2026-01) the file holds every top-level object first and the children after them, an order Shopify allows.

Refused, as Shopify refuses them: a top-level `node` or `nodes` field, more than five connections, connections nested
more than two deep, a nested connection whose parent does not select `id`, a connection inside a list field, and a
sixth operation while five run. The simulator runs bulk queries of `products`, `orders` and `inventoryItems` (with
their `inventoryLevels`, from the simulated stock).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from graphql import FieldNode

from integrations.simulator import shopify_graphql
from integrations.simulator.inventory import InventoryStore
from integrations.simulator.shopify_cost import Document, response_key
from integrations.simulator.state import StoreState

MAX_CONNECTIONS = 5
MAX_DEPTH = 2
MAX_RUNNING = 5
POLLS_TO_COMPLETE = 2


class BulkQueryInvalid(ValueError):
    """A bulk query Shopify would not run (a `userErrors` entry with code INVALID)."""


class ShopifyBulk:
    def __init__(self, state: StoreState, inventory: InventoryStore | None = None) -> None:
        self.state = state
        self.inventory = inventory
        self.lock = threading.Lock()
        self.operations: dict[int, dict[str, Any]] = {}

    def run_mutation(self, mutation: Document) -> dict[str, Any]:
        """`bulkOperationRunQuery(query:, groupObjects:)` as the request sent it."""
        field = next(
            f for f in mutation.fields(mutation.operation.selection_set) if f.name.value == "bulkOperationRunQuery"
        )
        return self.run(str(mutation.argument(field, "query") or ""), bool(mutation.argument(field, "groupObjects")))

    def run(self, query: str, group_objects: bool) -> dict[str, Any]:
        """The `bulkOperationRunQuery` payload."""
        with self.lock:
            running = [op for op in self.operations.values() if op["status"] in ("CREATED", "RUNNING")]
            if len(running) >= MAX_RUNNING:
                message = "Bulk operations limit reached. Please try again later."
                return _refused(message, "LIMIT_REACHED")
            try:
                lines = self._lines(Document(query), group_objects)
            except (BulkQueryInvalid, ValueError) as exc:
                return _refused(str(exc), "INVALID")
            number = len(self.operations) + 1
            self.operations[number] = {"status": "CREATED", "polls": 0, "lines": lines}
        operation = {"id": f"gid://shopify/BulkOperation/{number}", "status": "CREATED"}
        return {"bulkOperation": operation, "userErrors": []}

    def status(self, operation_id: str, base_url: str) -> dict[str, Any] | None:
        """The operation as `node(id:)` shows it; each look moves it on, COMPLETED at the second."""
        tail = str(operation_id).rsplit("/", 1)[-1]
        number = int(tail) if tail.isdigit() else 0
        with self.lock:
            operation = self.operations.get(number)
            if operation is None:
                return None
            operation["polls"] += 1
            operation["status"] = "COMPLETED" if operation["polls"] >= POLLS_TO_COMPLETE else "RUNNING"
            done = operation["status"] == "COMPLETED"
            return {
                "id": f"gid://shopify/BulkOperation/{number}",
                "status": operation["status"],
                "errorCode": None,
                "objectCount": str(len(operation["lines"])),
                "url": f"{base_url}/bulk/{number}.jsonl" if done else None,
            }

    def file(self, number: int) -> bytes | None:
        """The JSONL of a completed operation; None for one unknown or not completed."""
        with self.lock:
            operation = self.operations.get(number)
            if operation is None or operation["status"] != "COMPLETED":
                return None
            if "file" not in operation:
                operation["file"] = "".join(json.dumps(line) + "\n" for line in operation["lines"]).encode()
            return operation["file"]

    # --- the query's result as lines ----------------------------------------------------------------------------------

    def _lines(self, document: Document, group_objects: bool) -> list[dict[str, Any]]:
        roots = list(document.fields(document.operation.selection_set))
        if len(roots) != 1:
            raise BulkQueryInvalid("Bulk queries must contain exactly one top-level field.")
        root = roots[0]
        if root.name.value in ("node", "nodes"):
            raise BulkQueryInvalid("Bulk queries cannot contain a top level `node` or `nodes` field.")
        connections = self._check(document, root, 0)
        if connections > MAX_CONNECTIONS:
            raise BulkQueryInvalid(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
        search = document.argument(root, "query")
        if root.name.value == "products":
            nodes = shopify_graphql.products(self.state, {"all": True})["products"]["nodes"]
        elif root.name.value == "orders":
            nodes = shopify_graphql.orders(self.state, {"all": True, "query": search})["orders"]["nodes"]
        elif root.name.value == "inventoryItems" and self.inventory is not None:
            nodes = self.inventory.inventory_items()
        else:
            raise BulkQueryInvalid("The simulator runs bulk queries of products, orders and inventory items only.")
        node_selection = document.node_selection(root)
        lines: list[dict[str, Any]] = []
        children: list[dict[str, Any]] = []
        for node in nodes:
            _flatten(document, node_selection, node, None, lines, lines if group_objects else children)
        return lines + children

    def _check(self, document: Document, field: FieldNode, depth: int, in_list: bool = False) -> int:
        """The connections under `field` (itself included), refusing what bulk queries cannot hold."""
        node = document.node_selection(field)
        if node is None:
            return sum(
                self._check(document, child, depth, in_list or _is_list(field))
                for child in document.fields(field.selection_set)
            )
        if in_list:
            raise BulkQueryInvalid(
                "Queries that contain a connection field within a list field are not currently supported."
            )
        if depth + 1 > MAX_DEPTH:
            raise BulkQueryInvalid(f"Bulk queries cannot contain connections nested more than {MAX_DEPTH} levels.")
        selected = list(document.fields(node))
        nested = [child for child in selected if document.node_selection(child) is not None]
        if nested and not any(child.name.value == "id" and child.alias is None for child in selected):
            raise BulkQueryInvalid("The parent 'node' field for a nested connection must select the 'id' field.")
        return 1 + sum(self._check(document, child, depth + 1) for child in selected)


# The simulated objects' fields that are lists, not connections (a bulk query may not nest a connection in one).
LIST_FIELDS = frozenset({"refunds", "quantities"})


def _is_list(field: FieldNode) -> bool:
    return field.name.value in LIST_FIELDS


def _flatten(
    document: Document,
    selection: Any,
    node: dict[str, Any],
    parent_id: str | None,
    lines: list[dict[str, Any]],
    children: list[dict[str, Any]],
) -> None:
    """`node` as a line (what the query selects of it), then each object of its nested connections."""
    line: dict[str, Any] = {}
    nested = []
    for field in document.unique(selection):
        key, value = response_key(field), node.get(field.name.value)
        inner = document.node_selection(field) if field.selection_set is not None else None
        if inner is not None:
            nested.append((inner, value))
        else:
            line[key] = _project(document, field, value)
    if parent_id is not None:
        line["__parentId"] = parent_id
    (lines if parent_id is None else children).append(line)
    for inner, connection in nested:
        for child in (connection or {}).get("nodes") or []:
            _flatten(document, inner, child, str(node.get("id")), lines, children)


def _project(document: Document, field: FieldNode, value: Any) -> Any:
    """What the query selects of a value (a list item by item)."""
    if field.selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [_project(document, field, item) for item in value]
    return {
        response_key(child): _project(document, child, value.get(child.name.value))
        for child in document.unique(field.selection_set)
    }


def _refused(message: str, code: str) -> dict[str, Any]:
    return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": code}]}
