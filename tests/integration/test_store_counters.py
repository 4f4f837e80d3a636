"""The DocumentStore operations messaging added: increment (blind, and capped) and cursor
pagination with start_after, held by the in-memory fake and by Firestore on the emulator;
and the quota's bound under concurrent sends, on both."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.memory_store import MemoryStore
from shared.domain import Device, Transport
from shared.plans import PLANS, Plan
from shared.ports import DocumentStore
from shared.services import quotas
from tests.fakes import in_threads


@pytest.fixture(params=["memory", "firestore"])
def store(request) -> DocumentStore:
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("firestore_store")


def test_increment_creates_the_document_with_extra_fields(store):
    assert store.increment("counters", "c1", "count", 1, extra={"device_id": "d1", "shard": 3}) == 1
    assert store.increment("counters", "c1", "count", 2, extra={"device_id": "d1", "shard": 3}) == 3
    assert store.get("counters", "c1") == {"id": "c1", "count": 3, "device_id": "d1", "shard": 3}


def test_increment_keeps_other_fields_and_goes_negative(store):
    store.put("counters", "c1", {"count": 1, "label": "x"})
    assert store.increment("counters", "c1", "count", -3) == -2
    assert store.get("counters", "c1") == {"id": "c1", "count": -2, "label": "x"}


def test_capped_increment_refuses_past_the_maximum(store):
    assert store.increment("counters", "c1", "count", 1, maximum=2) == 1
    assert store.increment("counters", "c1", "count", 1, maximum=2) == 2
    assert store.increment("counters", "c1", "count", 1, maximum=2) is None
    assert store.increment("counters", "c2", "count", 1, maximum=0) is None  # nothing written
    assert store.get("counters", "c1")["count"] == 2
    assert store.get("counters", "c2") is None


def test_capped_increments_race_to_exactly_the_maximum(store):
    wins = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(5):
            if store.increment("counters", "hot", "count", 1, maximum=17) is not None:
                wins.append(1)

    in_threads(worker, 8, timeout=60)
    assert len(wins) == 17 and store.get("counters", "hot")["count"] == 17


def test_blind_increments_lose_nothing(store):
    barrier = threading.Barrier(6)
    seen = []

    def worker():
        barrier.wait()
        for _ in range(10):
            seen.append(store.increment("counters", "hot", "count", 1))

    in_threads(worker, 6, timeout=60)
    assert store.get("counters", "hot")["count"] == 60
    assert sorted(seen) == list(range(1, 61))  # each caller sees its own new value


def test_the_ports_default_increment(store):
    """The port's generic increment (for stores without their own) keeps the contract."""
    from shared.ports import DocumentStore as Port

    assert Port.increment(store, "counters", "g", "n", 2, extra={"k": "v"}) == 2
    assert Port.increment(store, "counters", "g", "n", 1, maximum=3) == 3
    assert Port.increment(store, "counters", "g", "n", 1, maximum=3) is None
    assert store.get("counters", "g") == {"id": "g", "n": 3, "k": "v"}


def test_start_after_pages_through_equal_keys(store):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(9):
        store.put("msgs", f"m{i}", {"id": f"m{i}", "acc": "a", "at": t0 + timedelta(seconds=i // 3)})
    store.put("msgs", "other", {"id": "other", "acc": "b", "at": t0})
    order = [("at", "desc"), ("id", "desc")]
    seen, cursor = [], None
    while True:
        page = store.query("msgs", [("acc", "==", "a")], order_by=order, limit=4,
                           start_after=cursor)
        seen += [d["id"] for d in page]
        if len(page) < 4:
            break
        cursor = (page[-1]["at"], page[-1]["id"])
    assert seen == ["m8", "m7", "m6", "m5", "m4", "m3", "m2", "m1", "m0"]


def test_start_after_ascending(store):
    for i in range(5):
        store.put("nums", f"n{i}", {"id": f"n{i}", "v": i})
    page = store.query("nums", order_by=[("v", "asc"), ("id", "asc")], start_after=(1, "n1"))
    assert [d["id"] for d in page] == ["n2", "n3", "n4"]


def test_concurrent_reservations_never_pass_the_quota(store, monkeypatch):
    """The bound the quota documents: at most the limit, here with 16 racing senders."""
    plan = Plan.model_validate(PLANS["messaging-professional"].model_dump()
                               | {"id": "forty", "messages_per_month": 40})
    monkeypatch.setitem(PLANS, "forty", plan)
    now = datetime(2026, 3, 5, tzinfo=UTC)
    device = Device(id="dev_race", account_id="acc", transport=Transport.sandbox, plan="forty",
                    created_at=now, updated_at=now)
    won = []
    barrier = threading.Barrier(16)

    def sender(seed):
        rng = random.Random(seed)
        barrier.wait()
        for _ in range(4):
            if quotas.reserve(store, device, now, rng):
                won.append(1)

    in_threads(sender, range(16), timeout=120)
    assert len(won) == 40
    assert quotas.used(store, device.id, "2026-03") == 40
