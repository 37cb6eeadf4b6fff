"""Shopify discounts (GraphQL Admin API `discountNodes`) as the product's promotions: documents and parsing.

A discount node holds one of eight types: automatic or code, each basic (amount off items), buy X get Y, free
shipping, or an app's (a Shopify Function, whose items only the app knows). Basic and buy-X-get-Y discounts name
their items: all of them, some products and variants, or some collections. Item lists are connections: a page of
discounts carries the first `ITEMS_PER_PAGE` of each (so one page stays well under the API's 1,000-point query cost),
and `DiscountItems.pending` says where a longer list goes on. The gateway reads the rest of each side (`customerGets`
or `customerBuys`) and the products of each collection, then builds the `DiscountRecord`.

A code discount only some customers can use (a customer list or segment), or usable once in all, is not a
promotion of the store: it is kept with `for_everyone=False`, and the core app does not make it an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.records import DiscountRecord
from integrations.shopify.graphql import numeric_id, parse_time
from integrations.webhooks import PayloadError

DISCOUNTS_PER_PAGE = 5
ITEMS_PER_PAGE = 25
COLLECTION_PRODUCTS_PER_PAGE = 250

_ITEMS = """
fragment Items on DiscountItems {
  __typename
  ... on AllDiscountItems { allItems }
  ... on DiscountProducts {
    products(first: $itemsFirst, after: $productsAfter) { nodes { id } pageInfo { hasNextPage endCursor } }
    productVariants(first: $itemsFirst, after: $variantsAfter) {
      nodes { id } pageInfo { hasNextPage endCursor }
    }
  }
  ... on DiscountCollections {
    collections(first: $itemsFirst, after: $collectionsAfter) { nodes { id } pageInfo { hasNextPage endCursor } }
  }
}
"""

_VALUE = """
fragment Value on DiscountCustomerGetsValue {
  __typename
  ... on DiscountPercentage { percentage }
  ... on DiscountOnQuantity { effect { __typename ... on DiscountPercentage { percentage } } }
}
"""

_COMMON = "title status startsAt endsAt"
_CODE = "usageLimit context { __typename }"
_GETS = "customerGets { value { ...Value } items { ...Items } }"
_BUYS = "customerBuys { items { ...Items } }"

_DISCOUNT = f"""
fragment Discount on Discount {{
  __typename
  ... on DiscountAutomaticBasic {{ {_COMMON} {_GETS} }}
  ... on DiscountAutomaticBxgy {{ {_COMMON} {_BUYS} {_GETS} }}
  ... on DiscountAutomaticFreeShipping {{ {_COMMON} }}
  ... on DiscountAutomaticApp {{ {_COMMON} }}
  ... on DiscountCodeBasic {{ {_COMMON} {_CODE} {_GETS} }}
  ... on DiscountCodeBxgy {{ {_COMMON} {_CODE} {_BUYS} {_GETS} }}
  ... on DiscountCodeFreeShipping {{ {_COMMON} {_CODE} }}
  ... on DiscountCodeApp {{ {_COMMON} {_CODE} }}
}}
"""

_ITEM_VARIABLES = "$itemsFirst: Int!, $productsAfter: String, $variantsAfter: String, $collectionsAfter: String"

# Every discount (a backfill), or those changed since a time (`query: "updated_at:>='...'"`, a reconciliation).
DISCOUNTS = (
    f"""
