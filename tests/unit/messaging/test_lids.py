"""Anonymous WhatsApp ids (LIDs) on the sandbox: a contact presented by LID beside their
number teaches the device the pair; presented by LID alone later, they land in the same
chat under their number; unknown, under the LID. Sending accepts a LID and goes to the
number's chat when known."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.ports import Inbound
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


def chat_ids(api, dev):
    return [chat["id"] for chat in api.get(f"/v1/devices/{dev}/chats").get_json()["data"]]


def history(api, dev, chat):
    return api.get(f"/v1/devices/{dev}/chats/{chat}/messages").get_json()["data"]


def test_a_chat_opened_under_a_lid_joins_the_number_when_it_is_learnt(api, dev, c, world):
    inbound, _, _ = world
    inbound(lid=LID, message="first, by my anonymous id")
    inbound(lid=LID, message="second, still anonymous")
    api.patch(f"/v1/devices/{dev}/contacts/{LID}", json={"name": "Ana",
                                                         "metadata": {"crm": "C-1"}})
    assert chat_ids(api, dev) == [LID]
    inbound(phone=PHONE, lid=LID, message="third, with my number")
    assert chat_ids(api, dev) == [PHONE]  # one person, one chat
    assert_error(api.get(f"/v1/devices/{dev}/chats/{LID}"), 404)
    messages = history(api, dev, PHONE)
    assert [m["message"] for m in messages] == ["third, with my number",
                                                "second, still anonymous",
                                                "first, by my anonymous id"]
    assert {m["phone"] for m in messages} == {PHONE} and {m["lid"] for m in messages} == {LID}
    chat = api.get(f"/v1/devices/{dev}/chats/{PHONE}").get_json()
    assert (chat["lid"], chat["unread"], chat["name"]) == (LID, 3, "Ana")
    contact = api.get(f"/v1/devices/{dev}/contacts/{PHONE}").get_json()
    assert (contact["lid"], contact["name"], contact["metadata"]) == (LID, "Ana", {"crm": "C-1"})
    assert api.get(f"/v1/devices/{dev}/contacts/{LID}").status_code == 404
    [gone] = [e.data for e in c.bus.published if e.event == "chat:delete"]
    assert gone == {"id": LID, "kind": "user", "reason": "merged", "merged_into": PHONE}
    inbound(lid=LID, message="fourth, anonymous again")  # filed under the number now
    assert chat_ids(api, dev) == [PHONE] and len(history(api, dev, PHONE)) == 4


def test_a_lid_chat_is_appended_to_the_numbers_existing_chat(api, dev, c, world):
    inbound, runner, _ = world
    sent = api.send(phone=PHONE, message="Your order has shipped").get_json()
    runner.handle_message_task(sent["id"])
    wait_until(lambda: c.store.get("messages", sent["id"])["status"] != "queued",
               message="sent")
    assert chat_ids(api, dev) == [PHONE]
    inbound(lid=LID, message="when will it arrive?")  # the number is not known yet
    assert sorted(chat_ids(api, dev)) == sorted([PHONE, LID])
    inbound(phone=PHONE, lid=LID, message="hello?")
    assert chat_ids(api, dev) == [PHONE]
    messages = history(api, dev, PHONE)
    assert [m["message"] for m in messages] == ["hello?", "when will it arrive?",
                                                "Your order has shipped"]
    assert [m["seq"] for m in messages] == [3, 2, 1]
    chat = api.get(f"/v1/devices/{dev}/chats/{PHONE}").get_json()
    assert (chat["lid"], chat["unread"]) == (LID, 2)
    assert chat["last_message"]["message"] == "hello?"


def test_events_of_a_contact_with_a_lid_carry_it(api, dev, c, world):
    inbound, runner, _ = world
    inbound(phone=PHONE, lid=LID, message="hi")
    sent = api.send(phone=PHONE, message="hello").get_json()
    assert (sent["phone"], sent["lid"]) == (PHONE, LID)  # the number's LID, learnt
    runner.handle_message_task(sent["id"])
    wait_until(lambda: any(e.event == "message:out:sent" for e in c.bus.published),
               message="sent")
    # message:out:sent, delivered and read (the receipts) share the message's data
    [out] = [e.data for e in c.bus.published if e.event == "message:out:sent"]
    assert (out["phone"], out["lid"]) == (PHONE, LID)
    wa_id = c.store.get("messages", sent["id"])["wa_id"]
    runner.on_inbound(dev, Inbound(wa_id="WA_R", sender=PHONE, lid=LID, text="👍",
                                   at=datetime.now(UTC), type="reaction", content={
                                       "emoji": "👍", "target": {"wa_id": wa_id,
                                                                "from_me": True}}))
    [reaction] = [e.data for e in c.bus.published if e.event == "message:reaction"]
    assert (reaction["phone"], reaction["lid"], reaction["message_id"]) == (PHONE, LID,
                                                                           sent["id"])
    assert api.get(f"/v1/devices/{dev}/contacts/{PHONE}").get_json()["lid"] == LID


def test_a_contacts_change_by_lid_reaches_their_numbers_chat(api, dev, c, world):
    inbound, runner, _ = world
    inbound(phone=PHONE, lid=LID, message="hi, order 1041?")
    entry = api.get(f"/v1/devices/{dev}/chats/{PHONE}/messages").get_json()["data"][0]
    runner.transports["sandbox"].inject_edit(dev, LID, entry["wa_id"], "hi, order 1042?")
    [edited] = [e.data for e in c.bus.published if e.event == "message:in:edited"]
    assert (edited["phone"], edited["lid"], edited["message"]) == (PHONE, LID,
                                                                   "hi, order 1042?")
    latest = api.get(f"/v1/devices/{dev}/chats/{PHONE}/messages").get_json()["data"][0]
    assert latest["message"] == "hi, order 1042?" and latest["edited_at"]


def test_sending_to_a_lid_joins_a_lid_chat_left_beside_the_numbers(api, dev, c, world):
    # A LID chat opened after the join (a message filed under the LID by a writer that
    # had read no mapping yet) joins the number's when a message is sent to the LID.
    from shared.services import chats

    inbound, _, _ = world
    inbound(phone=PHONE, lid=LID, message="hi, with my number")
    account = c.repos.devices.get(dev).account_id
    assert chats.record_inbound(c.store, c.clock, account, dev, {
        "id": "msg_late", "wa_id": "WA_late", "phone": LID, "lid": LID,
        "message": "late, by my anonymous id", "received_at": c.clock.now()})
    assert sorted(chat_ids(api, dev)) == sorted([PHONE, LID])
    sent = api.send(phone=LID, message="got both").get_json()
    assert (sent["phone"], sent["lid"]) == (PHONE, LID)
    assert chat_ids(api, dev) == [PHONE]
    assert [m["message"] for m in history(api, dev, PHONE)] == ["late, by my anonymous id",
                                                               "hi, with my number"]
