"""Editing and deleting sent messages on the sandbox, through the runner as the API
reaches it (its rpc): within WhatsApp's windows, 409 outside, each with its event and
the chat history showing it; and a contact's own edits and deletions filed and
announced once."""

from __future__ import annotations

import hashlib

import pytest

from device_runner import rpc as runner_rpc
from shared.runner_rpc import RPC_CALLS, RunnerRpc
from tests.fakes import assert_error
from tests.fakes import wait_until as _wait_until
from tests.unit.messaging.helpers import GROUP, OTHER, PHONE, connected_sandbox, jpeg, pdf


def wait_until(predicate, timeout: float = 15.0, message: str = "condition"):
    """A longer bound than the default: these wait on runner threads, on loaded machines."""
    return _wait_until(predicate, timeout, message)


class InProcessRpc(RunnerRpc):
    """The API's calls to the runner, handled by a runner of this process."""

    def __init__(self, runner):
        self.runner = runner

    def call(self, action, payload):
        return runner_rpc.handle(self.runner, RPC_CALLS[action].model_validate(payload))


@pytest.fixture
def world(api, dev, c):
    runner, network = connected_sandbox(c, dev, media=c.inbound_media)
    c.__dict__["runner_rpc"] = InProcessRpc(runner)

    def sent(**body):
        made = api.send(phone=PHONE, **body).get_json()
        runner.handle_message_task(made["id"])
        wait_until(lambda: c.store.get("messages", made["id"])["status"] == "sent",
                   message="sent")
        return made

    yield sent, runner, network
    runner.stop()


def history(api, dev, chat=PHONE):
    return api.get(f"/v1/devices/{dev}/chats/{chat}/messages").get_json()["data"]


def events(c, name):
    return [e for e in c.bus.published if e.event == name]


def test_an_edit_within_the_window_changes_it_everywhere(api, dev, c, world):
    sent, _, network = world
    message = sent(message="Your order has shipped")
    c.clock.advance(14 * 60)
    edited = api.patch(f"/v1/messages/{message['id']}", json={"message": "Shipped: AB123"})
    assert edited.status_code == 200, edited.get_json()
    body = edited.get_json()
    assert body["message"] == "Shipped: AB123" and body["content"]["text"] == "Shipped: AB123"
    assert body["edited_at"] == "2026-01-01T00:14:00Z" and body["status"] == "sent"
    wa_id = c.store.get("messages", message["id"])["wa_id"]
    assert network.edits[wa_id] == ["Shipped: AB123"]
    [event] = events(c, "message:out:edited")
    assert event.data["id"] == message["id"] and event.data["message"] == "Shipped: AB123"
    [entry] = history(api, dev)
    assert entry["message"] == "Shipped: AB123" and entry["edited_at"]


def test_edits_outside_what_whatsapp_allows_are_409(api, dev, c, world):
    sent, _, network = world
    old = sent(message="old")
    poll = sent(poll={"question": "Q?", "options": ["a", "b"]})
    queued = api.send(phone=PHONE, message="still queued").get_json()
    c.clock.advance(15 * 60 + 1)
    for message_id, code in [(old["id"], "edit_window_passed"), (poll["id"], "not_editable"),
                             (queued["id"], "not_sent")]:
        assert_error(api.patch(f"/v1/messages/{message_id}", json={"message": "x"}), 409, code)
    assert network.edits == {}
    assert_error(api.patch("/v1/messages/msg_00000000000000000000", json={"message": "x"}), 404)


@pytest.mark.parametrize("body", [{"message": ""}, {"message": "x" * 6001}, {},
                                  {"message": "x", "priority": "high"}, {"message": 5}])
def test_bad_edits_are_422(api, dev, c, world, body):
    sent, _, _ = world
    message = sent(message="hello")
    assert_error(api.patch(f"/v1/messages/{message['id']}", json=body), 422)


