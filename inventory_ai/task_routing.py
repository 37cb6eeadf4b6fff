"""Routing that depends on a task's arguments, before the routes by name (`CELERY_TASK_ROUTES`).

A suggestion recompute is short work when a stock change moves one SKU's suggestion, and long work after a retrain,
which recomputes a whole store's (about 11 minutes at 50,000 SKUs): on the short-work queue that would hold every
store's webhooks up behind it. Celery calls `route_by_arguments` for each task it sends (a router function).
"""

from __future__ import annotations

# A recompute of at most this many SKUs is short work (`default`); a larger one, or a whole store's, is long work.
SHORT_RECOMPUTE_SKUS = 50
RECOMPUTE_TASK = "inventory_ai.tasks.recompute_suggestions_task"


def route_by_arguments(name: str, args, kwargs, options, task=None, **extra) -> dict | None:
    """The queue of a task whose kind of work depends on its arguments; None: routed by name."""
    if name != RECOMPUTE_TASK:
        return None
    args, kwargs = tuple(args or ()), kwargs or {}
    variant_ids = args[2] if len(args) > 2 else kwargs.get("variant_ids")
    few = variant_ids is not None and len(variant_ids) <= SHORT_RECOMPUTE_SKUS
    return {"queue": "default" if few else "training"}
