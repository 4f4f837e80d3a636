"""The events of a message's usual path live in its document (shared/services/event_log.py,
HOMES): no log document of their own, yet GET /v1/events, the long poll, one event by id,
a webhook's catch-up and the sweep read them merged with the log's collection, in log
order, on the memory store and on the Firestore emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.memory_store import MemoryStore
from shared.clock import SystemClock
from shared.domain import Event
from shared.errors import NotFound
from shared.ports import DocumentStore, EventBus, Write
from shared.services import event_feed, event_log
from shared.services.event_relay import Relay

ACCOUNT, DEVICE = "acc_h", "dev_h"


@pytest.fixture(params=["memory", "firestore"])
def store(request) -> DocumentStore:
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("firestore_store")


class Taken(EventBus):
    synchronous = True

    def __init__(self):
        self.published: list[Event] = []

    def publish(self, event):
        self.published.append(event)


def logging(store: DocumentStore, origin: str = "proc_h") -> tuple[event_log.EventLog, Taken]:
    taken = Taken()
    relay = Relay(store, taken, SystemClock(), origin=origin, ack_wait=0.1)
    return event_log.EventLog(store, relay, SystemClock()), taken


def message_event(log: event_log.EventLog, status: str, name: str, message: str = "msg_h") -> Event:
    return log.event(name, ACCOUNT, DEVICE, {"id": message, "status": status, "text": "¡hola!"},
                     key=f"{message}:{status}")


def a_message_with_its_four_events(store: DocumentStore) -> list[Event]:
    """A message through new, sent, delivered and read, with a device event logged between
    (in the log's collection); the events in the order they were committed."""
    log, _ = logging(store)
    new = message_event(log, "queued", "message:out:new")
    assert log.commit([Write.create("messages", "msg_h", {
        "id": "msg_h", "account_id": ACCOUNT, "device_id": DEVICE, "status": "queued"})], [new])
    status = log.event("device:status", ACCOUNT, DEVICE, {"status": "connected"})
    assert log.commit([], [status])
    done = [new, status]
    for before, state in (("queued", "sent"), ("sent", "delivered"), ("delivered", "read")):
        event = message_event(log, state, f"message:out:{state}")
        assert log.commit([Write.update("messages", "msg_h", {"status": state},
                                        when={"status": before})], [event])
        done.append(event)
    return done


def test_a_message_s_events_are_fields_of_its_document_not_log_documents(store):
    events = a_message_with_its_four_events(store)
    homed = [e for e in events if e.event != "device:status"]
    assert all(store.get(event_log.EVENTS, e.id) is None for e in homed)
    assert store.get(event_log.EVENTS, events[1].id) is not None  # device:status: the log's
    doc = store.get("messages", "msg_h")
    assert doc["status"] == "read"
    assert [doc[event_log.HOMES[e.event].id] for e in homed] == [e.id for e in homed]
    assert doc[event_log.LOGGED_AT] == doc["event_read_at"]


def test_the_log_reads_them_in_commit_order_paged_and_followed(store):
    events = a_message_with_its_four_events(store)
    ids = [e.id for e in events]
    page, cursor = event_feed.list_events(store, ACCOUNT)
    assert [e.id for e in page] == ids[::-1] and cursor is None
    assert page[-1].data == {"id": "msg_h", "status": "queued", "text": "¡hola!"}
    seen, cursor = [], None
    while True:  # a page of one at a time, newest first
        page, cursor = event_feed.list_events(store, ACCOUNT, limit=1, cursor=cursor)
        seen += [e.id for e in page]
        if cursor is None:
            break
    assert seen == ids[::-1]
    after, _ = event_feed.events_after(store, SystemClock(), ACCOUNT, ids[0])
    assert [e.id for e in after] == ids[1:]
    followed, position = [], ids[0]
    while True:  # oldest first, two at a time, from each answer's cursor
        found, position = event_feed.events_after(store, SystemClock(), ACCOUNT, position, limit=2)
        if not found:
            break
        followed += [e.id for e in found]
    assert followed == ids[1:]
    only, _ = event_feed.list_events(store, ACCOUNT, types=["message:out:sent", "device:*"],
                                     devices=frozenset({DEVICE}))
    assert [e.event for e in only] == ["message:out:sent", "device:status"]
    assert event_feed.list_events(store, ACCOUNT, device="dev_other")[0] == []
    assert event_feed.list_events(store, "acc_other")[0] == []


def test_one_event_by_id_and_a_catch_up_window(store):
    events = a_message_with_its_four_events(store)
    sent = events[2]
    got = event_feed.get_event(store, ACCOUNT, sent.id)
    assert got.model_dump() == sent.model_dump()
    with pytest.raises(NotFound):
        event_feed.get_event(store, "acc_other", sent.id)
    now = datetime.now(UTC)
    window = list(event_feed.logged_between(store, ACCOUNT, now - timedelta(minutes=1),
                                            now + timedelta(minutes=1), types=["message:*"]))
    assert [e.id for e in window] == [e.id for e in events if e.event.startswith("message:")]


def test_the_sweep_relays_the_homed_events_of_a_dead_process(store):
    events = a_message_with_its_four_events(store)
    store.update(event_log.RELAYS, "proc_h", {"beat_at": datetime.now(UTC) - timedelta(hours=1)})
    taken = Taken()
    assert event_log.sweep(store, taken, SystemClock(), stale=60) == len(events)
    assert sorted(e.id for e in taken.published) == sorted(e.id for e in events)
    assert event_log.sweep(store, taken, SystemClock(), stale=60) == 0  # swept_to: once


def test_a_message_create_refused_leaves_no_event_and_a_repeated_one_no_second(store):
    log, taken = logging(store)
    store.put("messages", "msg_h", {"id": "msg_h", "account_id": ACCOUNT, "device_id": DEVICE})
    again = message_event(log, "queued", "message:out:new")
    assert log.commit([Write.create("messages", "msg_h", {"id": "msg_h", "account_id": ACCOUNT,
                                                          "device_id": DEVICE})], [again]) is False
    assert taken.published == [] and event_feed.list_events(store, ACCOUNT)[0] == []


def test_events_older_than_the_log_s_thirty_days_are_not_shown(store, monkeypatch):
    events = a_message_with_its_four_events(store)
    later = datetime.now(UTC) + event_log.RETENTION + timedelta(minutes=1)
    monkeypatch.setattr(event_log, "horizon", lambda: later - event_log.RETENTION)
    monkeypatch.setattr(event_feed, "horizon", lambda: later - event_log.RETENTION)
    page, _ = event_feed.list_events(store, ACCOUNT)
    assert [e.id for e in page] == [events[1].id]  # the log's own (its TTL deletes it)
