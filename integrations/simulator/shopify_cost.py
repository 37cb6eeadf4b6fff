"""What a GraphQL Admin API request costs, as Shopify's rate-limit documentation calculates it.

Before running a query Shopify computes its requested cost from the document alone: a scalar or an enum costs 0, an
object 1, a connection 2 plus, for each object it may return (its `first` or `last` argument), what that object's
selection costs; `nodes(ids:)` costs its selection once per id; a mutation costs 10. A query whose requested cost is
above 1,000 points is refused whatever the bucket holds (`MAX_COST_EXCEEDED`). The requested cost is taken from the
bucket, and once the query has run the difference to its actual cost (the objects it did return) is given back.

Without the schema a field is told apart by its selection: none is a scalar or an enum, a selection of `nodes` or
`edges` a connection, any other selection an object (a list without a page size counts as one object). That is how
the documents the product sends are shaped; the simulator does not need the rest of the schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)

MAX_QUERY_COST = 1000
MUTATION_COST = 10
CONNECTION_COST = 2
UNSIZED_PAGE = 250  # a connection without `first` or `last` (Shopify refuses one; the simulator prices the largest)


class Document:
    """A parsed request: its operation, its fragments and its variables."""

    def __init__(self, query: str, variables: Mapping[str, Any] | None = None) -> None:
        try:
            tree = parse(query)
        except GraphQLError as exc:
            raise ValueError(f"the query does not parse: {exc.message}") from exc
        operations = [d for d in tree.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1:
            raise ValueError("a request carries exactly one operation")
        self.operation = operations[0]
        self.fragments = {d.name.value: d for d in tree.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = dict(variables or {})

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation == OperationType.MUTATION

    def fields(self, selection_set: SelectionSetNode | None) -> Iterator[FieldNode]:
        """The fields of a selection, fragments spread in place."""
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self.fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in self.fragments:
                yield from self.fields(self.fragments[selection.name.value].selection_set)

    def argument(self, field: FieldNode, name: str) -> Any:
        for argument in field.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return None

    def requested(self) -> int:
        if self.is_mutation:
            return MUTATION_COST
        return self._set_requested(self.operation.selection_set, top=True)

    def actual(self, data: Mapping[str, Any] | None) -> int:
        """The cost of what the answer holds (a mutation costs what it requested)."""
        if self.is_mutation:
            return MUTATION_COST
        data = data or {}
        return sum(
            self._actual(field, data.get(response_key(field)), top=True)
            for field in self.unique(self.operation.selection_set)
        )

    # --- the requested cost: the most the document may return ---------------------------------------------------------

    def _set_requested(self, selection_set: SelectionSetNode | None, top: bool = False) -> int:
        """The fields' costs added up; of the fragments on one type or another (an interface or a union), the
        dearest one."""
        total, branches = 0, [0]
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self._requested(selection, top)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in self.fragments:
                total += self._set_requested(self.fragments[selection.name.value].selection_set, top)
            elif isinstance(selection, InlineFragmentNode):
                cost = self._set_requested(selection.selection_set, top)
                if selection.type_condition is None:
                    total += cost
                else:
                    branches.append(cost)
        return total + max(branches)

    def _requested(self, field: FieldNode, top: bool = False) -> int:
        if field.selection_set is None:
            return 0
        if top and field.name.value == "nodes":
            ids = self.argument(field, "ids") or []
            return len(ids) * (1 + self._set_requested(field.selection_set))
        node = self.node_selection(field)
        if node is None:
            return 1 + self._set_requested(field.selection_set)
        size = self.argument(field, "first") or self.argument(field, "last") or UNSIZED_PAGE
        return CONNECTION_COST + int(size) * (1 + self._set_requested(node))

    def node_selection(self, field: FieldNode) -> SelectionSetNode | None:
        """A connection's node selection (`nodes { ... }` or `edges { node { ... } }`); None when not a connection."""
        for child in self.fields(field.selection_set):
            if child.name.value == "nodes":
                return child.selection_set
            if child.name.value == "edges":
                for edge_field in self.fields(child.selection_set):
                    if edge_field.name.value == "node":
                        return edge_field.selection_set
        return None

    # --- the actual cost: what the answer holds -----------------------------------------------------------------------

    def unique(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        """A selection's fields once per answer key (fragments on several types may select the same field)."""
        seen: dict[str, FieldNode] = {}
        for field in self.fields(selection_set):
            seen.setdefault(response_key(field), field)
        return list(seen.values())

    def _actual(self, field: FieldNode, value: Any, top: bool = False) -> int:
        if field.selection_set is None or value is None:
            return 0
        if isinstance(value, list):  # a list of objects (`refunds`, `nodes(ids:)`): each one what it holds
            return sum(self._object(field.selection_set, item) for item in value if isinstance(item, Mapping))
        node = self.node_selection(field)
        if node is None:
            return self._object(field.selection_set, value)
        nodes = list(value.get("nodes") or []) + [
            (edge or {}).get("node") for edge in value.get("edges") or [] if (edge or {}).get("node") is not None
        ]
        return CONNECTION_COST + sum(self._object(node, item) for item in nodes if isinstance(item, Mapping))

    def _object(self, selection_set: SelectionSetNode | None, value: Mapping[str, Any]) -> int:
        return 1 + sum(self._actual(child, value.get(response_key(child))) for child in self.unique(selection_set))


def response_key(field: FieldNode) -> str:
    return field.alias.value if field.alias else field.name.value


def max_cost_exceeded(cost: int) -> dict[str, Any]:
    """Shopify's refusal of a query that asks for too much at once."""
    message = f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST})."
    return {"message": message, "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST}}
