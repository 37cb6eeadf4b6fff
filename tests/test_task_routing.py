"""Which queue the Celery app sends each kind of work to: short work and long work go to different workers."""

from __future__ import annotations

from inventory_ai.celery import app
from inventory_ai.task_routing import SHORT_RECOMPUTE_SKUS


def queue_of(name: str, *args, **kwargs) -> str:
    return app.amqp.router.route({}, f"inventory_ai.tasks.{name}", args, kwargs)["queue"].name


def test_a_stores_suggestion_recompute_is_long_work_and_a_stock_changes_is_short():
    # a stock change moves one SKU's suggestion: short work, beside the webhooks
    assert queue_of("recompute_suggestions_task", 1, None, [7]) == "default"
    assert queue_of("recompute_suggestions_task", 1, None, variant_ids=list(range(SHORT_RECOMPUTE_SKUS))) == "default"
    # a retrain recomputes a whole store's (or its changed SKUs'): long work, which must not hold webhooks up
    assert queue_of("recompute_suggestions_task", 1, 5, None) == "training"
    assert queue_of("recompute_suggestions_task", 1, 5, list(range(SHORT_RECOMPUTE_SKUS + 1))) == "training"
    assert queue_of("recompute_suggestions_task", 1) == "training"


def test_the_other_tasks_keep_their_queues_by_name():
    assert queue_of("process_webhook_event_task", 1) == "webhooks"
    assert queue_of("backtest_chunk_task", 1, 0) == "training"
    assert queue_of("train_global_model_task", 1, "final") == "ml"
    assert queue_of("push_adjustment_task", 1) == "push"
    assert queue_of("sync_store_task", 1) == "sync"
    assert queue_of("ping_task") == "default"
