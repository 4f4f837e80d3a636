from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import names
from shared.services import message_transitions
from tests.fakes import assert_error

PHONE = "+447911123456"


def message_tasks(container):
    return container.tasks.on(*names.MESSAGE_QUEUES.values())


def events_of(container, message_id):
    return [e.event for e in container.bus.published if e.data.get("id") == message_id]


def test_send_queues_one_task_and_publishes_new(api, device, container):
    response = api.post("/v1/messages", json={"phone": PHONE, "message": "Hello"})
    assert response.status_code == 201
    message = response.get_json()
    assert message["status"] == "queued"
    assert message["device_id"] == device["id"]
    assert message["priority"] == "normal"
    assert message["created_at"] and message["sent_at"] is None
    assert container.store.get("messages", message["id"])["status"] == "queued"

    tasks = message_tasks(container)
    assert len(tasks) == 1
    task = tasks[0]
    assert task.queue == names.MESSAGE_QUEUES["normal"]
    assert task.target == names.TARGET_RUNNER_MESSAGES
    assert task.name == message["id"]
    assert task.payload == {"message_id": message["id"], "device_id": device["id"],
                            "message": task.payload["message"],
                            "version": task.payload["version"]}
    assert task.payload["message"]["id"] == message["id"]  # the runner need not read it
    assert task.payload["message"]["status"] == "queued"
    assert task.payload["version"]  # the claim need not read it either
    assert "version" not in message and "version" not in task.payload["message"]
    assert task.schedule_at is None
    assert events_of(container, message["id"]) == ["message:out:new"]
    event = next(e for e in container.bus.published if e.event == "message:out:new")
    assert event.account == api.account_id and event.device == device["id"]


@pytest.mark.parametrize("priority", list(names.MESSAGE_QUEUES))
def test_message_goes_to_the_queue_of_its_priority(api, device, container, priority):
    message = api.post("/v1/messages", json={"phone": PHONE, "message": "x",
                                             "priority": priority}).get_json()
    assert message["priority"] == priority
    [task] = message_tasks(container)
    assert task.queue == names.MESSAGE_QUEUES[priority]
    assert task.name == message["id"]


def test_deliver_at_becomes_the_schedule_time(api, device, container):
    message = api.post("/v1/messages", json={"phone": PHONE, "message": "later",
                                             "deliver_at": "2026-12-01T09:00:00+01:00"}).get_json()
    [task] = message_tasks(container)
    expected = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert task.schedule_at == expected
    assert datetime.fromisoformat(message["deliver_at"].replace("Z", "+00:00")) == expected


@pytest.mark.parametrize("raw,e164", [
    ("+44 7911 123456", "+447911123456"),
    ("+44 (0)7911-123456", "+447911123456"),
    ("447911123456", "+447911123456"),
    ("+1 (415) 555-2671", "+14155552671"),
    ("+34 612 34 56 78", "+34612345678"),
])
def test_phone_is_normalised_to_e164(api, device, raw, e164):
    message = api.post("/v1/messages", json={"phone": raw, "message": "x"}).get_json()
    assert message["phone"] == e164


def test_device_required_with_two_devices(api, device):
    second = api.post("/v1/devices", json={"alias": "second"}).get_json()
    error = assert_error(api.post("/v1/messages", json={"phone": PHONE, "message": "x"}), 422,
                         "device_required")
    assert "device" in error["message"]
    chosen = api.post("/v1/messages", json={"phone": PHONE, "message": "x",
                                            "device": second["id"]})
    assert chosen.status_code == 201
    assert chosen.get_json()["device_id"] == second["id"]


def test_no_device_is_422(api):
    assert_error(api.post("/v1/messages", json={"phone": PHONE, "message": "x"}), 422, "no_device")


def test_unknown_device_is_422(api, device):
    response = api.post("/v1/messages", json={"phone": PHONE, "message": "x", "device": "dev_nope"})
    assert_error(response, 422, "unknown_device")


def test_another_accounts_device_is_unknown(api, device, other_account):
    theirs = api.as_(other_account).post("/v1/devices", json={}).get_json()
    response = api.post("/v1/messages", json={"phone": PHONE, "message": "x",
                                              "device": theirs["id"]})
    assert_error(response, 422, "unknown_device")


def test_idempotency_key_same_body_returns_the_same_message(api, device, container):
    body = {"phone": PHONE, "message": "once"}
    first = api.post("/v1/messages", json=body, headers={"Idempotency-Key": "k1"})
    again = api.post("/v1/messages", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(message_tasks(container)) == 1
    assert len(container.store.query("messages")) == 1
    assert events_of(container, first.get_json()["id"]) == ["message:out:new"]


def test_idempotency_key_same_number_in_another_format_is_the_same_body(api, device):
    first = api.post("/v1/messages", json={"phone": PHONE, "message": "x"},
                     headers={"Idempotency-Key": "k1"})
    again = api.post("/v1/messages", json={"phone": "+44 7911 123456", "message": "x"},
                     headers={"Idempotency-Key": "k1"})
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]


