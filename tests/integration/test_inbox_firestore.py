"""The inbox's queries on the real Firestore emulator: chat filing with its cap, pages by
cursor, label filters, the `in` look-up of outbound statuses, and purges."""

from __future__ import annotations

import pytest

from shared.domain import Message
from shared.services import chat_deletion, chats, contacts, labels
from tests.fakes import FakeClock

pytestmark = pytest.mark.emulator


@pytest.fixture
def store(firestore_store):
    return firestore_store


def _inbound(store, clock, phone, text, n, cap=1000):
    clock.advance(1)
    return chats.record_inbound(store, clock, "acc_1", "dev_1", {
        "id": f"msg_{n}", "wa_id": f"WA{n}", "phone": phone, "message": text,
        "received_at": clock.now()}, cap=cap)


def test_filing_caps_pages_and_purges_on_firestore(store):
    clock = FakeClock()
    for n in range(8):
        assert _inbound(store, clock, "+447400123456", f"m{n}", n, cap=5)
    assert not _inbound(store, clock, "+447400123456", "again", 7, cap=5)  # redelivered
    entries = store.query("chat_messages", [("device_id", "==", "dev_1")])
    assert sorted(e["seq"] for e in entries) == [4, 5, 6, 7, 8]
    first, cursor = chats.list_entries(store, "acc_1", "dev_1", "+447400123456", limit=3)
    second, end = chats.list_entries(store, "acc_1", "dev_1", "+447400123456", limit=3, after=cursor)
    assert [e["message"] for e in first + second] == ["m7", "m6", "m5", "m4", "m3"]
    assert end is None
    chat = chats.get_chat(store, "acc_1", "dev_1", "+447400123456")
    assert (chat.seq, chat.unread) == (8, 8)

    from shared.adapters.inprocess_bus import InProcessBus

    chat_deletion.delete_chat(store, InProcessBus(threaded=False), clock, "acc_1", "dev_1", "+447400123456")
    assert store.query("chat_messages", [("device_id", "==", "dev_1")]) == []
    assert store.query("chat_purges") == []


def test_concurrent_filings_number_a_chat_without_gaps_or_twins_on_firestore(store):
    # Entry, chat and events are one commit conditional on the chat's sequence: 24
    # messages (two of them delivered twice) filed by 6 writers at once take 1..22 once each.
    from concurrent.futures import ThreadPoolExecutor

    clock = FakeClock()
    work = [n for n in range(22)] + [3, 17]
    with ThreadPoolExecutor(6) as pool:
        filed = list(pool.map(lambda n: chats.record_inbound(store, clock, "acc_1", "dev_1", {
            "id": f"msg_{n}", "wa_id": f"WA{n}", "phone": "+447400123499", "message": f"m{n}",
            "received_at": clock.now()}), work))
    assert filed.count(True) == 22
    entries = store.query("chat_messages", [("device_id", "==", "dev_1")])
    assert sorted(e["seq"] for e in entries) == list(range(1, 23))
    chat = chats.get_chat(store, "acc_1", "dev_1", "+447400123499")
    assert (chat.seq, chat.unread) == (22, 22) and {e["thread"] for e in entries} == {chat.thread}


def test_chat_list_filters_and_cursor_on_firestore(store):
    from shared.adapters.inprocess_bus import InProcessBus

    clock, bus = FakeClock(), InProcessBus(threaded=False)
    store.put("accounts", "acc_1", {"name": "Acme"})
    vip = labels.create_label(store, clock, "acc_1", name="VIP")
    phones = [f"+4474001234{n:02d}" for n in range(5)]
    for n, phone in enumerate(phones):
        _inbound(store, clock, phone, "hi", n)
    chats.update_chat(store, bus, clock, "acc_1", "dev_1", phones[1], labels=[vip.id], read=True)
    chats.update_chat(store, bus, clock, "acc_1", "dev_1", phones[3], labels=[vip.id])
    seen, cursor = [], None
    while True:
        page, cursor = chats.list_chats(store, "dev_1", limit=2, after=cursor)
        seen += [c.chat for c in page]
        if cursor is None:
            break
    assert seen == list(reversed(phones))
    labelled, _ = chats.list_chats(store, "dev_1", label=vip.id)
    assert [c.chat for c in labelled] == [phones[3], phones[1]]
    unread, _ = chats.list_chats(store, "dev_1", label=vip.id, unread=True)
    assert [c.chat for c in unread] == [phones[3]]
    page, cursor = contacts.list_contacts(store, "dev_1", limit=3)
    rest, end = contacts.list_contacts(store, "dev_1", limit=3, after=cursor)
    assert [c.phone for c in page + rest] == phones and end is None
    assert labels.delete_label(store, "acc_1", vip.id) == 2
    assert chats.list_chats(store, "dev_1", label=vip.id)[0] == []


