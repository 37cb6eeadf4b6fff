"""A local store that replays an order history as Shopify or WooCommerce webhooks, for load tests and demos.

The Online Retail file is read through `integrations.online_retail` (the same reader as the CSV import), turned
into the platform's webhook events (`iter_events` / `build_events`), and sent with retries, duplicates and
per-order sequencing (`replay`). `source_totals` says what a receiver should hold afterwards. For WooCommerce a
small REST API (`start_api_server`) serves the replayed orders' refunds. Command line: `python -m
integrations.simulator replay --help`.
"""

from integrations.simulator.api_server import ApiServer, start_api_server
from integrations.simulator.events import Event, EventBuilder, build_events, iter_events
from integrations.simulator.replay import ReplayStats, TokenBucket, replay
from integrations.simulator.signing import sign_shopify, sign_woocommerce
from integrations.simulator.state import (
    SourceTotals,
    StoreState,
    first_orders,
    read_online_retail,
    source_totals,
)

__all__ = [
    "ApiServer",
    "Event",
    "EventBuilder",
    "ReplayStats",
    "SourceTotals",
    "StoreState",
    "TokenBucket",
    "build_events",
    "first_orders",
    "iter_events",
    "read_online_retail",
    "replay",
    "sign_shopify",
    "sign_woocommerce",
    "source_totals",
    "start_api_server",
]
