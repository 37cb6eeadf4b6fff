"""Connecting a WooCommerce store through its key approval (`/wc-auth/v1/authorize`) against the simulated site,
the refusals, and the webhooks the app keeps there (created on connect, re-enabled after WooCommerce disabled them)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations.simulator.api_server import ApiServer
from integrations.simulator.state import StoreState
from inventory_ai.models import OAuthState, Store, SyncRun
from inventory_ai.services import sync_runs
from tests.test_sync_runs import run_to_end

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(settings, live_server):
    """The simulated WooCommerce site, and this deployment served live (the site posts the key to it)."""
    with ApiServer(StoreState(), consumer_key="ck_unused", consumer_secret="cs_unused") as server:
        server.start()
        settings.PUBLIC_BASE_URL = live_server.url
        settings.DEBUG = True  # the live test server is plain HTTP, as the demo is
        yield server


def connect(client, site) -> httpx.Response:
    """The merchant's browser: our connect link, the site's approval page, Approve; the site's answer."""
    started = client.get("/woocommerce/connect", {"url": site.url})
    assert started.status_code == 302
    page = httpx.get(started["Location"])
    assert 'id="approve"' in page.text
    link = page.text.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return httpx.get(site.url + link, follow_redirects=False)


def test_a_merchant_approves_the_key_and_the_store_is_connected_with_its_webhooks(client, site, settings):
    # when the merchant approves our app's key on their site
    answer = connect(client, site)

    # then the site posted the key to us, kept it (our callback said 200), and sent the merchant back
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/woocommerce/return"
    assert parse_qs(back.query)["success"] == ["1"]
    store = Store.objects.get(platform="woocommerce")
    assert store.credentials["consumer_key"].startswith("ck_")
    assert site.woo_auth.accepts(store.credentials["consumer_key"], store.credentials["consumer_secret"])
    assert SyncRun.objects.filter(store=store, kind=SyncRun.Kind.BACKFILL).exists()
    # and the webhooks the product reads were created on the site, signed with a secret of our own
    hooks = site.woo_webhooks.listing()
    assert {hook["topic"] for hook in hooks} == {"order.created", "order.updated", "order.deleted", "order.restored",
                                                 "product.created", "product.updated", "product.deleted",
                                                 "product.restored"}  # fmt: skip
    assert {hook["delivery_url"] for hook in hooks} == {f"{settings.PUBLIC_BASE_URL}/webhooks/woocommerce/"}
    assert {hook["secret"] for hook in hooks} == {store.webhook_secrets[0]}
    # the page the merchant returns to lands on the store
    landed = client.get(back.path + "?" + back.query)
    assert landed["Location"] == f"/admin/inventory_ai/store/{store.pk}/change/"


def test_a_webhook_woocommerce_disabled_after_failed_deliveries_is_turned_back_on(client, site, settings):
    connect(client, site)
    store = Store.objects.get(platform="woocommerce")
    order_hook = next(hook for hook in site.woo_webhooks.listing() if hook["topic"] == "order.updated")
    site.woo_webhooks.fail_deliveries(order_hook["id"], 5)
    assert site.woo_webhooks.hooks[order_hook["id"]]["status"] == "disabled"
    # and the product's public address changed since the webhooks were made
    old = settings.PUBLIC_BASE_URL
    settings.PUBLIC_BASE_URL = "https://inventory.new-host.example"

    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert site.woo_webhooks.hooks[order_hook["id"]]["status"] == "active"
    store.refresh_from_db()
    assert store.webhook_subscriptions["topics"]["order.updated"] == "fixed"
    # every webhook was moved to the new address (the same webhooks: none deleted, none made again)
    hooks = site.woo_webhooks.listing()
    assert {hook["delivery_url"] for hook in hooks} == {"https://inventory.new-host.example/webhooks/woocommerce/"}
    assert order_hook["id"] in {hook["id"] for hook in hooks}
    assert store.webhook_subscriptions["removed"] == []
    assert old not in store.webhook_subscriptions["address"]


def test_a_key_posted_with_an_unknown_or_reused_id_is_refused_and_nothing_kept(client, site):
    key = {"key_id": 1, "user_id": "made-up", "consumer_key": "ck_x", "consumer_secret": "cs_y",
           "key_permissions": "read_write"}  # fmt: skip
    refused = client.post("/woocommerce/callback", json.dumps(key), content_type="application/json")
    assert refused.status_code == 403
    assert client.post("/woocommerce/callback", b"not json", content_type="application/json").status_code == 400
    # a real one-time id, used once, cannot be used again
    user_id = parse_qs(urlsplit(client.get("/woocommerce/connect", {"url": site.url})["Location"]).query)["user_id"][0]
    first = client.post("/woocommerce/callback", json.dumps({**key, "user_id": user_id}),
                        content_type="application/json")  # fmt: skip
    assert first.status_code == 200
    again = client.post("/woocommerce/callback", json.dumps({**key, "user_id": user_id, "consumer_key": "ck_z"}),
                        content_type="application/json")  # fmt: skip
    assert again.status_code == 403
    assert Store.objects.get().credentials["consumer_key"] == "ck_x"
    assert OAuthState.objects.filter(used_at__isnull=False).count() == 1
    # a merchant who declined comes back to a page that says so
    assert client.get("/woocommerce/return", {"success": "0", "user_id": user_id}).status_code == 400


def test_the_callback_takes_keys_over_https_only_outside_the_demo(client, site, settings):
    settings.DEBUG = False
    user_id = parse_qs(
        urlsplit(client.get("/woocommerce/connect", {"url": site.url.replace("http://", "https://")})["Location"]).query
    )["user_id"][0]
    key = {"key_id": 1, "user_id": user_id, "consumer_key": "ck_x", "consumer_secret": "cs_y"}
    assert client.post("/woocommerce/callback", json.dumps(key), content_type="application/json").status_code == 403
    assert client.get("/woocommerce/connect", {"url": site.url}).status_code == 400  # a plain-HTTP site
    assert not Store.objects.exists()


def test_the_admin_connects_either_platform_from_one_page(admin_client, site):
    page = admin_client.get("/admin/inventory_ai/store/connect/")
    assert page.status_code == 200
    assert 'value="woocommerce"' in page.content.decode()
    answer = admin_client.post("/admin/inventory_ai/store/connect/", {"platform": "woocommerce", "shop": site.url})
    assert answer.status_code == 302
    assert answer["Location"].startswith(f"{site.url}/wc-auth/v1/authorize?app_name=Inventory+AI&scope=read_write")
    refused = admin_client.post("/admin/inventory_ai/store/connect/", {"platform": "shopify", "shop": "x.example"})
    assert refused.status_code == 400
