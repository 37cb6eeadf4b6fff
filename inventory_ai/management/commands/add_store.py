"""`manage.py add_store shopify|woocommerce ...`: connect a store, or update one (non-interactive)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from integrations.errors import StoreAPIError
from inventory_ai.conf import get_option
from inventory_ai.gateways import gateway_class, platform_base_url
from inventory_ai.models import SyncRun
from inventory_ai.services.reconnect import reconnected
from inventory_ai.services.stores import upsert_store
from inventory_ai.services.sync_runs import SyncAlreadyRunning, start_sync


class Command(BaseCommand):
    help = "Create or update a connected store. Secrets are stored encrypted; a new webhook secret is added in front."

    def add_arguments(self, parser):
        platforms = parser.add_subparsers(dest="platform", required=True, metavar="{shopify,woocommerce}")
        shopify = platforms.add_parser("shopify", help="A Shopify shop")
        shopify.add_argument("--domain", required=True, help="The shop's myshopify.com domain")
        shopify.add_argument("--webhook-secret", help="The app's client secret (signs webhooks)")
        shopify.add_argument("--access-token", help="Admin API access token (a legacy custom app's)")
        shopify.add_argument(
            "--client-id", help="The store's own Dev Dashboard app: its client id (client credentials grant)"
        )
        shopify.add_argument("--client-secret", help="...and its client secret (also signs its webhooks)")
        woocommerce = platforms.add_parser("woocommerce", help="A WooCommerce site")
        woocommerce.add_argument(
            "--url", dest="domain", metavar="URL", required=True, help="The site URL, e.g. https://shop.example"
        )
        woocommerce.add_argument("--webhook-secret", help="The secret set on the site's webhooks")
        woocommerce.add_argument("--consumer-key", help="REST API consumer key")
        woocommerce.add_argument("--consumer-secret", help="REST API consumer secret")
        for sub in (shopify, woocommerce):
            sub.add_argument("--api-base-url", help="Override the API address (e.g. a local store simulator)")
            sub.add_argument("--api-version", help="API version (Shopify default: the configured one)")
            sub.add_argument("--name", help="A display name")
            sub.add_argument("--timezone", help="IANA time zone of the store, e.g. Europe/London")
            sub.add_argument("--currency", help="ISO 4217 currency code, e.g. GBP")
            sub.add_argument("--country", dest="country_code", help="ISO 3166-1 alpha-2 country code, e.g. GB")
            sub.add_argument("--inactive", action="store_true", help="Mark the store inactive")
            sub.add_argument(
                "--backfill", action="store_true", help="Queue a backfill of the store's catalogue, stock and orders"
            )

    def handle(self, *args, **options):
        platform, domain = options["platform"], options["domain"]
        credentials = {name: options.get(name) for name in gateway_class(platform).credential_names}
        app = {name: options.get(name) for name in ("client_id", "client_secret") if options.get(name)}
        if app and len(app) != 2:
            raise CommandError("--client-id and --client-secret go together")
        if app:
            # a token from the client credentials grant, asked for again before it expires; none is kept if refused
            cls = gateway_class(platform)
            try:
                address = cls.normalize_address(domain)
                base = (options.get("api_base_url") or "").rstrip("/") or platform_base_url(platform, address)
                credentials = cls.renew_credentials(
                    base, {**app, "expires_at": timezone.now().isoformat()}, {},
                    timeout=float(get_option("STORE_API_TIMEOUT_SECONDS")),
                )  # fmt: skip
            except (StoreAPIError, ValueError) as exc:
                raise CommandError(f"No token for the app's client credentials: {exc}") from exc
            options["webhook_secret"] = options.get("webhook_secret") or app["client_secret"]
        fields = {
            "api_base_url": options.get("api_base_url"),
            "api_version": options.get("api_version"),
            "name": options.get("name"),
            "timezone": options.get("timezone"),
            "currency": (options.get("currency") or "").upper() or None,
            "country_code": (options.get("country_code") or "").upper() or None,
        }
        if options.get("inactive"):
            fields["active"] = False
        try:
            store, created = upsert_store(
                platform, domain, webhook_secret=options.get("webhook_secret"), credentials=credentials, **fields
            )
        except (ValueError, ValidationError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from exc
        if not created and any(credentials.values()):
            reconnected(store)  # syncs and pushes that stopped on refused credentials go on
        verb = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {store.get_platform_display()} store {store.domain} "
                f"(API: {store.effective_api_base_url}, {len(store.webhook_secrets)} webhook secret(s))"
            )
        )
        if options.get("backfill"):
            try:
                run = start_sync(store, SyncRun.Kind.BACKFILL, trigger="command")
            except SyncAlreadyRunning as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Backfill queued as #{run.pk}; the admin's Sync runs page shows its progress.")
