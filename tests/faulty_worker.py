"""A Celery app for tests whose worker fails one SKU on purpose: every model of the variant named by the
`TEST_BROKEN_VARIANT` environment variable raises (the fallback too), as a diverging solver would."""

from __future__ import annotations

import os

from forecasting import engine
from inventory_ai.celery import app

__all__ = ["app"]

_real_local_forecasts = engine._local_forecasts
_BROKEN = os.environ.get("TEST_BROKEN_VARIANT", "")


def _failing_local_forecasts(chunk, *args, **kwargs):
    if any(str(unique_id) == _BROKEN for unique_id, _, _ in chunk):
        raise FloatingPointError("the solver diverged")
    return _real_local_forecasts(chunk, *args, **kwargs)


engine._local_forecasts = _failing_local_forecasts