def test_revoke_deletes_it_for_everyone_once(api, dev, c, world):
    sent, _, network = world
    message = sent(message="oops")
    revoked = api.post(f"/v1/messages/{message['id']}/revoke")
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["revoked_at"] == "2026-01-01T00:00:00Z"
    assert c.store.get("messages", message["id"])["wa_id"] in network.revoked
    assert [e.data["id"] for e in events(c, "message:out:revoked")] == [message["id"]]
    assert history(api, dev)[0]["revoked_at"]
    assert_error(api.post(f"/v1/messages/{message['id']}/revoke"), 409, "message_revoked")
    assert_error(api.patch(f"/v1/messages/{message['id']}", json={"message": "x"}), 409,
                 "message_revoked")
    late = sent(message="too late")
    c.clock.advance(61 * 3600)
    assert_error(api.post(f"/v1/messages/{late['id']}/revoke"), 409, "revoke_window_passed")
    queued = api.send(phone=PHONE, message="queued").get_json()
    assert_error(api.post(f"/v1/messages/{queued['id']}/revoke"), 409, "not_sent")


def test_a_contacts_edit_and_deletion_are_filed_and_announced_once(api, dev, c, world):
    _, runner, _ = world
    sandbox = runner.transports["sandbox"]
    sandbox.inject_inbound(dev, PHONE, "Is my order on its way?", wa_id="WA_IN_1")
    sandbox.inject_edit(dev, PHONE, "WA_IN_1", "Is order #1042 on its way?")
    sandbox.inject_edit(dev, PHONE, "WA_IN_1", "Is order #1042 on its way?")  # redelivered
    sandbox.inject_edit(dev, OTHER, "WA_IN_1", "not theirs")  # someone else: ignored
    [entry] = history(api, dev)
    assert entry["message"] == "Is order #1042 on its way?" and entry["edited_at"]
    [edited] = events(c, "message:in:edited")
    assert edited.data["wa_id"] == "WA_IN_1" and edited.data["phone"] == PHONE
    assert edited.data["message"] == "Is order #1042 on its way?"
    sandbox.inject_revoke(dev, PHONE, "WA_IN_1")
    assert history(api, dev)[0]["revoked_at"]
    assert len(events(c, "message:in:revoked")) == 1


def run_control_tasks(c, runner, action):
    for task in [t for t in c.tasks.tasks if t.payload.get("action") == action]:
        runner.handle_device_task(task.payload)
    c.tasks.tasks[:] = [t for t in c.tasks.tasks if t.payload.get("action") != action]


def test_the_sandbox_actions_let_a_contact_edit_and_delete(api, dev, c, world):
    _, runner, _ = world
    runner.transports["sandbox"].inject_inbound(dev, PHONE, "Is my order on its way?",
                                                wa_id="WA_IN_2")
    [entry] = history(api, dev)
    edit = api.post(f"/v1/devices/{dev}/sandbox/inbound-edit",
                    json={"message": entry["id"], "text": "Is order #1042 on its way?"})
    assert edit.status_code == 202, edit.get_json()
    run_control_tasks(c, runner, "sandbox_change")
    [edited] = history(api, dev)
    assert edited["message"] == "Is order #1042 on its way?" and edited["edited_at"]
    [event] = events(c, "message:in:edited")
    assert (event.data["message_id"], event.data["phone"]) == (entry["id"], PHONE)
    revoke = api.post(f"/v1/devices/{dev}/sandbox/inbound-revoke", json={"message": entry["id"]})
    assert revoke.status_code == 202, revoke.get_json()
    run_control_tasks(c, runner, "sandbox_change")
    assert history(api, dev)[0]["revoked_at"]
    [revoked] = events(c, "message:in:revoked")
    assert revoked.data["wa_id"] == "WA_IN_2"
    for path, body in (("inbound-edit", {"text": "again"}), ("inbound-revoke", {})):
        assert_error(api.post(f"/v1/devices/{dev}/sandbox/{path}",
                              json={"message": entry["id"]} | body), 409, "message_revoked")


