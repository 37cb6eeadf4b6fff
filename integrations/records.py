"""Platform-neutral records: what every normaliser and file reader returns, and what the core app consumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Normalised order states (the core app maps them onto its own choices). Only "open" orders count as demand.
ORDER_OPEN = "open"
ORDER_CANCELLED = "cancelled"
ORDER_DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class VariantRef:
    """A sellable unit as an order line or a product event names it."""

    product_id: str
    variant_id: str
    sku: str = ""
    title: str = ""
    product_title: str = ""
    price: Decimal | None = None
    inventory_item_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderLineRecord:
    line_id: str
    variant: VariantRef
    quantity: int
    current_quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order at one point in time. `updated_at` orders snapshots of the same order; lines are never removed by
    omission (platforms set a removed line's current quantity to 0 instead)."""

    order_id: str
    number: str
    created_at: datetime
    updated_at: datetime
    status: str
    platform_status: str
    currency: str
    lines: tuple[OrderLineRecord, ...]
    cancelled_at: datetime | None = None
    location_id: str = ""


@dataclass(frozen=True, slots=True)
class RefundLineRecord:
    line_id: str
    quantity: int
    restock_type: str = ""


@dataclass(frozen=True, slots=True)
class RefundRecord:
    """Units of some lines of one order given back; `refund_id` is unique per store."""

    refund_id: str
    order_id: str
    created_at: datetime
    lines: tuple[RefundLineRecord, ...]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A source row that was not imported (or only partly), with its 1-based line number in the file and why."""

    line_number: int
    reason: str
    partial: bool = False


@dataclass(frozen=True, slots=True)
class OrderDeleted:
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderEditRemovals:
    """Units removed from lines by an order edit (Shopify `orders/edited`); additions arrive in the order update."""

    order_id: str
    committed_at: datetime
    removals: tuple[tuple[str, int], ...]  # (line id, units removed)


@dataclass(frozen=True, slots=True)
class RefundsToFetch:
    """An order update that names refunds without their lines (WooCommerce): fetch them through the store's API."""

    order_id: str
    refund_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DiscountRecord:
    """A store discount (Shopify: automatic or code, basic, buy-X-get-Y, free shipping or an app's) as a promotion
    over its dates. `all_items` or the products and variants it names say which SKUs it moves (collections already
    resolved into their products); `percent_off` is its percentage where it is one. `for_everyone` is False for a code
    only some customers can use (a customer list or segment, or a single use): a private code is not a promotion."""

    discount_id: str
    title: str
    method: str  # "basic", "bxgy", "free_shipping" or "app"
    code: bool
    status: str  # "active", "scheduled" or "expired"
    starts_at: datetime
    ends_at: datetime | None  # None: runs until the merchant ends it
    all_items: bool
    product_ids: tuple[str, ...] = ()
    variant_ids: tuple[str, ...] = ()
    percent_off: Decimal | None = None
    for_everyone: bool = True


@dataclass(frozen=True, slots=True)
class DiscountToFetch:
    """A discount webhook names the discount only: read it through the store's API."""

    discount_id: str


@dataclass(frozen=True, slots=True)
class DiscountDeleted:
    discount_id: str


@dataclass(frozen=True, slots=True)
class ProductVariantRecord:
    variant_id: str
    sku: str
    title: str
    price: Decimal | None
    inventory_item_id: str = ""
    updated_at: datetime | None = None
    compare_at_price: Decimal | None = None  # the "was" price (Shopify compare-at; WooCommerce regular price)
    sale_starts: datetime | None = None  # a scheduled sale price's dates (WooCommerce date_on_sale_from/to)
    sale_ends: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """A product with the full list of its sellable variants at `updated_at` (a variant not listed was deleted)."""

    product_id: str
    title: str
    vendor: str
    product_type: str
    status: str
    updated_at: datetime | None
    variants: tuple[ProductVariantRecord, ...]
    complete_variant_list: bool = True
    # False when the payload describes only some variants of the product (a WooCommerce variation): the product's
    # own fields are then left as they are.
    describes_product: bool = True


@dataclass(frozen=True, slots=True)
class ProductDeleted:
    product_id: str
    variant_id: str = ""  # set when only one variant (a WooCommerce variation) was deleted


@dataclass(frozen=True, slots=True)
class InventoryLevelRecord:
    """Stock of a variant at a location. Shopify names the inventory item; WooCommerce the product/variation."""

    available: int
    updated_at: datetime
    inventory_item_id: str = ""
    variant_id: str = ""
    location_id: str = ""
    # Units on their way to the location (Shopify's `incoming`: its purchase orders and transfers); None: not read
    incoming: int | None = None


@dataclass(frozen=True, slots=True)
class InventoryLevelDisconnected:
    inventory_item_id: str
    location_id: str
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InventoryItemRecord:
    inventory_item_id: str
    sku: str | None
    cost: Decimal | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class InventoryItemDeleted:
    inventory_item_id: str


@dataclass(frozen=True, slots=True)
class LocationRecord:
    location_id: str
    name: str
    active: bool
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class LocationDeleted:
    location_id: str


@dataclass(frozen=True, slots=True)
class AppUninstalled:
    pass


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    """A mandatory privacy topic: `customers/data_request`, `customers/redact` or `shop/redact`."""

    kind: str
    order_ids: tuple[str, ...] = ()
    customer_id: str = ""
