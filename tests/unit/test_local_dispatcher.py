"""The local Cloud Tasks stand-in: retries, name de-duplication, schedule times that
cannot stop it, and pending tasks that survive a restart through the journal."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from shared.adapters.local_dispatcher import LocalDispatcher
from tests.fakes import wait_until


class Receiver:
    def __init__(self):
        self.got: list[dict] = []
        self.fail_next = 0
        app = Flask("receiver")

        @app.post("/t")
        def take():
            if self.fail_next:
                self.fail_next -= 1
                return "nope", 500
            self.got.append(request.get_json())
            return "", 204

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def dispatcher(receiver, **kwargs) -> LocalDispatcher:
    return LocalDispatcher({"t": receiver.url}, backoff_min=0.01, backoff_max=0.05, **kwargs)


def test_retries_until_delivered(receiver):
    receiver.fail_next = 3
    d = dispatcher(receiver).start()
    try:
        d.enqueue("q", "t", {"n": 1})
        wait_until(lambda: receiver.got == [{"n": 1}])
    finally:
        d.stop()


def test_a_name_is_used_once(receiver):
    d = dispatcher(receiver).start()
    try:
        d.enqueue("q", "t", {"n": 1}, name="a")
        d.enqueue("q", "t", {"n": 2}, name="a")
        d.enqueue("other", "t", {"n": 3}, name="a")
        wait_until(lambda: len(receiver.got) == 2)
        assert {g["n"] for g in receiver.got} == {1, 3}
    finally:
        d.stop()


def test_a_far_future_schedule_does_not_stop_the_workers(receiver):
    d = dispatcher(receiver).start()
    try:
        d.enqueue("q", "t", {"n": "later"}, schedule_at=datetime(9999, 12, 31, tzinfo=UTC))
        d.enqueue("q", "t", {"n": "now"})
        wait_until(lambda: receiver.got == [{"n": "now"}])
        assert d.pending() == 1
    finally:
        d.stop()


def test_pending_tasks_survive_a_restart(receiver, tmp_path):
    journal = tmp_path / "tasks.jsonl"
    first = dispatcher(receiver, journal=journal)  # never started: as if it died at once
    first.enqueue("q", "t", {"n": 1}, name="one")
    first.enqueue("q", "t", {"n": 2}, schedule_at=datetime.now(UTC) + timedelta(seconds=0.2))
    second = dispatcher(receiver, journal=journal).start()
    try:
        wait_until(lambda: len(receiver.got) == 2)
        second.enqueue("q", "t", {"n": 1}, name="one")  # still pending-known: not again
    finally:
        second.stop()
    third = dispatcher(receiver, journal=journal).start()  # delivered ones are done
    try:
        assert third.pending() == 0
    finally:
        third.stop()
    assert sorted(g["n"] for g in receiver.got) == [1, 2]