def test_the_sandbox_change_actions_keep_whatsapps_rules(api, dev, c, world):
    sent, runner, _ = world
    sandbox = runner.transports["sandbox"]
    sandbox.inject_inbound(dev, PHONE, "first", wa_id="WA_OLD")
    # the sandbox stamps arrivals with the wall clock; the windows run on the test's clock
    c.store.update("chat_messages", f"{dev}:WA_OLD", {"at": c.clock.now()})
    old = history(api, dev)[0]["id"]
    ours = sent(message="our own")
    edit, revoke = (f"/v1/devices/{dev}/sandbox/inbound-{kind}" for kind in ("edit", "revoke"))
    for message_id in (ours["id"], "msg_00000000000000000000"):  # not received: 404
        assert_error(api.post(edit, json={"message": message_id, "text": "x"}), 404)
        assert_error(api.post(revoke, json={"message": message_id}), 404)
    for body in ({"message": old}, {"message": old, "text": ""}, {"text": "x"},
                 {"message": old, "text": "x", "phone": PHONE}, {"message": old, "text": 5}):
        assert_error(api.post(edit, json=body), 422)
    assert_error(api.post(revoke, json={"message": old, "text": "x"}), 422)
    sandbox.inject_inbound(dev, PHONE, "a pin", wa_id="WA_PIN")
    c.store.update("chat_messages", f"{dev}:WA_PIN", {"type": "location"})
    pin = c.store.get("chat_messages", f"{dev}:WA_PIN")["message_id"]
    assert_error(api.post(edit, json={"message": pin, "text": "x"}), 409, "not_editable")
    c.clock.advance(15 * 60 + 1)
    assert_error(api.post(edit, json={"message": old, "text": "x"}), 409, "edit_window_passed")
    assert api.post(revoke, json={"message": old}).status_code == 202
    c.clock.advance(60 * 3600)
    assert_error(api.post(revoke, json={"message": old}), 409, "revoke_window_passed")
    whatsapp = api.post("/v1/devices", json={"transport": "whatsapp"}).get_json()["id"]
    assert_error(api.post(f"/v1/devices/{whatsapp}/sandbox/inbound-edit",
                          json={"message": old, "text": "x"}), 400, "not_a_sandbox_device")


# --- read receipts and typing ------------------------------------------------------------


def test_marking_a_chat_read_sends_its_receipts(api, dev, c, world):
    _, runner, network = world
    sandbox = runner.transports["sandbox"]
    for i in range(3):
        sandbox.inject_inbound(dev, PHONE, f"question {i}", wa_id=f"WA_Q{i}")
    chat = api.post(f"/v1/devices/{dev}/chats/{PHONE}/read")
    assert chat.status_code == 200, chat.get_json()
    assert chat.get_json()["unread"] == 0
    assert sorted(w for _, _, w in network.read_receipts) == ["WA_Q0", "WA_Q1", "WA_Q2"]
    assert api.post(f"/v1/devices/{dev}/chats/{PHONE}/read").status_code == 200
    assert len(network.read_receipts) == 3  # nothing unread: nothing sent again
    assert_error(api.post(f"/v1/devices/{dev}/chats/{OTHER}/read"), 404)
    assert_error(api.post(f"/v1/devices/{dev}/chats/not-a-chat/read"), 422)


def test_read_on_reply_and_typing_come_with_a_send(api, dev, c, world):
    sent, runner, network = world
    api.patch(f"/v1/devices/{dev}", json={"settings": {"read_on_reply": True,
                                                       "typing_seconds": 3}})
    runner.handle_device_task({"device_id": dev, "action": "refresh"})
    runner.sessions[dev].set_speed(60_000)
    runner.transports["sandbox"].inject_inbound(dev, PHONE, "hello?", wa_id="WA_HELLO")
    reply = sent(message="Hello! How can we help?")
    assert [w for _, _, w in network.read_receipts] == ["WA_HELLO"]
    quick = sent(message="no typing for this one", typing=0)
    assert reply["typing"] is None  # the device's 3 seconds applied
    assert network.typing == [(dev, PHONE, 3)]
    assert api.get(f"/v1/messages/{quick['id']}").get_json()["typing"] == 0


def refresh(c, runner, dev):
    """What the runner does with the refresh tasks a settings change enqueued."""
    run_control_tasks(c, runner, "refresh")
    runner.sessions[dev].set_speed(60_000)


