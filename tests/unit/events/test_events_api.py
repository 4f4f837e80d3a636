"""GET /v1/events over fakes: pages, filters, one event, the long poll, scoping."""

from __future__ import annotations

import threading
import time

from shared.events import EventName
from shared.services.events import publish
from tests.fakes import Caller, assert_error


def _send(api, device, n: int) -> list[str]:
    ids = []
    for i in range(n):
        response = api.post("/v1/messages", json={"device": device["id"], "phone": "+447911123456",
                                                  "message": f"m{i}"})
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def _status(c, account, device, status="connected"):
    publish(c.bus, c.clock, EventName.device_status, account.id, device["id"],
            {"status": status, "previous": "linking"})


def test_pages_newest_first_with_a_cursor(api, device):
    sent = _send(api, device, 5)
    seen, cursor = [], None
    while True:
        body = api.get("/v1/events", query_string={"limit": 2} | (
            {"cursor": cursor} if cursor else {})).get_json()
        seen += [e["data"]["id"] for e in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(sent))


def test_filters_by_type_pattern_device_and_time(api, c, account, device):
    other = api.post("/v1/devices", json={"alias": "other"}).get_json()
    _send(api, device, 2)
    _status(c, account, other)
    everything = api.get("/v1/events").get_json()["data"]
    assert [e["event"] for e in everything] == ["device:status", "message:out:new",
                                                "message:out:new"]
    only = api.get("/v1/events", query_string={"type": "device:status"}).get_json()["data"]
    assert [e["device"] for e in only] == [other["id"]]
    messages = api.get("/v1/events", query_string={"type": "message:*"}).get_json()["data"]
    assert len(messages) == 2
    both = api.get("/v1/events", query_string={"type": "message:out:new,device:*"}).get_json()
    assert len(both["data"]) == 3
    mine = api.get("/v1/events", query_string={"device": device["id"]}).get_json()["data"]
    assert {e["device"] for e in mine} == {device["id"]} and len(mine) == 2
    later = api.get("/v1/events", query_string={"since": "2100-01-01T00:00:00Z"}).get_json()
    assert later["data"] == []
    before = api.get("/v1/events", query_string={"until": "2100-01-01T00:00:00Z"}).get_json()
    assert len(before["data"]) == 3


def test_one_event_in_exactly_the_webhook_body(api, c, device):
    [message_id] = _send(api, device, 1)
    [listed] = api.get("/v1/events").get_json()["data"]
    one = api.get(f"/v1/events/{listed['id']}").get_json()
    published = [e for e in c.bus.published if e.id == listed["id"]]
    assert one == listed == published[0].body()
    assert one["data"]["id"] == message_id and list(one) == [
        "id", "event", "created_at", "device", "sequence", "data"]


def test_another_accounts_events_are_not_found(api, client, new_account, device):
    _send(api, device, 1)
    [event] = api.get("/v1/events").get_json()["data"]
    stranger = new_account("Other Ltd").api
    assert_error(stranger.get(f"/v1/events/{event['id']}"), 404, "not_found")
    assert stranger.get("/v1/events").get_json()["data"] == []
    assert_error(stranger.get("/v1/events", query_string={"after": event["id"]}), 404)
    assert_error(api.get("/v1/events/evt_nope"), 404)


def test_bad_queries_are_4xx_in_the_error_shape(api):
    for query in ({"type": "message:bogus"}, {"limit": 0}, {"limit": 501}, {"wait": 26, "after": "now"},
                  {"wait": 5}, {"cursor": "x", "after": "now"}, {"cursor": "not-a-cursor"},
                  {"after": "garbage"}, {"since": "yesterday"}, {"type": ","}):
        response = api.get("/v1/events", query_string=query)
        assert 400 <= response.status_code < 500, (query, response.status_code)
        assert_error(response, response.status_code)


