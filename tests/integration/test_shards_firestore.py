"""Leases on the Firestore emulator, where the conditional writes and the guarded
transaction are Firestore's own: racing takeovers, fenced claims, takeover after a kill."""

from __future__ import annotations

import pytest

from device_runner.leases import Leases
from device_runner.sandbox import SandboxNetwork
from shared.adapters.inprocess_bus import InProcessBus
from shared.bootstrap import Container
from shared.ports import Guard
from shared.services import message_transitions
from tests.fakes import (
    FakeClock,
    FakeTaskQueue,
    make_settings,
    message_events,
    queue_message,
    seed_account,
    seed_device,
    status_of,
    wait_until,
)
from tests.shards import Cluster, Monotonic, die_with_filing_waiting, race_to_claim

pytestmark = pytest.mark.emulator


@pytest.fixture
def c(firestore_store) -> Container:
    return Container(make_settings(), store=firestore_store, tasks=FakeTaskQueue(),
                     bus=InProcessBus(threaded=False), clock=FakeClock())


@pytest.fixture
def cluster(c):
    made = Cluster(c, SandboxNetwork())
    yield made
    made.stop()


def test_guarded_update_checks_the_other_document_atomically(c):
    store = c.store
    store.put("devices", "d", {"shard": "a", "lease_epoch": 1})
    store.put("messages", "m", {"status": "queued", "claimed_by": None})
    fence = Guard("devices", "d", {"shard": "a", "lease_epoch": 1})
    assert not store.update("messages", "m", {"claimed_by": "a"}, when={"status": "queued"},
                            guard=Guard("devices", "d", {"shard": "a", "lease_epoch": 0}))
    assert not store.update("messages", "m", {"claimed_by": "a"}, when={"status": "sent"},
                            guard=fence)
    assert store.update("messages", "m", {"claimed_by": "a"}, when={"status": "queued"}, guard=fence)
    assert not store.update("messages", "m", {"x": 1}, guard=Guard("devices", "nope", {}))
    assert store.get("messages", "m")["claimed_by"] == "a"


def test_kill_the_holder_with_chat_entries_waiting_the_taker_files_each_once(c, cluster):
    """Coalesced filing (shared/services/chat_filing.py): the holder dies with sent
    messages waiting to be filed; the next runner files them as it takes the device (the
    query by device and sent time on Firestore's index, the batched get of the entries)."""
    account = seed_account(c)
    a = cluster.add("runner-a")
    device, messages = die_with_filing_waiting(cluster, a, account, 10, timeout=20)
    history = lambda: c.store.query("chat_messages", [("device_id", "==", device.id)])  # noqa: E731
    assert len(history()) == 4  # a burst filed at once; six sent messages the chat misses
    cluster.pass_time(cluster.lease + 0.5)
    b = cluster.add("runner-b")
    assert device.id in b.runner.sessions
    entries = sorted(history(), key=lambda e: e["seq"])
    assert sorted(e["message_id"] for e in entries) == sorted(m.id for m in messages)
    assert [e["seq"] for e in entries] == list(range(1, 11))
    chat = c.store.get("chats", f"{device.id}:{messages[0].phone}")
    assert chat["seq"] == 10
    assert c.store.get("contacts", f"{device.id}:{messages[0].phone}") is not None


def test_racing_runners_on_firestore_one_takes_the_device(c):
    account = seed_account(c)
    device = seed_device(c, account)
    mono = Monotonic()
    racers = [Leases(c.store, c.clock, shard=f"runner-{i}", url="", capacity=10,
                     lease_seconds=9, monotonic=mono) for i in range(5)]
    for racer in racers:
        assert racer.acquire()
    won = race_to_claim(racers, device.id)
    assert len(won) == 1
    assert c.store.get("devices", device.id)["shard"] == won[0]


def test_kill_the_holder_on_firestore_each_queued_message_is_sent_once(c, cluster):
    account = seed_account(c)
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, account, speed=1)
    messages = [queue_message(c, account, device.id, f"m{i}") for i in range(5)]
    a.runner.resume([device.id])
    a.timer.fire_all()
    wait_until(lambda: sum(status_of(c, m.id) == "sent" for m in messages) == 1, timeout=15)
    stale_fence = a.leases.fence(device.id)
    a.keeper.kill()
    cluster.pass_time(cluster.lease + 0.5)
    b.keeper.tick()
    assert device.id in b.runner.sessions
    b.link_all()
    wait_until(lambda: all(status_of(c, m.id) != "queued"  # and its event, a moment later
                           and message_events(c, m.id, "message:out:sent") for m in messages),
               timeout=15)
    assert sorted(cluster.network.send_attempts) == sorted(m.wa_id for m in messages)
    for m in messages:
        assert message_events(c, m.id, "message:out:sent") == ["message:out:sent"]
    # the dead runner's fence no longer opens anything
    late = queue_message(c, account, device.id, "late")
    assert message_transitions.claim(c, late.id, "runner-a", fence=lambda _: stale_fence) is None
