"""Gunicorn settings for the web process (`gunicorn -c python:inventory_ai.gunicorn_conf inventory_ai.wsgi`).

Each value can be overridden by the environment (GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_BIND, ...).
"""

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread"
# Webhook senders retry anything not answered within 5 s (Shopify): a request that takes longer is already lost.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
preload_app = True


def post_fork(server, worker):
    # Objects created while loading the app live for the whole process: moving them out of the collector's view
    # keeps full collections (latency spikes of tens of milliseconds under load) short.
    gc.freeze()
