"""`manage.py add_user <username> --role planner|viewer`: a staff user in one of the product's roles."""

from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand

from inventory_ai.services.roles import PLANNER, VIEWER, create_staff_user


class Command(BaseCommand):
    help = "Create a staff user (or reset an existing one) as a Planner (views, approves) or a Viewer (views only)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=["planner", "viewer"], required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="Default: a new random password, printed once")

    def handle(self, *args, username: str, role: str, email: str, password: str | None, **options):
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        group = PLANNER if role == "planner" else VIEWER
        create_staff_user(username, group, password, email=email)
        self.stdout.write(f"{username}: {group}" + (f", password {password}" if generated else ""))
