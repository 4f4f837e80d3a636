"""The `stripe_webhook` target: Stripe's events, verified on the raw body before
anything is parsed, then applied once each (shared.billing.stripe_events)."""

from __future__ import annotations

import logging

import flask

from shared.billing import stripe_events
from shared.billing.port import InvalidSignature
from shared.billing.state import StripeOutcome
from shared.bootstrap import Container
from shared.errors import UtioError

log = logging.getLogger(__name__)


def _answer(status: int, body: dict):
    return flask.jsonify(body), status


def handle_stripe_webhook(c: Container, request: flask.Request):
    if request.method != "POST":
        return _answer(405, {"error": {"code": "method_not_allowed",
                                       "message": "Stripe posts events here", "details": None}})
    raw = request.get_data(cache=False, as_text=False)
    try:
        event = c.billing.parse_event(raw, request.headers.get("Stripe-Signature"))
    except InvalidSignature as exc:
        log.warning("Stripe webhook refused: %s", exc)
        return _answer(400, {"error": {"code": "invalid_signature", "message": str(exc),
                                       "details": None}})
    except UtioError as exc:
        return _answer(exc.status, exc.body())
    try:
        outcome = stripe_events.handle(c.store, c.billing, c.mailer, c.clock, event,
                                       tasks=c.tasks)
    except UtioError as exc:  # e.g. Stripe unreachable: not applied, so Stripe retries
        log.warning("Stripe event %s not applied: %s", event.get("id"), exc.message)
        return _answer(exc.status, exc.body())
    if outcome == StripeOutcome.busy:  # another delivery of this event is being applied: retry later
        return _answer(409, {"error": {"code": "in_progress", "message": f"event {event['id']} "
                                       "is being processed", "details": None}})
    return _answer(200, {"received": True, "event": event.get("id"), "outcome": outcome.value})
