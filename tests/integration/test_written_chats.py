"""Filing into a chat this process wrote last (shared.services.chats.WrittenChats): no
read of the chat, a write on the version its last commit answered; and every other
change to the chat (a mark-read, a label, a deletion, another process) refuses that
write, so the chat is read again and its numbers, unread count and thread stay right.
On the in-memory store and on the Firestore emulator."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.memory_store import MemoryStore
from shared.ports import DocumentStore
from shared.services import chat_deletion, chats
from tests.fakes import FakeClock

PHONE = "+447400123456"


class Reads(DocumentStore):
    """Counts the store's reads of chat documents (a get, or a conditional update's)."""

    def __init__(self, inner):
        self.inner, self.chat_reads = inner, Counter()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get(self, collection, doc_id):
        if collection == "chats":
            self.chat_reads["get"] += 1
        return self.inner.get(collection, doc_id)

    def commit(self, writes, *, guard=None):
        self.chat_reads["when"] += sum(1 for w in writes if w.collection == "chats" and w.when)
        return self.inner.commit(writes, guard=guard)

    # the port's other methods, straight through
    def create(self, *a, **k):
        return self.inner.create(*a, **k)

    def put(self, *a, **k):
        return self.inner.put(*a, **k)

    def update(self, *a, **k):
        return self.inner.update(*a, **k)

    def delete(self, *a, **k):
        return self.inner.delete(*a, **k)

    def query(self, *a, **k):
        return self.inner.query(*a, **k)

    def get_many(self, *a, **k):
        return self.inner.get_many(*a, **k)

    def increment(self, *a, **k):
        return self.inner.increment(*a, **k)


@pytest.fixture(params=["memory", "firestore"])
def store(request):
    inner = MemoryStore() if request.param == "memory" else request.getfixturevalue(
        "firestore_store")
    return Reads(inner)


def inbound(store, clock, n: int, phone: str = PHONE) -> bool:
    clock.advance(1)
    return chats.record_inbound(store, clock, "acc_1", "dev_1", {
        "id": f"msg_{n}", "wa_id": f"WA{n}", "phone": phone, "message": f"m{n}",
        "received_at": clock.now()})


def entries(store) -> list[dict]:
    return sorted(store.query("chat_messages", [("device_id", "==", "dev_1")]),
                  key=lambda e: e["seq"])


def test_filing_again_into_a_chat_it_wrote_reads_no_chat(store):
    clock = FakeClock()
    assert inbound(store, clock, 1)  # a new chat: one read (absent), a create
    store.chat_reads.clear()
    for n in range(2, 6):
        assert inbound(store, clock, n)
    assert sum(store.chat_reads.values()) == 0, store.chat_reads
    assert [e["seq"] for e in entries(store)] == [1, 2, 3, 4, 5]
    chat = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    assert (chat.seq, chat.unread) == (5, 5)


def test_a_change_by_anyone_else_is_read_before_the_next_filing(store):
    clock, bus = FakeClock(), InProcessBus(threaded=False)
    for n in range(1, 4):
        inbound(store, clock, n)
    chats.update_chat(store, bus, clock, "acc_1", "dev_1", PHONE, read=True)  # unread 0
    store.inner.update("chats", chats.chat_key("dev_1", PHONE), {"name": "Ana"})  # elsewhere
    store.chat_reads.clear()
    assert inbound(store, clock, 4)
    assert store.chat_reads["get"] >= 1  # the kept copy was refused, the chat read again
    chat = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    assert (chat.seq, chat.unread, chat.name) == (4, 1, "Ana")
    assert [e["seq"] for e in entries(store)] == [1, 2, 3, 4]


def test_a_chat_deleted_meanwhile_starts_again_with_a_new_thread(store):
    clock, bus = FakeClock(), InProcessBus(threaded=False)
    for n in range(1, 3):
        inbound(store, clock, n)
    old = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    chat_deletion.delete_chat(store, bus, clock, "acc_1", "dev_1", PHONE)
    assert inbound(store, clock, 3)
    chat = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    assert chat.thread != old.thread and (chat.seq, chat.unread) == (1, 1)
    assert [(e["seq"], e["thread"]) for e in entries(store)] == [(1, chat.thread)]


def test_a_redelivered_message_is_still_filed_once(store):
    clock = FakeClock()
    assert inbound(store, clock, 1) and inbound(store, clock, 2)
    assert not inbound(store, clock, 2)
    assert inbound(store, clock, 3)
    assert [e["seq"] for e in entries(store)] == [1, 2, 3]
    assert chats.get_chat(store, "acc_1", "dev_1", PHONE).seq == 3


def test_two_processes_filing_into_one_chat_number_it_without_gaps(store, monkeypatch):
    """Each process keeps its own copy: the other's writes refuse it, and the chat is
    read again; numbers stay 1..n, each once."""
    clock = FakeClock()
    this, other = chats.WrittenChats(), chats.WrittenChats()
    for n in range(1, 13):
        monkeypatch.setattr(chats, "WRITTEN", this if n % 3 else other)
        assert inbound(store, clock, n)
    assert [e["seq"] for e in entries(store)] == list(range(1, 13))
    chat = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    assert (chat.seq, chat.unread) == (12, 12)
