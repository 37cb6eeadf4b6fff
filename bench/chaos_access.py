"""Access checks for the fault-injection suite: who may decide, who may read secrets, what the database holds.

Plain functions, without Django at import time, for a bench script that runs the product in its own processes:

- `http_access_checks` drives a live server over HTTP as an anonymous client and as a Viewer (API token, and an
  admin session logged in through the login form): every approval, rejection, push retry and store change must be
  refused and change nothing, and no page or answer may contain a secret.
- `raw_database_scan` looks for secrets in every text, binary and JSON column of the database, bypassing the ORM.
- `deploy_check` runs `manage.py check --deploy` with production settings.
- `dependency_audit` runs pip-audit on the pinned requirements when it is installed, and says so when the audit
  could not be done rather than calling the dependencies clean.
"""

from __future__ import annotations

import json
import os
import re
import secrets as random_tokens
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent

API = "/api/v1"
ADMIN = "/admin"
SUGGESTIONS_ADMIN = f"{ADMIN}/inventory_ai/reordersuggestion/"
ADJUSTMENTS_ADMIN = f"{ADMIN}/inventory_ai/stockadjustment/"
STORES_ADMIN = f"{ADMIN}/inventory_ai/store/"
# What Django's admin says when a posted action is not one the user may run (it then redirects to the list).
ACTION_REFUSED_MESSAGE = "No action selected."
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def masked(needle: str) -> str:
    """A secret as it may appear in a report: its first four characters."""
    return needle[:4] + "…"


# --- HTTP ---------------------------------------------------------------------------------------------------------


class _Session:
    """One party's HTTP client: anonymous, the Viewer by API token, or the Viewer by admin session (cookies)."""

    def __init__(self, base_url: str, who: str, timeout: float, headers: dict[str, str] | None = None):
        self.who = who
        self.client = httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False, headers=headers)

    def csrf_token(self) -> str:
        """The CSRF cookie's value, fetched from the login page when the client has none yet."""
        token = self.client.cookies.get("csrftoken")
        if not token:
            self.client.get(f"{ADMIN}/login/")
            token = self.client.cookies.get("csrftoken")
        return token or ""

    def login(self, username: str, password: str) -> None:
        """Log in through the admin's login form, as a browser would (CSRF cookie and hidden field)."""
        page = self.client.get(f"{ADMIN}/login/")
        found = CSRF_INPUT.search(page.text)
        if page.status_code != 200 or not found:
            raise RuntimeError(f"the admin login page answered {page.status_code} without a CSRF field")
        answer = self.client.post(
            f"{ADMIN}/login/?next={ADMIN}/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": found.group(1),
                "next": f"{ADMIN}/",
            },
        )
        if answer.status_code != 302 or "sessionid" not in self.client.cookies:
            # Secure-only cookies over plain HTTP end here too: the client never sends them back.
            raise RuntimeError(f"logging in to the admin as {username!r} failed (HTTP {answer.status_code})")

    def close(self) -> None:
        self.client.close()


class _Report:
    def __init__(self, needles: list[str]):
        self.needles = [needle for needle in needles if needle]
        self.attempts = 0
        self.refused = 0
        self.reads = 0
        self.allowed: list[tuple[str, str, int]] = []
        self.leaks: list[tuple[str, str, str]] = []
        self.skipped: list[str] = []

    def scan(self, who: str, what: str, response: httpx.Response) -> None:
        """Every answer, refused or not, is searched for every secret (body and headers)."""
        text = response.text + "\n" + "\n".join(f"{key}: {value}" for key, value in response.headers.items())
        for needle in self.needles:
            if needle in text:
                self.leaks.append((who, what, masked(needle)))

    def read(self, who: str, what: str, response: httpx.Response) -> None:
        self.reads += 1
        self.scan(who, what, response)

    def attempt(self, who: str, what: str, response: httpx.Response, refused: bool) -> None:
        self.attempts += 1
        self.scan(who, what, response)
        if refused:
            self.refused += 1
        else:
            self.allowed.append((who, what, response.status_code))