def test_outbound_statuses_are_looked_up_in_batches_on_firestore(store):
    clock = FakeClock()
    sent = []
    for n in range(35):  # more than one `in` query of 30
        clock.advance(1)
        message = Message(id=f"msg_o{n}", account_id="acc_1", device_id="dev_1",
                          phone="+447400123456", message=f"o{n}", wa_id=f"3EB{n}",
                          status="delivered" if n % 2 else "read", created_at=clock.now())
        store.put("messages", message.id, message.to_doc())
        chats.record_outbound(store, clock, message)
        sent.append(message)
    page, _ = chats.list_entries(store, "acc_1", "dev_1", "+447400123456", limit=35)
    assert {e["id"]: e["status"] for e in page} == {m.id: m.status.value for m in sent}


def test_web_chat_names_search_and_assignment_on_firestore(store):
    """The web chat's queries on the emulator: search terms (array-contains with the
    order), the assignee filter, and a contact's new name on its chat."""
    from shared.adapters.inprocess_bus import InProcessBus

    clock, bus = FakeClock(), InProcessBus(threaded=False)
    store.put("agents", "agt_1", {"id": "agt_1", "account_id": "acc_1", "role": "agent",
                                  "devices": ["dev_1"], "active": True})
    phones = ["+34600100200", "+34600999888", "+447400123456"]
    for n, phone in enumerate(phones):
        _inbound(store, clock, phone, "hi", 100 + n)
    contacts.update_contact(store, bus, clock, "acc_1", "dev_1", phones[0], {"name": "Jane Doe"})
    contacts.update_contact(store, bus, clock, "acc_1", "dev_1", phones[1], {"name": "John Dowland"})
    assert chats.get_chat(store, "acc_1", "dev_1", phones[0]).name == "Jane Doe"

    def found(**query):
        return [c.chat for c in chats.list_chats(store, "dev_1", **query)[0]]

    assert found(search="do") == [phones[1], phones[0]]
    assert found(search="j dow") == [phones[1]]
    assert found(search="600100") == [phones[0]]
    chats.update_chat(store, bus, clock, "acc_1", "dev_1", phones[2], assigned_to="agt_1")
    assert found(assigned_to="agt_1") == [phones[2]]
    assert found(assigned_to="agt_1", search="4474") == [phones[2]]
    assert found(assigned_to="agt_1", unread=True, search="do") == []


def _from_lid(store, clock, chat, text, n, lid="207435312347202@lid"):
    clock.advance(1)
    return chats.record_inbound(store, clock, "acc_1", "dev_1", {
        "id": f"msg_{n}", "wa_id": f"WA{n}", "phone": chat, "lid": lid, "message": text,
        "received_at": clock.now()})


def test_a_lid_chat_joins_the_numbers_on_firestore(store):
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.services import lid_chats

    clock, bus, lid, phone = FakeClock(), InProcessBus(threaded=False), \
        "207435312347202@lid", "+447400123456"
    for n in range(3):
        assert _from_lid(store, clock, lid, f"anon {n}", n)
    assert lid_chats.join(store, bus, clock, "dev_1", lid, phone)
    assert store.get("chats", f"dev_1:{lid}") is None
    chat = chats.get_chat(store, "acc_1", "dev_1", phone)
    assert (chat.lid, chat.seq, chat.unread) == (lid, 3, 3)
    page, _ = chats.list_entries(store, "acc_1", "dev_1", phone, limit=10)
    assert [(e["message"], e["phone"], e["lid"]) for e in page] == [
        (f"anon {n}", phone, lid) for n in (2, 1, 0)]
    assert store.get("contacts", f"dev_1:{phone}")["lid"] == lid
    assert store.get("contacts", f"dev_1:{lid}") is None
    assert not lid_chats.join(store, bus, clock, "dev_1", lid, phone)  # nothing left to join


