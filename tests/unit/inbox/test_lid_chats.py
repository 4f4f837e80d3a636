"""A LID chat's join into the number's, finished whatever stops it (issue 19: a chat never
splits in two): a join that stopped after its first batch is completed by the contact's
next message, a LID chat opened after the number was learnt joins too, and joins run
again or side by side move and number each entry once."""

from __future__ import annotations

import pytest

from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.ports import Inbound
from shared.services import chats, inbound, lid_chats, lids
from tests.fakes import (
    FakeClock,
    FakeHttp,
    FakeTaskQueue,
    in_threads,
    make_settings,
    seed_account,
    seed_device,
)

LID, PHONE = "207435312347202@lid", "+447400123456"


class Stopping(MemoryStore):
    """A MemoryStore that raises on the `nth` commit from `stop_at(nth)` on (a process
    dying between two commits), and hides the lid_map document from the next `blind`
    reads (a mapping read just before it was learnt)."""

    def __init__(self):
        super().__init__()
        self.left: int | None = None
        self.blind = 0

    def stop_at(self, nth: int) -> None:
        self.left = nth

    def commit(self, writes, *, guard=None):
        if self.left is not None:
            self.left -= 1
            if self.left == 0:
                self.left = None
                raise ConnectionError("the process stopped here")
        return super().commit(writes, guard=guard)

    def get(self, collection, doc_id):
        if collection == lids.COLLECTION and self.blind:
            self.blind -= 1
            return None
        return super().get(collection, doc_id)


@pytest.fixture
def world():
    store, clock = Stopping(), FakeClock()
    c = Container(make_settings(), store=store, tasks=FakeTaskQueue(),
                  publisher=InProcessBus(threaded=False), clock=clock, http=FakeHttp())
    device = seed_device(c, seed_account(c))
    return c, store, device.id


def receive(c, dev, n: int, *, sender: str = "", lid: str | None = LID) -> None:
    c.clock.advance(1)
    inbound.receive(c, dev, Inbound(wa_id=f"WA{n}", sender=sender or (lid or ""),
                                    text=f"m{n}", at=c.clock.now(), lid=lid))


def thread_of(c, dev, chat: str) -> list[tuple[str, int, str, str]]:
    page, _ = chats.list_entries(c.store, c.repos.devices.get(dev).account_id, dev, chat,
                                 limit=100)
    return [(e["message"], e["seq"], e["phone"], e["chat"]) for e in reversed(page)]


def chat_ids(c, dev) -> list[str]:
    return sorted(chat.chat for chat in c.repos.chats.of_device(dev))


def merged_events(c) -> list[dict]:
    return [e.data for e in c.bus.published if e.event == "chat:delete"]


def test_an_append_stopped_after_its_first_batch_is_finished_by_the_next_message(
        world, monkeypatch):
    c, store, dev = world
    monkeypatch.setattr(lid_chats, "BATCH", 2)
    receive(c, dev, 0, sender=PHONE, lid=None)  # the number's chat: m0
    for n in range(1, 6):
        receive(c, dev, n)  # anonymous: the LID's chat, m1..m5
    store.stop_at(2)  # the first batch moves, the second never commits
    with pytest.raises(ConnectionError):
        receive(c, dev, 6, sender=PHONE)  # brings the number: the mapping, then the join
    assert chat_ids(c, dev) == sorted([PHONE, LID])  # split, until...
    assert [m for m, *_ in thread_of(c, dev, LID)] == ["m3", "m4", "m5"]
    receive(c, dev, 7)  # ...the contact's next message, by LID alone, finishes the join
    assert chat_ids(c, dev) == [PHONE]
    assert thread_of(c, dev, PHONE) == [(f"m{n}", i, PHONE, PHONE) for i, n in
                                        enumerate([0, 1, 2, 3, 4, 5, 7], start=1)]
    chat = c.repos.chats.of(dev, PHONE)
    assert (chat.seq, chat.unread, chat.lid) == (7, 7, LID)  # the LID's 5 counted once
    assert merged_events(c) == [{"id": LID, "kind": "user", "reason": "merged",
                                 "merged_into": PHONE}]
    receive(c, dev, 6, sender=PHONE)  # the stopped message, delivered again: filed once
    assert [m for m, *_ in thread_of(c, dev, PHONE)][-1] == "m6" and \
        c.repos.chats.of(dev, PHONE).seq == 8


