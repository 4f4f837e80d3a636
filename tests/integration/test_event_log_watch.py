"""A long poll of GET /v1/events on Firestore is woken by a listener when another process
logs an event of its account (shared/services/event_feed.Watches), not at its next read."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from google.cloud import firestore

from shared.adapters.firestore_store import FirestoreStore
from shared.clock import SystemClock
from shared.domain import Event
from shared.ports import Write
from shared.services import event_feed
from shared.services.event_log import EVENTS, Waker, to_doc


def log_elsewhere(project: str, account: str) -> str:
    """An event committed by another client, as the runner does (no wake-up in this one)."""
    client = firestore.Client(project=project)
    try:
        event = Event(id="evt_" + uuid.uuid4().hex[:20], event="device:status",
                      created_at=datetime.now(UTC), account=account, device="dev_1",
                      sequence=1, data={"status": "connected"})
        FirestoreStore(client).commit([Write.create(EVENTS, event.id, to_doc(event, "runner"))])
        return event.id
    finally:
        client.close()


def test_the_watch_reports_a_change_to_its_query(firestore_store):
    changes = threading.Semaphore(0)
    stop = firestore_store.watch(EVENTS, [("account_id", "==", "acc_w")],
                                 [("logged_at", "desc"), ("id", "desc")], 1, changes.release)
    try:
        assert changes.acquire(timeout=10)  # once as it starts
        firestore_store.commit([Write.create(EVENTS, "evt_w1", to_doc(Event(
            id="evt_w1", event="device:status", created_at=datetime.now(UTC), account="acc_w",
            device="dev_1", sequence=1, data={}), "here"))])
        assert changes.acquire(timeout=10)
    finally:
        stop()


def test_a_waiting_poll_wakes_when_another_process_logs(firestore_store, monkeypatch):
    # no read again before the wait ends: only the listener can wake the poll in time
    monkeypatch.setattr(event_feed, "WATCHED_POLL_EVERY", 60.0)
    monkeypatch.setattr(event_feed, "POLL_EVERY", 60.0)
    project = firestore_store._client.project
    waker = Waker()
    watches = event_feed.Watches(waker, linger=0.1)
    cursor = event_feed.encode_position(event_feed.resolve_after(
        firestore_store, "acc_x", "now", SystemClock()))
    got: dict = {}

    def poll():
        got["answer"] = event_feed.follow(firestore_store, SystemClock(), "acc_x", cursor,
                                          wait=20, waker=waker, watches=watches)

    waiter = threading.Thread(target=poll)
    waiter.start()
    try:
        assert event_feed_waiting(watches)
        logged = log_elsewhere(project, "acc_x")
        waiter.join(15)
        assert not waiter.is_alive(), "the poll was not woken"
        assert [e.id for e, _ in got["answer"].events] == [logged]
    finally:
        waiter.join(25)


def event_feed_waiting(watches) -> bool:
    """The poll holds its listener (it waits)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(watches):
            return True
        time.sleep(0.02)
    return False

