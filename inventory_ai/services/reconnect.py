"""A store connected again (new credentials after refused ones): what stopped on the old credentials goes on."""

from __future__ import annotations

from inventory_ai.models import Store
from inventory_ai.services import push, sync_runs


def reconnected(store: Store) -> None:
    """The sync runs that waited go on from the page where each stopped; the stock changes that waited are sent
    again with the same idempotency key (the store never applied them)."""
    sync_runs.resume_after_reconnect(store)
    push.resume_pushes(store)
