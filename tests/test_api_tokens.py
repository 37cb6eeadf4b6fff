"""API tokens kept as digests: a key works until revoked, the database never holds it, and only superusers manage
tokens in the admin."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from inventory_ai.models import ApiToken
from inventory_ai.services.api_tokens import LOOKUP_LENGTH, issue_token, revoke

pytestmark = pytest.mark.django_db


def api(key: str | None = None) -> APIClient:
    client = APIClient()
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_an_issued_key_works_until_revoked_and_only_its_digest_is_stored(viewer):
    # given a key issued to a viewer
    token, key = issue_token(viewer, "weekly report")

    # when it reads the API, and a wrong key of the same start tries too
    answer = api(key).get("/api/v1/stores/")
    forged = api(key[:LOOKUP_LENGTH] + "x" * (len(key) - LOOKUP_LENGTH)).get("/api/v1/stores/")

    # then the key acts as its user, the forgery is refused, and the use is recorded
    assert answer.status_code == 200
    assert forged.status_code == 401
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert key.startswith("iai_")
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()

    # and no column of the row holds the key
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM inventory_ai_apitoken")
        assert all(key not in str(value) for row in cursor.fetchall() for value in row)

    # when it is revoked, it stops working
    assert revoke(token.lookup) == 1
    assert api(key).get("/api/v1/stores/").status_code == 401


def test_an_inactive_users_key_is_refused(viewer):
    # given a key of a user who has since been deactivated
    _, key = issue_token(viewer)
    viewer.is_active = False
    viewer.save()

    # then the key is refused
    assert api(key).get("/api/v1/stores/").status_code == 401


def test_the_command_prints_a_key_once_and_lists_tokens_without_keys(viewer, run_command):
    # given a key issued from the command line
    out, _ = run_command("api_token", "create", viewer.username, "--name", "dashboard")
    key = out.strip()

    # then it works, and the listing shows its first characters but not the key
    assert api(key).get("/api/v1/stores/").status_code == 200
    listing, _ = run_command("api_token", "list")
    assert key[:LOOKUP_LENGTH] in listing
    assert key not in listing
    assert "dashboard" in listing

    # and revoking it by those characters ends it
    run_command("api_token", "revoke", key[:LOOKUP_LENGTH])
    assert not ApiToken.objects.exists()


def test_only_superusers_issue_tokens_in_the_admin_and_see_the_key_once(admin_client, client, planner):
    # given a superuser issuing a token for the planner
    answer = admin_client.post("/admin/inventory_ai/apitoken/add/", {"user": planner.pk, "name": "sheet"})

    # then the page shows the key, which works and is not kept
    assert answer.status_code == 200
    key = answer.context["key"]
    assert key.encode() in answer.content
    assert api(key).get("/api/v1/stores/").status_code == 200
    assert not ApiToken.objects.filter(digest=key).exists()
    assert key.encode() not in admin_client.get("/admin/inventory_ai/apitoken/").content
    token = ApiToken.objects.get(name="sheet")
    page = admin_client.get(f"/admin/inventory_ai/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    assert key.encode() not in page.content
    assert admin_client.post(f"/admin/inventory_ai/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code == 302
    assert api(key).get("/api/v1/stores/").status_code == 401

    # and a planner (staff, but not a superuser) can neither list nor issue tokens
    client.force_login(planner)
    assert client.get("/admin/inventory_ai/apitoken/").status_code == 403
    assert client.post("/admin/inventory_ai/apitoken/add/", {"user": planner.pk}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_keys_issued_in_clear_before_keep_working_and_their_clear_copy_is_deleted(django_user_model):
    # given the database as it was before digests, with a REST framework token in clear
    executor = MigrationExecutor(connection)
    executor.migrate([("inventory_ai", "0007_audit_log_pushes_and_sync_runs")])
    user = django_user_model.objects.create_user("legacy", password="x", is_staff=True, is_superuser=True)
    legacy_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time "
            "zone NOT NULL, user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [legacy_key, user.pk])

    # when the product is upgraded
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then the old key still works and the clear copy is gone
    assert api(legacy_key).get("/api/v1/stores/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
        cursor.execute("DROP TABLE authtoken_token")
