"""The demo's simulated Shopify store and its history, moved to the present.

The bundled Online Retail sample ends in December 2011; the demo moves every date forward by whole weeks (weekdays
and seasons stay as they were) so that its last sale falls in the past week. The older history is imported from
CSV, as a connected store's history would be; the last four weeks are replayed as the store's signed webhooks
against the running web server. The store simulator serves the shop's Admin API (catalogue, orders, stock levels,
inventory mutations) on loopback, so reconciliation reads its stock and approved adjustments are pushed to it.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pandas as pd

from integrations.records import OrderRecord, RefundRecord
from integrations.simulator.api_server import ApiServer
from integrations.simulator.events import iter_events
from integrations.simulator.inventory import InventoryStore
from integrations.simulator.replay import ReplayStats, replay
from integrations.simulator.shopify_oauth import ShopifyOAuth
from integrations.simulator.state import SimulatedDiscount, StoreState, read_online_retail
from integrations.simulator.weather import WeatherApi

SAMPLE = Path(__file__).resolve().parent / "online_retail_sample.csv.gz"
TZ = ZoneInfo("Europe/London")
LOCATION_ID = "1"
# Weeks replayed as webhooks (the rest is imported from CSV); 0 replays the whole year (several minutes on SQLite).
REPLAYED_WEEKS = 4
ACCESS_TOKEN = "shpat_demo"


def shift_sample(folder: Path, today: date, replayed_weeks: int = REPLAYED_WEEKS) -> dict:
    """Write the sample with its dates moved forward by whole weeks (last sale within the past week), once; return
    where it is, the shift and the cut-off between the imported history and the replayed weeks."""
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "demo-data.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("replayed_weeks") == replayed_weeks:
            return meta
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    when = pd.to_datetime(frame["InvoiceDate"], format="mixed")
    weeks = ((today - timedelta(days=1)) - when.max().date()).days // 7
    shifted = when + pd.Timedelta(weeks=weeks)
    frame["InvoiceDate"] = shifted.dt.strftime("%Y-%m-%d %H:%M:%S")
    cutoff = (shifted.max() - pd.Timedelta(weeks=replayed_weeks)).normalize() if replayed_weeks else shifted.min()
    full, history = folder / "online_retail_shifted.csv.gz", folder / "online_retail_history.csv.gz"
    with gzip.open(full, "wt", newline="") as handle:
        frame.to_csv(handle, index=False)
    with gzip.open(history, "wt", newline="") as handle:
        frame[shifted < cutoff].to_csv(handle, index=False)
    meta = {
        "full": str(full),
        "history": str(history),
        "weeks": int(weeks),
        "cutoff": cutoff.isoformat(),
        "last_sale": shifted.max().isoformat(),
        "replayed_weeks": replayed_weeks,
    }
    meta_path.write_text(json.dumps(meta))
    return meta


def build_store_state(meta: dict, up_to_cutoff: bool) -> tuple[StoreState, list]:
    """The simulated shop's memory: every order and refund before the cut-off (or all of them), and the records
    after it (to replay)."""
    state = StoreState(tz=TZ)
    cutoff = datetime.fromisoformat(meta["cutoff"]).replace(tzinfo=TZ)
    later = []
    for record in read_online_retail(meta["full"], TZ):
        if not isinstance(record, OrderRecord | RefundRecord):
            continue
        if up_to_cutoff and record.created_at >= cutoff:
            later.append(record)
        elif isinstance(record, OrderRecord):
            state.apply_order(record)
        else:
            state.apply_refund(record)
    return state, later


def seed_stock(
    state: StoreState, inventory: InventoryStore, known: dict[str, int] | None = None, upcoming: Iterable = ()
) -> int:
    """Stock at the shop's one location: what we last knew (a restarted demo), else a realistic mix: some items out of
    stock, the rest with one to twelve weeks of their sales over the last eight weeks of the history (the orders still
    to be replayed included), so the planner sees suggestions that are late, to order this week, and fine for now."""
    if known:
        for item, available in known.items():
            inventory.set_level(item, LOCATION_ID, available)
        return len(known)
    rng = random.Random(7)
    recent: dict[str, float] = defaultdict(float)
    items: set[str] = set()
    sold = [
        (order.created_at, line.variant, order.current_quantity(line))
        for order in state.orders.values()
        for line in order.lines
    ]
    sold += [(record.created_at, line.variant, line.current_quantity)
             for record in upcoming if isinstance(record, OrderRecord) for line in record.lines]  # fmt: skip
    last = max((when for when, _, _ in sold), default=datetime.now(TZ))
    for when, variant, units in sold:
        item = variant.inventory_item_id or variant.variant_id
        items.add(item)
        if when >= last - timedelta(weeks=8):
            recent[item] += units / 8
    for item in sorted(items):
        weekly = recent.get(item, 0.0)
        available = 0 if rng.random() < 0.08 else round(weekly * rng.uniform(1.0, 12.0))
        inventory.set_level(item, LOCATION_ID, available)
    return len(items)


def seed_discounts(state: StoreState, today: date) -> list[str]:
    """The demo merchant's Shopify discounts, which the reconciliation turns into promotion events: 15% off the five
    best sellers of the last eight weeks from three days ago to ten days ahead, a free-shipping weekend a fortnight ago,
    and a code for some customers only (no promotion of the store: it makes no event). Their titles."""
    units: dict[str, int] = defaultdict(int)
    last = max((order.created_at for order in state.orders.values()), default=datetime.now(TZ))
    for order in state.orders.values():
        if order.created_at >= last - timedelta(weeks=8):
            for line in order.lines:
                units[line.variant.product_id] += line.quantity
    best = tuple(sorted(units, key=lambda product: (-units[product], product))[:5])
    start = datetime.combine(today, datetime.min.time(), tzinfo=TZ)
    saturday = start - timedelta(days=14 + (start.weekday() - 5) % 7)
    discounts = [
        SimulatedDiscount("9001", "DiscountAutomaticBasic", "Best sellers 15% off", start - timedelta(days=3),
                          start + timedelta(days=11), percentage=0.15, product_ids=best),
        SimulatedDiscount("9002", "DiscountAutomaticFreeShipping", "Free shipping weekend", saturday,
                          saturday + timedelta(days=2)),
        SimulatedDiscount("9003", "DiscountCodeBasic", "VIP20", start - timedelta(days=30), None, percentage=0.2,
                          all_items=True, context="DiscountCustomerSegments"),
    ]  # fmt: skip
    for discount in discounts:
        discount.updated_at = datetime.now(TZ)  # set up just now, so the first reconciliation reads them
        state.discounts[discount.discount_id] = discount
    return [discount.title for discount in discounts]


def start_simulator(state: StoreState, port: int, app: ShopifyOAuth | None = None) -> ApiServer:
    """The demo shop's Admin API (and its OAuth endpoints for `app`, the product's Shopify app), with the weather
    service's API beside it (seeded, for the shop's location)."""
    inventory = InventoryStore()
    weather = WeatherApi(seed=0)
    return ApiServer(
        state, port=port, inventory=inventory, access_token=ACCESS_TOKEN, weather=weather, oauth=app
    ).start()


def approve_install(authorize_url: str) -> dict[str, str]:
    """What the demo merchant does on the shop's approval page: Install. Returns the query Shopify sends to the
    app's callback (code, hmac, shop, state, timestamp)."""
    page = httpx.get(authorize_url, timeout=10)
    page.raise_for_status()
    link = html.unescape(page.text.split('id="install" href="', 1)[1].split('"', 1)[0])
    back = httpx.get(authorize_url.split("/admin/oauth/")[0] + link, follow_redirects=False, timeout=10)
    return {key: values[0] for key, values in parse_qs(urlsplit(back.headers["Location"]).query).items()}


def replay_recent(records: list, state: StoreState, target: str, secret: str, shop_domain: str) -> ReplayStats:
    """Send the replayed weeks as the shop's signed webhooks, as fast as the server takes them."""
    events = iter_events("shopify", records, secret=secret, state=state, shop_domain=shop_domain)
    return asyncio.run(replay(events, target, concurrency=8, timeout=30.0))
