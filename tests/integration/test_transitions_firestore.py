"""A message's transitions on the Firestore emulator, each on the version the last write
answered (update-time preconditions, shared/adapters/firestore_store.py): claimed (fenced
by the device's lease and its queue's pause), sent, delivered and read without a read of
the message; a stale version (a cancel, another writer) falls back to reading, and nothing
is sent twice or lost. Reads are counted as bench/harness.py's CountingStore counts them
for this adapter."""

from __future__ import annotations

import pytest

from bench.harness import CountingStore
from shared.adapters.inprocess_bus import InProcessBus
from shared.bootstrap import Container
from shared.domain import Message
from shared.ports import Guard, Receipt
from shared.services import message_transitions as transitions
from shared.services import messages as message_service
from shared.services import outbound
from tests.fakes import (
    FakeClock,
    FakeHttp,
    FakeTaskQueue,
    as_tasked,
    make_settings,
    message_events,
    seed_account,
    seed_device,
)
from tests.fakes import RecordingSender as Sender

pytestmark = pytest.mark.emulator
SHARD = "runner-test"


@pytest.fixture
def c(firestore_store) -> Container:
    return Container(make_settings(caches=True), store=CountingStore(firestore_store),
                     tasks=FakeTaskQueue(), publisher=InProcessBus(threaded=False),
                     clock=FakeClock(), http=FakeHttp())


def _queued(c: Container) -> Message:
    account = seed_account(c)
    device = seed_device(c, account)
    made, _ = message_service.send_message(c, account, phone="+447911123456", text="hi",
                                           device_id=device.id)
    return as_tasked(c, made.id)


def _doc(c, message_id) -> dict:
    return c.store.inner.get("messages", message_id)


def test_a_message_goes_from_queued_to_read_without_a_read_of_it(c):
    queued = _queued(c)
    c.store.inner.update("devices", queued.device_id, {"shard": SHARD, "lease_epoch": 4})
    fence = lambda device_id: Guard("devices", device_id, {"shard": SHARD, "lease_epoch": 4})  # noqa: E731
    sender = Sender()
    c.store.reset()
    assert outbound.send_queued(c, sender, queued.id, SHARD, current=queued, fence=fence) \
        == outbound.SendOutcome.done
    kept = c.caches.sent(queued.wa_id)
    assert kept.version and kept.version != queued.version
    outbound.record_receipt(c, queued.wa_id, Receipt.delivered)
    outbound.record_receipt(c, queued.wa_id, Receipt.read)
    assert c.store.reads["messages"] == 0 and c.store.reads["devices"] == 1
    doc = _doc(c, queued.id)
    assert doc["status"] == "read" and doc["claimed_by"] == SHARD and doc["read_at"]
    assert "version" not in doc
    assert sender.sent == [queued.wa_id]
    assert message_events(c, queued.id) == ["message:out:new", "message:out:sent",
                                     "message:out:delivered", "message:out:read"]


def test_a_stale_lease_or_a_pause_still_refuses_the_claim(c):
    queued = _queued(c)
    c.store.inner.update("devices", queued.device_id, {"shard": SHARD, "lease_epoch": 5})
    sender = Sender()
    stale = lambda device_id: Guard("devices", device_id, {"shard": SHARD, "lease_epoch": 4})  # noqa: E731
    assert outbound.send_queued(c, sender, queued.id, SHARD, current=queued, fence=stale) \
        == outbound.SendOutcome.not_ours
    c.store.inner.update("devices", queued.device_id, {"queue_paused_at": c.clock.now()})
    assert outbound.send_queued(c, sender, queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.not_ours
    assert sender.sent == [] and _doc(c, queued.id)["claimed_by"] is None
    assert _doc(c, queued.id)["status"] == "queued"


def test_a_cancel_before_the_claim_wins_on_firestore(c):
    queued = _queued(c)
    message_service.cancel_message(c, queued.account_id, queued.id)
    sender = Sender()
    assert outbound.send_queued(c, sender, queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.not_ours
    assert sender.sent == [] and _doc(c, queued.id)["status"] == "cancelled"


def test_a_receipt_on_a_copy_another_writer_moved_on_falls_back_on_firestore(c):
    queued = _queued(c)
    assert outbound.send_queued(c, Sender(), queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.done
    assert transitions.mark_delivered(c, queued.id) is not None  # another runner heard it
    c.store.reset()
    outbound.record_receipt(c, queued.wa_id, Receipt.read)  # our kept copy: still "sent"
    outbound.record_receipt(c, queued.wa_id, Receipt.delivered)  # late: changes nothing
    assert _doc(c, queued.id)["status"] == "read"
    assert message_events(c, queued.id, "message:out:delivered") == ["message:out:delivered"]
    assert message_events(c, queued.id, "message:out:read") == ["message:out:read"]
    assert c.store.reads["messages"] >= 1