def test_taking_the_numbers_place_stopped_midway_is_finished_by_the_next_message(
        world, monkeypatch):
    c, store, dev = world
    monkeypatch.setattr(lid_chats, "BATCH", 2)
    for n in range(5):
        receive(c, dev, n)
    c.repos.chats.update(f"{dev}:{LID}", {"labels": ["lbl_vip"]})
    store.stop_at(2)  # entries m0, m1 marked, the rest not, the LID chat still there
    with pytest.raises(ConnectionError):
        receive(c, dev, 5, sender=PHONE)
    assert chat_ids(c, dev) == [LID]
    receive(c, dev, 6, sender=PHONE)  # the number and the LID again: the join finishes
    assert chat_ids(c, dev) == [PHONE]
    assert thread_of(c, dev, PHONE) == [(f"m{n}", i, PHONE, PHONE) for i, n in
                                        enumerate([0, 1, 2, 3, 4, 6], start=1)]
    chat = c.repos.chats.of(dev, PHONE)
    assert (chat.unread, chat.labels, chat.lid) == (6, ["lbl_vip"], LID)
    assert len(merged_events(c)) == 1


def test_a_lid_chat_opened_after_the_join_joins_at_the_next_message(world):
    # A message filed under the LID by a writer that read the mapping before it was
    # learnt opens a new LID chat after the join; the next message with the LID joins it.
    c, _, dev = world
    receive(c, dev, 0, sender=PHONE)  # mapping learnt, nothing to join
    c.clock.advance(1)
    account = c.repos.devices.get(dev).account_id
    assert chats.record_inbound(c.store, c.clock, account, dev, {
        "id": "msg_late", "wa_id": "WA_late", "phone": LID, "lid": LID, "message": "late",
        "received_at": c.clock.now()})
    assert chat_ids(c, dev) == sorted([PHONE, LID])
    receive(c, dev, 1, sender=PHONE)
    assert chat_ids(c, dev) == [PHONE]
    assert thread_of(c, dev, PHONE) == [("m0", 1, PHONE, PHONE), ("late", 2, PHONE, PHONE),
                                        ("m1", 3, PHONE, PHONE)]


def test_a_lid_message_filed_while_the_number_is_learnt_joins_at_once(world):
    # The message read no mapping (it was being learnt) and opened a LID chat after the
    # join; it reads the mapping again after filing and joins its chat itself.
    c, store, dev = world
    receive(c, dev, 0)
    receive(c, dev, 1, sender=PHONE)  # learnt: the LID chat joined the number's
    store.blind = 1
    receive(c, dev, 2)  # LID alone, its mapping read as missing
    assert chat_ids(c, dev) == [PHONE]
    assert [m for m, *_ in thread_of(c, dev, PHONE)] == ["m0", "m1", "m2"]
    assert len(merged_events(c)) == 2


def test_joins_run_again_and_side_by_side_move_each_entry_once(world, monkeypatch):
    c, store, dev = world
    monkeypatch.setattr(lid_chats, "BATCH", 3)
    receive(c, dev, 0, sender=PHONE, lid=None)
    for n in range(1, 11):
        receive(c, dev, n)
    assert lids.learn(store, dev, LID, PHONE)
    in_threads(lambda: lid_chats.join(store, c.bus, c.clock, dev, LID, PHONE), 4,
               timeout=30)
    assert not lid_chats.join(store, c.bus, c.clock, dev, LID, PHONE)  # nothing left
    assert chat_ids(c, dev) == [PHONE]
    assert thread_of(c, dev, PHONE) == [(f"m{n}", n + 1, PHONE, PHONE) for n in range(11)]
    chat = c.repos.chats.of(dev, PHONE)
    assert (chat.seq, chat.unread) == (11, 11) and len(merged_events(c)) == 1


def test_a_message_without_a_lid_reads_nothing_more(world):
    c, store, dev = world
    receive(c, dev, 0, sender=PHONE)
    reads = []
    original = store.get
    store.get = lambda collection, doc_id: reads.append(collection) or original(collection,
                                                                                doc_id)
    receive(c, dev, 1, sender=PHONE, lid=None)
    without = list(reads)
    reads.clear()
    receive(c, dev, 2, sender=PHONE)  # with the LID: the LID chat's document, once more
    assert sorted(reads) == sorted([*without, "chats"])
    reads.clear()
    receive(c, dev, 3)  # the LID alone: the mapping, then the LID chat's document
    assert sorted(reads) == sorted([*without, "lid_map", "chats"])
