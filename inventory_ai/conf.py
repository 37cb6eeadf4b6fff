"""Product options: documented defaults, overridden by the `INVENTORY_AI` dict in Django settings.

Read an option with `get_option("NAME")`; an unknown name is a programming error and raises KeyError.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Fernet keys (urlsafe base64, 32 bytes) that encrypt store API credentials and webhook secrets at rest. The
    # first key encrypts; every key decrypts, so a key can be rotated by putting the new one first. Empty: a key is
    # derived from SECRET_KEY, which is accepted only with DEBUG on (a system check refuses it otherwise).
    "CREDENTIALS_KEYS": [],
    # Webhook bodies above this many bytes are refused with 413.
    "WEBHOOK_MAX_BYTES": 5 * 1024 * 1024,
    # Store-level replenishment defaults, used when a store does not set its own.
    "DEFAULT_LEAD_TIME_DAYS": 14,
    "DEFAULT_REVIEW_PERIOD_DAYS": 7,
    "DEFAULT_SERVICE_LEVEL": 0.95,
    # Seconds a store API call may take before it counts as failed (and is retried with the same idempotency key).
    "STORE_API_TIMEOUT_SECONDS": 10.0,
    # Default Shopify Admin API version for new stores.
    "SHOPIFY_API_VERSION": "2026-10",
    # Where the OAuth and Admin API addresses of a store connected through the app are built (empty: https://{shop});
    # the simulator and tests stand in for Shopify here.
    "SHOPIFY_BASE_URL": "",
    # Orders per database transaction during a CSV import.
    "IMPORT_BATCH_ORDERS": 500,
    # A worker heartbeat older than this many seconds counts as "no worker" in health checks.
    "WORKER_HEARTBEAT_MAX_AGE_SECONDS": 180,
    # Forecasts: period (a pandas frequency; weeks ending Sunday by default), periods ahead, interval levels, and the
    # rolling-origin backtest windows that choose each demand class's model.
    "FORECAST_FREQ": "W-SUN",
    "FORECAST_HORIZON": 12,
    "FORECAST_LEVELS": [80, 95],
    "FORECAST_BACKTEST_WINDOWS": 2,
    # SKUs per retraining task: small enough that a lost worker costs little, large enough to amortise a task.
    "RETRAIN_CHUNK_SIZE": 200,
    # Runs kept per store (the current one always is), for comparison in the admin.
    "RETRAIN_KEEP_RUNS": 5,
    # Older runs also kept, the newest of every four weeks over this many days before the current run's history
    # ends: a store-wide fill rate is calibrated by replaying the policy over them against what then sold.
    "CALIBRATION_HISTORY_DAYS": 91,
    # A queued or running retrain that has not moved on for this long is marked failed (it can be re-run).
    "RETRAIN_STALL_SECONDS": 1800,
    # A retraining step (a chunk's backtest or forecast, a part of the network) started this many times without
    # finishing (its worker process died under it each time) fails the run, or for the network leaves it out.
    "RETRAIN_MAX_ATTEMPTS": 3,
    # The store's feature models (trees and regression on the drivers) learn from at most this many SKUs, a seeded
    # sample beyond it, and then forecast every SKU chunk by chunk: a retrain's memory and time stay bounded whatever
    # the store's size (on the shared data sets every SKU is learnt from).
    "FEATURE_MODEL_MAX_SERIES": 5000,
    # The global network likewise learns from at most this many SKUs (a seeded sample beyond it; it reads at most
    # 200,000 windows of them) and then forecasts every SKU chunk by chunk.
    "NETWORK_MAX_SERIES": 5000,
    # Seed of every random part of training (the network's initial weights and batches).
    "RETRAIN_SEED": 0,
    # The STORAGES entry of the model registry.
    "MODEL_STORAGE": "models",
    # The weather service (Open-Meteo's API shape): its historical archive and its forecast (16 days), an API key for
    # its commercial plan (the free API is for non-commercial use only), and the seconds a call may take. Empty URLs
    # switch the weather off. The demo points them at the store simulator.
    "WEATHER_ARCHIVE_URL": "https://archive-api.open-meteo.com/v1/archive",
    "WEATHER_FORECAST_URL": "https://api.open-meteo.com/v1/forecast",
    "WEATHER_API_KEY": "",
    "WEATHER_TIMEOUT_SECONDS": 10.0,
}


def get_option(name: str) -> Any:
    """Return the product option `name`: the value in settings.INVENTORY_AI, else the documented default."""
    if name not in DEFAULTS:
        raise KeyError(f"Unknown Inventory AI option {name!r}")
    return getattr(settings, "INVENTORY_AI", {}).get(name, DEFAULTS[name])
