"""Leases that are late but not lost, restarts with many devices, and what a runner keeps
per device: nothing accepted is dropped, nothing is left behind (fake clocks)."""

from __future__ import annotations

import time

import pytest

from device_runner.leases import SHARDS, Leases
from device_runner.send_queue import Retry
from shared.adapters.memory_store import MemoryStore
from shared.domain import DeviceStatus
from shared.errors import Unavailable
from tests.fakes import queue_message, seed_account, seed_device, status_of, wait_until
from tests.shards import Cluster, Monotonic


class SlowStore(MemoryStore):
    """A store whose answers take `delay` seconds of the monotonic clock (a paused
    Firestore): `pause_renewals` holds up renewals of the shard lease, `per_read` every
    read of a device."""

    def __init__(self, inner: MemoryStore, mono: Monotonic):
        self.__dict__.update(inner.__dict__)
        self.mono = mono
        self.pause_renewals = 0.0
        self.per_read = 0.0

    def update(self, collection, doc_id, fields, *, when=None, guard=None):
        if collection == SHARDS and "renewed_at" in fields and self.pause_renewals:
            pause, self.pause_renewals = self.pause_renewals, 0.0
            self.mono.advance(pause)  # the call started before the pause, answers after
        return super().update(collection, doc_id, fields, when=when, guard=guard)

    def get(self, collection, doc_id):
        if collection == "devices" and self.per_read:
            self.mono.advance(self.per_read)
        return super().get(collection, doc_id)


@pytest.fixture
def acc(container):
    return seed_account(container)


@pytest.fixture
def slow(container):
    mono = Monotonic()
    store = SlowStore(container.store, mono)
    container.__dict__["store"] = store
    return store


@pytest.fixture
def cluster(container, network, slow):
    made = Cluster(container, network)
    made.mono = slow.mono
    yield made
    made.stop()


def leases(c, mono, **kw) -> Leases:
    return Leases(c.store, c.clock, shard="runner-a", url="http://runner-a", capacity=10,
                  lease_seconds=kw.pop("lease", 9), monotonic=mono, **kw)


# --- lease timing -------------------------------------------------------------------------


def test_a_renewal_the_store_answers_late_counts_the_lease_from_the_answer(container, slow):
    mine = leases(container, slow.mono)  # lease 9 s, margin 1.5 s
    assert mine.acquire()
    slow.pause_renewals = 15.0  # Firestore stops answering for 15 s during the renewal
    assert mine.renew()
    assert mine.valid() and not mine.late()
    slow.mono.advance(7.0)  # 7 s after the store answered: still inside 9 s less the margin
    assert mine.valid()
    slow.mono.advance(1.0)
    assert mine.late() and not mine.valid()  # not renewed since: late, not lost
    assert mine.epoch is not None


def test_a_first_acquire_the_store_answers_late_counts_the_lease_from_the_answer(
        container, slow):
    """A runner's first call also builds the store's client (seconds on a loaded machine):
    the lease must not be nearly spent when the runner starts taking devices."""
    mine = leases(container, slow.mono)
    real = slow.get

    def first_call_slow(collection, doc_id):
        slow.get = real
        slow.mono.advance(8.0)
        return real(collection, doc_id)

    slow.get = first_call_slow
    assert mine.acquire()
    slow.mono.advance(7.0)
    assert mine.valid()


def _resumed(c, acc, cluster):
    """Runner A of the cluster, holding a new sandbox device it has resumed (not linked)."""
    a = cluster.add("runner-a")
    device = seed_device(c, acc)
    a.runner.resume([device.id])
    return a, device


def test_a_status_reported_while_the_lease_is_late_is_recorded_after_the_renewal(
        container, acc, cluster):
    c = container
    a, device = _resumed(c, acc, cluster)
    cluster.mono.advance(cluster.lease)  # late: the store is slow
    a.link_all()  # the sandbox links the device meanwhile
    assert c.store.get("devices", device.id)["status"] != "connected"
    a.keeper.tick()
    assert c.store.get("devices", device.id)["status"] == "connected"
    assert a.runner.sessions[device.id].connected


