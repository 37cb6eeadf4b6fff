"""Connecting a Shopify store through the product's app: the authorization code grant against the simulated shop, its
refusals, and the renewal of expiring tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations.shopify import oauth
from integrations.simulator.api_server import ApiServer
from integrations.simulator.shopify_oauth import ShopifyOAuth
from integrations.simulator.state import StoreState
from inventory_ai.gateways import store_gateway
from inventory_ai.models import OAuthState, Store, SyncRun

pytestmark = pytest.mark.django_db

SHOP = "new-merchant.myshopify.com"
SCOPES = ["read_orders", "read_products", "read_inventory", "write_inventory", "read_discounts"]


@pytest.fixture
def shopify(settings):
    """The simulated shop with our app on it, and the settings of that app."""
    app = ShopifyOAuth("client-abc", "secret-xyz", SHOP)
    with ApiServer(StoreState(tz=UTC), access_token="legacy-token", oauth=app) as server:
        server.start()
        settings.SHOPIFY_CLIENT_ID, settings.SHOPIFY_CLIENT_SECRET = "client-abc", "secret-xyz"
        settings.SHOPIFY_SCOPES = SCOPES
        settings.PUBLIC_BASE_URL = "https://inventory.example"
        settings.INVENTORY_AI = {**settings.INVENTORY_AI, "SHOPIFY_BASE_URL": server.url}
        yield server


def approve(authorize_url: str) -> dict[str, str]:
    """What the merchant's browser does on the shop: open the consent page, click Install, follow the redirect to
    our callback (whose query is returned)."""
    page = httpx.get(authorize_url)
    assert page.status_code == 200
    assert 'id="install"' in page.text
    link = page.text.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    back = httpx.get(authorize_url.split("/admin/")[0] + link, follow_redirects=False)
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith("https://inventory.example/shopify/callback?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def test_a_merchant_installs_the_app_and_the_store_is_connected_with_an_expiring_token(client, shopify):
    # when the merchant starts from our install link
    started = client.get("/shopify/install", {"shop": "New-Merchant.myshopify.com"})

    # then they are sent to the shop's approval page for our app, with our scopes, redirect and a state
    assert started.status_code == 302
    url = started["Location"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{shopify.url}/admin/oauth/authorize?")
    assert query["client_id"] == ["client-abc"]
    assert query["scope"] == [",".join(SCOPES)]
    assert query["redirect_uri"] == ["https://inventory.example/shopify/callback"]
    assert OAuthState.objects.get().shop == SHOP

    # when they approve and Shopify calls us back
    answer = client.get("/shopify/callback", approve(url))

    # then the store is connected with an expiring offline token and its refresh token, and its backfill started
    store = Store.objects.get(domain=SHOP)
    assert answer.status_code == 302
    assert answer["Location"] == f"/admin/inventory_ai/store/{store.pk}/change/"
    credentials = store.credentials
    assert credentials["access_token"].startswith("shpat_")
    assert credentials["refresh_token"].startswith("shprt_")
    expires = datetime.fromisoformat(credentials["expires_at"])
    assert timedelta(minutes=55) < expires - datetime.now(UTC) <= timedelta(hours=1)
    assert credentials["scopes"] == ",".join(SCOPES)
    assert store.webhook_secrets == ["secret-xyz"]  # Shopify signs the app's webhooks with its client secret
    assert SyncRun.objects.filter(store=store, kind=SyncRun.Kind.BACKFILL, trigger="install").exists()
    assert list(store_gateway(store).read_locations().records) == []  # the token works on the Admin API
    # and the state cannot be used again
    assert OAuthState.objects.get().used_at is not None


def test_every_forged_or_stale_callback_is_refused_and_nothing_is_stored(client, shopify):
    # a shop domain that is not a Shopify shop
    assert client.get("/shopify/install", {"shop": "evil.example.com"}).status_code == 400
    assert client.get("/shopify/install", {"shop": "x.myshopify.com.evil.com"}).status_code == 400
    url = client.get("/shopify/install", {"shop": SHOP})["Location"]
    params = approve(url)
    # a tampered query, a missing HMAC
    assert client.get("/shopify/callback", {**params, "shop": "other.myshopify.com"}).status_code == 403
    assert client.get("/shopify/callback", {k: v for k, v in params.items() if k != "hmac"}).status_code == 403
    # a correctly signed callback for another shop than the state's
    foreign = {**params, "shop": "other.myshopify.com"}
    foreign["hmac"] = oauth.callback_hmac(foreign, "secret-xyz")
    assert client.get("/shopify/callback", foreign).status_code == 403
    # a state that expired
    OAuthState.objects.update(created_at=datetime.now(UTC) - timedelta(minutes=11))
    assert client.get("/shopify/callback", params).status_code == 403
    assert not Store.objects.exists()
    # a code Shopify does not know (the exchange fails), then the same state replayed
    fresh = approve(client.get("/shopify/install", {"shop": SHOP})["Location"])
    forged_code = {**fresh, "code": "not-a-code"}
    forged_code["hmac"] = oauth.callback_hmac(forged_code, "secret-xyz")
    refused = client.get("/shopify/callback", forged_code)
    assert refused.status_code == 400
    assert "Shopify refused the install" in refused.content.decode()
    assert client.get("/shopify/callback", fresh).status_code == 403  # its state was used by the failed attempt
    assert not Store.objects.exists()


def test_an_unconfigured_app_says_what_to_set(client, settings):
    settings.SHOPIFY_CLIENT_ID = ""
    answer = client.get("/shopify/install", {"shop": SHOP})
    assert answer.status_code == 400
    assert "SHOPIFY_CLIENT_ID" in answer.content.decode()


def test_an_expiring_token_is_refreshed_before_it_runs_out_and_a_store_app_token_asked_for_again(client, shopify):
    # given a store connected through the app whose token runs out in five minutes
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    store = Store.objects.get(domain=SHOP)
    first = store.credentials
    store.credentials = {**first, "expires_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat()}
    store.save()

    # when the store's API is next used
    store_gateway(store).read_locations()

    # then the token was refreshed first, kept, and the old refresh token is spent
    store.refresh_from_db()
    assert store.credentials["access_token"] != first["access_token"]
    assert store.credentials["refresh_token"] != first["refresh_token"]
    assert datetime.fromisoformat(store.credentials["expires_at"]) > datetime.now(UTC) + timedelta(minutes=55)
    with pytest.raises(Exception, match="400"):
        oauth.refresh(shopify.url, "client-abc", "secret-xyz", first["refresh_token"])

    # and a store's own app (client credentials grant) gets a new 24-hour token the same way
    store.credentials = {"client_id": "client-abc", "client_secret": "secret-xyz", "access_token": "old",
                         "expires_at": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}  # fmt: skip
    store.save()
    store_gateway(store).read_locations()
    store.refresh_from_db()
    lasts = datetime.fromisoformat(store.credentials["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=23) < lasts <= timedelta(hours=24)
    assert "refresh_token" not in store.credentials or store.credentials["refresh_token"] == ""


def test_add_store_with_a_stores_own_app_gets_its_token_by_client_credentials(shopify, run_command):
    # when a merchant adds the store with its own Dev Dashboard app's client id and secret
    out, _ = run_command("add_store", "shopify", "--domain", SHOP, "--client-id", "client-abc",
                         "--client-secret", "secret-xyz")  # fmt: skip

    # then a 24-hour token was granted and kept (never printed), and the app's secret verifies its webhooks
    store = Store.objects.get(domain=SHOP)
    assert store.credentials["access_token"].startswith("shpat_")
    assert store.credentials["access_token"] not in out
    assert datetime.fromisoformat(store.credentials["expires_at"]) > datetime.now(UTC) + timedelta(hours=23)
    assert store.webhook_secrets == ["secret-xyz"]
    assert store.effective_api_base_url == shopify.url  # INVENTORY_AI_SHOPIFY_BASE_URL stands in for Shopify


def test_add_store_with_refused_client_credentials_keeps_nothing(shopify, run_command):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No token"):
        run_command("add_store", "shopify", "--domain", SHOP, "--client-id", "client-abc", "--client-secret", "wrong")
    assert not Store.objects.exists()


def test_the_example_app_configuration_asks_for_the_scopes_the_product_asks_for():
    import tomllib
    from pathlib import Path

    from django.conf import settings

    config = tomllib.loads((Path(__file__).resolve().parent.parent / "shopify.app.toml").read_text())
    assert config["access_scopes"]["scopes"].split(",") == list(settings.SHOPIFY_SCOPES)
    assert config["auth"]["redirect_urls"][0].endswith("/shopify/callback")
    compliance = {topic for sub in config["webhooks"]["subscriptions"] for topic in sub.get("compliance_topics", [])}
    assert compliance == {"customers/data_request", "customers/redact", "shop/redact"}


def test_the_app_subscribes_the_stores_webhooks_on_connect_and_reconciliation_repairs_them(client, shopify, settings):
    from integrations.shopify.gateway import ShopifyGateway
    from inventory_ai.services import subscriptions, sync_runs
    from tests.test_sync_runs import run_to_end

    # when a merchant installs the app
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))

    # then every topic the product reads is subscribed at this deployment's address, and the store says so
    store = Store.objects.get(domain=SHOP)
    address = "https://inventory.example/webhooks/shopify/"
    held = {(sub["topic"], sub["uri"]) for sub in shopify.subscriptions.subscriptions.values()}
    wanted = {(topic.upper().replace("/", "_"), address) for topic in ShopifyGateway.subscription_topics}
    assert held == wanted
    assert "ORDERS_CREATE" in {topic for topic, _ in held}
    assert "SHOP_REDACT" not in {topic for topic, _ in held}  # privacy topics live in the app's configuration
    assert set(store.webhook_subscriptions["topics"].values()) == {"created"}
    assert subscriptions.problems(store) == []

    # when a subscription is deleted on the shop, another points at an old address and one is a topic we do not read
    subs = shopify.subscriptions.subscriptions
    gone = next(number for number, sub in subs.items() if sub["topic"] == "ORDERS_CREATE")
    del subs[gone]
    moved = next(number for number, sub in subs.items() if sub["topic"] == "REFUNDS_CREATE")
    subs[moved]["uri"] = "https://old-host.example/webhooks/shopify/"
    subs[999] = {"topic": "CARTS_UPDATE", "uri": address}
    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))

    # then the hourly reconciliation puts them right and records what it did
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    held = {(sub["topic"], sub["uri"]) for sub in shopify.subscriptions.subscriptions.values()}
    assert held == wanted
    store.refresh_from_db()
    topics = store.webhook_subscriptions["topics"]
    assert (topics["orders/create"], topics["refunds/create"], topics["orders/updated"]) == ("created", "fixed", "ok")
    assert subs[moved] == {"topic": "REFUNDS_CREATE", "uri": address}  # moved (webhookSubscriptionUpdate), not replaced
    assert store.webhook_subscriptions["removed"] == [f"carts/update {address}"]


def test_doctor_reports_a_store_whose_subscriptions_fail(client, shopify):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    # given a store connected through the app whose last check found a topic refused
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    store = Store.objects.get(domain=SHOP)
    report = store.webhook_subscriptions
    report["topics"]["orders/create"] = "failed"
    report["errors"]["orders/create"] = "Address is invalid"
    Store.objects.filter(pk=store.pk).update(webhook_subscriptions=report)

    # when doctor runs, it fails naming the store, the topic and the store's reason
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("doctor", "--skip-worker", stdout=out)
    assert f"store connections: {SHOP}: orders/create: Address is invalid" in out.getvalue()


def test_a_token_the_shop_refuses_early_is_renewed_once_and_the_request_sent_again(client, shopify):
    from integrations.errors import StoreAPIError

    # given a connected store whose token the shop stopped accepting before its expiry
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    store = Store.objects.get(domain=SHOP)
    first = store.credentials["access_token"]
    del shopify.oauth.tokens[first]

    # when the store's API is used, the 401 renews the token and the request goes through
    assert list(store_gateway(store).read_locations().records) == []
    store.refresh_from_db()
    assert store.credentials["access_token"] not in ("", first)

    # and when renewal is refused too (the app was uninstalled), the 401 stands
    shopify.oauth.tokens.clear()
    shopify.oauth.refresh_tokens.clear()
    store.refresh_from_db()
    with pytest.raises(StoreAPIError) as refused:
        store_gateway(store).read_locations()
    assert refused.value.status == 401
    # and the store's connection shows as failing (admin, doctor) until it is connected again
    store.refresh_from_db()
    assert "connect it again" in store.connection_error
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    store.refresh_from_db()
    assert store.connection_error == ""


def test_a_sync_stopped_by_refused_credentials_waits_and_resumes_once_the_store_is_connected_again(client, shopify):
    from inventory_ai.services import sync_runs
    from tests.test_sync_runs import run_to_end

    # given a connected store whose token and refresh token the shop no longer accepts
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    store = Store.objects.get(domain=SHOP)
    SyncRun.objects.filter(store=store).delete()  # the install's backfill is not under test here
    shopify.oauth.tokens.clear()
    shopify.oauth.refresh_tokens.clear()

    # when a reconciliation runs, it stops on the 401 and says it waits for the store
    run = run_to_end(sync_runs.start_sync(store, SyncRun.Kind.RECONCILE))
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith("waiting for the store to be connected again")
    store.refresh_from_db()
    assert store.connection_error

    # then, connected again, the run is queued once more and finishes from where it stopped
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    run.refresh_from_db()
    assert run.status == SyncRun.Status.QUEUED
    run = run_to_end(run)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert "awaiting_reconnect" not in run.counts


def test_the_store_page_shows_the_connection_its_missing_scopes_and_its_activity(client, admin_client, shopify):
    # given a merchant who granted all but the discounts scope
    shopify.oauth.scopes = tuple(scope for scope in SCOPES if scope != "read_discounts")
    answer = client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    store = Store.objects.get(domain=SHOP)
    assert answer.status_code == 302

    # and a first delivery of one of its webhooks
    from tests.webhook_helpers import fixture, post_shopify

    post_shopify(client, "orders/create", fixture("shopify", "orders_create__doc_example_1"), secret="secret-xyz",
                 shop=SHOP)  # fmt: skip

    # when the store's page is opened
    page = admin_client.get(f"/admin/inventory_ai/store/{store.pk}/change/").content.decode()

    # then it shows the token's state, the missing scope with the link that asks for it, and the backfill under way
    assert "token valid until" in page
    assert (
        'missing: read_discounts (<a href="/shopify/install?shop=new-merchant.myshopify.com">approve them</a>)' in page
    )
    assert "Backfill #" in page
    assert "last webhook: <a href=" in page
    assert ">orders/create</a>" in page
    assert "21 created" in page
    assert store.credentials["access_token"] not in page


def test_a_renewal_the_shop_refuses_marks_the_store_failing_and_reads_as_a_401(client, shopify):
    from integrations.errors import StoreAPIError

    # given a connected store whose token is about to expire and whose refresh token the shop revoked
    client.get("/shopify/callback", approve(client.get("/shopify/install", {"shop": SHOP})["Location"]))
    store = Store.objects.get(domain=SHOP)
    store.credentials = {**store.credentials, "expires_at": (datetime.now(UTC) + timedelta(minutes=2)).isoformat()}
    store.save()
    shopify.oauth.refresh_tokens.clear()

    # when its API is next used, the refusal reads as a 401 (the work waits) and the store shows as failing
    with pytest.raises(StoreAPIError) as refused:
        store_gateway(store)
    assert (refused.value.status, refused.value.transient) == (401, False)
    store.refresh_from_db()
    assert "connect it again" in store.connection_error
