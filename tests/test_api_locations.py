"""The API shows the locations it asks for: a store's locations with the store's own ids, a variant's stock by
location, and adjustments that name a location by our id or by the store's, never reaching into another store."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from inventory_ai.models import InventoryLevel, Location, Product, StockAdjustment, Variant
from inventory_ai.services.api_tokens import issue_token
from inventory_ai.services.stores import upsert_store

pytestmark = pytest.mark.django_db

# Both stores use this id for a location of their own: ids are the platforms', unique per store only.
SHARED_PLATFORM_ID = "7001"


def as_user(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    return client


def stocked_variant(store, sku: str, stock: dict[Location, tuple[int, int | None]]) -> Variant:
    product = Product.objects.create(store=store, platform_id=f"p-{sku}", title=f"Product {sku}")
    variant = Variant.objects.create(store=store, product=product, platform_id=f"v-{sku}", sku=sku)
    for location, (available, on_hand) in stock.items():
        InventoryLevel.objects.create(
            variant=variant, location=location, available=available, on_hand=on_hand, platform_updated_at=timezone.now()
        )
    return variant


@pytest.fixture
def two_stores(shop):
    """`shop` with a primary warehouse, a second location and a deactivated one; another store with its own
    location under the same platform id as the shop's warehouse; a variant stocked in each store."""
    other, _ = upsert_store("shopify", "other-shop.myshopify.com", webhook_secret="other-hush")
    # The other store's location comes first, so a lookup by platform id that forgot the store would find it.
    elsewhere = Location.objects.create(store=other, platform_id=SHARED_PLATFORM_ID, name="Other warehouse")
    warehouse = Location.objects.create(store=shop, platform_id=SHARED_PLATFORM_ID, name="Warehouse", is_primary=True)
    boutique = Location.objects.create(store=shop, platform_id="7002", name="Boutique")
    closed = Location.objects.create(store=shop, platform_id="7003", name="Closed pop-up", active=False)
    mug = stocked_variant(shop, "MUG-1", {boutique: (4, 6), warehouse: (10, 12)})
    other_mug = stocked_variant(other, "MUG-1", {elsewhere: (99, None)})
    return {
        "shop": shop,
        "other": other,
        "warehouse": warehouse,
        "boutique": boutique,
        "closed": closed,
        "elsewhere": elsewhere,
        "mug": mug,
        "other_mug": other_mug,
    }


def test_a_store_lists_only_its_own_locations_with_the_platform_ids(two_stores, viewer):
    # given a viewer's API token and two stores that share a platform location id
    client = as_user(viewer)
    shop, other = two_stores["shop"], two_stores["other"]

    # when the shop's locations are listed under the shop
    answer = client.get(f"/api/v1/stores/{shop.pk}/locations/")

    # then they are the shop's three, primary first then by name, each with our id and the store's id
    assert answer.status_code == 200
    assert answer.json()["results"] == [
        {
            "id": two_stores[key].pk,
            "store": shop.pk,
            "platform_id": platform_id,
            "name": name,
            "is_primary": key == "warehouse",
            "active": key != "closed",
            "platform_updated_at": None,
        }
        for key, platform_id, name in (
            ("warehouse", SHARED_PLATFORM_ID, "Warehouse"),
            ("boutique", "7002", "Boutique"),
            ("closed", "7003", "Closed pop-up"),
        )
    ]
    # and the other store's list holds its own location only, even filtered by a platform id the shop also uses
    others = client.get(f"/api/v1/stores/{other.pk}/locations/", {"platform_id": SHARED_PLATFORM_ID}).json()
    assert [row["id"] for row in others["results"]] == [two_stores["elsewhere"].pk]
    # and the active ones can be asked for alone
    active = client.get(f"/api/v1/stores/{shop.pk}/locations/", {"active": "true"}).json()
    assert [row["platform_id"] for row in active["results"]] == [SHARED_PLATFORM_ID, "7002"]
    # and the API's root names the location list
    assert client.get("/api/v1/").json()["locations"].endswith("/api/v1/locations/")


def test_the_flat_location_list_filters_by_store_and_platform_id(two_stores, viewer):
    # given a viewer's API token
    client = as_user(viewer)

    # when locations are looked up by platform id across stores, then within one store
    everywhere = client.get("/api/v1/locations/", {"platform_id": SHARED_PLATFORM_ID}).json()
    in_other = client.get(
        "/api/v1/locations/", {"platform_id": SHARED_PLATFORM_ID, "store": two_stores["other"].pk}
    ).json()
    one = client.get(f"/api/v1/locations/{two_stores['boutique'].pk}/")

    # then the platform id alone is ambiguous (one per store), and the store settles it
    assert sorted(row["store"] for row in everywhere["results"]) == sorted(
        [two_stores["shop"].pk, two_stores["other"].pk]
    )
    assert [row["id"] for row in in_other["results"]] == [two_stores["elsewhere"].pk]
    assert one.status_code == 200
    assert (one.json()["platform_id"], one.json()["name"]) == ("7002", "Boutique")


