"""The `stripe_webhook` target: Stripe's events, verified on the raw body before
anything is parsed, then applied once each (shared.billing.stripe_events)."""

from __future__ import annotations

import logging

import flask

from shared.billing import stripe_events
from shared.billing.port import InvalidSignature
from shared.billing.state import StripeOutcome
from shared.bootstrap import Container
from shared.errors import UtioError, error_response

log = logging.getLogger(__name__)


def handle_stripe_webhook(c: Container, request: flask.Request):
    if request.method != "POST":
        return error_response(UtioError("Stripe posts events here", code="method_not_allowed",
                                        status=405))
    raw = request.get_data(cache=False, as_text=False)
    try:
        event = c.billing.parse_event(raw, request.headers.get("Stripe-Signature"))
    except InvalidSignature as exc:
        log.warning("Stripe webhook refused: %s", exc)
        return error_response(UtioError(str(exc), code="invalid_signature", status=400))
    except UtioError as exc:
        return error_response(exc)
    try:
        outcome = stripe_events.handle(c.store, c.billing, c.mailer, c.clock, event,
                                       tasks=c.tasks)
    except UtioError as exc:  # e.g. Stripe unreachable: not applied, so Stripe retries
        log.warning("Stripe event %s not applied: %s", event.get("id"), exc.message)
        return error_response(exc)
    if outcome == StripeOutcome.busy:  # another delivery of this event is being applied: retry later
        return error_response(UtioError(f"event {event['id']} is being processed",
                                        code="in_progress", status=409))
    return flask.jsonify({"received": True, "event": event.get("id"),
                          "outcome": outcome.value}), 200