def test_read_on_reply_is_an_account_setting_a_device_overrides(api, dev, c, world):
    sent, runner, network = world
    sandbox = runner.transports["sandbox"]
    assert api.get("/v1/account/settings").get_json() == {"read_on_reply": False}
    assert api.get(f"/v1/devices/{dev}").get_json()["settings"]["read_on_reply"] is None
    changed = api.patch("/v1/account/settings", json={"read_on_reply": True})
    assert changed.status_code == 200 and changed.get_json() == {"read_on_reply": True}
    refresh(c, runner, dev)
    sandbox.inject_inbound(dev, PHONE, "hello?", wa_id="WA_A1")
    sent(message="Hello!")  # the device follows the account: read
    assert [w for _, _, w in network.read_receipts] == ["WA_A1"]
    api.patch(f"/v1/devices/{dev}", json={"settings": {"read_on_reply": False}})
    refresh(c, runner, dev)
    sandbox.inject_inbound(dev, PHONE, "still there?", wa_id="WA_A2")
    sent(message="Yes")  # the device's false overrides the account's true
    assert [w for _, _, w in network.read_receipts] == ["WA_A1"]
    back = api.patch(f"/v1/devices/{dev}", json={"settings": {"read_on_reply": None}})
    assert back.get_json()["settings"]["read_on_reply"] is None
    refresh(c, runner, dev)
    sandbox.inject_inbound(dev, PHONE, "one more thing", wa_id="WA_A3")
    sent(message="Go ahead")  # following the account again
    assert [w for _, _, w in network.read_receipts] == ["WA_A1", "WA_A3"]
    api.patch("/v1/account/settings", json={"read_on_reply": False})
    refresh(c, runner, dev)
    sandbox.inject_inbound(dev, PHONE, "bye", wa_id="WA_A4")
    sent(message="Bye!")
    assert [w for _, _, w in network.read_receipts] == ["WA_A1", "WA_A3"]


@pytest.mark.parametrize("body", [{"read_on_reply": "maybe"}, {"typing_seconds": 3}, [],
                                  {"read_on_reply": 1.5}])
def test_bad_account_settings_are_422(api, body):
    assert_error(api.patch("/v1/account/settings", json=body), 422)


@pytest.mark.parametrize("body", [{"typing": -1}, {"typing": 21}, {"typing": "soon"}])
def test_bad_typing_is_422(api, dev, body):
    assert_error(api.send(phone=PHONE, message="x", **body), 422)
    setting = {"typing_seconds": body["typing"]}
    assert_error(api.patch(f"/v1/devices/{dev}", json={"settings": setting}), 422)


# --- forwarding ----------------------------------------------------------------------------


def test_forward_sends_a_copy_marked_forwarded(api, dev, c, world):
    sent, runner, network = world
    original = sent(message="Our new opening hours: 9 to 5", reference="hours")
    response = api.post(f"/v1/messages/{original['id']}/forward", json={"group": GROUP})
    assert response.status_code == 201, response.get_json()
    copy = response.get_json()
    assert copy["id"] != original["id"] and copy["forwarded"] is True
    assert (copy["group"], copy["message"], copy["device_id"]) == (GROUP, original["message"], dev)
    runner.handle_message_task(copy["id"])
    wait_until(lambda: c.store.get("messages", copy["id"])["status"] == "sent", message="sent")
    wa_id = c.store.get("messages", copy["id"])["wa_id"]
    assert network.contexts[wa_id] == {"forwarded": True}
    runner.transports["sandbox"].inject_inbound(dev, OTHER, "See you at 5", wa_id="WA_FWD")
    inbound_id = history(api, dev, OTHER)[0]["id"]
    received = api.post(f"/v1/messages/{inbound_id}/forward", json={"phone": PHONE}).get_json()
    assert received["message"] == "See you at 5" and received["forwarded"] is True


def test_received_media_is_forwarded_with_its_bytes(api, dev, c, world):
    _, runner, network = world
    sandbox = runner.transports["sandbox"]
    photo, report = jpeg(), pdf()
    sandbox.inject_media(dev, OTHER, photo, "image/jpeg", "image", caption="The damage",
                         wa_id="WA_PHOTO")
    sandbox.inject_media(dev, OTHER, report, "application/pdf", "document",
                         filename="report.pdf", wa_id="WA_PDF")
    received = {e["wa_id"]: e for e in history(api, dev, OTHER)}
    for wa_id, data, kind in (("WA_PHOTO", photo, "image"), ("WA_PDF", report, "document")):
        response = api.post(f"/v1/messages/{received[wa_id]['id']}/forward",
                            json={"phone": PHONE})
        assert response.status_code == 201, response.get_json()
        copy = response.get_json()
        assert copy["type"] == kind and copy["forwarded"] is True
        runner.handle_message_task(copy["id"])
        wait_until(lambda m=copy["id"]: c.store.get("messages", m)["status"] == "sent",
                   message="sent")
        sent = network.contents[c.store.get("messages", copy["id"])["wa_id"]]
        # the sandbox accepts media only with the bytes of its file: these are the received ones
        assert sent.file.sha256 == hashlib.sha256(data).hexdigest()
        assert network.contexts[c.store.get("messages", copy["id"])["wa_id"]] == {
            "forwarded": True}
    assert sent.filename == "report.pdf"
    [photo_copy] = [m for m in api.get("/v1/messages", query_string={"phone": PHONE})
                    .get_json()["data"] if m["type"] == "image"]
    assert photo_copy["content"]["caption"] == "The damage"


