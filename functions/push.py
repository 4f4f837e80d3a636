"""Push endpoints: Pub/Sub push to webhook_fanout, Cloud Tasks to webhook_deliver."""

from __future__ import annotations

import base64
import binascii
import json
import sys

import flask

from shared.adapters.pubsub_bus import decode
from shared.bootstrap import Container
from shared.errors import BadRequest, UtioError
from shared.oidc import verify_push
from shared.services.webhooks import delivery, fanout


def _error(exc: UtioError):
    response = flask.jsonify(exc.body())
    if exc.status == 503:  # (the OIDC certificates are out of reach): push again soon
        response.headers["Retry-After"] = "5"
    return response, exc.status


def handle_fanout(c: Container, request: flask.Request):
    """2xx acknowledges the message. Anything else (a bad envelope, or an exception in
    fan-out, which functions-framework answers with 500) makes Pub/Sub push it again,
    and after the subscription's max delivery attempts move it to the dead-letter topic
    (names.EVENTS_DEAD_LETTER_TOPIC)."""
    try:
        verify_push(c.settings, request.headers.get("Authorization"), request.base_url)
        envelope = request.get_json(silent=True) or {}
        try:
            data = base64.b64decode(envelope["message"]["data"])
            event = decode(data)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            # Not acknowledged: Pub/Sub retries it, then moves it to the dead-letter topic,
            # where an operator can look at it. Nothing is dropped silently.
            raise BadRequest(f"not a Pub/Sub push envelope with an event: {exc}") from exc
    except UtioError as exc:
        return _error(exc)
    made = fanout.fan_out(c, event)
    return flask.jsonify({"deliveries": made}), 200


def handle_deliver(c: Container, request: flask.Request):
    try:
        verify_push(c.settings, request.headers.get("Authorization"), request.base_url)
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        delivery_id, attempt = body.get("delivery_id"), body.get("attempt")
        if not isinstance(delivery_id, str) or not (
                attempt is None or isinstance(attempt, int) and not isinstance(attempt, bool)):
            raise BadRequest("expected {\"delivery_id\": \"...\", \"attempt\": <int>}")
    except UtioError as exc:
        return _error(exc)
    # An exception here answers 500: Cloud Tasks runs the task again (at least once).
    status = delivery.deliver(c, delivery_id,
                              attempt)
    if status is not None:
        log_attempt(delivery_id, status.value)
    return flask.jsonify({"status": status.value if status else None}), 200


def log_attempt(delivery_id: str, outcome: str) -> None:
    """One JSON line per delivery attempt. Cloud Logging parses it, and the alert on the
    webhook failure rate (terraform/modules/monitoring) counts these lines by outcome:
    `succeeded`, or `pending` / `failed` for an attempt that did not get a 2xx."""
    line = {"severity": "INFO" if outcome == "succeeded" else "WARNING",
            "message": f"webhook delivery {delivery_id}: {outcome}",
            "utio_log": "webhook_attempt", "outcome": outcome, "delivery_id": delivery_id}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


