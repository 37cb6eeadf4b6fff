"""The interface in Simplified Chinese: a complete catalogue, compiled, and every main page without an English word.

- The catalogue: every string marked in the code and the templates has a translation that is not fuzzy and keeps
  the placeholders of its English; the compiled catalogue (.mo, committed) says the same as the .po.
- The pages: the dashboard, the lists and pages a planner works in, the API's errors and the alert e-mail, rendered
  in Chinese on a store whose data is Chinese, show no English word outside product names (acronyms such as SKU, the
  platforms' names). The same pages in English show the English.
- The language: from the browser (Accept-Language), or a person's own choice, which wins and is kept.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.core import mail
from django.template.base import Lexer
from django.utils import translation
from django.utils.translation.template import templatize

from inventory_ai.models import AlertSubscription, UserPreference

ROOT = Path(__file__).resolve().parent.parent / "inventory_ai"
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
CALLS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy", "npgettext"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdfr]|\{(\w+)\}")
# Words a Chinese page keeps: acronyms and names that are not translated.
KEPT = {
    "SKU", "SKUs", "PO", "CSV", "PDF", "API", "ABC", "XYZ", "MASE", "RMSE", "MSE", "ETS", "SARIMA", "LSTM", "Shopify",
    "WooCommerce", "Inventory", "AI", "Excel", "GBP", "UTC", "ID", "URL", "JSON", "EOQ", "Croston", "TSB", "ADIDA",
    "IMAPA", "LightGBM", "Theta", "Django", "OpenAPI", "REST", "MOQ", "HMAC", "English", "Webhook", "Webhooks", "RMSSE",
}  # fmt: skip
# The alt text of Django's own yes/no icons, which Django writes in English in every language, and the names of the
# role groups, which the product looks them up by (records, as a product's name is).
DJANGO_ICONS = {"True", "False", "None", "Planner", "Viewer"}


def catalogue() -> polib.POFile:
    return polib.pofile(str(CATALOGUE / "django.po"))


def marked_strings() -> set[tuple[str | None, str]]:
    """(context, msgid) of every literal marked for translation in the Python code and the templates."""
    found: set[tuple[str | None, str]] = set()
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        found |= _python_strings(path.read_text())
    for path in (ROOT / "templates").rglob("*.html"):
        found |= _template_strings(templatize(path.read_text(), origin=str(path)))
    return found


def _template_strings(code: str) -> set[tuple[str | None, str]]:
    """The calls in a template's gettext form (Django's `templatize`, written for xgettext, not valid Python): a
    translation function's name, "(", then its string literals."""
    found = set()
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type != tokenize.NL]
    for index, token in enumerate(tokens[:-2]):
        if token.type != tokenize.NAME or token.string not in CALLS or tokens[index + 1].string != "(":
            continue
        literals = []
        for following in tokens[index + 2 :]:
            if following.type == tokenize.STRING:
                literals.append(ast.literal_eval(following.string))
            elif following.string != ",":
                break
        if token.string.startswith(("pgettext", "npgettext")) and len(literals) >= 2:
            found.add((literals[0], literals[1]))
        elif literals:
            found.add((None, literals[0]))
    return found


def _python_strings(source: str) -> set[tuple[str | None, str]]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name not in CALLS or not node.args:
            continue
        literals = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        if name.startswith(("pgettext", "npgettext")) and len(literals) >= 2:
            found.add((literals[0], literals[1]))
        elif literals and isinstance(node.args[0], ast.Constant):
            found.add((None, literals[0]))
    return found


def test_every_marked_string_has_a_translation_with_its_placeholders():
    po = catalogue()
    translated = {(entry.msgctxt, entry.msgid) for entry in po if entry.translated() and not entry.fuzzy}
    missing = sorted(str(item) for item in marked_strings() - translated)
    assert not missing, f"{len(missing)} strings without a Chinese translation (run make messages): {missing[:20]}"
    for entry in po:
        if entry.obsolete:
            continue
        assert not entry.fuzzy, entry.msgid
        assert entry.translated(), entry.msgid
        wanted = {m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(entry.msgid)}
        texts = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        for text in texts:
            assert {m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(text)} == wanted, entry.msgid


def test_the_compiled_catalogue_says_what_the_catalogue_says():
    compiled = {(entry.msgctxt, entry.msgid): entry for entry in polib.mofile(str(CATALOGUE / "django.mo"))}
    for entry in catalogue().translated_entries():
        assert (entry.msgctxt, entry.msgid) in compiled, f"django.mo is older than django.po: {entry.msgid}"
        twin = compiled[(entry.msgctxt, entry.msgid)]
        assert (twin.msgstr, twin.msgstr_plural) == (
            entry.msgstr,
            {int(k): v for k, v in entry.msgstr_plural.items()},
        ), entry.msgid


