from __future__ import annotations

from datetime import timedelta

import pytest

from shared import names
from shared.adapters.memory_store import MemoryStore
from shared.events import EventName
from shared.services import chat_deletion
from shared.services import chats as chat_service
from tests.fakes import FakeClock, assert_error, wait_until
from tests.unit.inbox.helpers import inbound, outbound


@pytest.fixture
def dev(device, account) -> dict:
    return device | {"account_id": account.id}


# --- filing -------------------------------------------------------------------------


def test_inbound_message_opens_a_chat_and_its_contact(c, dev, api):
    assert inbound(c, dev, "+447400123456", "Is my order on its way?")
    chat = api.get(f"/v1/devices/{dev['id']}/chats/+447400123456").get_json()
    assert chat["id"] == "+447400123456" and chat["kind"] == "user"
    assert chat["unread"] == 1 and chat["labels"] == []
    assert chat["last_message"]["message"] == "Is my order on its way?"
    assert chat["last_message"]["direction"] == "inbound"
    contact = api.get(f"/v1/devices/{dev['id']}/contacts/+447400123456").get_json()
    assert contact["phone"] == "+447400123456" and contact["metadata"] == {}


def test_a_redelivered_inbound_message_is_filed_once(c, dev, api):
    assert inbound(c, dev, "+447400123456", wa_id="WA-SAME")
    assert not inbound(c, dev, "+447400123456", wa_id="WA-SAME")
    chat = api.get(f"/v1/devices/{dev['id']}/chats/+447400123456").get_json()
    assert chat["unread"] == 1
    assert len(api.get(f"/v1/devices/{dev['id']}/chats/+447400123456/messages").get_json()["data"]) == 1


def test_a_filing_cut_short_is_finished_by_the_redelivery(c, dev):
    doc_id = chat_service.entry_doc_id(dev["id"], "WA-CUT")
    c.store.create("chat_messages", doc_id, {"message_id": "msg_x", "account_id": dev["account_id"],
                                             "device_id": dev["id"], "chat": "+447400123456",
                                             "wa_id": "WA-CUT", "direction": "inbound",
                                             "phone": "+447400123456", "message": "hi",
                                             "at": c.clock.now()})
    assert inbound(c, dev, "+447400123456", wa_id="WA-CUT")
    assert c.store.get("chat_messages", doc_id)["seq"] == 1


class ChatAtPublish:
    """A bus that, as each event goes out, notes what a reader of the chat sees then."""

    def __init__(self, store):
        self.store, self.seen = store, []

    def publish(self, event):
        self.seen.append((event.id, self.store.get("chats", "dev_1:+447400123456")))


def test_whoever_sees_an_inbound_event_finds_the_chat_already_showing_it():
    # The web chat refreshes its chat list on message:in:new; the event was committed
    # with the entry and the chat updated after, so a quick reader saw the old unread
    # count (CI: "1 unread" never showed). The entry, the chat and the event: one commit.
    store, clock = MemoryStore(), FakeClock()
    bus = ChatAtPublish(store)
    for n in (1, 2):
        clock.advance(1)
        event = chat_service.event_log.new_event(bus, clock, EventName.message_in_new, "acc_1",
                                                 "dev_1", {}, key=f"in:WA{n}")
        assert chat_service.record_inbound(store, clock, "acc_1", "dev_1", {
            "id": f"msg_{n}", "wa_id": f"WA{n}", "phone": "+447400123456", "message": f"m{n}",
            "received_at": clock.now()}, bus=bus, events=[event])
        _, chat = bus.seen[-1]
        assert chat is not None and chat["unread"] == n and chat["last_message"]["id"] == f"msg_{n}"
        entry = store.get("chat_messages", chat_service.entry_doc_id("dev_1", f"WA{n}"))
        assert entry["seq"] == n and entry["thread"] == chat["thread"]
    again = chat_service.event_log.new_event(bus, clock, EventName.message_in_new, "acc_1",
                                             "dev_1", {}, key="in:WA2")
    assert not chat_service.record_inbound(store, clock, "acc_1", "dev_1", {
        "id": "msg_2", "wa_id": "WA2", "phone": "+447400123456", "message": "m2",
        "received_at": clock.now()}, bus=bus, events=[again])
    assert len(bus.seen) == 2 and store.get("chats", "dev_1:+447400123456")["unread"] == 2


