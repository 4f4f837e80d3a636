"""GET /v1/events: the account's event log (docs/events.md)."""

from __future__ import annotations

from flask import Response

from functions.api.access import agent_route
from functions.api.registry import Principal
from functions.api.schemas_events import EventOut, EventPage, EventQuery
from shared.services import event_feed

TAG = "events"


def _page(events, cursor) -> Response:
    """The bodies as webhooks get them (no null `sequence` on events of no device)."""
    from flask import jsonify

    return jsonify({"data": [e.body() for e in events], "next_cursor": cursor})


@agent_route("GET", "/v1/events", query=EventQuery, response=EventPage, tag=TAG,
             summary="The account's events: newest first a page at a time, or with `after` "
                     "oldest first from a position, waiting up to `wait` s (a long poll)")
def list_events(p: Principal, query: EventQuery):
    if query.after is not None:
        events, cursor = event_feed.events_after(
            p.c.store, p.c.clock, p.account_id, query.after, types=query.types,
            device=query.device, devices=p.devices, limit=query.limit, wait=query.wait)
        return _page(events, cursor)
    events, cursor = event_feed.list_events(
        p.c.store, p.account_id, types=query.types, device=query.device, devices=p.devices,
        since=query.since, until=query.until, limit=query.limit, cursor=query.cursor)
    return _page(events, cursor)


@agent_route("GET", "/v1/events/{event_id}", response=EventOut, tag=TAG, errors=(404,),
             summary="One event, in exactly the body its webhooks receive")
def get_event(p: Principal, event_id: str):
    from flask import jsonify

    return jsonify(event_feed.get_event(p.c.store, p.account_id, event_id,
                                        devices=p.devices).body())
