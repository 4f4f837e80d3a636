"""Sent messages filed with at most one chat write every REFILL seconds under sustained
sending (shared/services/chat_filing.py): the chat's numbers, cap and contact as when
each is filed alone, and nothing left waiting once the runner stops or edits, nor lost
when it dies with entries waiting: the next runner to take the device files them."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from device_runner.sandbox import SandboxNetwork
from shared.adapters.memory_store import MemoryStore
from shared.domain import Message
from shared.services.chat_filing import BURST, REFILL, OutboundFiling, file_unfiled
from tests.fakes import FakeClock, seed_account, wait_until
from tests.shards import Cluster, Monotonic, die_with_filing_waiting

_n = itertools.count(1)


class WriteCountingStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.chat_writes = 0

    def commit(self, writes, *, guard=None):
        writes = list(writes)
        done = super().commit(writes, guard=guard)
        self.chat_writes += done and sum(w.collection == "chats" for w in writes)
        return done


def _message(clock, phone="+447400123456", device="dev_1") -> Message:
    clock.advance(0.01)
    n = next(_n)
    return Message(id=f"msg_f{n}", account_id="acc_1", device_id=device, phone=phone,
                   message=f"m{n}", wa_id=f"3EB0F{n}", status="sent", created_at=clock.now(),
                   sent_at=clock.now())


def _entries(store, device="dev_1"):
    return sorted(store.query("chat_messages", [("device_id", "==", device)]),
                  key=lambda e: e["seq"])


@pytest.fixture
def parts():
    store, clock, ticks = WriteCountingStore(), FakeClock(), Monotonic()
    return store, clock, ticks, OutboundFiling(store, clock, timer=ticks)


def test_a_burst_is_filed_at_once_then_the_rest_waits_for_the_next_write(parts):
    store, clock, ticks, filing = parts
    sent = [_message(clock) for _ in range(BURST + 3)]
    for m in sent:
        filing.file(m)
    assert len(_entries(store)) == BURST and store.chat_writes == BURST
    ticks.now += REFILL
    wait_until(lambda: len(_entries(store)) == BURST + 3, message="the waiting entries")
    assert store.chat_writes == BURST + 1  # the three in one commit with one chat write
    entries = _entries(store)
    assert [e["seq"] for e in entries] == list(range(1, BURST + 4))
    assert [e["message_id"] for e in entries] == [m.id for m in sent]
    chat = store.get("chats", "dev_1:+447400123456")
    assert chat["seq"] == BURST + 3 and chat["last_message"]["id"] == sent[-1].id
    assert chat["unread"] == 0


def test_sustained_sending_writes_the_chat_once_per_refill(parts):
    store, clock, ticks, filing = parts
    start = ticks.now
    for second in range(60):  # 1000 a minute for a minute: 17 a second
        for _ in range(17):
            filing.file(_message(clock))
        ticks.now = start + second + 1.0
    filing.flush_all()
    assert [e["seq"] for e in _entries(store)] == list(range(60 * 17 - 999, 60 * 17 + 1))
    assert store.chat_writes <= BURST + 60 / REFILL + 1


def test_the_cap_and_the_contact_hold_for_entries_filed_together():
    store, clock, ticks = WriteCountingStore(), FakeClock(), Monotonic()
    filing = OutboundFiling(store, clock, timer=ticks, cap=5, burst=1)
    sent = [_message(clock) for _ in range(12)]
    for m in sent:
        filing.file(m)
    filing.flush_all()
    assert [e["message_id"] for e in _entries(store)] == [m.id for m in sent[-5:]]
    assert [e["seq"] for e in _entries(store)] == [8, 9, 10, 11, 12]
    assert store.get("contacts", "dev_1:+447400123456") is not None


def test_flush_device_files_what_waits_of_that_device_only(parts):
    store, clock, _, filing = parts
    for _ in range(BURST + 1):
        filing.file(_message(clock, device="dev_1"))
        filing.file(_message(clock, device="dev_2"))
    filing.flush_device("dev_1")
    assert len(_entries(store, "dev_1")) == BURST + 1
    assert len(_entries(store, "dev_2")) == BURST


def test_a_message_filed_before_is_not_filed_twice(parts):
    store, clock, _, filing = parts
    again = _message(clock)
    filing.file(again)
    for _ in range(BURST - 1):
        filing.file(_message(clock))
    filing.file(again)  # waits (the bucket is empty) with one more
    filing.file(_message(clock))
    filing.flush_all()
    entries = _entries(store)
    assert Counter(e["message_id"] for e in entries)[again.id] == 1
    assert [e["seq"] for e in entries] == list(range(1, BURST + 2))


def test_off_files_each_at_once(parts):
    store, clock, ticks, _ = parts
    filing = OutboundFiling(store, clock, timer=ticks, enabled=False)
    for _ in range(BURST + 3):
        filing.file(_message(clock))
    assert len(_entries(store)) == BURST + 3


# --- a runner that dies with entries waiting ----------------------------------------


def test_entries_a_dropped_filing_left_waiting_are_filed_by_the_next_one_once(parts):
    store, clock, _, filing = parts
    sent = [_message(clock) for _ in range(BURST + 3)]
    for m in sent:
        filing.file(m)
    assert len(_entries(store)) == BURST  # the rest waits: a runner dying now loses them
    assert file_unfiled(store, clock, sent) == 3  # the next runner, taking the device
    assert file_unfiled(store, clock, sent) == 0
    filing.flush_all()  # the dead one's flush, late (a stale runner): nothing twice
    entries = _entries(store)
    assert [e["message_id"] for e in entries] == [m.id for m in sent]
    assert [e["seq"] for e in entries] == list(range(1, BURST + 4))
    assert entries[-1]["at"] == sent[-1].sent_at
    assert store.get("chats", "dev_1:+447400123456")["seq"] == BURST + 3


def test_a_chat_whose_first_messages_all_waited_gets_its_contact_and_cap():
    store, clock = WriteCountingStore(), FakeClock()
    sent = [_message(clock) for _ in range(7)]
    assert file_unfiled(store, clock, sent, cap=5) == 7
    assert [e["message_id"] for e in _entries(store)] == [m.id for m in sent[-5:]]
    assert store.get("contacts", "dev_1:+447400123456") is not None
    assert store.chat_writes == 1


@pytest.mark.parametrize("taker, away", [("runner-b", 9.5), ("runner-b", 600.0),
                                         ("runner-a", 600.0)],
                         ids=["another-at-once", "another-ten-minutes-later", "its-restart"])
def test_a_runner_killed_with_entries_waiting_the_taker_files_each_sent_message_once(
        container, taker, away):
    cluster = Cluster(container, SandboxNetwork())
    try:
        a = cluster.add("runner-a")
        account = seed_account(container)
        device, messages = die_with_filing_waiting(cluster, a, account, BURST + 6)
        history = lambda: _entries(container.store, device.id)  # noqa: E731
        assert len(history()) == BURST  # the hole: six sent messages the chat misses
        cluster.pass_time(away)  # a's lease runs out; nobody takes the device till then
        b = cluster.add(taker)  # another shard, or a new instance of a's
        assert device.id in b.runner.sessions
        assert Counter(e["message_id"] for e in history()) == Counter(m.id for m in messages)
        assert [e["seq"] for e in history()] == list(range(1, BURST + 7))
    finally:
        cluster.stop()