def test_outbound_messages_join_the_chat_and_read_it(c, dev, api):
    inbound(c, dev, "+447400123456", "question")
    inbound(c, dev, "+447400123456", "anyone?")
    sent = outbound(c, dev, "+447400123456", "answer", status="delivered")
    chat = api.get(f"/v1/devices/{dev['id']}/chats/+447400123456").get_json()
    assert chat["unread"] == 0
    assert chat["last_message"]["id"] == sent.id and chat["last_message"]["direction"] == "outbound"
    page = api.get(f"/v1/devices/{dev['id']}/chats/+447400123456/messages").get_json()
    assert [m["message"] for m in page["data"]] == ["answer", "anyone?", "question"]
    assert [m["seq"] for m in page["data"]] == [3, 2, 1]
    assert page["data"][0]["id"] == sent.id and page["data"][0]["status"] == "delivered"
    assert page["data"][1]["status"] is None


class CountingStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.queried = 0  # documents returned by queries

    def query(self, collection, where=(), order_by=(), limit=None, start_after=None):
        docs = super().query(collection, where, order_by, limit, start_after)
        self.queried += len(docs)
        return docs


def test_a_chat_keeps_1000_messages_and_drops_the_oldest_without_a_scan():
    store, clock = CountingStore(), FakeClock()
    record = {"phone": "+447400123456", "message": "m"}
    for n in range(1, 1002):
        clock.advance(1)
        store.queried = 0
        assert chat_service.record_inbound(store, clock, "acc_1", "dev_1", record | {
            "id": f"msg_{n}", "wa_id": f"WA{n}", "received_at": clock.now(), "message": f"m{n}"})
        assert store.queried <= 1  # at most the one entry it drops
    entries = store.query("chat_messages", [("device_id", "==", "dev_1")])
    assert len(entries) == 1000
    assert {e["seq"] for e in entries} == set(range(2, 1002))
    assert "m1" not in {e["message"] for e in entries}
    chat = store.get("chats", "dev_1:+447400123456")
    assert chat["seq"] == 1001 and chat["unread"] == 1001


def test_the_cap_holds_as_messages_keep_coming(c, dev):
    for n in range(12):
        inbound(c, dev, "+447400123456", f"m{n}", cap=5)
    entries = c.store.query("chat_messages", [("device_id", "==", dev["id"])])
    assert {e["message"] for e in entries} == {f"m{n}" for n in range(7, 12)}


def test_the_runner_files_inbound_and_sent_messages(api, c, network, linked):
    network.runner.handle_device_task({"device_id": linked["id"], "action": "sandbox_inbound",
                                       "phone": "+447400123456", "message": "hello?"})
    events = [e for e in c.bus.published if e.event == EventName.message_in_new]
    assert len(events) == 1 and events[0].data["message"] == "hello?"
    sent = api.post("/v1/messages", json={"phone": "+447400123456", "message": "hi there",
                                          "device": linked["id"]}).get_json()
    for task in c.tasks.on(*names.MESSAGE_QUEUES.values()):
        network.runner.handle_message_task(task.payload["message_id"])
    path = f"/v1/devices/{linked['id']}/chats/+447400123456/messages"
    wait_until(lambda: len(api.get(path).get_json()["data"]) == 2, message="the sent message filed")
    data = api.get(path).get_json()["data"]
    assert [m["direction"] for m in data] == ["outbound", "inbound"]
    assert data[0]["id"] == sent["id"] and data[0]["status"] in ("sent", "delivered", "read")


# --- listing ------------------------------------------------------------------------


