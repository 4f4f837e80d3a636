"""GET /v1/events: the account's event log (docs/events.md)."""

from __future__ import annotations

import json
import time

from flask import Response, request, stream_with_context

from functions.api.access import agent_route
from functions.api.registry import Principal
from functions.api.schemas_events import EventOut, EventPage, EventQuery, StreamQuery
from shared.services import event_feed

TAG = "events"
STREAM_SECONDS = 50.0  # one stream's life; EventSource reconnects with Last-Event-ID
KEEP_ALIVE = 15.0  # a comment line this often, so proxies keep the connection open


def _page(events, cursor) -> Response:
    """The bodies as webhooks get them (no null `sequence` on events of no device)."""
    from flask import jsonify

    return jsonify({"data": [e.body() for e in events], "next_cursor": cursor})


@agent_route("GET", "/v1/events", query=EventQuery, response=EventPage, tag=TAG,
             summary="The account's events: newest first a page at a time, or with `after` "
                     "oldest first from a position, waiting up to `wait` s (a long poll)")
def list_events(p: Principal, query: EventQuery):
    """Every event the account's webhooks get, kept in a log you can read instead of (or
    beside) webhooks: for a receiver that was down, or an app that cannot take webhooks.
    Without `after`: newest first, a page at a time (`cursor`). With `after` (a cursor from
    an answer): the events logged since, oldest first, waiting up to `wait` seconds for one
    to come (a long poll). Filter by `type` and `device`.

    Errors: 422 for a bad filter, a cursor this API did not return, or a `wait` too long."""
    if query.after is not None:
        events, cursor = event_feed.events_after(
            p.c.store, p.c.clock, p.account_id, query.after, types=query.types,
            device=query.device, devices=p.devices, limit=query.limit, wait=query.wait)
        return _page(events, cursor)
    events, cursor = event_feed.list_events(
        p.c.store, p.account_id, types=query.types, device=query.device, devices=p.devices,
        since=query.since, until=query.until, limit=query.limit, cursor=query.cursor)
    return _page(events, cursor)


@agent_route("GET", "/v1/events/stream", query=StreamQuery, tag=TAG,
             content_type="text/event-stream", errors=(404,),
             summary="Server-Sent Events: the account's events as they are logged, from `after` "
                     "or the Last-Event-ID header (each event's SSE id is its cursor); the "
                     "stream ends after about 50 s and EventSource reconnects where it stopped")
def stream_events(p: Principal, query: StreamQuery):
    """The same events as Server-Sent Events (`text/event-stream`), for a browser's
    EventSource: each event's SSE id is its cursor, so a reconnect with Last-Event-ID goes
    on where it stopped. Each stream ends after about 50 seconds; EventSource reconnects.

    Errors: 404 when the starting event is not this account's; 422 for a bad cursor."""
    after = request.headers.get("Last-Event-ID") or query.after or "now"
    store, clock, account_id, devices = p.c.store, p.c.clock, p.account_id, p.devices
    # The start is checked now, so a bad cursor or another account's event is a 4xx.
    position = event_feed.resolve_after(store, account_id, after, clock, devices)
    start = event_feed.encode_position(position)

    def generate():
        cursor, end = start, time.monotonic() + STREAM_SECONDS
        yield "retry: 1000\n\n"
        while (left := end - time.monotonic()) > 0:
            found = event_feed.follow(store, clock, account_id, cursor, types=query.types,
                                      device=query.device, devices=devices, limit=100,
                                      wait=min(KEEP_ALIVE, left))
            for event, position in found.events:
                body = json.dumps(event.body(), separators=(",", ":"), ensure_ascii=False)
                yield f"id: {position}\nevent: {event.event}\ndata: {body}\n\n"
            cursor = found.cursor
            if not found.events:
                yield ": keep-alive\n\n"

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@agent_route("GET", "/v1/events/{event_id}", response=EventOut, tag=TAG, errors=(404,),
             summary="One event, in exactly the body its webhooks receive")
def get_event(p: Principal, event_id: str):
    """One event by its id (the `webhook-id` header of its deliveries), in exactly the body
    its webhooks received: use it to check a delivery or fetch an event you missed.

    Errors: 404 when the event is not this account's."""
    from flask import jsonify

    return jsonify(event_feed.get_event(p.c.store, p.account_id, event_id,
                                        devices=p.devices).body())
