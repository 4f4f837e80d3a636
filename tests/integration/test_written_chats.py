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


class ChangedDuringFiling(Reads):
    """Runs `meanwhile` once, just before the next conditional (read) update of a chat
    commits: another writer's change landing between a filing's read and its write."""

    def __init__(self, inner, meanwhile):
        super().__init__(inner)
        self.meanwhile, self.armed = meanwhile, False

    def commit(self, writes, *, guard=None):
        if self.armed and any(w.collection == "chats" and w.when for w in writes):
            self.armed = False
            self.meanwhile(self.inner)
        return super().commit(writes, guard=guard)


def inbound_named(store, clock, n: int, push_name: str) -> bool:
    clock.advance(1)
    return chats.record_inbound(store, clock, "acc_1", "dev_1", {
        "id": f"msg_{n}", "wa_id": f"WA{n}", "phone": PHONE, "message": f"m{n}",
        "received_at": clock.now(), "push_name": push_name})


@pytest.mark.parametrize("change", ["rename", "mark_read"])
def test_a_change_between_a_filings_read_and_its_write_is_not_undone(store, change):
    """A rename (or a mark-read) lands after a filing read the chat and before it wrote:
    the filing reads again (its update is conditional on what it was computed from), so
    neither it nor the next filing, on the copy it keeps, writes over the change."""
    clock, bus = FakeClock(), InProcessBus(threaded=False)
    key = chats.chat_key("dev_1", PHONE)

    def meanwhile(inner):
        if change == "rename":
            chats.rename(inner, "acc_1", "dev_1", PHONE, "Bob")
        else:
            chats.update_chat(inner, bus, clock, "acc_1", "dev_1", PHONE, read=True)

    racing = ChangedDuringFiling(store, meanwhile)
    assert inbound(racing, clock, 1)
    chats.WRITTEN.drop(racing, key)  # the next filing reads the chat
    racing.armed = True
    assert inbound(racing, clock, 2)
    assert inbound_named(racing, clock, 3, "bobby_wa")  # on the copy kept after filing 2
    chat = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    if change == "rename":
        assert chat.name == "Bob" and chat.unread == 3
    else:
        assert chat.name == "bobby_wa" and chat.unread == 2  # 2 and 3 after the mark-read
    assert [e["seq"] for e in entries(store)] == [1, 2, 3]


def test_a_label_alone_refuses_the_kept_copy(store):
    from shared.services import labels

    clock, bus = FakeClock(), InProcessBus(threaded=False)
    store.inner.put("accounts", "acc_1", {"name": "Acme"})
    vip = labels.create_label(store.inner, clock, "acc_1", name="VIP")
    for n in range(1, 3):
        inbound(store, clock, n)
    chats.update_chat(store, bus, clock, "acc_1", "dev_1", PHONE, labels=[vip.id])
    store.chat_reads.clear()
    assert inbound(store, clock, 3)
    assert store.chat_reads["get"] >= 1
    chat = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    assert chat.labels == [vip.id] and (chat.seq, chat.unread) == (3, 3)


def test_entries_filed_together_use_and_refresh_the_kept_copy(store):
    """chats.file_outbound_many (the runner's coalesced filing): on the kept copy without
    reading; refused after a mark-read, then read, numbered on."""
    clock, bus = FakeClock(), InProcessBus(threaded=False)
    inbound(store, clock, 1)

    def outbound(n):
        return chats.ChatEntry(message_id=f"msg_o{n}", account_id="acc_1", device_id="dev_1",
                               chat=PHONE, wa_id=f"WO{n}", direction="outbound", type="text",
                               phone=PHONE, message=f"o{n}", at=clock.now())

    store.chat_reads.clear()
    chats.file_outbound_many(store, clock, [outbound(1), outbound(2)])
    assert sum(store.chat_reads.values()) == 0
    chats.update_chat(store, bus, clock, "acc_1", "dev_1", PHONE, read=True)
    chats.file_outbound_many(store, clock, [outbound(3), outbound(4)])
    assert store.chat_reads["get"] >= 1
    chat = chats.get_chat(store, "acc_1", "dev_1", PHONE)
    assert (chat.seq, chat.unread) == (5, 0)
    assert [e["seq"] for e in entries(store)] == [1, 2, 3, 4, 5]


def test_threads_of_one_process_filing_into_one_chat_all_get_their_turn(store):
    """8 threads file 240 messages into one chat (as the web chat bench fills a history):
    a thread whose kept copy was refused takes the copy its winner kept, and backs off
    after two losses, so none runs out of attempts (on Firestore, a thread reading the
    chat each time starved behind the others' read-free writes); numbers 1..240 once."""
    import threading

    clock = FakeClock()
    numbers, lock, failed = iter(range(1, 241)), threading.Lock(), []

    def work():
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            try:
                assert chats.record_inbound(store, clock, "acc_1", "dev_1", {
                    "id": f"msg_{n}", "wa_id": f"WA{n}", "phone": PHONE, "message": f"m{n}",
                    "received_at": clock.now()})
            except Exception as exc:  # noqa: BLE001 - reported below
                failed.append((n, exc))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failed == []
    assert [e["seq"] for e in entries(store)] == list(range(1, 241))
    assert chats.get_chat(store, "acc_1", "dev_1", PHONE).seq == 240