class _Text(HTMLParser):
    """The text a person reads on a page: text nodes outside scripts and styles, and the words of buttons, titles,
    placeholders and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        attributes = dict(attrs)
        for name in ("title", "placeholder", "aria-label", "alt"):
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def english_words(html: str) -> list[str]:
    reader = _Text()
    reader.feed(html)
    words = []
    for part in reader.parts:
        for token in part.split():
            if any(ch.isdigit() for ch in token) or any(ch in token for ch in "@./_:=#"):
                continue  # data: codes, addresses, numbers, identifiers
            for word in re.findall(r"[A-Za-z][A-Za-z']+", token):
                if word in KEPT or word in DJANGO_ICONS or (word.isupper() and len(word) <= 4):
                    continue  # a name, an acronym or a code (GB, AX)
                words.append(word)
    return words


def test_language_comes_from_the_browser_and_a_persons_own_choice_wins(client, planner):
    client.force_login(planner)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert page["Content-Language"] == "zh-hans"
    assert client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "en"
    answer = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/"})
    assert answer.status_code == 302
    assert UserPreference.objects.get(user=planner).language == "zh-hans"
    client.cookies.clear()
    client.force_login(planner)
    assert client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "zh-hans"


@pytest.fixture
def chinese_store(forecast_store, planner):
    """The forecast store with Chinese product names and a pending suggestion, an order and its supplier."""
    from inventory_ai.models import Product, PurchaseOrder, ReorderSuggestion, Supplier
    from inventory_ai.services import replenishment

    shop, run, variants = forecast_store
    for number, product in enumerate(Product.objects.filter(store=shop).order_by("pk"), start=1):
        product.title, product.vendor = f"笔记本 {number}", "纸业"
        product.save()
    Supplier.objects.filter(store=shop).update(name="纸业")
    replenishment.recompute_suggestions(shop)
    first = ReorderSuggestion.objects.filter(store=shop).order_by("pk").first()
    with translation.override("zh-hans"):  # a Chinese planner's decision: the log records it in their words
        replenishment.decide_suggestion(first, approve=True, user=planner)
    return shop, variants, PurchaseOrder.objects.get(store=shop)


def pages(shop, variants, order) -> list[str]:
    from django.contrib import admin
    from django.urls import reverse

    variant = variants[0]
    changelists = [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
        if model._meta.app_label in ("inventory_ai", "auth")
    ]
    return changelists + [
        "/admin/",
        "/admin/inventory_ai/reordersuggestion/",
        f"/admin/inventory_ai/reordersuggestion/{shop.suggestions.first().pk}/change/",
        "/admin/inventory_ai/purchaseorder/",
        f"/admin/inventory_ai/purchaseorder/{order.pk}/change/",
        "/admin/inventory_ai/supplier/",
        "/admin/inventory_ai/variant/",
        f"/admin/inventory_ai/variant/{variant.pk}/forecast/",
        "/admin/inventory_ai/variant/stock-health/",
        "/admin/inventory_ai/variant/planning-settings/",
        "/admin/inventory_ai/store/",
        f"/admin/inventory_ai/store/{shop.pk}/change/",
        "/admin/inventory_ai/forecastrun/",
        "/admin/inventory_ai/stockadjustment/",
    ]


def test_the_main_pages_the_api_and_the_email_speak_chinese_without_an_english_word(
    client, chinese_store, django_user_model, planner
):
    shop, variants, order = chinese_store
    client.force_login(django_user_model.objects.create_superuser("管理员", "admin@example.com", "pass-1234-word"))
    leftovers = {}
    for url in pages(shop, variants, order):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert page.status_code == 200, url
        words = english_words(page.content.decode())
        if words:
            leftovers[url] = sorted(set(words))
        english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert english.status_code == 200, url
    assert not leftovers, sorted(leftovers.items())
    check_api_errors_and_the_alert_email(client, chinese_store, planner)


def check_api_errors_and_the_alert_email(client, chinese_store, planner):
    """The API's errors and the alert e-mail in their reader's language (on the same store as the pages)."""
    from inventory_ai.services import alerts
    from inventory_ai.services.api_tokens import issue_token

    shop, variants, order = chinese_store
    token = issue_token(planner, "test")[1]
    answer = client.post(
        f"/api/v1/purchase-orders/{order.pk}/receive/",
        {"lines": []},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert answer.status_code in (400, 409)
    assert not english_words(str(answer.json())), answer.json()
    UserPreference.objects.create(user=planner, language="zh-hans")
    planner.email = "pat@example.com"
    planner.save()
    AlertSubscription.objects.create(user=planner, store=shop)
    mail.outbox.clear()
    assert alerts.send_digests()["sent"] == 1
    [message] = mail.outbox
    assert not english_words(message.subject + " " + message.body), message.body
    with translation.override("en"):
        assert translation.gettext("Purchase orders") == "Purchase orders"


def test_the_lexer_reads_every_template():
    # a template that cannot be tokenised would hide its strings from the catalogue
    for path in (ROOT / "templates").rglob("*.html"):
        assert list(Lexer(path.read_text()).tokenize()), path
