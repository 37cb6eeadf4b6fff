"""The admin in a real browser: Playwright driving Debian's headless Chromium against a live server.

Chromium comes from the system (`apt-get install chromium`, /usr/bin/chromium; `.ci/run` installs it): Playwright's
own browser download is not used. Set INVENTORY_AI_SCREENSHOT_DIR=docs/screenshots to refresh the README's pictures.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from inventory_ai.choices import SuggestionStatus
from inventory_ai.models import InventoryLevel, Location, ReorderSuggestion
from inventory_ai.services import replenishment, retraining
from inventory_ai.services.roles import PLANNER, VIEWER, create_staff_user
from tests.retrain_helpers import drive, seed_demand

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# Where a Chromium is looked for: CHROMIUM_PATH, then the usual system places (Linux, macOS), then Playwright's own
# (`python -m playwright install chromium`, no root needed).
CHROMIUM_CANDIDATES = (
    os.environ.get("CHROMIUM_PATH", ""),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
# Without the background-networking switches Chromium keeps trying to reach Google's hosts from a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes between browser steps
    # are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = next((path for path in CHROMIUM_CANDIDATES if path and (shutil.which(path) or Path(path).exists())), "")
        if not found and Path(playwright.chromium.executable_path).exists():
            found = playwright.chromium.executable_path
        if not found:
            pytest.fail(
                "The browser tests need a Chromium and found none: install one (Debian/Ubuntu: `apt-get install "
                "chromium`; anywhere, without root: `.venv/bin/python -m playwright install chromium`), or point "
                "CHROMIUM_PATH at one"
            )
        chromium = playwright.chromium.launch(executable_path=found, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # ORM calls made while Playwright's loop runs get their own connection (a separate context); close it, or
        # it holds the test database open past the session.
        connections.close_all()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("INVENTORY_AI_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def planned_store(shop, settings):
    """A store with a year of demand for 9 SKUs, a finished retrain, stock levels and pending suggestions; the
    first SKU runs out in 3 days, before an order could arrive."""
    settings.INVENTORY_AI = {**settings.INVENTORY_AI, "FORECAST_HORIZON": 12, "RETRAIN_CHUNK_SIZE": 9}
    variants = seed_demand(shop, 9, weeks=60)
    for number, variant in enumerate(variants):
        variant.title = ["Heart T-light holder", "Jumbo bag red retrospot", "Vintage doily set"][number % 3] + (
            f" #{number + 1}"
        )
        variant.unit_cost = 1.25 + number
        variant.supplier = "Bramble & Co" if number % 2 else "North Lane"
        variant.save()
    drive(retraining.start_retrain(shop))
    location = Location.objects.get(store=shop)
    location.name = "Warehouse"
    location.save()
    for number, variant in enumerate(variants):
        InventoryLevel.objects.create(
            variant=variant,
            location=location,
            available=[4, 60, 8, 90, 30, 3, 150, 20, 2][number],
            platform_updated_at=timezone.now(),
        )
    replenishment.recompute_suggestions(shop)
    # Stock-out dates a fixed few weeks apart (the first SKU in 3 days), whatever the seeded demand gave.
    pending = ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING).order_by("variant_id")
    for weeks, suggestion in enumerate(pending):
        suggestion.stockout_date = timezone.localdate() + timedelta(days=3 if weeks == 0 else 7 * (weeks + 2))
        suggestion.order_by = suggestion.stockout_date - timedelta(days=suggestion.lead_time_days)
        suggestion.save(update_fields=["stockout_date", "order_by"])
    return shop, variants


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")


def test_a_planner_reviews_the_dashboard_and_the_chart_and_approves(planned_store, live_server, browser, screenshots):
    shop, variants = planned_store
    create_staff_user("pat.planner", PLANNER, "planner-pass-1")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})

    # the planner logs in and lands on the dashboard, which counts the one SKU at risk
    log_in(page, live_server.url, "pat.planner", "planner-pass-1")
    assert page.inner_text("#card-at-risk .figure").strip() == "1"
    pending = ReorderSuggestion.objects.filter(status=SuggestionStatus.PENDING).count()
    assert page.inner_text("#card-suggestions .figure").strip() == str(pending)
    assert "Succeeded" in page.inner_text("#stores")
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    # the at-risk SKU's link opens its forecast page: history bars, the forecast line and bands, the policy lines
    page.click(f"#at-risk a:text('{variants[0].sku}')")
    page.wait_for_selector("svg.forecast-chart")
    assert page.locator("svg.forecast-chart g.history rect").count() == 52
    assert page.locator("svg.forecast-chart polyline.forecast-mean").count() == 1
    assert page.locator("svg.forecast-chart polygon.band-80").count() == 1
    assert page.locator("svg.forecast-chart polygon.band-95").count() == 1
    assert page.locator("svg.forecast-chart line.reorder-point").count() == 1
    heights = [
        float(h)
        for h in page.locator("svg.forecast-chart g.history rect").evaluate_all(
            "rects => rects.map(r => r.getAttribute('height'))"
        )
    ]
    assert sum(h > 0 for h in heights) > 40  # the chart shows real history, not an empty frame
    assert page.locator("svg.forecast-chart").bounding_box()["height"] > 300
    assert "Sells ~" in page.inner_text("#suggestion")
    page.screenshot(path=str(screenshots / "variant.png"), full_page=True)

    # approving goes through the confirmation page, where the quantity can be changed
    suggestion = ReorderSuggestion.objects.get(variant=variants[0], status=SuggestionStatus.PENDING)
    page.click("#approve-suggestion")
    page.wait_for_selector("#decision-form")
    page.fill(f"input[name='quantity-{suggestion.pk}']", str(suggestion.suggested_qty + 6))
    page.click("#confirm-decision")
    page.wait_for_selector("svg.forecast-chart")
    assert re.search(r"Approved by pat\.planner", page.inner_text(".suggestion-status"))
    assert "1 restock suggestions approved." in page.inner_text(".messagelist")
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.approved_qty) == ("approved", suggestion.suggested_qty + 6)

    # and in bulk from the list: tick two, pick the action, confirm, see them approved
    page.goto(f"{live_server.url}/admin/inventory_ai/reordersuggestion/?status__exact=pending")
    boxes = page.locator("input.action-select")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#decision-form")
    assert page.locator("tr.decision-row").count() == 2
    page.screenshot(path=str(screenshots / "confirm.png"), full_page=True)
    page.click("#confirm-decision")
    page.wait_for_selector("#changelist")
    assert "2 restock suggestions approved." in page.inner_text(".messagelist")
    assert ReorderSuggestion.objects.filter(status=SuggestionStatus.APPROVED).count() == 3


def test_a_viewer_finds_no_way_to_approve(planned_store, live_server, browser):
    shop, variants = planned_store
    create_staff_user("val.viewer", VIEWER, "viewer-pass-1")
    page = browser.new_page()
    log_in(page, live_server.url, "val.viewer", "viewer-pass-1")

    page.goto(f"{live_server.url}/admin/inventory_ai/reordersuggestion/")
    options = page.locator("select[name=action] option").all_inner_texts()
    assert not any("Approve" in option or "Reject" in option for option in options)
    assert any("Export" in option for option in options)

    page.goto(f"{live_server.url}/admin/inventory_ai/variant/{variants[0].pk}/forecast/")
    page.wait_for_selector("svg.forecast-chart")
    assert page.locator("#approve-suggestion").count() == 0

    suggestion = ReorderSuggestion.objects.get(variant=variants[0], status=SuggestionStatus.PENDING)
    answer = page.goto(f"{live_server.url}/admin/inventory_ai/reordersuggestion/{suggestion.pk}/approve/")
    assert answer.status == 403


def test_a_merchant_connects_a_shopify_store_through_the_app_in_a_browser(live_server, browser, settings, screenshots):
    from django.contrib.auth import get_user_model

    from integrations.simulator.api_server import ApiServer
    from integrations.simulator.shopify_oauth import ShopifyOAuth
    from integrations.simulator.state import StoreState
    from inventory_ai.models import Store, SyncRun

    # given the product's Shopify app and a shop that has not installed it
    shop = "bramble-gifts.myshopify.com"
    app = ShopifyOAuth("client-abc", "secret-xyz", shop)
    with ApiServer(StoreState(), access_token="unused", oauth=app) as simulator:
        simulator.start()
        settings.SHOPIFY_CLIENT_ID, settings.SHOPIFY_CLIENT_SECRET = "client-abc", "secret-xyz"
        settings.PUBLIC_BASE_URL = live_server.url
        settings.INVENTORY_AI = {**settings.INVENTORY_AI, "SHOPIFY_BASE_URL": simulator.url}
        get_user_model().objects.create_superuser("owner", "owner@example.com", "owner-pass-1")
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        log_in(page, live_server.url, "owner", "owner-pass-1")

        # when the owner connects the shop: its domain, then Install on Shopify's approval page
        page.goto(f"{live_server.url}/admin/inventory_ai/store/")
        page.click("#connect-store")
        page.fill("#id_shop", shop)
        page.click("#connect-form input[type=submit]")
        page.wait_for_selector("#install")
        assert "read_orders" in page.inner_text("body")
        page.click("#install")
        page.wait_for_selector("#store_form")

        # then they are back on the store's page, connected, with its backfill queued
        page.screenshot(path=str(screenshots / "connected.png"), full_page=True)
        text = page.inner_text("#content")
        assert "is connected; its history is being read" in page.inner_text("body")
        assert "token valid until" in text
        store = Store.objects.get(domain=shop)
        assert SyncRun.objects.filter(store=store, kind=SyncRun.Kind.BACKFILL).exists()
        # and the webhooks the app subscribed (the simulated shop takes this loopback test server's address)
        assert "21 created" in text
        assert len(simulator.subscriptions.subscriptions) == 21


def test_a_merchant_connects_a_woocommerce_store_by_approving_its_key_in_a_browser(live_server, browser, settings):
    from django.contrib.auth import get_user_model

    from integrations.simulator.api_server import ApiServer
    from integrations.simulator.state import StoreState
    from inventory_ai.models import Store, SyncRun

    # given a WooCommerce site that has never seen the product
    with ApiServer(StoreState(), consumer_key="ck_unused", consumer_secret="cs_unused") as site:
        site.start()
        settings.PUBLIC_BASE_URL = live_server.url
        settings.DEBUG = True  # this test server and the simulated site are plain HTTP, as in the demo
        get_user_model().objects.create_superuser("owner", "owner@example.com", "owner-pass-1")
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        log_in(page, live_server.url, "owner", "owner-pass-1")

        # when the owner connects the site and approves the key on it
        page.goto(f"{live_server.url}/admin/inventory_ai/store/connect/")
        page.select_option("#id_platform", "woocommerce")
        page.fill("#id_shop", site.url)
        page.click("#connect-form input[type=submit]")
        page.wait_for_selector("#approve")
        assert "Inventory AI would like to connect" in page.inner_text("body")
        page.click("#approve")
        page.wait_for_selector("#store_form")

        # then the site posted the key to us, and the owner is on the connected store's page
        assert "is connected; its history is being read" in page.inner_text("body")
        store = Store.objects.get(platform="woocommerce")
        assert site.woo_auth.accepts(store.credentials["consumer_key"], store.credentials["consumer_secret"])
        assert SyncRun.objects.filter(store=store, kind=SyncRun.Kind.BACKFILL).exists()
        assert "8 created" in page.inner_text("#content")  # its webhooks, made through the site's REST API
