"""One door per platform: everything the product asks of a store, as one protocol.

A gateway is built from plain values (the store's API address, its credentials, the API version, a timeout) and
answers with the frozen records of `integrations.records` and the small dataclasses below. The core app picks the
gateway class by the store's platform in one place (`integrations.platforms.gateway_class`) and from then on asks
the gateway — its attributes say what the platform can do (`supports_compare_and_set`, `batch_size`,
`sync_phases`) — instead of comparing platform names.

What a gateway covers:

- describing the platform without a connection (class attributes and static methods): its name, its webhook
  `Provider` (verify + parse, the same shape as before), the credentials it needs, its default API version, how a
  store's address is written and where its API lives;
- reading pages of the store (locations, catalogue, discounts, orders with their refunds, stock levels), each page
  with the position of the next one so that a sync resumes where it stopped; reading one order's refunds, one
  discount, one quantity;
- writing stock, one change or a batch, with compare-and-set where the platform has it and an idempotency key
  always, so a retried write never applies twice;
- webhook subscriptions (list, create, delete) and the access token's lifecycle (check, revoke).

Anything a platform's API cannot do raises `UnsupportedOperation` with the reason; nothing pretends to succeed.
Model: Saleor's payment gateway interface (`saleor/payment/interface.py`) and django-allauth's provider classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple, Protocol

from integrations.errors import StoreAPIError
from integrations.records import DiscountRecord, RefundRecord
from integrations.webhooks import Provider

# The phases of a backfill or a reconciliation, in the names a sync run records its cursor under.
PHASE_LOCATIONS = "locations"
PHASE_CATALOGUE = "products"
PHASE_ORDERS = "orders"
PHASE_STOCK_LEVELS = "levels"
PHASE_DISCOUNTS = "discounts"
PHASE_REFUNDS = "refunds"  # refunds read apart from their orders (where an order's read only names them)

# Credentials are renewed when they expire within this long (a worker's task may run for minutes after).
RENEW_BEFORE = timedelta(minutes=10)

# What a stock write did (the same words as the core app's push attempt outcomes).
APPLIED = "applied"
ALREADY_APPLIED = "already_applied"
STALE = "stale"
REJECTED = "rejected"


class Page(NamedTuple):
    """Records read from the store, and where the next page starts (JSON-serialisable; None after the last)."""

    records: list[Any]
    next_position: Any


@dataclass(frozen=True, slots=True)
class StockItem:
    """Where a quantity lives in a store: a variant of a product (Shopify: its inventory item) at a location.

    A product sold without variants is its own variant (`variant_id == product_id`).
    """

    product_id: str
    variant_id: str
    inventory_item_id: str = ""
    location_id: str = ""


@dataclass(frozen=True, slots=True)
class StockChange:
    """One approved change of an item's available quantity, as the product asks a store to apply it.

    `received` stock is added to what the store holds (`delta`); a correction sets `quantity`. `expected` is the
    store's quantity when the change was proposed: a platform with compare-and-set refuses the write when it holds
    something else. `idempotency_key` is the same on every attempt of the change. `key` names the change in a
    batch's answer.
    """

    key: int
    item: StockItem
    delta: int
    quantity: int
    expected: int | None
    received: bool
    idempotency_key: str
    reference: str = ""
    # Received stock that arrives on a shipment of an inbound transfer (Shopify): the shipment and its line it is
    # received on, instead of a plain addition.
    shipment_id: str = ""
    shipment_line_id: str = ""


@dataclass(frozen=True, slots=True)
class InboundLine:
    """One line of stock on its way to a location from outside the store (a supplier's delivery)."""

    key: int
    inventory_item_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class InboundShipment:
    """A transfer made in the store for a delivery, and the shipment line each `InboundLine.key` arrives on."""

    transfer_id: str
    lines: dict[int, tuple[str, str]]  # line key -> (shipment id, shipment line id)


@dataclass(frozen=True, slots=True)
class StockWriteResult:
    """What a stock write did: `outcome` is APPLIED, ALREADY_APPLIED (an earlier attempt did), STALE (the store
    held another quantity than `expected`; `before` is what it holds) or REJECTED (with `error`). `request` and
    `response` are what went to the store and what it answered, kept for the audit trail."""

    outcome: str
    before: int | None = None
    after: int | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    """A webhook the store sends to `address` for `topic` (in the topic names of the platform's deliveries)."""

    subscription_id: str
    topic: str
    address: str
    active: bool = True
    # Made by this app (a store that lists every webhook of the site also lists those of others and the merchant's).
    ours: bool = True


@dataclass(frozen=True, slots=True)
class AccessCheck:
    """The store accepted our credentials. `scopes` are the access scopes granted, where the platform says
    (None where it does not: WooCommerce REST keys)."""

    scopes: tuple[str, ...] | None


class StoreGateway(Protocol):
    """Everything the product asks of one store."""

    # --- the platform, without a connection ----------------------------------------------------------------------
    platform: ClassVar[str]
    display_name: ClassVar[str]
    webhooks: ClassVar[Provider]
    credential_names: ClassVar[tuple[str, ...]]
    default_api_version: ClassVar[str]
    # Whether a stock write can say which quantity it expects, so a change made meanwhile is refused, not lost.
    supports_compare_and_set: ClassVar[bool]
    # Whether supplier deliveries can be received on an inbound transfer's shipment (the store then counts them as
    # incoming until they arrive).
    supports_transfers: ClassVar[bool]
    # Stock changes one request can carry (1: one by one).
    batch_size: ClassVar[int]
    # The phases of a backfill or a reconciliation, in order (PHASE_* names).
    sync_phases: ClassVar[tuple[str, ...]]
    # The last of them whose records the forecasts read: a new store's first retrain starts once it is done (later
    # phases only add history, such as each refund's lines where orders already carry their current quantities).
    forecast_inputs_until: ClassVar[str]
    # The webhook topics the product subscribes a store to through the API (the platform's topic names).
    subscription_topics: ClassVar[tuple[str, ...]]

    @staticmethod
    def normalize_address(value: str) -> str:
        """The canonical name of a store as a user may type it (raises ValueError when it cannot be one)."""
        ...

    @staticmethod
    def api_base_url(address: str) -> str:
        """Where the API of the store named `address` lives, when no override is set."""
        ...

    @staticmethod
    def credentials_renewable(credentials: Mapping[str, str]) -> bool:
        """Whether these credentials can be renewed without the merchant (no call is made)."""
        ...

    @staticmethod
    def credentials_expiring(credentials: Mapping[str, str]) -> bool:
        """Whether these credentials expire within `RENEW_BEFORE` and can be renewed (no call is made)."""
        ...

    @staticmethod
    def renew_credentials(
        base_url: str, credentials: Mapping[str, str], app: Mapping[str, str], *, timeout: float
    ) -> dict[str, str]:
        """New credentials (an expiring token refreshed, a client credentials token asked for again), with the app's
        `client_id` and `client_secret` where the credentials hold none. Raises StoreAPIError when refused."""
        ...

    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, str],
        *,
        api_version: str,
        timeout: float,
        on_unauthorized: Callable[[], str | None] | None = None,
    ) -> None:
        """`on_unauthorized`: asked for a new access token when the store answers 401; the request is then sent once
        more with it."""
        ...

    def close(self) -> None: ...

    # --- reading --------------------------------------------------------------------------------------------------
    def read_locations(self, position: Any = None) -> Page: ...

    def read_catalogue(self, position: Any = None) -> Page:
        """Products with their variants (and, where the catalogue carries them, stock levels). May raise
        `StillRunning` while the store prepares the catalogue."""
        ...

    def read_orders(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        """Orders by id, each followed by its refunds (or a `RefundsToFetch` naming them: see `read_refunds`)."""
        ...

    def read_refunds(self, order_id: str) -> list[RefundRecord]: ...

    def read_order_refunds(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        """The refunds of every order (those updated since a time, if given), with their lines, where the orders'
        read only names them (PHASE_REFUNDS in `sync_phases`)."""
        ...

    def read_stock_levels(self, position: Any, location_ids: Sequence[str]) -> Page: ...

    def read_discounts(self, position: Any = None, updated_since: datetime | None = None) -> Page:
        """The store's discounts as `DiscountRecord`s (those changed since a time, if given), where the platform
        has discounts with dates and items (PHASE_DISCOUNTS in `sync_phases`)."""
        ...

    def read_discount(self, discount_id: str) -> DiscountRecord | None:
        """One discount, or None when the store no longer has it."""
        ...

    def read_available(self, item: StockItem) -> int | None:
        """The item's available quantity, or None when the store keeps no count of it there."""
        ...

    # --- writing stock --------------------------------------------------------------------------------------------
    def write_stock(self, change: StockChange) -> StockWriteResult: ...

    def write_stock_batch(self, changes: Sequence[StockChange]) -> dict[int, StockWriteResult | StoreAPIError]:
        """At most `batch_size` changes in as few requests as the platform allows: a result per change key, or the
        error that met the request carrying it (a change whose request failed is not known to have applied)."""
        ...

    # --- inbound transfers (supplier deliveries the store tracks itself) ------------------------------------------
    def uses_transfers(self) -> bool:
        """Whether the store keeps inventory transfers (where it does, deliveries are received on one): False on a
        platform without them or where the app may not read them."""
        ...

    def create_inbound_transfer(
        self, reference: str, location_id: str, lines: Sequence[InboundLine], idempotency_key: str
    ) -> InboundShipment:
        """A transfer to `location_id` from outside the store, shipped and in transit, so the store counts its lines
        as incoming until they are received (`write_stock` with the shipment line). Only where
        `supports_transfers`; the same key never makes a second transfer."""
        ...

    def cancel_inbound(self, shipment_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str) -> None:
        """Units of a shipment that will not arrive ((shipment line id, units) each): no longer incoming."""
        ...

    # --- webhook subscriptions ------------------------------------------------------------------------------------
    def list_webhook_subscriptions(self) -> list[WebhookSubscription]: ...

    def create_webhook_subscription(self, topic: str, address: str, secret: str = "") -> WebhookSubscription:
        """Subscribe `address` to `topic`. `secret` signs the deliveries where the subscriber chooses it
        (WooCommerce); Shopify signs with the app's client secret and ignores it."""
        ...

    def update_webhook_subscription(self, subscription_id: str, address: str) -> WebhookSubscription:
        """Point a subscription at another address (it keeps its topic)."""
        ...

    def delete_webhook_subscription(self, subscription_id: str) -> None: ...

    def enable_webhook_subscription(self, subscription_id: str) -> None:
        """Turn a subscription the platform disabled (after failed deliveries) back on."""
        ...

    # --- the access token -----------------------------------------------------------------------------------------
    def check_access(self) -> AccessCheck:
        """One cheap authenticated call: raises StoreAPIError (status 401/403) when the credentials are refused."""
        ...

    def revoke_access(self) -> None:
        """Give up our access to the store for good (Shopify: uninstalls the app)."""
        ...