def test_locations_need_the_view_permission_and_a_known_store(two_stores, viewer, django_user_model):
    # given an anonymous client, a user with no permission at all, and a viewer
    shop = two_stores["shop"]
    nobody = django_user_model.objects.create_user("no.perms", password="no-perms-pass-1")
    stores_only = django_user_model.objects.create_user("stores.only", password="stores-only-pass-1")
    stores_only.user_permissions.add(Permission.objects.get(codename="view_store"))

    # when each asks for the shop's locations
    anonymous = APIClient().get(f"/api/v1/stores/{shop.pk}/locations/")
    refused = as_user(nobody).get(f"/api/v1/stores/{shop.pk}/locations/")
    refused_flat = as_user(stores_only).get("/api/v1/locations/")
    missing = as_user(viewer).get("/api/v1/stores/999999/locations/")

    # then only a user who may view locations sees them, and an unknown store is not found
    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert refused_flat.status_code == 403
    assert missing.status_code == 404


def test_a_variant_shows_its_stock_by_location(two_stores, viewer):
    # given a mug stocked at the shop's warehouse and boutique, and the other store's mug with the same SKU
    client = as_user(viewer)
    mug, warehouse, boutique = two_stores["mug"], two_stores["warehouse"], two_stores["boutique"]

    # when the shop's variants are listed and the mug is read
    listed = client.get("/api/v1/variants/", {"store": two_stores["shop"].pk}).json()
    row = client.get(f"/api/v1/variants/{mug.pk}/").json()

    # then the mug's stock is shown per location (primary first) and adds up to its total
    assert [r["id"] for r in listed["results"]] == [mug.pk]
    assert listed["results"][0]["stock"] == row["stock"]
    assert [
        (
            s["location"],
            s["location_platform_id"],
            s["location_name"],
            s["location_active"],
            s["available"],
            s["on_hand"],
        )
        for s in row["stock"]
    ] == [
        (warehouse.pk, SHARED_PLATFORM_ID, "Warehouse", True, 10, 12),
        (boutique.pk, "7002", "Boutique", True, 4, 6),
    ]
    assert row["available"] == sum(level["available"] for level in row["stock"]) == 14
    # and the other store's mug carries only its own location's stock
    other = client.get(f"/api/v1/variants/{two_stores['other_mug'].pk}/").json()
    assert [(s["location"], s["available"]) for s in other["stock"]] == [(two_stores["elsewhere"].pk, 99)]


def test_an_adjustment_names_its_location_by_the_stores_own_id(two_stores, planner):
    # given a planner and a platform location id that both stores use
    client = as_user(planner)
    mug = two_stores["mug"]

    # when an adjustment of the shop's mug names the location by that platform id
    created = client.post(
        "/api/v1/adjustments/",
        {"variant": mug.pk, "location_platform_id": SHARED_PLATFORM_ID, "delta": 5, "reason": "restock"},
        format="json",
    )

    # then it is the shop's warehouse that is adjusted, from the stock held there, never the other store's location
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["location"], body["location_platform_id"], body["location_name"]) == (
        two_stores["warehouse"].pk,
        SHARED_PLATFORM_ID,
        "Warehouse",
    )
    assert (body["expected_available"], body["new_available"], body["status"]) == (10, 15, "pending")
    adjustment = StockAdjustment.objects.get(pk=body["id"])
    assert (adjustment.store_id, adjustment.location_id) == (two_stores["shop"].pk, two_stores["warehouse"].pk)
    # and our id keeps working as before, shown with the store's id in the list
    by_id = client.post(
        "/api/v1/adjustments/",
        {"variant": mug.pk, "location": two_stores["boutique"].pk, "new_available": 3},
        format="json",
    )
    assert by_id.status_code == 201, by_id.content
    listed = client.get("/api/v1/adjustments/", {"location": two_stores["boutique"].pk}).json()
    assert [(row["id"], row["location_platform_id"]) for row in listed["results"]] == [(by_id.json()["id"], "7002")]


@pytest.mark.parametrize(
    ("location_fields", "field", "message"),
    [
        ({}, "location", "Give exactly one of location (our id) and location_platform_id"),
        (
            {"location": "warehouse", "location_platform_id": SHARED_PLATFORM_ID},
            "location",
            "Give exactly one of location (our id) and location_platform_id",
        ),
        ({"location_platform_id": "9999"}, "location_platform_id", "The variant's store has no location with the id"),
        ({"location": "elsewhere"}, "location", "The location belongs to another store than the variant."),
        ({"location": 999999}, "location", "Invalid pk"),
        ({"location": "closed"}, "location", "The location is no longer active in the store."),
        ({"location_platform_id": "7003"}, "location_platform_id", "The location is no longer active in the store."),
    ],
    ids=["neither", "both", "unknown-platform-id", "other-store", "unknown-id", "inactive", "inactive-platform-id"],
)
def test_an_adjustment_with_a_wrong_location_is_refused_and_says_why(
    two_stores, planner, location_fields, field, message
):
    # given a planner and a location named wrongly (none, twice, unknown, another store's, deactivated)
    client = as_user(planner)
    body = {"variant": two_stores["mug"].pk, "delta": 1}
    for name, value in location_fields.items():
        body[name] = two_stores[value].pk if name == "location" and isinstance(value, str) else value

    # when the adjustment is proposed
    answer = client.post("/api/v1/adjustments/", body, format="json")

    # then it is refused on that field with the reason, and nothing is created
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])
    assert not StockAdjustment.objects.exists()
