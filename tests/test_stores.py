"""Stores: the add_store command, domain names, and secrets encrypted at rest with rotatable keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError
from django.db import connection
from django.test import override_settings

from inventory_ai.crypto import DecryptionError
from inventory_ai.models import Store
from inventory_ai.models.stores import normalize_store_domain
from inventory_ai.services.stores import find_store, primary_location


@pytest.mark.parametrize(
    ("platform", "given", "expected"),
    [
        ("shopify", "Example.myshopify.com", "example.myshopify.com"),
        ("shopify", "https://example.myshopify.com/admin", "example.myshopify.com"),
        ("woocommerce", "https://Shop.Example/", "https://shop.example"),
        ("woocommerce", "shop.example", "https://shop.example"),
        ("woocommerce", "http://localhost:8080/wp/", "http://localhost:8080/wp"),
    ],
)
def test_store_names_are_normalised(platform, given, expected):
    assert normalize_store_domain(platform, given) == expected


@pytest.mark.django_db
def test_add_store_creates_then_updates(run_command):
    # when a Shopify store is added, then added again with a new secret and a new API address
    out, _ = run_command(
        "add_store",
        "shopify",
        "--domain",
        "Gifts.myshopify.com",
        "--webhook-secret",
        "old",
        "--access-token",
        "t1",
        "--timezone",
        "Europe/London",
        "--currency",
        "gbp",
    )
    assert "Created Shopify store gifts.myshopify.com" in out
    out, _ = run_command(
        "add_store",
        "shopify",
        "--domain",
        "gifts.myshopify.com",
        "--webhook-secret",
        "new",
        "--api-base-url",
        "http://127.0.0.1:9000",
    )

    # then there is one store with both secrets (newest first), the token kept, and the API override
    assert "Updated" in out
    store = Store.objects.get()
    assert store.webhook_secrets == ["new", "old"]
    assert store.credentials == {"access_token": "t1"}
    assert store.currency == "GBP"
    assert store.api_version == "2026-10"
    assert store.effective_api_base_url == "http://127.0.0.1:9000"


@pytest.mark.django_db
def test_add_woocommerce_store(run_command):
    run_command(
        "add_store",
        "woocommerce",
        "--url",
        "https://shop.example/",
        "--webhook-secret",
        "w",
        "--consumer-key",
        "ck_1",
        "--consumer-secret",
        "cs_1",
    )
    store = find_store("https://shop.example")
    assert store.platform == "woocommerce"
    assert store.credentials == {"consumer_key": "ck_1", "consumer_secret": "cs_1"}
    assert find_store("shop.example/") == store


@pytest.mark.django_db
def test_add_store_rejects_bad_input(run_command):
    with pytest.raises(CommandError, match="Unknown time zone"):
        run_command("add_store", "shopify", "--domain", "x.myshopify.com", "--timezone", "Mars/Olympus")
    with pytest.raises(CommandError, match="Not a shop domain"):
        run_command("add_store", "shopify", "--domain", "localhost")
    with pytest.raises(CommandError, match="Not a site URL"):
        run_command("add_store", "woocommerce", "--url", "ftp://shop.example")
    assert not Store.objects.exists()


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest(shop):
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials, webhook_secrets FROM inventory_ai_store WHERE id = %s", [shop.pk])
        credentials, secrets = cursor.fetchone()
    assert "shpat_test" not in credentials
    assert "hush" not in secrets
    assert credentials.startswith("gAAAA")  # a Fernet token


@pytest.mark.django_db
def test_credentials_key_rotation(settings, shop):
    old_key = settings.INVENTORY_AI.get("CREDENTIALS_KEYS", [None])[0]
    new_key = Fernet.generate_key().decode()
    # after rotation (new key first, old key kept) old rows still decrypt and saves use the new key
    with override_settings(INVENTORY_AI={**settings.INVENTORY_AI, "CREDENTIALS_KEYS": [new_key, old_key]}):
        assert Store.objects.get(pk=shop.pk).credentials == {"access_token": "shpat_test"}
        Store.objects.get(pk=shop.pk).save()
    with override_settings(INVENTORY_AI={**settings.INVENTORY_AI, "CREDENTIALS_KEYS": [new_key]}):
        assert Store.objects.get(pk=shop.pk).webhook_secrets == ["hush"]
    # a key that never encrypted the row cannot read it, and says so
    with (
        override_settings(INVENTORY_AI={**settings.INVENTORY_AI, "CREDENTIALS_KEYS": [old_key]}),
        pytest.raises(DecryptionError),
    ):
        Store.objects.get(pk=shop.pk)


@pytest.mark.django_db
def test_primary_location_is_created_once(shop):
    first = primary_location(shop)
    assert primary_location(shop) == first
    assert first.is_primary
    assert shop.locations.count() == 1