def _is_login_redirect(response: httpx.Response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers.get("location", "")).path == f"{ADMIN}/login/"


def _ids(viewer: _Session, path: str, **params: str) -> list[int]:
    """The ids on the first page of an API list, read with the Viewer's token."""
    answer = viewer.client.get(f"{API}/{path}/", params=params)
    answer.raise_for_status()
    return [row["id"] for row in answer.json()["results"]]


def _first_id(viewer: _Session, path: str, **params: str) -> int | None:
    return next(iter(_ids(viewer, path, **params)), None)


def _status_of(viewer: _Session, path: str, pk: int) -> str | None:
    answer = viewer.client.get(f"{API}/{path}/{pk}/")
    return answer.json().get("status") if answer.status_code == 200 else None


def http_access_checks(
    base_url: str,
    *,
    viewer_token: str,
    viewer_username: str,
    viewer_password: str,
    secrets: list[str],
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Try, as an anonymous client and as a Viewer, everything only a planner (or nobody) may do, against a live
    server; read the stores as each of them; search every answer for `secrets`.

    The Viewer's token lists the targets (the stores, a pending suggestion, a pending and a failed adjustment, any
    if none is in that state) and reads their status after each attempt through the admin, whose refused
    actions answer with a redirect rather than 403. An attempt counts as refused when it answers 401 or 403, a
    redirect to the login page (the anonymous admin), or, for an admin action, Django's "No action selected" with
    the target's status unchanged. Returns {"attempts", "refused", "allowed": [(who, what, status)], "reads",
    "leaks": [(who, what, secret's first characters)], "skipped": [what had no target], "targets"}.
    """
    report = _Report(list(secrets))
    anonymous = _Session(base_url, "anonymous", timeout)
    by_token = _Session(base_url, "viewer-token", timeout, headers={"Authorization": f"Token {viewer_token}"})
    by_session = _Session(base_url, "viewer-session", timeout)
    try:
        by_session.login(viewer_username, viewer_password)
        targets = {
            "stores": _ids(by_token, "stores"),
            "suggestion": _first_id(by_token, "suggestions", status="pending") or _first_id(by_token, "suggestions"),
            "adjustment": _first_id(by_token, "adjustments", status="pending") or _first_id(by_token, "adjustments"),
            "failed_adjustment": _first_id(by_token, "adjustments", status="failed"),
        }
        _read_stores(report, [anonymous, by_token, by_session], targets)
        _api_decisions(report, [anonymous, by_token, by_session], targets)
        _admin_decisions(report, [anonymous, by_session], by_token, targets)
    finally:
        for session in (anonymous, by_token, by_session):
            session.close()
    return {
        "attempts": report.attempts,
        "refused": report.refused,
        "allowed": report.allowed,
        "reads": report.reads,
        "leaks": report.leaks,
        "skipped": report.skipped,
        "targets": targets,
    }


def _read_stores(report: _Report, sessions: list[_Session], targets: dict[str, Any]) -> None:
    """Stores through the API (JSON, the browsable page, the schema) and the admin (list, form, history), the pages
    where store errors show (pushes, syncs, webhook events), and the admin pages of API tokens and users. A Viewer
    may read stores but never their secrets; anonymous reads nothing."""
    stores = targets["stores"]
    api_paths = [f"{API}/stores/", f"{API}/stores/?format=api", f"{API}/schema/"]
    admin_paths = [f"{ADMIN}/", STORES_ADMIN, f"{ADMIN}/inventory_ai/syncrun/", f"{ADMIN}/inventory_ai/webhookevent/"]
    for store in stores:
        api_paths.append(f"{API}/stores/{store}/")
        admin_paths += [f"{STORES_ADMIN}{store}/change/", f"{STORES_ADMIN}{store}/history/"]
    if not stores:
        report.skipped.append("read a store: no store")
    for kind in ("adjustment", "failed_adjustment"):
        if targets[kind] is not None:
            admin_paths.append(f"{ADJUSTMENTS_ADMIN}{targets[kind]}/change/")
    # Where API tokens and accounts are kept: only superusers (and those given the permissions) see these.
    private_admin_paths = [f"{ADMIN}/inventory_ai/apitoken/", f"{ADMIN}/auth/user/"]
    for session in sessions:
        anonymous = session.who == "anonymous"
        for path in api_paths:
            answer = session.client.get(path)
            if anonymous and path != f"{API}/schema/":  # the schema is public: it describes, it holds no data
                report.attempt(session.who, f"GET {path}", answer, refused=answer.status_code in (401, 403))
            else:
                report.read(session.who, f"GET {path}", answer)
        if session.who == "viewer-token":
            continue  # the admin knows sessions only
        for path in admin_paths:
            answer = session.client.get(path)
            if anonymous:
                report.attempt(session.who, f"GET {path}", answer, refused=_is_login_redirect(answer))
            else:
                report.read(session.who, f"GET {path}", answer)
        for path in private_admin_paths:
            answer = session.client.get(path)
            refused = _is_login_redirect(answer) if anonymous else answer.status_code == 403
            report.attempt(session.who, f"GET {path}", answer, refused=refused)
        for store in stores[:1]:
            # Changing a store (its API address, where credentials would be sent) needs the change permission.
            path = f"{STORES_ADMIN}{store}/change/"
            answer = session.client.post(
                path,
                data={"csrfmiddlewaretoken": session.csrf_token(), "api_base_url": "https://attacker.example"},
            )
            refused = _is_login_redirect(answer) if anonymous else answer.status_code == 403
            report.attempt(session.who, f"POST {path}", answer, refused=refused)


def _api_decisions(report: _Report, sessions: list[_Session], targets: dict[str, Any]) -> None:
    """Approve and reject suggestions and adjustments, and propose an adjustment, through the API."""
    posts: list[tuple[str, dict[str, Any]]] = [(f"{API}/adjustments/", {"variant": 1, "location": 1, "delta": 1})]
    for kind, path, body in (
        ("suggestion", "suggestions", {"quantity": 1}),
        ("adjustment", "adjustments", {"new_available": 1}),
    ):
        # The permission is checked before the object is looked up: a missing target still tests the refusal.
        pk = targets[kind] or 1
        posts += [(f"{API}/{path}/{pk}/approve/", body), (f"{API}/{path}/{pk}/reject/", {})]
    for session in sessions:
        for path, body in posts:
            headers = {"X-CSRFToken": session.csrf_token()} if session.who == "viewer-session" else {}
            answer = session.client.post(path, json=body, headers=headers)
            report.attempt(session.who, f"POST {path}", answer, refused=answer.status_code in (401, 403))


def _admin_decisions(report: _Report, sessions: list[_Session], reader: _Session, targets: dict[str, Any]) -> None:
    """The admin's approve, reject and retry-push actions, and the single-suggestion decision pages, posted as the
    confirmation page would post them."""
    actions = [
        ("suggestion", "suggestions", SUGGESTIONS_ADMIN, "approve_selected"),
        ("suggestion", "suggestions", SUGGESTIONS_ADMIN, "reject_selected"),
        ("adjustment", "adjustments", ADJUSTMENTS_ADMIN, "approve_selected"),
        ("adjustment", "adjustments", ADJUSTMENTS_ADMIN, "reject_selected"),
        ("failed_adjustment", "adjustments", ADJUSTMENTS_ADMIN, "retry_push"),
    ]
    for session in sessions:
        anonymous = session.who == "anonymous"
        for kind, api_path, changelist, action in actions:
            pk = targets[kind]
            what = f"POST {changelist} action={action}"
            if pk is None:
                report.skipped.append(f"{session.who}: {what}: no {kind.replace('_', ' ')}")
                continue
            before = _status_of(reader, api_path, pk)
            token = session.csrf_token()
            answer = session.client.post(
                changelist,
                data={
                    "action": action,
                    "_selected_action": str(pk),
                    "post": "yes",
                    f"quantity-{pk}": "1",
                    "csrfmiddlewaretoken": token,
                },
            )
            if anonymous:
                refused = _is_login_redirect(answer)
            elif answer.status_code == 302:
                # The admin redirects back to the list both after an action and when the action is not allowed;
                # only its message tells them apart.
                page = session.client.get(urljoin(changelist, answer.headers["location"]))
                refused = ACTION_REFUSED_MESSAGE in page.text
                report.scan(session.who, what, page)
            else:
                refused = answer.status_code == 403
            refused = refused and _status_of(reader, api_path, pk) == before
            report.attempt(session.who, what, answer, refused=refused)
        pk = targets["suggestion"]
        for decision in ("approve", "reject"):
            if pk is None:
                report.skipped.append(f"{session.who}: POST suggestion {decision} page: no suggestion")
                continue
            path = f"{SUGGESTIONS_ADMIN}{pk}/{decision}/"
            before = _status_of(reader, "suggestions", pk)
            answer = session.client.post(
                path, data={"post": "yes", f"quantity-{pk}": "1", "csrfmiddlewaretoken": session.csrf_token()}
            )
            refused = _is_login_redirect(answer) if anonymous else answer.status_code == 403
            refused = refused and _status_of(reader, "suggestions", pk) == before
            report.attempt(session.who, f"POST {path}", answer, refused=refused)


# --- The database -------------------------------------------------------------------------------------------------

TEXT_TYPES = {"text", "character varying", "character", "json", "jsonb", "bytea", "ARRAY"}


def raw_database_scan(database_url: str, needles: list[str]) -> dict[str, Any]:
    """Search every text, character, JSON and binary column of every table (PostgreSQL's public schema, or a SQLite
    file) for each needle, with SQL on the raw values: what the database holds, not what the ORM decrypts.

    Returns {"tables": n, "columns": n, "hits": [(table, column, the needle's first characters)]}.
    """
    needles = [needle for needle in needles if needle]
    if database_url.startswith("sqlite:"):
        return _scan_sqlite(database_url.removeprefix("sqlite://").removeprefix("/") or ":memory:", needles)
    return _scan_postgresql(database_url, needles)


def _scan_postgresql(database_url: str, needles: list[str]) -> dict[str, Any]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url, autocommit=True) as connection:
        columns = connection.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.data_type = ANY(%s) "
            "ORDER BY c.table_name, c.ordinal_position",
            [sorted(TEXT_TYPES)],
        ).fetchall()
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).fetchone()[0]
        hits = []
        for table, column, data_type in columns:
            # bytea is searched as bytes; everything else as its text (JSON included).
            value = (
                sql.Identifier(column) if data_type == "bytea" else sql.SQL("{}::text").format(sql.Identifier(column))
            )
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE position(%s in {}) > 0)").format(
                sql.Identifier(table), value
            )
            for needle in needles:
                probe = needle.encode() if data_type == "bytea" else needle
                if connection.execute(query, [probe]).fetchone()[0]:
                    hits.append((table, column, masked(needle)))
    return {"tables": tables, "columns": len(columns), "hits": hits}


def _scan_sqlite(path: str, needles: list[str]) -> dict[str, Any]:
    import sqlite3

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        columns = []
        for table in tables:
            quoted = table.replace('"', '""')
            for _, name, declared, *_ in connection.execute(f'PRAGMA table_info("{quoted}")'):
                declared = declared.lower()
                if not declared or any(word in declared for word in ("char", "text", "clob", "blob", "json")):
                    columns.append((table, name))
        hits = []
        for table, column in columns:
            quoted_table, quoted_column = table.replace('"', '""'), column.replace('"', '""')
            query = (
                f'SELECT EXISTS (SELECT 1 FROM "{quoted_table}" '
                f'WHERE instr(CAST("{quoted_column}" AS BLOB), CAST(? AS BLOB)) > 0)'
            )
            for needle in needles:
                if connection.execute(query, [needle.encode()]).fetchone()[0]:
                    hits.append((table, column, masked(needle)))
    finally:
        connection.close()
    return {"tables": len(tables), "columns": len(columns), "hits": hits}


# --- Deployment ---------------------------------------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    """Environment variables of a production deployment behind a TLS-terminating proxy, with new random keys."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "inventory_ai.settings",
        "DEBUG": "0",
        "SECRET_KEY": random_tokens.token_urlsafe(50),
        "INVENTORY_AI_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "inventory.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://inventory.example.com",
        "BEHIND_TLS_PROXY": "1",
        **overrides,
    }


def deploy_check(env: dict[str, str], *, timeout: float = 120) -> dict[str, Any]:
    """`manage.py check --deploy --fail-level WARNING` with `env` laid over a production environment (see
    `production_env`; the caller's variables win). Returns {"ok": passed with no warning, "output": what it said}."""
    full_env = {**os.environ, **production_env(), **env}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return {"ok": result.returncode == 0, "output": (result.stdout + result.stderr).strip()}


def dependency_audit(*, timeout: float = 120) -> dict[str, str]:
    """Audit the pinned runtime requirements for known vulnerabilities with pip-audit, when it is installed.

    Returns {"status": "clean" | "vulnerable" | "unavailable", "detail"}. "clean" only when every dependency was
    looked up and none has a known vulnerability: pip-audit reports "No known vulnerabilities found" (and exits 0)
    even when it could look up none of them, e.g. without access to its vulnerability service.
    """
    if shutil.which("pip-audit"):
        command = ["pip-audit"]
    elif _importable("pip_audit"):
        command = [sys.executable, "-m", "pip_audit"]
    else:
        return {"status": "unavailable", "detail": "pip-audit is not installed (pip install pip-audit)"}
    # The requirements are pinned exactly, so pip-audit can look each pin up without installing anything.
    command += [
        "--requirement",
        str(ROOT / "requirements.txt"),
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "unavailable", "detail": f"pip-audit did not finish within {timeout:.0f} s"}
    return judge_pip_audit(result.returncode, result.stdout, result.stderr)


def judge_pip_audit(returncode: int, stdout: str, stderr: str) -> dict[str, str]:
    """Read pip-audit's JSON report: vulnerable if any dependency has a known vulnerability, clean if every one
    was audited and none has, unavailable otherwise (it failed, or skipped dependencies it could not look up)."""
    try:
        dependencies = json.loads(stdout)["dependencies"]
    except (ValueError, KeyError, TypeError):
        tail = (stderr or stdout).strip().splitlines()[-3:]
        return {"status": "unavailable", "detail": f"pip-audit failed (exit {returncode}): {' / '.join(tail)}"}
    vulnerable = [
        f"{dep['name']} {dep.get('version', '')}: {', '.join(v['id'] for v in dep['vulns'])}"
        for dep in dependencies
        if dep.get("vulns")
    ]
    skipped = [dep["name"] for dep in dependencies if dep.get("skip_reason")]
    if vulnerable:
        detail = "; ".join(vulnerable)
        if skipped:
            detail += f" ({len(skipped)} of {len(dependencies)} dependencies could not be audited)"
        return {"status": "vulnerable", "detail": detail}
    if skipped or not dependencies:
        reasons = sorted({dep["skip_reason"].split(":")[0] for dep in dependencies if dep.get("skip_reason")})
        return {
            "status": "unavailable",
            "detail": f"{len(skipped)} of {len(dependencies)} dependencies could not be audited: {'; '.join(reasons)}",
        }
    return {"status": "clean", "detail": f"{len(dependencies)} dependencies audited, no known vulnerability"}


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def problems(result: dict[str, Any]) -> Iterable[str]:
    """The problems in an `http_access_checks` result, one line each (none when every attempt was refused)."""
    for who, what, status in result["allowed"]:
        yield f"{who} was not refused: {what} answered {status}"
    for who, what, needle in result["leaks"]:
        yield f"{who} read a secret ({needle}) in {what}"
