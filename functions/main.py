"""functions-framework targets. Each translates a request into a service call."""

from __future__ import annotations

import functools
import gc

import flask

from shared.bootstrap import container


@functools.cache
def _api_app() -> flask.Flask:
    # Importing the API allocates objects by the hundred thousand, nearly all of them kept
    # (modules, classes, models), so the collector's passes over them during the import find
    # nothing. (A route's own module, with its schemas and services, is imported by the
    # route's first request instead: functions/api/route_table.py.) Then what the import made is frozen (kept
    # out of the collector's passes for good), so passes during requests do not walk it
    # either; the few cycles it left as garbage stay, a one-off of some kilobytes.
    gc.disable()
    try:
        from functions.api.app import create_app

        return create_app()
    finally:
        gc.freeze()
        gc.enable()


def api(request: flask.Request):
    app = _api_app()
    with app.request_context(request.environ):
        return app.full_dispatch_request()


def webhook_fanout(request: flask.Request):
    from functions.webhook_fanout import handle_fanout

    return handle_fanout(container(), request)


def webhook_deliver(request: flask.Request):
    from functions.webhook_deliver import handle_deliver

    return handle_deliver(container(), request)


def stripe_webhook(request: flask.Request):
    from functions.stripe_webhook import handle_stripe_webhook

    return handle_stripe_webhook(container(), request)


def chat_cleanup(request: flask.Request):
    from functions.jobs import handle_chat_cleanup

    return handle_chat_cleanup(container(), request)


def events_sweep(request: flask.Request):
    from functions.jobs import handle_events_sweep

    return handle_events_sweep(container(), request)
