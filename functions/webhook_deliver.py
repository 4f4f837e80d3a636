"""The `webhook_deliver` target: Cloud Tasks runs one delivery attempt of an event to a
webhook here: a first attempt fan-out did not make (or made, and the task finds it done),
and every retry (shared.services.webhooks.delivery: signed POST, retries with backoff, the
delivery log); and a webhook's catch-up, the events of the moments after it was created,
enabled or subscribed to more, which fan-out's cache may have missed
(shared.services.webhooks.fanout.catch_up)."""

from __future__ import annotations

import flask
from pydantic import AwareDatetime, ConfigDict, StrictInt, StrictStr

from functions.edge import error_answer, parse
from shared.bootstrap import Container
from shared.errors import UtioError
from shared.model import Model
from shared.oidc import verify_push
from shared.services.webhooks import delivery, fanout


class DeliveryTask(Model):
    model_config = ConfigDict(extra="ignore")

    delivery_id: StrictStr
    attempt: StrictInt | None = None  # None: the delivery's next attempt


class CatchUpTask(Model):
    model_config = ConfigDict(extra="ignore")

    catch_up: StrictStr  # the webhook's id
    since: AwareDatetime
    until: AwareDatetime


def handle_deliver(c: Container, request: flask.Request):
    try:
        verify_push(c.settings, request.headers.get("Authorization"), request.base_url)
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        if "catch_up" in body:
            catch_up = parse(CatchUpTask, body, "{\"catch_up\": \"wh_...\", \"since\": "
                             "\"<ISO 8601>\", \"until\": \"<ISO 8601>\"}")
        else:
            task = parse(DeliveryTask, body, "{\"delivery_id\": \"...\", \"attempt\": <int>}")
    except UtioError as exc:
        return error_answer(exc)
    if "catch_up" in body:  # repeatable: an exception answers 500, and it runs again
        made = fanout.catch_up(c, catch_up.catch_up, catch_up.since, catch_up.until)
        return flask.jsonify({"deliveries": made}), 200
    # An exception here answers 500: Cloud Tasks runs the task again (at least once).
    # Each attempt made writes its log line (delivery.log_attempt).
    status = delivery.deliver(c, task.delivery_id, task.attempt)
    return flask.jsonify({"status": status.value if status else None}), 200