def test_a_renewal_the_store_refuses_loses_the_lease(container, slow):
    mine, other = leases(container, slow.mono), leases(container, slow.mono)
    assert mine.acquire()
    slow.mono.advance(10)
    container.clock.advance(10)
    assert other.acquire()  # our lease ran out; another instance took the shard
    assert not mine.renew()
    assert not mine.valid() and not mine.late() and mine.epoch is None


# --- a late lease keeps its work -------------------------------------------------------------


def test_a_send_while_the_lease_is_late_waits_for_the_renewal_and_is_not_dropped(
        container, acc, cluster):
    c = container
    a, device = _resumed(c, acc, cluster)
    a.link_all()
    wait_until(lambda: a.runner.sessions[device.id].connected)
    cluster.mono.advance(cluster.lease)  # the renewal is overdue: the store is paused
    assert a.leases.late(device.id)
    message = queue_message(c, acc, device.id)
    a.runner.handle_message_task(message.id)
    wait_until(lambda: a.runner.sessions[device.id].pending() == 1 and message.id in a.runner._waiting)
    assert a.runner._send(message.device_id, message.id) == Retry(after=1.0)  # given back, not forgotten
    assert status_of(c, message.id) == "queued"
    a.keeper.tick()  # the store answers again: renewed
    wait_until(lambda: status_of(c, message.id) == "sent", timeout=10)
    assert cluster.network.send_attempts == [message.wa_id]


def test_a_message_task_that_finds_no_session_while_the_lease_is_late_is_retried(
        container, acc, cluster):
    c = container
    a = cluster.add("runner-a")
    device = seed_device(c, acc)
    message = queue_message(c, acc, device.id)
    cluster.mono.advance(cluster.lease)  # late before the device was ever taken
    with pytest.raises(Unavailable):
        a.runner.handle_message_task(message.id)
    response = a.client.post("/tasks/messages", json={"message_id": message.id,
                                                      "device_id": device.id})
    assert response.status_code == 503  # the task is not acknowledged: it comes again
    a.keeper.tick()
    assert a.client.post("/tasks/messages", json={"message_id": message.id,
                                                  "device_id": device.id}).status_code == 200
    a.link_all()
    wait_until(lambda: status_of(c, message.id) == "sent")


def test_a_runner_that_lost_its_lease_stops_sending_at_once(container, acc, cluster):
    c = container
    a, device = _resumed(c, acc, cluster)
    a.link_all()
    a.runner.sessions[device.id].set_connected(False)  # holds the message in its queue
    message = queue_message(c, acc, device.id)
    a.runner.handle_message_task(message.id)
    assert message.id in a.runner._waiting
    cluster.pass_time(cluster.lease + 1)
    b = cluster.add("runner-a")  # a new instance of the shard takes its lease
    assert not a.leases.renew()  # refused: lost, not late
    assert a.runner._send(message.device_id, message.id) is False
    assert message.wa_id not in cluster.network.send_attempts
    b.link_all()
    wait_until(lambda: status_of(c, message.id) == "sent")


# --- restarts ---------------------------------------------------------------------------


def test_a_resume_longer_than_the_lease_resumes_every_device(container, acc, cluster, slow):
    """With 60 devices at 0.5 s of store time each, the resume takes 30 s of a 9 s lease:
    the renewals that run beside it keep it valid, and every device gets its session."""
    c = container
    first = cluster.add("runner-a")
    devices = [seed_device(c, acc) for _ in range(60)]
    first.runner.resume([d.id for d in devices])
    first.keeper.stop(release=True)

    slow.per_read = 0.5
    again = cluster.add("runner-a", start=False)
    renewing = True

    def renewals():  # the keeper's thread: a tick every 3 s (of the fake clock)
        last = slow.mono()
        while renewing:
            if slow.mono() - last >= cluster.lease / 3:
                last = slow.mono()
                again.keeper.safe_tick()
            time.sleep(0.0005)

    import threading

    thread = threading.Thread(target=renewals, daemon=True)
    assert again.leases.acquire()
    thread.start()
    try:
        again.runner.start()
    finally:
        renewing = False
        thread.join()
    slow.per_read = 0.0
    again.keeper.tick()  # a device skipped while a renewal was late is resumed by the next
    assert sorted(again.runner.sessions) == sorted(d.id for d in devices)


