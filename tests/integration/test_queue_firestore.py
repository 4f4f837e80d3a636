"""Clearing a long queue on the Firestore emulator: 450 queued messages (one of them claimed) cancelled in
commits of CLEAR_BATCH (each message's update and its event's log document: 400 writes a
commit, under Firestore's 500), one message:out:cancelled each, the quota given back; a
message claimed by the runner meanwhile stays queued and is reported in flight."""

from __future__ import annotations

import pytest

from shared.bootstrap import Container
from shared.events import EventName
from shared.services import device_queue, quotas
from tests.fakes import FakeClock, FakeTaskQueue, make_settings, queue_message, seed_account, seed_device

pytestmark = pytest.mark.emulator
QUEUED = 450


class CountingStore:
    """The emulator's store, counting commits."""

    def __init__(self, store):
        self.store, self.commits = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def commit(self, writes, **kwargs):
        writes = list(writes)
        self.commits.append(len(writes))
        return self.store.commit(writes, **kwargs)


def test_clearing_450_queued_messages_takes_three_commits_on_firestore(firestore_store):
    store = CountingStore(firestore_store)
    c = Container(make_settings(), store=store, tasks=FakeTaskQueue(), clock=FakeClock())
    account = seed_account(c)
    device = seed_device(c, account)
    ids = [queue_message(c, account, device.id, f"m{i}").id for i in range(QUEUED)]
    c.store.update("messages", ids[7], {"claimed_by": "runner-0"})  # being sent
    period = c.clock.now().strftime("%Y-%m")
    assert quotas.used(c.store, device.id, period) == QUEUED
    store.commits.clear()
    cleared = device_queue.clear(c, account, device.id)
    assert len(cleared.cancelled) == QUEUED - 1 and cleared.in_flight == [ids[7]]
    assert store.commits == [400, 400, 98]  # not one commit per message
    statuses = {d["id"]: d["status"] for d in c.store.query(
        "messages", [("device_id", "==", device.id)])}
    assert [i for i, s in statuses.items() if s != "cancelled"] == [ids[7]]
    logged = c.store.query("events", [("event", "==", EventName.message_out_cancelled.value)])
    assert sorted(e["data"]["id"] for e in logged) == sorted(cleared.cancelled)
    assert quotas.used(c.store, device.id, period) == 1


def test_the_queue_pages_are_the_whole_plan_on_firestore(firestore_store):
    from tests.unit.messaging.test_queue_pages import fill, paged, whole

    c = Container(make_settings(), store=firestore_store, tasks=FakeTaskQueue(),
                  clock=FakeClock())
    account = seed_account(c)
    device = seed_device(c, account, speed=15)
    fill(c, device.id, account, 80, 7)
    assert paged(c, device, 9) == whole(c, device)
    assert c.repos.messages.queued_count(device.id) == 80
