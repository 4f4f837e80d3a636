"""Anonymous WhatsApp ids (LIDs) on the sandbox: a contact presented by LID beside their
number teaches the device the pair; presented by LID alone later, they land in the same
chat under their number; unknown, under the LID. Sending accepts a LID and goes to the
number's chat when known."""

from __future__ import annotations

import pytest

from tests.fakes import assert_error
from tests.fakes import wait_until as _wait_until
from tests.unit.messaging.helpers import PHONE, connected_sandbox


def wait_until(predicate, timeout: float = 15.0, message: str = "condition"):
    """A longer bound than the default: these wait on runner threads, on loaded machines."""
    return _wait_until(predicate, timeout, message)


LID = "207435312347202@lid"
STRANGER = "91827364550123@lid"


@pytest.fixture
def world(api, dev, c):
    runner, network = connected_sandbox(c, dev)

    def inbound(**body):
        response = api.post(f"/v1/devices/{dev}/sandbox/inbound", json=body)
        assert response.status_code == 202, response.get_json()
        for task in [t for t in c.tasks.tasks if t.payload.get("action") == "sandbox_inbound"]:
            runner.handle_device_task(task.payload)
        c.tasks.tasks[:] = [t for t in c.tasks.tasks
                            if t.payload.get("action") != "sandbox_inbound"]

    yield inbound, runner, network
    runner.stop()


def new_events(c):
    return [e.data for e in c.bus.published if e.event == "message:in:new"]


def test_a_contact_by_lid_stays_in_one_chat(api, dev, c, world):
    inbound, _, _ = world
    inbound(phone=PHONE, lid=LID, message="hello, with my number")
    inbound(lid=LID, message="now by my anonymous id alone")
    first, second = new_events(c)
    assert (first["phone"], first["lid"]) == (PHONE, LID)
    assert (second["phone"], second["lid"]) == (PHONE, LID)  # the mapping, learnt
    messages = api.get(f"/v1/devices/{dev}/chats/{PHONE}/messages").get_json()["data"]
    assert len(messages) == 2
    assert [chat["id"] for chat in api.get(f"/v1/devices/{dev}/chats").get_json()["data"]] == [
        PHONE]


def test_a_contact_known_only_by_lid_has_a_chat_under_it(api, dev, c, world):
    inbound, _, _ = world
    inbound(lid=STRANGER, message="who am I?")
    [event] = new_events(c)
    assert event["phone"] == STRANGER and event["lid"] == STRANGER
    chat = api.get(f"/v1/devices/{dev}/chats/{STRANGER}/messages")
    assert chat.status_code == 200 and len(chat.get_json()["data"]) == 1


def test_sending_to_a_lid_goes_to_the_numbers_chat_once_known(api, dev, c, world):
    inbound, runner, network = world
    inbound(phone=PHONE, lid=LID, message="hi")
    known = api.send(phone=LID, message="to your number").get_json()
    assert (known["phone"], known["lid"]) == (PHONE, LID)
    unknown = api.send(phone=STRANGER, message="to the anonymous id").get_json()
    assert (unknown["phone"], unknown["lid"]) == (STRANGER, STRANGER)
    for body in (known, unknown):
        runner.handle_message_task(body["id"])
    wait_until(lambda: all(c.store.get("messages", b["id"])["status"] == "sent"
                           for b in (known, unknown)), message="both sent")
    wa = [c.store.get("messages", b["id"])["wa_id"] for b in (known, unknown)]
    assert [network.delivered[w][1] for w in wa] == [PHONE, STRANGER]


@pytest.mark.parametrize("phone", ["abc@lid", "@lid", "12345@lidx", "+4479@lid"])
def test_a_bad_lid_is_422(api, dev, phone):
    assert_error(api.send(phone=phone, message="x"), 422)


@pytest.mark.parametrize("body", [{"message": "x"}, {"lid": "12@LID", "message": "x"},
                                  {"lid": "x@lid", "phone": PHONE, "message": "x"}])
def test_a_sandbox_sender_needs_a_phone_or_a_good_lid(api, dev, body):
    assert_error(api.post(f"/v1/devices/{dev}/sandbox/inbound", json=body), 422)
