"""Transitions on the version the last write answered (shared/services/message_transitions.py):
the message is not read while nobody else writes it; when someone did (a cancel, another
runner, an edit, a receipt on another thread), the transition falls back to reading and
checking, and the guarantees hold: nothing sent twice, no receipt lost, no event twice.
Reads are counted as Firestore bills them (bench/harness.py CountingStore)."""

from __future__ import annotations

import pytest

from bench.harness import CountingStore
from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.domain import Message, MessageStatus
from shared.ports import Receipt
from shared.services import message_transitions as transitions
from shared.services import messages as message_service
from shared.services import outbound
from shared.services.accounts import create_account
from shared.services.devices import create_device
from tests.fakes import (
    FakeClock,
    FakeHttp,
    FakeTaskQueue,
    as_tasked,
    in_threads,
    make_settings,
    message_events,
)
from tests.fakes import RecordingSender as Sender

SHARD = "runner-test"


@pytest.fixture
def c() -> Container:
    return Container(make_settings(caches=True), store=CountingStore(MemoryStore()),
                     tasks=FakeTaskQueue(), publisher=InProcessBus(threaded=False),
                     clock=FakeClock(), http=FakeHttp())


def _queued(c: Container) -> Message:
    """A message the API accepted, as its task brings it to the runner."""
    account, _, _ = create_account(c, "Acme")
    device = create_device(c, account.id, transport="sandbox")
    made, _ = message_service.send_message(c, account.id, phone="+447911123456", text="hi",
                                           device_id=device.id)
    return as_tasked(c, made.id)


def _status(c, message_id) -> str:
    return c.store.inner.get("messages", message_id)["status"]