def test_the_keeper_renews_before_it_resumes(container, acc, network):
    """ShardKeeper.start starts its renewing thread before the resume loop."""
    from device_runner.main import build_runner
    from device_runner.sandbox import SandboxTransport
    from device_runner.shards import ShardKeeper
    from tests.fakes import ManualTimer

    c = container
    order = []
    lease = Leases(c.store, c.clock, shard="runner-a", url="", capacity=10, lease_seconds=9)
    runner = build_runner(c, sandbox=SandboxTransport(network, timer=ManualTimer()), leases=lease)
    keeper = ShardKeeper(runner, renew_seconds=60)
    runner.start = lambda: order.append(("resume", keeper._thread is not None
                                         and keeper._thread.is_alive()))
    assert keeper.start()
    keeper.stop()
    assert order == [("resume", True)]


def test_a_device_that_cannot_be_resumed_is_logged_and_left_for_another_shard(
        container, acc, cluster, caplog):
    c = container
    a = cluster.add("runner-a")
    device = seed_device(c, acc)
    broken = a.runner.transports["sandbox"]

    def explode(device_id, listener):
        raise RuntimeError("session store unreadable")

    broken.connect = explode
    assert a.runner.resume([device.id]) == []
    assert device.id not in a.runner.sessions and not a.leases.holds(device.id)
    assert "session store unreadable" in caplog.text and device.id in caplog.text
    assert c.store.get("devices", device.id)["shard"] is None  # free for another shard
    b = cluster.add("runner-b")
    assert device.id in b.runner.sessions


# --- what a runner keeps per device ---------------------------------------------------------


def test_drop_all_forgets_every_device_and_the_keeper_resumes_them_when_the_store_answers(
        container, acc, cluster, monkeypatch):
    c = container
    a, device = _resumed(c, acc, cluster)
    a.runner.on_status(device.id, DeviceStatus.disconnected)
    renew = a.leases.renew

    def unreachable():
        raise OSError("store out of reach")

    monkeypatch.setattr(a.leases, "renew", unreachable)
    cluster.pass_time(cluster.lease)
    a.keeper.safe_tick()  # the lease ran out while renewing failed: every session dropped
    assert a.runner.sessions == {} and a.runner.statuses == {}
    assert a.runner._transport_names == {} and a.leases.held() == []
    monkeypatch.setattr(a.leases, "renew", renew)
    a.keeper.safe_tick()  # the store answers again; nobody took the device meanwhile
    assert device.id in a.runner.sessions and a.leases.holds(device.id)


# --- the stranded-work sweep and the health answer -------------------------------------------


def test_the_sweep_wakes_a_device_of_its_shard_that_has_no_session(container, acc, cluster):
    c = container
    a = cluster.add("runner-a")
    device = seed_device(c, acc)
    message = queue_message(c, acc, device.id)
    # the device was assigned to this shard by an earlier instance, never resumed since
    c.store.update("devices", device.id, {"shard": "runner-a", "lease_epoch": 3})
    c.clock.advance(120)
    report = a.keeper.sweep()
    assert report.devices == 1 and device.id in a.runner.sessions
    a.link_all()
    wait_until(lambda: status_of(c, message.id) == "sent")
    health = a.client.get("/health")
    assert health.status_code == 200
    assert health.get_json()["sweep"]["devices"] == 1


def test_the_sweep_queues_again_a_message_its_session_forgot(container, acc, cluster):
    c = container
    a, device = _resumed(c, acc, cluster)
    session = a.runner.sessions[device.id]
    session.set_connected(False)  # nothing leaves while the test looks
    message = queue_message(c, acc, device.id)  # accepted, its task lost on the way
    c.clock.advance(30)
    assert a.keeper.sweep().messages == 0  # not yet past due by the grace period
    c.clock.advance(40)
    report = a.keeper.sweep()
    assert (report.messages, report.total) == (1, 1)
    assert session.pending() == 1
    assert a.keeper.sweep().messages == 0  # queued now: found once
    a.link_all()
    wait_until(lambda: status_of(c, message.id) == "sent")
    body = a.client.get("/health").get_json()
    assert body["sweep"]["total"] == 1 and body["sweep"]["at"]


