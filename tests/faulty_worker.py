"""A Celery app for tests whose worker fails on purpose: every model of the variant named by the
`TEST_BROKEN_VARIANT` environment variable raises (the fallback too), as a diverging solver would; and the pool
process that backtests a chunk holding the variant named by `TEST_DYING_VARIANT` kills itself (SIGKILL), as the
kernel's OOM killer would."""

from __future__ import annotations

import os
import signal

from forecasting import pipeline
from inventory_ai.celery import app

__all__ = ["app"]

_real_local_forecasts = pipeline._local_forecasts
_real_backtest_local = pipeline.backtest_local
_BROKEN = os.environ.get("TEST_BROKEN_VARIANT", "")
_DYING = os.environ.get("TEST_DYING_VARIANT", "")


def _failing_local_forecasts(chunk, *args, **kwargs):
    if any(str(unique_id) == _BROKEN for unique_id, _, _ in chunk):
        raise FloatingPointError("the solver diverged")
    return _real_local_forecasts(chunk, *args, **kwargs)


pipeline._local_forecasts = _failing_local_forecasts


def _dying_backtest_local(series, *args, **kwargs):
    if any(str(unique_id) == _DYING for unique_id, _, _ in series):
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_backtest_local(series, *args, **kwargs)


pipeline.backtest_local = _dying_backtest_local