def test_after_replays_in_order_and_resumes_from_the_cursor(api, device):
    sent = _send(api, device, 3)
    first = api.get("/v1/events", query_string={"limit": 500}).get_json()["data"][-1]
    body = api.get("/v1/events", query_string={"after": first["id"], "limit": 1}).get_json()
    assert [e["data"]["id"] for e in body["data"]] == [sent[1]]
    body = api.get("/v1/events", query_string={"after": body["next_cursor"]}).get_json()
    assert [e["data"]["id"] for e in body["data"]] == [sent[2]]
    empty = api.get("/v1/events", query_string={"after": body["next_cursor"]}).get_json()
    assert empty["data"] == [] and empty["next_cursor"] == body["next_cursor"]
    later = _send(api, device, 1)
    body = api.get("/v1/events", query_string={"after": empty["next_cursor"]}).get_json()
    assert [e["data"]["id"] for e in body["data"]] == later


def test_the_long_poll_wakes_for_an_event(api, c, account, device):
    start = api.get("/v1/events", query_string={"after": "now"}).get_json()["next_cursor"]
    got = {}

    def poll():
        got["body"] = api.get("/v1/events", query_string={"after": start, "wait": 20}).get_json()

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive()  # waiting: nothing logged yet
    _status(c, account, device)
    waiter.join(timeout=15)
    assert not waiter.is_alive()
    assert [e["event"] for e in got["body"]["data"]] == ["device:status"]


def test_an_agent_sees_only_its_devices_events(api, client, c, account):
    devices = [api.post("/v1/devices", json={"alias": f"d{n}"}).get_json() for n in range(2)]
    for d in devices:
        c.store.update("devices", d["id"], {"plan": "platform-professional",
                                            "transport": "whatsapp", "billing_status": "active"})
    for d in devices:
        _status(c, account, d)
    created = api.post("/v1/agents", json={"name": "Ana", "email": "ana@acme.example",
                                           "devices": [devices[0]["id"]]})
    assert created.status_code == 201, created.get_json()
    agent = Caller(client, created.get_json()["token"])
    seen = agent.get("/v1/events").get_json()["data"]
    assert {e["device"] for e in seen} == {devices[0]["id"]}
    hidden = [e for e in api.get("/v1/events").get_json()["data"]
              if e["device"] == devices[1]["id"]][0]
    assert_error(agent.get(f"/v1/events/{hidden['id']}"), 404)
    assert_error(agent.get("/v1/events", query_string={"device": devices[1]["id"]}), 404)
    after = agent.get("/v1/events", query_string={"after": seen[-1]["id"]}).get_json()
    assert after["data"] == []


def test_the_stream_sends_events_as_server_sent_events(api, c, account, device, monkeypatch):
    from functions.api.routes import events as routes

    monkeypatch.setattr(routes, "STREAM_SECONDS", 1.5)
    _status(c, account, device, "linking")
    [first] = api.get("/v1/events").get_json()["data"]
    _status(c, account, device, "connected")
    response = api.get("/v1/events/stream", query_string={"after": first["id"]})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    frames = [f for f in response.get_data(as_text=True).split("\n\n") if f.startswith("id:")]
    assert len(frames) == 1
    lines = dict(line.split(": ", 1) for line in frames[0].splitlines())
    assert lines["event"] == "device:status"
    import json

    assert json.loads(lines["data"])["data"]["status"] == "connected"
    # a reconnect with Last-Event-ID resumes after it: nothing new
    again = api.get("/v1/events/stream", headers={"Last-Event-ID": lines["id"]})
    assert "id:" not in again.get_data(as_text=True)
    assert_error(api.get("/v1/events/stream", query_string={"after": "garbage"}), 422)


def test_a_type_that_is_never_logged_finds_nothing(api, device):
    _send(api, device, 1)
    body = api.get("/v1/events", query_string={"type": "webhook:test"}).get_json()
    assert body == {"data": [], "next_cursor": None}
