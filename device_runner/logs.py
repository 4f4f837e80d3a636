"""Structured logs for Cloud Logging: one JSON object a line on stdout, with `severity`,
`message`, the logger, the exception's traceback, and the shard; Cloud Run's agent turns
each line into a log entry with those fields."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, **labels: str):
        super().__init__()
        self.labels = labels

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            "logging.googleapis.com/labels": self.labels,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname, "line": record.lineno, "function": record.funcName},
        }
        if record.exc_info:
            entry["stack_trace"] = "".join(traceback.format_exception(*record.exc_info))
        for key, value in vars(record).items():  # extra={...} fields
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: int = logging.INFO, *, json_lines: bool = True, **labels: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if json_lines:
        handler.setFormatter(JsonFormatter(**labels))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s runner %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
