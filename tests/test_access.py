"""Access: anonymous users and Viewers decide nothing and read no secret, over HTTP as over the admin; store secrets
are ciphertext in the database; production settings pass `check --deploy`; the dependency audit never claims what
it could not check."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from bench.chaos_access import (
    deploy_check,
    http_access_checks,
    judge_pip_audit,
    problems,
    production_env,
    raw_database_scan,
)
from inventory_ai.choices import AdjustmentStatus, AuditAction
from inventory_ai.models import AuditEntry, Location, ReorderSuggestion, StockAdjustment, Store
from inventory_ai.services import replenishment
from inventory_ai.services.api_tokens import issue_token
from inventory_ai.services.stores import upsert_store
from tests.conftest import ROOT, database_url_for_subprocess


def connect_stores() -> dict[str, str]:
    """A Shopify and a WooCommerce store with long random credentials and webhook secrets (the Shopify one rotated
    once, so an old secret is kept too); returns the secrets by name."""
    values = {
        "access_token": "shpat_" + secrets.token_hex(16),
        "shopify_secret": "whsec-" + secrets.token_hex(16),
        "shopify_old_secret": "whsec-" + secrets.token_hex(16),
        "consumer_key": "ck_" + secrets.token_hex(20),
        "consumer_secret": "cs_" + secrets.token_hex(20),
        "woo_secret": "woo-" + secrets.token_hex(16),
    }
    upsert_store("shopify", "access-check.myshopify.com", webhook_secret=values["shopify_old_secret"])
    upsert_store(
        "shopify",
        "access-check.myshopify.com",
        webhook_secret=values["shopify_secret"],
        credentials={"access_token": values["access_token"]},
    )
    upsert_store(
        "woocommerce",
        "https://access-check.example",
        webhook_secret=values["woo_secret"],
        credentials={"consumer_key": values["consumer_key"], "consumer_secret": values["consumer_secret"]},
    )
    return values


@pytest.fixture
def decisions_waiting(forecast_store):
    """Pending restock suggestions, a pending adjustment and a failed push, in a world with secret-bearing stores."""
    shop, _, variants = forecast_store
    replenishment.recompute_suggestions(shop)
    location = Location.objects.get(store=shop)
    pending = replenishment.create_adjustment(variants[1], location, None, new_available=9)
    failed = replenishment.create_adjustment(variants[2], location, None, new_available=4)
    StockAdjustment.objects.filter(pk=failed.pk).update(status=AdjustmentStatus.FAILED, error="HTTP 401")
    stored = connect_stores()
    return {"pending": pending, "failed": failed, "secrets": [*stored.values(), "shpat_test"]}


def decisions_recorded() -> list[str]:
    return list(AuditEntry.objects.exclude(action=AuditAction.CREATE).values_list("action", flat=True))


@pytest.mark.slow
def test_over_http_anonymous_and_viewers_are_refused_and_read_no_secret(
    live_server, decisions_waiting, viewer, planner
):
    # given a live server, a Viewer with an API token, and a planner whose token the Viewer must never see
    viewer_token = issue_token(viewer)[1]
    planner_token = issue_token(planner)[1]
    suggestions_before = dict(ReorderSuggestion.objects.values_list("pk", "status"))
    adjustments_before = dict(StockAdjustment.objects.values_list("pk", "status"))
    api_addresses = dict(Store.objects.values_list("pk", "api_base_url"))

    # when anonymous clients and the Viewer (by token and by admin session) try to approve, reject, retry pushes,
    # change a store, open the token and user admin, and read the stores
    result = http_access_checks(
        live_server.url,
        viewer_token=viewer_token,
        viewer_username="val.viewer",
        viewer_password="viewer-pass-1",
        secrets=[*decisions_waiting["secrets"], planner_token],
    )

    # then every attempt is refused, no answer holds a secret, and every kind of attempt found its target
    assert list(problems(result)) == []
    assert result["skipped"] == []
    assert result["attempts"] == result["refused"] >= 40
    assert result["reads"] > 10
    # and nothing changed
    assert dict(ReorderSuggestion.objects.values_list("pk", "status")) == suggestions_before
    assert dict(StockAdjustment.objects.values_list("pk", "status")) == adjustments_before
    assert dict(Store.objects.values_list("pk", "api_base_url")) == api_addresses
    assert decisions_recorded() == []


@pytest.mark.slow
def test_the_http_checks_notice_a_user_who_may_decide(live_server, decisions_waiting, planner):
    # given the same checks run with a planner's credentials (a control: the checks must be able to fail)
    token = issue_token(planner)[1]

    # when they run
    result = http_access_checks(
        live_server.url,
        viewer_token=token,
        viewer_username="pat.planner",
        viewer_password="planner-pass-1",
        secrets=decisions_waiting["secrets"],
    )

    # then the planner's decisions through the API and the admin, and the push retry, are reported as allowed
    allowed = {(who, what) for who, what, _ in result["allowed"]}
    suggestion = result["targets"]["suggestion"]
    assert ("viewer-token", f"POST /api/v1/suggestions/{suggestion}/approve/") in allowed
    assert ("viewer-session", f"POST /api/v1/suggestions/{suggestion}/reject/") in allowed  # past CSRF: 409
    assert ("viewer-session", "POST /admin/inventory_ai/stockadjustment/ action=retry_push") in allowed
    assert ("viewer-session", "POST /admin/inventory_ai/reordersuggestion/ action=approve_selected") in allowed
    assert not any(who == "anonymous" for who, _ in allowed)
    # and they did happen (audited), while a planner still reads no secret
    assert AuditAction.APPROVE in decisions_recorded()
    assert StockAdjustment.objects.get(pk=decisions_waiting["failed"].pk).status != AdjustmentStatus.FAILED
    assert result["leaks"] == []


@pytest.mark.django_db
def test_no_page_or_answer_shows_store_secrets_even_to_a_superuser(admin_client, admin_user, viewer):
    # given stores with credentials and webhook secrets, one of them edited in the admin (so it has a history)
    stored = connect_stores()
    store = Store.objects.get(domain="access-check.myshopify.com")
    change = reverse("admin:inventory_ai_store_change", args=[store.pk])
    form = admin_client.get(change).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    assert admin_client.post(change, {**data, "name": "Renamed"}).status_code == 302

    # when a superuser and a Viewer read the stores through the admin and the API, and the stores are dumped
    pages = [
        admin_client.get(reverse("admin:inventory_ai_store_changelist")),
        admin_client.get(change),
        admin_client.get(reverse("admin:inventory_ai_store_history", args=[store.pk])),
        admin_client.get(reverse("admin:index")),
    ]
    for user in (admin_user, viewer):
        api = APIClient()
        api.force_authenticate(user)
        pages += [
            api.get("/api/v1/stores/"),
            api.get(f"/api/v1/stores/{store.pk}/"),
            api.get("/api/v1/stores/?format=api"),
            api.options("/api/v1/stores/"),
        ]
    dump = dump_stores()

    # then every page answered, and none of them, nor the dump, holds a secret
    assert all(page.status_code == 200 for page in pages)
    texts = [page.content.decode() for page in pages] + [dump]
    leaked = [name for name, value in stored.items() if any(value in text for text in texts)]
    assert leaked == []
    assert Store.objects.get(pk=store.pk).credentials == {"access_token": stored["access_token"]}


def dump_stores() -> str:
    out = io.StringIO()
    call_command("dumpdata", "inventory_ai.store", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_raw_database_holds_no_store_secret_in_clear(run_command):
    # given stores connected through the product's services and the add_store command (which rotates a secret)
    stored = connect_stores()
    new_secret = "whsec-" + secrets.token_hex(16)
    new_token = "shpat_" + secrets.token_hex(16)
    run_command(
        "add_store",
        "shopify",
        "--domain",
        "access-check.myshopify.com",
        "--webhook-secret",
        new_secret,
        "--access-token",
        new_token,
    )

    # when every text, JSON and binary column of every table is searched with SQL, outside the ORM
    needles = [*stored.values(), new_secret, new_token]
    result = raw_database_scan(database_url_for_subprocess(), [*needles, "access-check.myshopify.com"])

    # then no secret appears anywhere, while the scan does find what is stored in clear (the store's domain)
    assert result["tables"] > 20
    assert result["columns"] > 50
    assert [(table, column) for table, column, _ in result["hits"]] == [("inventory_ai_store", "domain")]
    assert Store.objects.get(domain="access-check.myshopify.com").webhook_secrets[:2] == [
        new_secret,
        stored["shopify_secret"],
    ]


@pytest.mark.slow
def test_production_settings_pass_the_deployment_checks():
    # given production settings (DEBUG off, behind a TLS proxy, real keys)
    # when Django's deployment checks run, warnings counting as failures
    result = deploy_check({})

    # then nothing is reported
    assert result["ok"], result["output"]
    assert "no issues" in result["output"]


def read_settings(env: dict[str, str]) -> dict:
    names = ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.slow
def test_https_is_enforced_behind_a_tls_proxy_and_nothing_assumes_it_on_plain_http():
    # given production settings behind a TLS proxy, then the same without the proxy (a server on plain HTTP)
    behind_proxy = read_settings(production_env())
    plain_http = read_settings(production_env(BEHIND_TLS_PROXY="0"))

    # then behind the proxy HTTP is redirected, HSTS is sent for a year and cookies are HTTPS-only
    assert behind_proxy == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
    # and on plain HTTP nothing redirects to an address that does not answer, which the deployment checks report
    assert plain_http == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
    }
    assert "security.W008" in deploy_check({"BEHIND_TLS_PROXY": "0"})["output"]


@pytest.mark.django_db
def test_health_probes_are_not_redirected_to_https(client, settings):
    # given HTTPS enforced
    settings.SECURE_SSL_REDIRECT = True

    # when a probe asks over plain HTTP, and so does a browser
    probe = client.get("/healthz/live")
    browser = client.get("/admin/login/")

    # then the probe is answered and the browser is sent to HTTPS
    assert probe.status_code == 200
    assert browser.status_code == 301
    assert browser.url.startswith("https://")


def audit_report(*dependencies: dict) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_the_dependency_audit_is_clean_only_when_every_dependency_was_looked_up():
    audited = {"name": "django", "version": "5.2.19", "vulns": []}
    skipped = {"name": "celery", "skip_reason": "Dependency not found on PyPI and could not be audited: celery (5.7.0)"}
    vulnerable = {"name": "httpx", "version": "0.1", "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["0.2"]}]}

    # pip-audit exits 0 saying "No known vulnerabilities found" when it could look nothing up: that is not clean
    assert judge_pip_audit(0, audit_report(skipped), "No known vulnerabilities found")["status"] == "unavailable"
    assert judge_pip_audit(0, audit_report(audited, skipped), "")["status"] == "unavailable"
    assert judge_pip_audit(1, "", "ConnectionError: no route")["status"] == "unavailable"
    assert judge_pip_audit(0, audit_report(), "")["status"] == "unavailable"
    # a known vulnerability is reported even when other dependencies were skipped
    found = judge_pip_audit(1, audit_report(audited, skipped, vulnerable), "")
    assert found["status"] == "vulnerable"
    assert "PYSEC-0000-1" in found["detail"]
    assert judge_pip_audit(0, audit_report(audited), "")["status"] == "clean"
