"""The product's own settings, beside Django's: the REST API, Celery (the queues, the routes, the beat schedule), the
Shopify app, the product options, error reporting and metrics.

`inventory_ai.settings` imports them; a Django project that hosts the app does the same at the end of its settings
(`from inventory_ai.product_settings import *`). Every deployment-specific value comes from the environment (see
`.env.example`). Runtime state of the embedded mode lives in `INVENTORY_AI_VAR_DIR` (default: `var` in the working
directory; the project's own settings point it at the checkout).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from celery.schedules import crontab
from kombu import Queue

from inventory_ai.conf import DEFAULTS as OPTION_DEFAULTS
from inventory_ai.env import env_bool, env_list
from inventory_ai.worker_cpus import parse_cpu_list

VAR_DIR = Path(os.environ.get("INVENTORY_AI_VAR_DIR") or Path.cwd() / "var")


# --- REST API ---------------------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "inventory_ai.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
}
# The OpenAPI schema at /api/v1/schema/, Swagger UI at /api/v1/docs/ served from the sidecar's static files (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Inventory AI API",
    "DESCRIPTION": "Stores, variants, forecasts, restock suggestions, stock adjustments and retraining runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery -----------------------------------------------------------------------------------------------------

# The embedded broker: kombu's filesystem transport, a folder of message files that any number of local processes
# share. It needs no server, so the demo runs a real worker and beat without Redis. Production uses Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or "filesystem://"
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if EMBEDDED_BROKER:
    # kombu's filesystem transport, publishing each message whole (see inventory_ai.broker).
    CELERY_BROKER_TRANSPORT = "inventory_ai.broker:EmbeddedTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "messages"),
        "data_folder_out": str(BROKER_DIR / "messages"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # An idle worker looks for new message files this often (kombu's default of 1 s makes a burst of webhooks
        # wait a second per few tasks); the folder scan is cheap.
        "polling_interval": 0.05,
    }
    _default_result_backend = f"file://{VAR_DIR / 'celery-results'}"
else:
    # A message taken by a worker that dies (SIGKILL, lost machine) goes back to the queue once it has been
    # unacknowledged this long: longer than the longest task, or a slow task would be delivered twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT") or "3600"),
        "unacked_restore_interval": int(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL") or "10"),
        "unacked_restore_throttle": int(os.environ.get("CELERY_UNACKED_RESTORE_THROTTLE") or "10"),
    }
    _default_result_backend = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or _default_result_backend
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Prefetching one message per process keeps a long training task from holding short webhook tasks hostage.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool process whose resident memory has passed this many KiB when it finishes a task is replaced by a fresh one
# (Celery's worker_max_memory_per_child): TensorFlow and pandas keep memory they have freed, so a long-lived process
# only grows. A run's steps are bounded by design (a useful history per SKU, a bounded sample of the network's
# windows) well below the default of 3 GiB; a step whose process is killed again and again fails its run after
# RETRAIN_MAX_ATTEMPTS starts. 0 turns the ceiling off.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = (
    int(os.environ.get("CELERY_WORKER_MAX_MEMORY_PER_CHILD") or 3 * 1024 * 1024) or None
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Where long work shares a machine with the web and the short-work worker: the CPUs the long-work workers (those that
# consume only `training`, `sync` and `ml`) may run on, in the kernel's list form ("1", "2-7"; empty: every CPU), and
# whether they run at the kernel's idle scheduling policy, which any other process preempts at once
# (`inventory_ai.worker_cpus`).
LONG_WORK_CPUS = parse_cpu_list(os.environ.get("LONG_WORK_CPUS", ""))
LONG_WORK_IDLE = env_bool("LONG_WORK_IDLE")
# No task runs for ever: a hard limit on every task (a retrain's steps are resumable: a step killed at its limit is
# started again, up to RETRAIN_MAX_ATTEMPTS), a warning (SoftTimeLimitExceeded) a few minutes before it, and much
# shorter ones for the work a store waits on (a webhook applied, a stock change pushed).
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT") or 6 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT") or CELERY_TASK_TIME_LIMIT - 300)
CELERY_TASK_ANNOTATIONS = {
    "inventory_ai.tasks.process_webhook_event_task": {"time_limit": 300, "soft_time_limit": 240},
    "inventory_ai.tasks.push_adjustment_task": {"time_limit": 300, "soft_time_limit": 240},
}
# A web request that enqueues a task must not hang on a dead broker: the event is already stored, the sweeper
# enqueues it later.
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECTION_TIMEOUT") or "2")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue(name) for name in ("default", "webhooks", "training", "ml", "push", "sync")]
# Routes by module and name: webhook processing, training fan-out, TensorFlow work, pushes to stores and reads of a
# store's API each get a queue so that workers can be sized and placed per kind of work. Short work (webhooks, pushes,
# beat's chores on `default`) and long work (`training`, `sync`, `ml`) go to different worker processes in production
# (docker-compose.yml): a store's retrain or backfill then never keeps another store's webhooks waiting. A router
# function first sends a suggestion recompute by its size (`inventory_ai.task_routing`).
CELERY_TASK_ROUTES = (
    "inventory_ai.task_routing.route_by_arguments",
    {
        "inventory_ai.tasks.process_webhook_event_task": {"queue": "webhooks"},
        "inventory_ai.tasks.requeue_stale_webhook_events_task": {"queue": "webhooks"},
        "inventory_ai.tasks.train_global_model_task": {"queue": "ml"},
        "inventory_ai.tasks.retrain_all_stores_task": {"queue": "default"},
        "inventory_ai.tasks.fail_stalled_runs_task": {"queue": "default"},
        "inventory_ai.tasks.backtest_chunk_task": {"queue": "training"},
        "inventory_ai.tasks.*train*": {"queue": "training"},
        "inventory_ai.tasks.*forecast*": {"queue": "training"},
        "inventory_ai.tasks.*lstm*": {"queue": "ml"},
        "inventory_ai.tasks.push_*": {"queue": "push"},
        "inventory_ai.tasks.sync_store_task": {"queue": "sync"},
    },
)
# The beat schedule lives in settings (and is shown in the admin); later features add their entries here.
# The nightly full retrains start spread over a window of RETRAIN_WINDOW_HOURS from RETRAIN_HOUR_UTC (UTC).
RETRAIN_HOUR_UTC = int(os.environ.get("RETRAIN_HOUR_UTC") or "2")
RETRAIN_WINDOW_HOURS = int(os.environ.get("RETRAIN_WINDOW_HOURS") or "4")
CELERY_BEAT_SCHEDULE: dict = {
    "nightly-full-retrain": {
        # every ten minutes of the window; each store's retrain starts once, at its own time in it
        "task": "inventory_ai.tasks.start_nightly_retrains_task",
        "schedule": crontab(
            minute="*/10",
            hour=",".join(str((RETRAIN_HOUR_UTC + offset) % 24) for offset in range(max(RETRAIN_WINDOW_HOURS, 1))),
        ),
        "options": {"expires": 540},
    },
    "hourly-forecast-refresh": {
        "task": "inventory_ai.tasks.retrain_all_stores_task",
        "schedule": crontab(minute=30),
        "kwargs": {"kind": "refresh"},
        "options": {"expires": 3000},
    },
    "fail-stalled-runs": {
        "task": "inventory_ai.tasks.fail_stalled_runs_task",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "worker-heartbeat": {
        "task": "inventory_ai.tasks.record_worker_heartbeat_task",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "requeue-stale-webhook-events": {
        "task": "inventory_ai.tasks.requeue_stale_webhook_events_task",
        "schedule": 120.0,
        "kwargs": {"older_than_seconds": 300},
        "options": {"expires": 110},
    },
    "refresh-weather": {
        "task": "inventory_ai.tasks.refresh_weather_task",
        "schedule": crontab(minute=45, hour="*/6"),  # four times a day: the forecast service updates about as often
        "options": {"expires": 3 * 3600},
    },
    "alert-digests": {
        # at 06:05 UTC (ALERT_DIGEST_HOURS_UTC: crontab hours, e.g. "6,14"); once per store-local day at most
        "task": "inventory_ai.tasks.send_alert_digests_task",
        "schedule": crontab(minute=5, hour=os.environ.get("ALERT_DIGEST_HOURS_UTC") or "6"),
        "options": {"expires": 3000},
    },
    "reconcile-stores": {
        "task": "inventory_ai.tasks.reconcile_stores_task",
        "schedule": crontab(minute=15),  # hourly, away from the refresh at :30 and the nightly retrain at :00
        "options": {"expires": 3000},
    },
    "requeue-stalled-syncs": {
        "task": "inventory_ai.tasks.requeue_stalled_syncs_task",
        "schedule": 600.0,
        "options": {"expires": 590},
    },
    "requeue-stalled-pushes": {
        "task": "inventory_ai.tasks.requeue_stalled_pushes_task",
        "schedule": 300.0,
        "kwargs": {"older_than_seconds": 600},
        "options": {"expires": 290},
    },
    "mark-current-stockouts": {
        "task": "inventory_ai.tasks.mark_current_stockouts_task",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- The Shopify app (made in Shopify's Dev Dashboard) -----------------------------------------------------------

# Its client id and secret (the secret also signs its webhooks), the access scopes it asks for, and this
# deployment's public address (the OAuth redirect and the webhooks' callback are built on it).
SHOPIFY_CLIENT_ID = os.environ.get("SHOPIFY_CLIENT_ID", "")
SHOPIFY_CLIENT_SECRET = os.environ.get("SHOPIFY_CLIENT_SECRET", "")
SHOPIFY_SCOPES = env_list(
    "SHOPIFY_SCOPES",
    "read_orders,read_all_orders,read_products,read_inventory,write_inventory,read_discounts,"
    "read_inventory_transfers,write_inventory_transfers,read_inventory_shipments,write_inventory_shipments",
)
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")

# --- Product options --------------------------------------------------------------------------------------------

# Documented defaults live in inventory_ai/conf.py; anything set here overrides them.
INVENTORY_AI: dict = {}
if os.environ.get("INVENTORY_AI_CREDENTIALS_KEYS"):
    INVENTORY_AI["CREDENTIALS_KEYS"] = env_list("INVENTORY_AI_CREDENTIALS_KEYS")
# Any other option from `INVENTORY_AI_<NAME>` (a JSON value, or plain text), e.g. INVENTORY_AI_FORECAST_HORIZON=8.
for _name in OPTION_DEFAULTS:
    _value = os.environ.get(f"INVENTORY_AI_{_name}")
    if _value and _name not in INVENTORY_AI:
        try:
            INVENTORY_AI[_name] = json.loads(_value)
        except ValueError:
            INVENTORY_AI[_name] = _value

# --- Error reporting and metrics --------------------------------------------------------------------------------

# Errors go to Sentry when SENTRY_DSN is set (SENTRY_ENVIRONMENT, SENTRY_RELEASE, SENTRY_TRACES_SAMPLE_RATE refine it).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from inventory_ai.observability import init_error_reporting

    init_error_reporting(SENTRY_DSN)
# /metrics (Prometheus) answers only a request with `Authorization: Bearer <METRICS_TOKEN>`; empty: switched off.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