def test_a_lid_chat_is_appended_to_an_existing_numbers_chat_on_firestore(store):
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.services import lid_chats

    clock, bus = FakeClock(), InProcessBus(threaded=False)
    lid, phone, other = "207435312347202@lid", "+447400123456", "91827364550123@lid"
    assert _inbound(store, clock, phone, "by number", 10)
    for n in range(2):
        assert _from_lid(store, clock, lid, f"anon {n}", n)
    assert _from_lid(store, clock, other, "someone else", 20, lid=other)
    assert lid_chats.join(store, bus, clock, "dev_1", lid, phone)
    page, _ = chats.list_entries(store, "acc_1", "dev_1", phone, limit=10)
    assert [(e["message"], e["seq"]) for e in page] == [("anon 1", 3), ("anon 0", 2),
                                                       ("by number", 1)]
    chat = chats.get_chat(store, "acc_1", "dev_1", phone)
    assert (chat.lid, chat.seq, chat.unread, chat.last_message["message"]) == (
        lid, 3, 3, "anon 1")
    assert _inbound(store, clock, phone, "after the join", 11)  # numbering goes on
    assert chats.get_chat(store, "acc_1", "dev_1", phone).seq == 4
    assert chats.get_chat(store, "acc_1", "dev_1", other).seq == 1  # untouched
    [deleted] = [e.data for e in bus.published if e.event == "chat:delete"]
    assert deleted["merged_into"] == phone


def _lid_chat_beside_the_numbers(store, clock, count):
    lid, phone = "207435312347202@lid", "+447400123456"
    assert _inbound(store, clock, phone, "by number", 100)
    for n in range(count):
        assert _from_lid(store, clock, lid, f"anon {n}", n)
    return lid, phone


def test_a_lid_join_stopped_after_its_first_batch_is_finished_on_firestore(store, monkeypatch):
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.services import lid_chats

    clock, bus = FakeClock(), InProcessBus(threaded=False)
    lid, phone = _lid_chat_beside_the_numbers(store, clock, 5)
    monkeypatch.setattr(lid_chats, "BATCH", 2)
    commit, calls = store.commit, []

    def stopping(writes, **kwargs):  # the process dies at the second commit
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("the process stopped here")
        return commit(writes, **kwargs)

    monkeypatch.setattr(store, "commit", stopping)
    with pytest.raises(ConnectionError):
        lid_chats.join(store, bus, clock, "dev_1", lid, phone)
    monkeypatch.setattr(store, "commit", commit)
    assert store.get("chats", f"dev_1:{lid}") is not None  # unfinished: the LID chat stays
    assert lid_chats.finish(store, bus, clock, "dev_1", lid, phone)  # e.g. the next message
    assert store.get("chats", f"dev_1:{lid}") is None
    page, _ = chats.list_entries(store, "acc_1", "dev_1", phone, limit=10)
    assert [(e["message"], e["seq"], e["phone"]) for e in reversed(page)] == [
        ("by number", 1, phone), *((f"anon {n}", n + 2, phone) for n in range(5))]
    chat = chats.get_chat(store, "acc_1", "dev_1", phone)
    assert (chat.seq, chat.unread, chat.lid) == (6, 6, lid)
    assert not lid_chats.finish(store, bus, clock, "dev_1", lid, phone)


def test_lid_joins_side_by_side_move_each_entry_once_on_firestore(store, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from shared.adapters.inprocess_bus import InProcessBus
    from shared.services import lid_chats

    clock, bus = FakeClock(), InProcessBus(threaded=False)
    lid, phone = _lid_chat_beside_the_numbers(store, clock, 7)
    monkeypatch.setattr(lid_chats, "BATCH", 3)
    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(lambda _: lid_chats.join(store, bus, clock, "dev_1", lid, phone),
                             range(3)))
    assert True in done and store.get("chats", f"dev_1:{lid}") is None
    entries = store.query("chat_messages", [("device_id", "==", "dev_1")])
    chat = chats.get_chat(store, "acc_1", "dev_1", phone)
    assert sorted(e["seq"] for e in entries) == list(range(1, 9))
    assert {e["thread"] for e in entries} == {chat.thread}
    page, _ = chats.list_entries(store, "acc_1", "dev_1", phone, limit=10)
    assert [e["message"] for e in reversed(page)] == ["by number",
                                                      *(f"anon {n}" for n in range(7))]
    assert (chat.seq, chat.unread) == (8, 8)
    assert len([e for e in bus.published if e.event == "chat:delete"]) == 1