def test_idempotency_key_different_body_is_409(api, device, container):
    api.post("/v1/messages", json={"phone": PHONE, "message": "one"},
             headers={"Idempotency-Key": "k1"})
    response = api.post("/v1/messages", json={"phone": PHONE, "message": "two"},
                        headers={"Idempotency-Key": "k1"})
    assert_error(response, 409, "idempotency_conflict")
    assert len(message_tasks(container)) == 1


def test_idempotency_keys_are_per_account(api, device, other_account):
    api.as_(other_account).post("/v1/devices", json={})
    body = {"phone": PHONE, "message": "x"}
    mine = api.post("/v1/messages", json=body, headers={"Idempotency-Key": "k1"})
    theirs = api.as_(other_account).post("/v1/messages", json=body,
                                         headers={"Idempotency-Key": "k1"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]


def test_get_and_list_messages(api, device):
    ids = [api.post("/v1/messages", json={"phone": PHONE, "message": str(i)}).get_json()["id"]
           for i in range(3)]
    assert api.get(f"/v1/messages/{ids[0]}").get_json()["message"] == "0"
    listed = api.get("/v1/messages").get_json()["data"]
    assert {m["id"] for m in listed} == set(ids)
    assert len(api.get("/v1/messages?limit=2").get_json()["data"]) == 2
    assert api.get("/v1/messages?status=sent").get_json()["data"] == []
    assert len(api.get(f"/v1/messages?device={device['id']}&status=queued").get_json()["data"]) == 3


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=many", "status=lost", "colour=red"])
def test_bad_list_query_is_422(api, query):
    assert_error(api.get(f"/v1/messages?{query}"), 422, "validation_error")


def test_cancel_queued_message(api, device, container):
    message = api.post("/v1/messages", json={"phone": PHONE, "message": "x"}).get_json()
    response = api.delete(f"/v1/messages/{message['id']}")
    assert response.status_code == 200
    cancelled = response.get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert events_of(container, message["id"]) == ["message:out:new", "message:out:cancelled"]
    assert_error(api.delete(f"/v1/messages/{message['id']}"), 409, "not_cancellable")


def test_cancel_sent_message_is_409(api, device, container):
    message = api.post("/v1/messages", json={"phone": PHONE, "message": "x"}).get_json()
    message_transitions.mark_sent(container, message["id"])
    assert_error(api.delete(f"/v1/messages/{message['id']}"), 409, "not_cancellable")
    assert api.get(f"/v1/messages/{message['id']}").get_json()["status"] == "sent"


def test_cancel_claimed_message_is_409(api, device, container):
    message = api.post("/v1/messages", json={"phone": PHONE, "message": "x"}).get_json()
    message_transitions.claim(container, message["id"], "runner-0")
    assert_error(api.delete(f"/v1/messages/{message['id']}"), 409, "not_cancellable")


def test_another_accounts_message_is_404(api, device, other_account):
    api.as_(other_account).post("/v1/devices", json={})
    theirs = api.as_(other_account).post("/v1/messages",
                                         json={"phone": PHONE, "message": "x"}).get_json()
    assert_error(api.get(f"/v1/messages/{theirs['id']}"), 404, "not_found")
    assert_error(api.delete(f"/v1/messages/{theirs['id']}"), 404, "not_found")
    assert api.get("/v1/messages").get_json()["data"] == []
    assert api.as_(other_account).get(f"/v1/messages/{theirs['id']}").get_json()["status"] == "queued"


def test_unknown_message_is_404(api):
    assert_error(api.get("/v1/messages/msg_nope"), 404)
    assert_error(api.delete("/v1/messages/msg_nope"), 404)


# --- text length ------------------------------------------------------------------


@pytest.mark.parametrize("text,status", [
    ("a" * 6000, 201),
    ("a" * 6001, 422),
    ("😀" * 6000, 201),  # one character each, though two UTF-16 units and four bytes
    ("😀" * 6001, 422),
    ("é" * 6000, 201),
    ("", 422),
])
def test_text_length(api, device, text, status):
    response = api.post("/v1/messages", json={"phone": PHONE, "message": text})
    if status == 201:
        assert response.status_code == 201
        assert response.get_json()["message"] == text
    else:
        assert_error(response, status, "validation_error")


def test_emoji_text_round_trips(api, device):
    text = "Your order has shipped 🚚 — ¡gracias! 👍🏽 中文"
    response = api.post("/v1/messages", data=f'{{"phone": "{PHONE}", "message": "{text}"}}'
                        .encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201
    assert response.get_json()["message"] == text