def test_the_sandbox_action_has_a_contact_send_a_file_that_can_be_forwarded(api, dev, c,
                                                                             world):
    import io

    _, runner, network = world
    photo = jpeg()
    file_id = api.post("/v1/files", data={"file": (io.BytesIO(photo), "damage.jpg")},
                       content_type="multipart/form-data").get_json()["id"]
    response = api.post(f"/v1/devices/{dev}/sandbox/inbound-media",
                        json={"phone": OTHER, "file": file_id, "caption": "The damage"})
    assert response.status_code == 202, response.get_json()
    run_control_tasks(c, runner, "sandbox_inbound")
    [entry] = history(api, dev, OTHER)
    assert (entry["type"], entry["message"], entry["content"]["caption"]) == (
        "image", "The damage", "The damage")
    [event] = [e.data for e in c.bus.published if e.event == "message:in:new"]
    name = event["content"]["url"].rsplit("/", 1)[-1]
    kept = api.get(f"/v1/devices/{dev}/media/{name}")
    assert kept.status_code == 200 and kept.data == photo
    copy = api.post(f"/v1/messages/{entry['id']}/forward", json={"phone": PHONE}).get_json()
    runner.handle_message_task(copy["id"])
    wait_until(lambda: c.store.get("messages", copy["id"])["status"] == "sent", message="sent")
    for body in ({"phone": OTHER, "file": "file_nope"}, {"phone": "12", "file": file_id},
                 {"phone": OTHER}, {"phone": OTHER, "file": file_id, "extra": 1}):
        assert_error(api.post(f"/v1/devices/{dev}/sandbox/inbound-media", json=body), 422)


def test_received_media_whose_bytes_are_gone_is_409(api, dev, c, world):
    _, runner, _ = world
    runner.transports["sandbox"].inject_media(dev, OTHER, jpeg(), "image/jpeg", "image",
                                              wa_id="WA_GONE")
    entry = history(api, dev, OTHER)[0]
    c.storage.delete(f"inbound/{dev}/WA_GONE.jpg")
    assert_error(api.post(f"/v1/messages/{entry['id']}/forward", json={"phone": PHONE}), 409,
                 "media_unavailable")
    c.store.update("chat_messages", f"{dev}:WA_GONE", {"type": "sticker"})
    assert_error(api.post(f"/v1/messages/{entry['id']}/forward", json={"phone": PHONE}), 409,
                 "not_forwardable")


def test_a_reply_carries_its_quote_to_the_transport(api, dev, c, world):
    sent, _, network = world
    first = sent(message="Which size?")
    reply = sent(message="Medium", quote=first["id"])
    context = network.contexts[c.store.get("messages", reply["id"])["wa_id"]]
    assert context["quote"]["message_id"] == first["id"] and context["quote"]["from_me"]


def test_what_cannot_be_forwarded_is_a_clear_4xx(api, dev, c, world):
    sent, _, _ = world
    text = sent(message="hello")
    reaction = api.send(phone=PHONE, reaction={"message": text["id"], "emoji": "👍"}).get_json()
    poll = api.send(phone=PHONE, poll={"question": "Q?", "options": ["a", "b"]}).get_json()
    for message_id in (reaction["id"], poll["id"]):
        assert_error(api.post(f"/v1/messages/{message_id}/forward", json={"phone": OTHER}),
                     409, "not_forwardable")
    assert_error(api.post("/v1/messages/msg_00000000000000000000/forward",
                          json={"phone": OTHER}), 404)
    for body in ({}, {"phone": OTHER, "group": GROUP}, {"phone": "12"}, {"group": "x"},
                 {"phone": OTHER, "message": "extra"}, {"group": "status@broadcast"}):
        assert_error(api.post(f"/v1/messages/{text['id']}/forward", json=body), 422)
