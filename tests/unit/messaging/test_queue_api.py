"""The queue as the API shows it: priorities and their queues, scheduling, cancelling,
listing with filters and cursors, and idempotent retries."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from shared import names
from shared.services import message_transitions
from tests.fakes import assert_error, in_threads
from tests.unit.messaging.helpers import GROUP, OTHER, PHONE, make_api


def message_tasks(c):
    return c.tasks.on(*names.MESSAGE_QUEUES.values())


@pytest.mark.parametrize("priority", ["urgent", "high", "normal", "low"])
def test_each_priority_has_its_queue(api, dev, c, priority):
    body = api.send(phone=PHONE, message="x", priority=priority).get_json()
    [task] = message_tasks(c)
    assert task.queue == f"messages-{priority}" and task.name == body["id"]


def test_deliver_at_is_the_task_schedule_time(api, dev, c):
    body = api.send(phone=PHONE, message="later", deliver_at="2026-01-03T09:30:00+01:00").get_json()
    [task] = message_tasks(c)
    assert task.schedule_at.isoformat() == "2026-01-03T08:30:00+00:00"
    assert body["deliver_at"] == "2026-01-03T08:30:00Z" and body["status"] == "queued"


def test_cancel_a_scheduled_message(api, dev, c):
    body = api.send(phone=PHONE, message="later", deliver_at="2026-02-01T09:00:00Z").get_json()
    cancelled = api.delete(f"/v1/messages/{body['id']}").get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert_error(api.delete(f"/v1/messages/{body['id']}"), 409, "not_cancellable")


@pytest.mark.parametrize("step", ["sent", "delivered", "read", "failed"])
def test_a_message_past_the_queue_cannot_be_cancelled(api, dev, c, step):
    from shared.domain import FailureReason, Message

    body = api.send(phone=PHONE, message="x").get_json()
    if step == "failed":
        message_transitions.fail(c, Message.model_validate(c.store.get("messages", body["id"])),
                     FailureReason.number_not_on_whatsapp)
    else:
        message_transitions.mark_sent(c, body["id"])
        if step in ("delivered", "read"):
            message_transitions.mark_delivered(c, body["id"])
        if step == "read":
            message_transitions.mark_read(c, body["id"])
    error = assert_error(api.delete(f"/v1/messages/{body['id']}"), 409, "not_cancellable")
    assert step in error["message"]


# --- listing ---------------------------------------------------------------------------


@pytest.fixture
def history(api, dev, c):
    """Eleven messages over eleven minutes: two devices, two phones, a group, references."""
    second = api.post("/v1/devices", json={"alias": "second"}).get_json()["id"]
    made = []
    for i in range(11):
        body = {"device": dev if i % 2 == 0 else second, "message": f"m{i}",
                "reference": f"order-{i % 3}"}
        body |= {"group": GROUP} if i == 10 else {"phone": PHONE if i < 6 else OTHER}
        made.append(api.send(**body).get_json())
        c.clock.advance(60)
    return {"messages": made, "second": second}


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [m["id"] for m in response.get_json()["data"]]


def test_list_newest_first(api, history):
    made = history["messages"]
    assert ids(api.get("/v1/messages")) == [m["id"] for m in reversed(made)]


@pytest.mark.parametrize("query,picked", [
    ("phone=%2B447911123457", [6, 7, 8, 9]),
    ("phone=447911123457", [6, 7, 8, 9]),
    (f"group={GROUP}", [10]),
    ("reference=order-1", [1, 4, 7, 10]),
    ("since=2026-01-01T00:03:00Z", [3, 4, 5, 6, 7, 8, 9, 10]),
    ("until=2026-01-01T00:02:00Z", [0, 1]),
    ("since=2026-01-01T00:02:00Z&until=2026-01-01T00:05:00Z&reference=order-2", [2]),
    ("status=cancelled", []),
])
def test_list_filters(api, history, query, picked):
    made = history["messages"]
    assert ids(api.get(f"/v1/messages?{query}")) == [made[i]["id"] for i in reversed(picked)]


def test_list_by_device_and_status(api, dev, history):
    made = history["messages"]
    api.delete(f"/v1/messages/{made[4]['id']}")
    assert ids(api.get(f"/v1/messages?device={dev}&status=cancelled")) == [made[4]["id"]]
    assert ids(api.get(f"/v1/messages?device={history['second']}")) == [
        made[i]["id"] for i in (9, 7, 5, 3, 1)]


def test_cursor_pagination_walks_everything_once(api, history):
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get("/v1/messages?limit=3" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [m["id"] for m in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert seen == [m["id"] for m in reversed(history["messages"])]


def test_cursor_holds_with_equal_timestamps_and_filters(api, dev, c):
    made = [api.send(phone=PHONE, message=str(i), reference="same").get_json()["id"]
            for i in range(7)]  # the fake clock stands still: one timestamp for all
    seen, cursor = [], ""
    while cursor is not None:
        page = api.get(f"/v1/messages?reference=same&limit=2{cursor and '&cursor=' + cursor}"
                       ).get_json()
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


@pytest.mark.parametrize("query", ["cursor=abc", "cursor=" + "W10", "since=yesterday",
                                   "since=2026-01-01T00:00:00", "phone=12", "group=nope",
                                   "limit=0", "limit=501", "status=lost", "colour=red"])
def test_bad_list_queries(api, dev, query):
    error = assert_error(api.get(f"/v1/messages?{query}"), 422)
    assert error["code"] in ("validation_error", "invalid_cursor")


def test_another_accounts_messages_are_not_listed(api, dev, c):
    api.send(phone=PHONE, message="mine")
    other = make_api(c, "Other Ltd")
    other.post("/v1/devices", json={})
    assert ids(other.get("/v1/messages")) == []


# --- idempotency ---------------------------------------------------------------------------


def send_with_key(api, key, **body):
    return api.post("/v1/messages", json=body, headers={"Idempotency-Key": key})


def test_same_key_same_body_returns_the_first_message(api, dev, c):
    first = send_with_key(api, "k1", phone=PHONE, message="once")
    again = send_with_key(api, "k1", phone="+44 7911 123456", message="once")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(c.store.query("messages")) == 1 and len(message_tasks(c)) == 1


def test_same_key_other_body_is_409(api, dev, c):
    send_with_key(api, "k1", phone=PHONE, message="one")
    for body in ({"phone": PHONE, "message": "two"}, {"phone": OTHER, "message": "one"},
                 {"phone": PHONE, "message": "one", "priority": "urgent"}):
        assert_error(send_with_key(api, "k1", **body), 409, "idempotency_conflict")
    assert len(c.store.query("messages")) == 1


def test_a_failed_request_gives_its_key_back(api, dev, c):
    assert_error(send_with_key(api, "k1", phone=PHONE, buttons={
        "text": "x", "items": [{"type": "reply", "id": "a", "text": "A"}]}), 422)
    assert c.store.query("idempotency") == []
    assert send_with_key(api, "k1", phone=PHONE, message="now a text").status_code == 201


def test_a_replay_re_enqueues_a_lost_task(api, dev, c):
    first = send_with_key(api, "k1", phone=PHONE, message="x").get_json()
    send_with_key(api, "k1", phone=PHONE, message="x")
    assert [t.name for t in c.tasks.calls] .count(first["id"]) == 2  # enqueued again…
    assert len(message_tasks(c)) == 1  # …and the named task exists once


def test_an_expired_key_is_new_again(api, dev, c):
    first = send_with_key(api, "k1", phone=PHONE, message="x").get_json()
    c.clock.advance(timedelta(hours=25).total_seconds())
    second = send_with_key(api, "k1", phone=PHONE, message="y")
    assert second.status_code == 201 and second.get_json()["id"] != first["id"]


def test_concurrent_duplicates_create_one_message(api, dev, c):
    barrier = threading.Barrier(8)
    answers = []

    def post():
        barrier.wait()
        answers.append(send_with_key(api, "race", phone=PHONE, message="once"))

    in_threads(post, 8, timeout=15)
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201]
    assert len({r.get_json()["id"] for r in answers}) == 1
    assert len(c.store.query("messages")) == 1
    assert len(c.store.query("usage_counters")) == 1  # one unit of quota, not eight


def test_a_duplicate_waits_for_the_first_request(c, api, dev, monkeypatch):
    """The key is claimed before the message exists; a duplicate arriving in between
    gets the message once it is written."""
    original_commit = c.store.commit
    written = threading.Event()
    duplicate_done = []

    def slow_commit(writes, **kwargs):  # the message and its event are one commit
        if any(w.collection == "messages" for w in writes) and not written.is_set():
            duplicate = threading.Thread(target=lambda: duplicate_done.append(
                send_with_key(api, "k1", phone=PHONE, message="x")))
            duplicate.start()
            duplicate.join(timeout=0.3)
            assert not duplicate_done  # still waiting: the message is not there yet
            done = original_commit(writes, **kwargs)
            written.set()
            duplicate.join(timeout=5)
            return done
        return original_commit(writes, **kwargs)

    monkeypatch.setattr(c.store, "commit", slow_commit)
    first = send_with_key(api, "k1", phone=PHONE, message="x")
    assert first.status_code == 201
    assert duplicate_done[0].status_code == 200
    assert duplicate_done[0].get_json()["id"] == first.get_json()["id"]
