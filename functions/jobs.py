"""Scheduled jobs (Cloud Scheduler HTTP targets, OIDC-signed like pushes)."""

from __future__ import annotations

import flask

from functions.edge import error_answer
from shared.bootstrap import Container
from shared.errors import UtioError, error_response
from shared.oidc import verify_push
from shared.services import chat_cleanup


def handle_chat_cleanup(c: Container, request: flask.Request):
    try:
        verify_push(c.settings, request.headers.get("Authorization"), request.base_url)
    except UtioError as exc:
        return error_answer(exc)
    return flask.jsonify(chat_cleanup.run(c.store, c.bus, c.clock)), 200


def handle_events_sweep(c: Container, request: flask.Request):
    """Relay again the events of processes that died before relaying them (docs/events.md)."""
    from shared.services import event_log

    try:
        verify_push(c.settings, request.headers.get("Authorization"), request.base_url)
    except UtioError as exc:
        return error_response(exc)
    published = event_log.sweep(c.store, c.publisher, c.clock,
                                stale=c.settings.event_relay_stale)
    return flask.jsonify({"published": published}), 200