query Discounts($first: Int!, $cursor: String, $query: String, {_ITEM_VARIABLES}) {{
  discountNodes(first: $first, after: $cursor, sortKey: ID, query: $query) {{
    nodes {{ id discount {{ ...Discount }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
    + _DISCOUNT
    + _VALUE
    + _ITEMS
)

# One discount, as a webhook names it (null when it was deleted meanwhile).
DISCOUNT = (
    f"""
query Discount($id: ID!, {_ITEM_VARIABLES}) {{
  discountNode(id: $id) {{ id discount {{ ...Discount }} }}
}}
"""
    + _DISCOUNT
    + _VALUE
    + _ITEMS
)

# The types that have each side of items.
_SIDE_TYPES = {
    "customerGets": (
        "DiscountAutomaticBasic",
        "DiscountAutomaticBxgy",
        "DiscountCodeBasic",
        "DiscountCodeBxgy",
    ),
    "customerBuys": ("DiscountAutomaticBxgy", "DiscountCodeBxgy"),
}


def side_items_query(side: str) -> str:
    """The next page of one side's item lists of one discount (the cursors go in the item variables)."""
    fragments = " ".join(f"... on {name} {{ {side} {{ items {{ ...Items }} }} }}" for name in _SIDE_TYPES[side])
    return (
        f"query DiscountItems($id: ID!, {_ITEM_VARIABLES}) {{\n"
        f"  discountNode(id: $id) {{ id discount {{ {fragments} }} }}\n}}\n" + _ITEMS
    )


COLLECTION_PRODUCTS = """
query CollectionProducts($id: ID!, $first: Int!, $cursor: String) {
  collection(id: $id) { id products(first: $first, after: $cursor) { nodes { id } pageInfo { hasNextPage endCursor } } }
}
"""

_METHODS = {
    "DiscountAutomaticBasic": ("basic", False),
    "DiscountAutomaticBxgy": ("bxgy", False),
    "DiscountAutomaticFreeShipping": ("free_shipping", False),
    "DiscountAutomaticApp": ("app", False),
    "DiscountCodeBasic": ("basic", True),
    "DiscountCodeBxgy": ("bxgy", True),
    "DiscountCodeFreeShipping": ("free_shipping", True),
    "DiscountCodeApp": ("app", True),
}
_CONNECTIONS = {"products": "productsAfter", "productVariants": "variantsAfter", "collections": "collectionsAfter"}


@dataclass
class DiscountItems:
    """The items a discount names, gathered over pages; `pending` maps a side to the item cursors it goes on from."""

    all_items: bool = False
    product_ids: set[str] = field(default_factory=set)
    variant_ids: set[str] = field(default_factory=set)
    collection_ids: set[str] = field(default_factory=set)
    pending: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def add(self, side: str, items: Any) -> None:
        """Take one page of a side's `items` (a `DiscountItems` union value)."""
        if not isinstance(items, dict):
            return
        if items.get("allItems"):
            self.all_items = True
        cursors: dict[str, str | None] = {}
        for name, variable in _CONNECTIONS.items():
            connection = items.get(name)
            if not isinstance(connection, dict):
                continue
            ids = {numeric_id(node.get("id")) for node in connection.get("nodes") or [] if isinstance(node, dict)}
            {"products": self.product_ids, "productVariants": self.variant_ids, "collections": self.collection_ids}[
                name
            ].update(ids)
            info = connection.get("pageInfo") or {}
            if info.get("hasNextPage") and info.get("endCursor"):
                cursors[variable] = str(info["endCursor"])
        if cursors:
            self.pending[side] = cursors
        else:
            self.pending.pop(side, None)


@dataclass
class ParsedDiscount:
    """A discount node read so far: its record's fields, and its items (maybe with more to read)."""

    discount_id: str
    title: str
    method: str
    code: bool
    status: str
    starts_at: Any
    ends_at: Any
    percent_off: Decimal | None
    for_everyone: bool
    items: DiscountItems

    def record(self, collection_products: set[str]) -> DiscountRecord:
        """The record, once every item page is read and collections are resolved into `collection_products`."""
        items = self.items
        # Free shipping and an app's discount name no items: they move the whole store's demand.
        all_items = items.all_items or self.method in ("free_shipping", "app")
        return DiscountRecord(
            discount_id=self.discount_id,
            title=self.title,
            method=self.method,
            code=self.code,
            status=self.status,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            all_items=all_items,
            product_ids=tuple(sorted(items.product_ids | collection_products)),
            variant_ids=tuple(sorted(items.variant_ids)),
            percent_off=self.percent_off,
            for_everyone=self.for_everyone,
        )


def parse_discount(node: Any) -> ParsedDiscount | None:
    """A `discountNode { id discount { ...Discount } }`; None for a type this version does not know."""
    if not isinstance(node, dict):
        raise PayloadError("a discount node is not an object")
    discount = node.get("discount")
    if not isinstance(discount, dict):
        raise PayloadError(f"discount node {node.get('id')!r} has no discount")
    known = _METHODS.get(str(discount.get("__typename") or ""))
    if known is None:
        return None
    method, code = known
    items = DiscountItems()
    items.add("customerBuys", (discount.get("customerBuys") or {}).get("items"))
    gets = discount.get("customerGets") or {}
    items.add("customerGets", gets.get("items"))
    context = str((discount.get("context") or {}).get("__typename") or "DiscountBuyerSelectionAll")
    single_use = discount.get("usageLimit") == 1
    return ParsedDiscount(
        discount_id=numeric_id(node.get("id")),
        title=str(discount.get("title") or "")[:200],
        method=method,
        code=code,
        status=str(discount.get("status") or "").lower()[:16],
        starts_at=parse_time(discount.get("startsAt"), "discount startsAt"),
        ends_at=parse_time(discount["endsAt"], "discount endsAt") if discount.get("endsAt") else None,
        percent_off=_percent(gets.get("value")),
        for_everyone=not (code and (context != "DiscountBuyerSelectionAll" or single_use)),
        items=items,
    )


def _percent(value: Any) -> Decimal | None:
    """A percentage off (Shopify gives a fraction, 0.2 for 20%), directly or as a buy-X-get-Y effect."""
    if not isinstance(value, dict):
        return None
    if value.get("__typename") == "DiscountOnQuantity":
        value = value.get("effect") or {}
    fraction = value.get("percentage")
    if fraction is None:
        return None
    try:
        percent = Decimal(str(fraction)) * 100
    except (InvalidOperation, ValueError) as exc:
        raise PayloadError(f"not a percentage: {fraction!r}") from exc
    if not 0 <= percent <= 100:
        raise PayloadError(f"a percentage off outside 0-1: {fraction!r}")
    return percent.quantize(Decimal("0.01"))


def updated_since_query(since: Any) -> str | None:
    """The search that keeps the discounts changed since `since` (None: all of them)."""
    if since is None:
        return None
    return f"updated_at:>='{since.isoformat().replace('+00:00', 'Z')}'"