def test_the_sweep_leaves_devices_of_other_live_shards_alone(container, acc, cluster):
    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc)
    b.runner.resume([device.id])
    b.runner.sessions[device.id].set_connected(False)
    queue_message(c, acc, device.id)
    c.clock.advance(120)
    assert b.leases.renew()  # b is alive
    assert a.keeper.sweep().messages == 0 and device.id not in a.runner.sessions


def test_health_counts_devices_sessions_and_waiting_messages(container, acc, cluster):
    c = container
    a = cluster.add("runner-a")
    devices = [seed_device(c, acc) for _ in range(2)]
    a.runner.resume([d.id for d in devices])
    a.link_all()
    wait_until(lambda: all(a.runner.sessions[d.id].connected for d in devices))
    a.runner.sessions[devices[0].id].set_connected(False)
    for _ in range(3):
        a.runner.handle_message_task(queue_message(c, acc, devices[0].id).id)
    body = a.client.get("/health").get_json()
    assert body["ok"] and body["devices"] == {"held": 2, "without_session": []}
    assert body["sessions"]["total"] == 2 and body["sessions"]["live"] == 2
    assert body["messages"] == {"waiting": 3}
    assert a.client.get("/healthz").status_code == 200


def test_health_fails_while_the_runner_holds_a_device_it_has_no_session_for(
        container, acc, cluster):
    c = container
    a, device = _resumed(c, acc, cluster)
    a.runner.sessions.pop(device.id).stop()  # what a lost session looked like before
    response = a.client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["devices"]["without_session"] == [device.id]
    a.keeper.sweep()
    assert a.client.get("/health").status_code == 200


def test_healthz_fails_when_the_keeper_no_longer_runs(container, acc, network):
    import threading

    from device_runner.app import create_app
    from device_runner.main import build_runner
    from device_runner.sandbox import SandboxTransport
    from device_runner.shards import ShardKeeper
    from tests.fakes import ManualTimer

    c = container
    lease = Leases(c.store, c.clock, shard="runner-a", url="", capacity=10, lease_seconds=9)
    runner = build_runner(c, sandbox=SandboxTransport(network, timer=ManualTimer()), leases=lease)
    keeper = ShardKeeper(runner, renew_seconds=60)
    client = create_app(runner, keeper=keeper).test_client()
    thread = threading.Thread(target=keeper.run)
    thread.start()
    wait_until(lambda: keeper._thread is not None)
    assert client.get("/healthz").status_code == 200
    keeper._thread = threading.Thread(target=lambda: None)  # the renewing thread died
    keeper._thread.start()
    keeper._thread.join()
    thread.join()
    assert client.get("/healthz").status_code == 503
    keeper.stop()


# --- sandbox receipts survive a crash ---------------------------------------------------------


def test_a_sandbox_message_sent_just_before_a_crash_still_gets_its_receipts(
        container, acc, make_runner):
    from device_runner.sandbox import SandboxNetwork

    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    runner.handle_device_task({"device_id": device.id, "action": "start"})
    timer.fire_all()
    first, second = queue_message(c, acc, device.id, "one"), queue_message(c, acc, device.id, "two")
    runner.handle_message_task(first.id)
    runner.handle_message_task(second.id)
    wait_until(lambda: status_of(c, first.id) == status_of(c, second.id) == "sent")
    timer.fire_next()  # the first is delivered; then the runner dies, with its timers
    assert status_of(c, first.id) == "delivered" and status_of(c, second.id) == "sent"
    runner.drop_all()

    again, timer2 = make_runner(c, net=SandboxNetwork())  # a new process: a new sandbox
    again.start()
    timer2.fire_all()
    timer2.fire_all()
    assert status_of(c, first.id) == "read" and status_of(c, second.id) == "read"
    doc = c.store.get("messages", second.id)
    assert doc["delivered_at"] and doc["read_at"]
