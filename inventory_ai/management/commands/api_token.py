"""`manage.py api_token create|list|revoke`: keys for the REST API, stored as digests (the key is shown once)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from inventory_ai.models import ApiToken
from inventory_ai.services.api_tokens import issue_token, revoke


class Command(BaseCommand):
    help = "Issue, list or revoke API tokens. A key is printed once, when issued; only its digest is kept."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Issue a token for a user and print its key")
        create.add_argument("username")
        create.add_argument("--name", default="", help="What the key is for")
        listing = actions.add_parser("list", help="List tokens (their first characters, never the keys)")
        listing.add_argument("--user", help="Only this user's tokens")
        remove = actions.add_parser("revoke", help="Revoke a token by the first characters shown by `list`")
        remove.add_argument("lookup")

    def handle(self, *args, action: str, **options):
        if action == "create":
            user = get_user_model().objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"no user {options['username']!r}")
            token, key = issue_token(user, options["name"])
            self.stdout.write(key)
            self.stderr.write(f"Token {token.lookup}… for {user}: store the key now, it is not kept.")
        elif action == "list":
            tokens = ApiToken.objects.select_related("user").order_by("user__username", "created_at")
            if options["user"]:
                tokens = tokens.filter(user__username=options["user"])
            for token in tokens:
                used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
                self.stdout.write(f"{token.lookup}  {token.user}  {token.name or '-'}  last used {used}")
        elif not revoke(options["lookup"]):
            raise CommandError(f"no token starts with {options['lookup']!r}")
        else:
            self.stdout.write(f"revoked {options['lookup'][:12]}…")
