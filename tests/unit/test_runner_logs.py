"""Runner logs are one JSON object a line, with the fields Cloud Logging reads."""

from __future__ import annotations

import json
import logging
import sys

from device_runner.logs import JsonFormatter


def test_a_log_line_is_json_with_severity_labels_and_the_traceback():
    formatter = JsonFormatter(shard="runner-3")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("device_runner.x").makeRecord(
            "device_runner.x", logging.ERROR, __file__, 10, "device %s failed", ("dev_1",),
            exc_info=sys.exc_info(), extra={"device": "dev_1"})
    entry = json.loads(formatter.format(record))
    assert entry["severity"] == "ERROR" and entry["message"] == "device dev_1 failed"
    assert entry["logging.googleapis.com/labels"] == {"shard": "runner-3"}
    assert entry["device"] == "dev_1" and "ValueError: boom" in entry["stack_trace"]
