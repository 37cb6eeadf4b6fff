"""Logs as one JSON object per line (LOG_FORMAT=json), for the log collectors operators run.

Each line carries the time, level, logger and message, the exception if any, and the ids a message names through
`extra` (`store`, `event`, `run`, `adjustment`, `sync`), so that one store's or one event's lines can be found.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

IDS = ("store", "event", "run", "adjustment", "sync")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in IDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
