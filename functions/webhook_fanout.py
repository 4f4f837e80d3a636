"""The `webhook_fanout` target: Pub/Sub pushes each event here; it is matched against the
account's webhooks, and each match gets its delivery, that delivery's task, and its first
attempt made here (shared.services.webhooks.fanout; bounded so that a push answers well
inside the subscription's ack deadline)."""

from __future__ import annotations

import base64
import binascii

import flask
from pydantic import ConfigDict

from functions.edge import error_answer, parse
from shared.adapters.pubsub_bus import decode
from shared.bootstrap import Container
from shared.errors import BadRequest, UtioError
from shared.model import Model
from shared.oidc import verify_push
from shared.services.webhooks import fanout


class PushedMessage(Model):
    model_config = ConfigDict(extra="ignore")

    data: str  # base64 of the event's JSON (shared.adapters.pubsub_bus.encode)


class PushEnvelope(Model):
    """The body of a Pub/Sub push (its other fields are not needed)."""

    model_config = ConfigDict(extra="ignore")

    message: PushedMessage


def handle_fanout(c: Container, request: flask.Request):
    """2xx acknowledges the message. Anything else (a bad envelope, or an exception in
    fan-out, which functions-framework answers with 500) makes Pub/Sub push it again,
    and after the subscription's max delivery attempts move it to the dead-letter topic
    (names.EVENTS_DEAD_LETTER_TOPIC), where an operator can look at it. Nothing is
    dropped silently."""
    try:
        verify_push(c.settings, request.headers.get("Authorization"), request.base_url)
        envelope = parse(PushEnvelope, request.get_json(silent=True) or {},
                         "a Pub/Sub push envelope with an event")
        try:
            event = decode(base64.b64decode(envelope.message.data))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise BadRequest(f"not a Pub/Sub push envelope with an event: {exc}") from exc
    except UtioError as exc:
        return error_answer(exc)
    made = fanout.fan_out(c, event)
    return flask.jsonify({"deliveries": made}), 200