def test_chats_list_most_recent_first_with_cursor_pages(c, dev, api):
    phones = [f"+4474001234{n:02d}" for n in range(7)]
    for phone in phones:
        inbound(c, dev, phone)
    inbound(c, dev, phones[0], "again")  # now the most recent
    seen, cursor = [], None
    for _ in range(5):
        query = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/v1/devices/{dev['id']}/chats", query_string=query).get_json()
        seen += [chat["id"] for chat in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [phones[0], *reversed(phones[1:])]


def test_chat_filters(c, dev, api):
    for phone in ("+447400123401", "+447400123402", "+447400123403"):
        inbound(c, dev, phone)
    outbound(c, dev, "+447400123402")
    vip = api.post("/v1/labels", json={"name": "VIP"}).get_json()
    api.patch(f"/v1/devices/{dev['id']}/chats/+447400123403", json={"labels": [vip["id"]]})
    base = f"/v1/devices/{dev['id']}/chats"
    ids = lambda **q: [chat["id"] for chat in api.get(base, query_string=q).get_json()["data"]]  # noqa: E731
    assert ids(label=vip["id"]) == ["+447400123403"]
    assert ids(unread="true") == ["+447400123403", "+447400123401"]
    assert ids(unread="false") == ["+447400123402"]
    assert ids(kind="group") == []
    assert_error(api.get(base, query_string={"kind": "channel"}), 422)
    assert_error(api.get(base, query_string={"limit": 0}), 422)
    assert_error(api.get(base, query_string={"cursor": "not-a-cursor"}), 422, "invalid_cursor")


def test_chat_messages_page_newest_first(c, dev, api):
    for n in range(5):
        inbound(c, dev, "+447400123456", f"m{n}")
    path = f"/v1/devices/{dev['id']}/chats/+447400123456/messages"
    first = api.get(path, query_string={"limit": 2}).get_json()
    assert [m["message"] for m in first["data"]] == ["m4", "m3"]
    second = api.get(path, query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    assert [m["message"] for m in second["data"]] == ["m2", "m1"]
    third = api.get(path, query_string={"limit": 2, "cursor": second["next_cursor"]}).get_json()
    assert [m["message"] for m in third["data"]] == ["m0"] and third["next_cursor"] is None


def test_chat_ids_in_paths(c, dev, api):
    inbound(c, dev, "+447400123456")
    for form in ("+447400123456", "%2B447400123456", "447400123456"):
        assert api.get(f"/v1/devices/{dev['id']}/chats/{form}").status_code == 200, form
    assert_error(api.get(f"/v1/devices/{dev['id']}/chats/+447400999999"), 404, "not_found")
    assert_error(api.get(f"/v1/devices/{dev['id']}/chats/not-a-phone"), 422)


def test_another_account_sees_no_chat(c, dev, new_account):
    inbound(c, dev, "+447400123456")
    other = new_account("Other Ltd").api
    assert_error(other.get(f"/v1/devices/{dev['id']}/chats"), 404)
    assert_error(other.get(f"/v1/devices/{dev['id']}/chats/+447400123456"), 404)
    assert_error(other.get(f"/v1/devices/{dev['id']}/chats/+447400123456/messages"), 404)
    assert_error(other.delete(f"/v1/devices/{dev['id']}/chats/+447400123456"), 404)


# --- changing and deleting ----------------------------------------------------------


def test_patch_chat_labels_and_read_state(c, dev, api):
    inbound(c, dev, "+447400123456")
    label = api.post("/v1/labels", json={"name": "Lead", "color": "green"}).get_json()
    path = f"/v1/devices/{dev['id']}/chats/+447400123456"
    response = api.patch(path, json={"labels": [label["id"], label["id"]], "read": True})
    assert response.status_code == 200
    assert response.get_json()["labels"] == [label["id"]] and response.get_json()["unread"] == 0
    event = [e for e in c.bus.published if e.event == EventName.chat_update][-1]
    assert event.data["id"] == "+447400123456" and event.data["changed"] == ["labels", "unread"]
    assert api.patch(path, json={"read": False}).get_json()["unread"] == 1
    assert_error(api.patch(path, json={"labels": ["lbl_00000000000000000000"]}), 422, "unknown_label")
    assert_error(api.patch(path, json={"labels": [f"l{n}" for n in range(21)]}), 422)
    assert_error(api.patch(path, json={"pinned": True}), 422)


def test_delete_chat_erases_it_and_a_new_message_starts_afresh(c, dev, api):
    for n in range(3):
        inbound(c, dev, "+447400123456", f"old{n}")
    path = f"/v1/devices/{dev['id']}/chats/+447400123456"
    assert api.delete(path).status_code == 204
    assert_error(api.get(path), 404)
    assert c.store.query("chat_messages", [("device_id", "==", dev["id"])]) == []
    assert c.store.query("chat_purges") == []
    assert [e.data for e in c.bus.published if e.event == EventName.chat_delete] == [
        {"id": "+447400123456", "kind": "user", "reason": "api"}]
    inbound(c, dev, "+447400123456", "new")
    messages = api.get(path + "/messages").get_json()["data"]
    assert [(m["message"], m["seq"]) for m in messages] == [("new", 1)]


def test_deleting_a_long_chat_leaves_the_rest_to_the_cleanup(c, dev, api):
    from shared.services import chat_cleanup

    for n in range(chat_deletion.INLINE_PURGE + 20):
        inbound(c, dev, "+447400123456", f"m{n}")
    assert api.delete(f"/v1/devices/{dev['id']}/chats/+447400123456").status_code == 204
    inbound(c, dev, "+447400123456", "fresh")  # the new chat is not touched
    left = c.store.query("chat_messages", [("device_id", "==", dev["id"])])
    assert len(left) == 21
    assert len(c.store.query("chat_purges")) == 1
    assert chat_cleanup.run(c.store, c.bus, c.clock)["threads_purged"] == 1
    left = c.store.query("chat_messages", [("device_id", "==", dev["id"])])
    assert [e["message"] for e in left] == ["fresh"]


def test_a_purge_record_of_a_live_chat_is_left_alone(c, dev):
    inbound(c, dev, "+447400123456")
    chat = c.store.get("chats", f"{dev['id']}:+447400123456")
    c.store.put("chat_purges", chat["thread"], {"thread": chat["thread"], "key": chat["key"]})
    assert chat_deletion.finish_purges(c.store) == 0
    assert len(c.store.query("chat_messages", [("device_id", "==", dev["id"])])) == 1


# --- sending in a chat and links ----------------------------------------------------


def test_send_in_a_chat(c, dev, api):
    response = api.post(f"/v1/devices/{dev['id']}/chats/+447400123456/messages",
                        json={"message": "Hello!", "priority": "high"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["phone"], body["device_id"], body["status"], body["priority"]) == (
        "+447400123456", dev["id"], "queued", "high")
    assert_error(api.post(f"/v1/devices/{dev['id']}/chats/+447400123456/messages",
                          json={"message": ""}), 422)
    assert_error(api.post("/v1/devices/dev_nope/chats/+447400123456/messages",
                          json={"message": "x"}), 404)


def test_chat_link(dev, api):
    body = api.get(f"/v1/devices/{dev['id']}/chats/+447400123456/link").get_json()
    assert body == {"phone": "+447400123456",
                    "url": "https://web.whatsapp.com/send?phone=447400123456",
                    "wa_me": "https://wa.me/447400123456"}
    text = api.get(f"/v1/devices/{dev['id']}/chats/447400123456/link",
                   query_string={"text": "Hi & bye"}).get_json()
    assert text["url"] == "https://web.whatsapp.com/send?phone=447400123456&text=Hi%20%26%20bye"
    assert_error(api.get(f"/v1/devices/{dev['id']}/chats/+44123/link"), 422)
    assert_error(api.get("/v1/devices/dev_nope/chats/+447400123456/link"), 404)


def test_clock_order_keeps_the_newest_as_last_message(c, dev):
    inbound(c, dev, "+447400123456", "late")
    record = {"id": "msg_early", "wa_id": "WA-EARLY", "phone": "+447400123456",
              "message": "early", "received_at": c.clock.now() - timedelta(minutes=5)}
    chat_service.record_inbound(c.store, c.clock, dev["account_id"], dev["id"], record)
    assert c.store.get("chats", f"{dev['id']}:+447400123456")["last_message"]["message"] == "late"


def test_the_chat_history_keeps_each_inbound_messages_content(api, c, network, linked):
    from shared.ports import Inbound

    at = c.clock.now()
    image_url = "https://api.utio.test/v1/media/dev/WA-IMG.png"
    received = [
        Inbound(wa_id="WA-IMG", sender="+447400123456", text="our shop", at=at, type="image",
                content={"mime": "image/png", "size": 72, "sha256": "ab" * 32,
                         "caption": "our shop", "url": image_url}),
        Inbound(wa_id="WA-LOC", sender="+447400123456", text="London Eye", at=at,
                type="location", content={"latitude": 51.5033, "longitude": -0.1196,
                                          "name": "London Eye", "address": None, "url": None}),
        Inbound(wa_id="WA-VCF", sender="+447400123456", text="Ann", at=at, type="contacts",
                content={"contacts": [{"name": "Ann", "phone": "+447911123456",
                                       "vcard": "BEGIN:VCARD\nFN:Ann\nEND:VCARD"}]}),
        Inbound(wa_id="WA-REACT", sender="+447400123456", text="👍", at=at, type="reaction",
                content={"emoji": "👍", "target": {"wa_id": "3EB0WA0000000001", "from_me": True}}),
    ]
    for message in received:
        network.runner.on_inbound(linked["id"], message)
    path = f"/v1/devices/{linked['id']}/chats/+447400123456/messages"
    data = {m["wa_id"]: m for m in api.get(path).get_json()["data"]}
    assert data["WA-IMG"]["type"] == "image" and data["WA-IMG"]["content"]["url"] == image_url
    assert data["WA-IMG"]["content"]["mime"] == "image/png"
    assert data["WA-LOC"]["content"]["latitude"] == 51.5033
    assert data["WA-VCF"]["content"]["contacts"][0]["phone"] == "+447911123456"
    assert data["WA-REACT"]["content"]["target"] == {"wa_id": "3EB0WA0000000001", "from_me": True}


def test_outbound_entries_keep_the_content_sent(c, dev, api):
    outbound(c, dev, "+447400123456", "answer", status="delivered")
    data = api.get(f"/v1/devices/{dev['id']}/chats/+447400123456/messages").get_json()["data"]
    assert data[0]["content"] == {"type": "text", "text": "answer"}


def test_kept_content_is_bounded_json():
    from shared.services import chat_content

    kept = chat_content.bounded_content({
        "raw": b"\x89PNG", "caption": "x" * 10_000, "items": list(range(500)),
        "nested": {"thumbnail": bytearray(b"jpg"), "ok": True}, "none": None})
    assert kept == {"caption": "x" * chat_content.CONTENT_TEXT_LIMIT,
                    "items": list(range(chat_content.CONTENT_LIST_LIMIT)), "nested": {"ok": True}}