def test_sent_delivered_and_read_without_reading_the_message(c):
    queued = _queued(c)
    assert queued.version is not None
    sender = Sender()
    c.store.reset()
    assert outbound.send_queued(c, sender, queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.done
    outbound.record_receipt(c, queued.wa_id, Receipt.delivered)
    outbound.record_receipt(c, queued.wa_id, Receipt.read)
    assert c.store.reads["messages"] == 0
    assert c.store.reads["devices"] == 1  # the claim's guard (the pause, the lease): the fence
    assert c.store.writes["messages"] == 4  # claim, sent, delivered, read
    assert sender.sent == [queued.wa_id] and _status(c, queued.id) == "read"
    assert message_events(c, queued.id) == ["message:out:new", "message:out:sent",
                                     "message:out:delivered", "message:out:read"]
    # the version is internal: not in the document, an answer or an event
    doc = c.store.inner.get("messages", queued.id)
    assert "version" not in doc and "_version" not in doc
    shown = message_service.get_message(c, queued.account_id, queued.id)
    assert shown.version is None
    assert all("version" not in e.data for e in c.bus.published)


def test_a_cancel_before_the_claim_wins_and_nothing_is_sent(c):
    queued = _queued(c)
    message_service.cancel_message(c, queued.account_id, queued.id)
    sender = Sender()
    c.store.reset()
    assert outbound.send_queued(c, sender, queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.not_ours
    assert sender.sent == [] and _status(c, queued.id) == "cancelled"
    assert message_events(c, queued.id, "message:out:sent") == []
    assert c.store.reads["messages"] >= 1  # the stale version: the claim read it after all


def test_a_claim_after_the_send_began_keeps_the_cancel_out(c):
    queued = _queued(c)
    claimed = transitions.claim(c, queued.id, SHARD, current=queued)
    assert claimed is not None and claimed.version not in (None, queued.version)
    with pytest.raises(Exception) as refused:
        message_service.cancel_message(c, queued.account_id, queued.id)
    assert getattr(refused.value, "code", None) == "not_cancellable"
    assert transitions.mark_sent(c, queued.id, current=claimed).status == MessageStatus.sent


def test_another_runner_that_sent_it_first_leaves_nothing_to_send(c):
    queued = _queued(c)
    first, second = Sender(), Sender()
    assert outbound.send_queued(c, first, queued.id, "runner-a") == outbound.SendOutcome.done
    assert outbound.send_queued(c, second, queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.not_ours
    assert first.sent == [queued.wa_id] and second.sent == []
    assert message_events(c, queued.id, "message:out:sent") == ["message:out:sent"]


def test_two_runners_with_the_same_version_send_it_once(c):
    queued = _queued(c)
    sender = Sender()
    outcomes = []
    in_threads(lambda shard: outcomes.append(
        outbound.send_queued(c, sender, queued.id, shard, current=queued)),
        [f"runner-{n}" for n in range(6)])
    assert sender.sent == [queued.wa_id]
    assert sorted(outcomes).count(outbound.SendOutcome.done) == 1
    assert message_events(c, queued.id, "message:out:sent") == ["message:out:sent"]


def test_a_retry_after_a_transient_failure_claims_again_and_sends_once(c):
    queued = _queued(c)
    sender = Sender(transient=1)
    assert outbound.send_queued(c, sender, queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.retry
    assert c.store.inner.get("messages", queued.id)["claimed_by"] is None  # given back
    # the session retries with the copy it kept, whose version the claims moved past
    assert outbound.send_queued(c, sender, queued.id, SHARD, attempt=2, current=queued) \
        == outbound.SendOutcome.done
    assert sender.sent == [queued.wa_id] and _status(c, queued.id) == "sent"


def _sent(c) -> Message:
    queued = _queued(c)
    assert outbound.send_queued(c, Sender(), queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.done
    return queued


def test_a_receipt_delivered_twice_moves_the_message_once(c):
    sent = _sent(c)
    outbound.record_receipt(c, sent.wa_id, Receipt.delivered)
    outbound.record_receipt(c, sent.wa_id, Receipt.delivered)
    c.caches.sent_messages.clear()  # and once more at a runner that did not send it
    outbound.record_receipt(c, sent.wa_id, Receipt.delivered)
    assert _status(c, sent.id) == "delivered"
    assert message_events(c, sent.id, "message:out:delivered") == ["message:out:delivered"]


def test_two_receipts_at_once_on_one_kept_copy_lose_neither(c):
    sent = _sent(c)
    in_threads(lambda receipt: outbound.record_receipt(c, sent.wa_id, receipt),
               [Receipt.delivered, Receipt.read])
    assert _status(c, sent.id) == "read"
    assert message_events(c, sent.id)[-2:] == ["message:out:delivered", "message:out:read"]
    assert len(message_events(c, sent.id)) == 4


def test_a_receipt_on_a_kept_copy_another_writer_moved_on_falls_back_and_is_kept(c):
    sent = _sent(c)
    # another runner heard the delivered receipt and moved the message on: our kept copy
    # (status sent) is at a version the document has left
    assert transitions.mark_delivered(c, sent.id) is not None
    c.store.reset()
    outbound.record_receipt(c, sent.wa_id, Receipt.read)
    assert _status(c, sent.id) == "read"
    assert message_events(c, sent.id, "message:out:delivered") == ["message:out:delivered"]
    assert message_events(c, sent.id, "message:out:read") == ["message:out:read"]
    assert c.store.reads["messages"] >= 1  # the fallback read it


def test_a_transition_on_a_stale_version_never_undoes_a_later_status(c):
    sent = _sent(c)
    kept = c.caches.sent(sent.wa_id)
    assert kept.version is not None
    read = transitions.mark_read(c, sent.id, current=kept, kept=True)
    assert read is not None and read.status == MessageStatus.read
    # the same stale copy again (a receipt replayed): refused, the document stays read
    assert transitions.mark_delivered(c, sent.id, current=kept, kept=True) is None
    assert _status(c, sent.id) == "read"
    assert message_events(c, sent.id, "message:out:delivered") == ["message:out:delivered"]


def test_a_store_that_gives_no_versions_leaves_the_transitions_as_they_were(c):
    class Unversioned(MemoryStore):
        def commit(self, writes, *, guard=None):
            return bool(super().commit(writes, guard=guard))  # a plain True

    plain = Container(make_settings(caches=True), store=CountingStore(Unversioned()),
                      tasks=FakeTaskQueue(), publisher=InProcessBus(threaded=False),
                      clock=FakeClock(), http=FakeHttp())
    queued = _queued(plain)
    assert queued.version is None
    assert outbound.send_queued(plain, Sender(), queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.done
    outbound.record_receipt(plain, queued.wa_id, Receipt.read)
    assert _status(plain, queued.id) == "read"
    assert plain.store.reads["messages"] > 0  # each transition read and checked


def test_each_transition_answers_a_copy_of_its_own_and_leaves_the_one_it_was_given(c):
    # The transitions mark their own fresh copy with the version their commit answered
    # (Message.made_at_version): the caller's copy and a kept one stay as they were.
    queued = _queued(c)
    task_version = queued.version
    assert outbound.send_queued(c, Sender(), queued.id, SHARD, current=queued) \
        == outbound.SendOutcome.done
    assert queued.version == task_version and queued.status == MessageStatus.queued
    assert queued.claimed_by is None
    sent = c.caches.sent(queued.wa_id)
    assert sent is not queued and sent.status == MessageStatus.sent
    assert sent.version is not None and sent.version != task_version
    outbound.record_receipt(c, queued.wa_id, Receipt.delivered)
    delivered = c.caches.sent(queued.wa_id)
    assert delivered is not sent and delivered.status == MessageStatus.delivered
    assert sent.status == MessageStatus.sent and sent.version not in (None, delivered.version)
    assert delivered.version is not None


def test_a_copy_made_at_a_version_is_that_copy_and_the_version_stays_internal(c):
    queued = _queued(c)
    copy = queued.model_copy(update={"reference": "r1"})
    assert copy.version is None
    assert copy.made_at_version("v9") is copy and copy.version == "v9"
    assert queued.version not in (None, "v9")
    assert "_version" not in copy.model_dump() and copy == copy.at_version(None)
