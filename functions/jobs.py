"""Scheduled jobs (Cloud Scheduler HTTP targets, OIDC-signed like pushes)."""

from __future__ import annotations

import flask

from functions.edge import error_answer
from shared.bootstrap import Container
from shared.errors import UtioError
from shared.oidc import verify_push
from shared.services import chat_cleanup


def handle_chat_cleanup(c: Container, request: flask.Request):
    try:
        verify_push(c.settings, request.headers.get("Authorization"), request.base_url)
    except UtioError as exc:
        return error_answer(exc)
    return flask.jsonify(chat_cleanup.run(c.store, c.bus, c.clock)), 200
