"""Shards and leases: one holder per device, fencing, takeover, graceful release."""

from __future__ import annotations

import pytest

from device_runner.leases import Leases
from shared.domain import DeviceStatus
from shared.services import message_transitions
from tests.fakes import message_events, queue_message, seed_account, seed_device, status_of, wait_until
from tests.shards import Cluster, Monotonic, race_to_claim


@pytest.fixture
def acc(container):
    return seed_account(container)


@pytest.fixture
def cluster(container, network):
    made = Cluster(container, network)
    yield made
    made.stop()


def leases(c, shard="runner-a", mono=None, **kw) -> Leases:
    return Leases(c.store, c.clock, shard=shard, url=f"http://{shard}", capacity=kw.pop("capacity", 10),
                  lease_seconds=kw.pop("lease", 9), monotonic=mono or Monotonic(), **kw)


# --- the shard's lease ------------------------------------------------------------------


def test_an_instance_waits_while_another_instance_of_its_shard_is_alive(container):
    c, mono = container, Monotonic()
    old, new = leases(c, mono=mono), leases(c, mono=mono)
    assert old.acquire() and old.epoch == 1
    assert not new.acquire()  # a rollout: the old instance still renews
    c.clock.advance(5)
    mono.advance(5)
    assert old.renew()
    c.clock.advance(8)
    mono.advance(8)
    assert not new.acquire()  # renewed 8 s ago: alive
    c.clock.advance(2)
    mono.advance(2)
    assert not old.valid()  # the holder stops before anyone may take over...
    assert new.acquire() and new.epoch == 2  # ...and then the new instance does
    assert not old.renew() and old.epoch is None


def test_release_lets_the_next_instance_in_at_once(container):
    c = container
    old, new = leases(c), leases(c)
    old.acquire()
    old.release()
    assert new.acquire() and new.epoch == 2
    assert c.store.get("shards", "runner-a")["state"] == "active"


def test_a_holder_fences_itself_when_its_lease_runs_out(container, acc):
    c, mono = container, Monotonic()
    mine = leases(c, mono=mono)
    mine.acquire()
    device = seed_device(c, acc)
    assert mine.claim(device.id) == 1 and mine.holds(device.id)
    mono.advance(7.6)  # lease 9 s less a margin of 1.5 s
    assert not mine.holds(device.id) and mine.fence(device.id) is None
    assert mine.claim(device.id) is None


# --- devices ------------------------------------------------------------------------------


def test_a_device_is_held_by_one_shard_and_taken_over_only_when_its_shard_dies(container, acc):
    c, mono = container, Monotonic()
    a, b = leases(c, "runner-a", mono), leases(c, "runner-b", mono)
    a.acquire()
    b.acquire()
    device = seed_device(c, acc)
    assert a.claim(device.id) == 1
    assert b.claim(device.id) is None
    assert b.holder_url(device.id) == "http://runner-a"
    assert b.orphans(10) == []
    c.clock.advance(10)  # a stops renewing; b renews
    mono.advance(10)
    assert b.renew()
    assert b.orphans(10) == [device.id]
    assert b.claim(device.id) == 2
    doc = c.store.get("devices", device.id)
    assert (doc["shard"], doc["lease_epoch"]) == ("runner-b", 2)


def test_of_many_racing_runners_one_takes_the_device(container, acc):
    c, mono = container, Monotonic()
    racers = [leases(c, f"runner-{i}", mono) for i in range(8)]
    for racer in racers:
        racer.acquire()
    device = seed_device(c, acc)
    won = race_to_claim(racers, device.id)
    assert len(won) == 1
    assert c.store.get("devices", device.id)["shard"] == won[0]


def test_a_full_shard_takes_no_more_devices(container, acc):
    c = container
    small = leases(c, capacity=1)
    small.acquire()
    first, second = seed_device(c, acc), seed_device(c, acc)
    assert small.claim(first.id) and small.claim(second.id) is None
    assert small.free() == 0


# --- runners --------------------------------------------------------------------------------


def test_two_runners_one_device_only_one_holds_the_session(container, acc, cluster):
    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc)
    # the start task reaches b; the device is nobody's yet, so b takes it
    assert b.client.post("/tasks/devices", json={"device_id": device.id, "action": "start"}
                         ).status_code == 200
    b.link_all()
    # now every task for it that reaches a is forwarded to b
    message = queue_message(c, acc, device.id)
    for _ in range(2):
        response = a.client.post("/tasks/messages", json={"message_id": message.id,
                                                          "device_id": device.id})
        assert response.status_code == 200
        assert a.client.post("/tasks/devices", json={"device_id": device.id, "action": "start"}
                             ).status_code == 200
    assert device.id in b.runner.sessions and device.id not in a.runner.sessions
    assert cluster.forwarder.calls == [("http://runner-b.test", "/tasks/messages"),
                                       ("http://runner-b.test", "/tasks/devices")] * 2
    wait_until(lambda: status_of(c, message.id) == "sent")
    assert cluster.network.send_attempts == [message.wa_id]
    # The second delivery's copy leaves the queue when the session comes to it (and finds
    # the message sent): the queue empties a moment after the status.
    wait_until(lambda: b.client.get("/health").get_json()["queues"] == {device.id: 0})
    health = b.client.get("/health").get_json()
    assert health["sessions"] == {"total": 1, "live": 1, "by_status": {"connected": 1}}
    assert health["lease"]["valid"]
    assert cluster.network.send_attempts == [message.wa_id]


def test_a_forwarded_task_never_hops_twice(container, acc, cluster):
    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc)
    a.runner.ensure_session(device.id)
    response = b.client.post("/tasks/devices", json={"device_id": device.id, "action": "start"},
                             headers={"X-Utio-Forwarded-By": "runner-c"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_holder"


def test_unreachable_holder_answers_503_so_cloud_tasks_retries(container, acc, cluster):
    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc)
    a.runner.ensure_session(device.id)
    del cluster.forwarder.apps["http://runner-a.test"]
    response = b.client.post("/tasks/devices", json={"device_id": device.id, "action": "start"})
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_kill_the_holder_with_queued_messages_the_other_takes_over_and_sends_each_once(
        container, acc, cluster):
    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc, speed=1)  # one a minute: the rest wait in the queue
    messages = [queue_message(c, acc, device.id, f"m{i}") for i in range(6)]
    a.runner.resume([device.id])
    a.timer.fire_all()
    wait_until(lambda: sum(status_of(c, m.id) == "sent" for m in messages) == 1)
    # a message a claimed and died before sending
    in_flight = next(m for m in messages if status_of(c, m.id) == "queued")
    assert message_transitions.claim(c, in_flight.id, "runner-a") is not None
    a.keeper.kill()

    cluster.pass_time(cluster.lease / 3)
    b.keeper.tick()
    assert device.id not in b.runner.sessions  # a's lease is still alive
    cluster.pass_time(cluster.lease)  # a missed its renewals: its lease has expired
    b.keeper.tick()
    assert device.id in b.runner.sessions
    b.link_all()
    wait_until(lambda: all(status_of(c, m.id) in ("sent", "delivered", "read")  # and the event,
                           and message_events(c, m.id, "message:out:sent")  # a moment later
                           for m in messages))
    assert sorted(cluster.network.send_attempts) == sorted(m.wa_id for m in messages)
    for m in messages:
        assert message_events(c, m.id, "message:out:sent") == ["message:out:sent"]
    assert c.store.get("devices", device.id)["shard"] == "runner-b"


def test_a_stale_runner_cannot_write_after_losing_the_lease(container, acc, cluster):
    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc)
    queued = queue_message(c, acc, device.id)
    fence = None
    a.runner.resume([device.id])
    fence = a.leases.fence(device.id)
    cluster.pass_time(cluster.lease + 1)  # a is paused past its lease...
    b.keeper.tick()  # ...b takes the device (epoch 2)
    assert c.store.get("devices", device.id)["lease_epoch"] == 2
    # a wakes up with its old fence: its writes change nothing
    assert message_transitions.claim(c, queued.id, "runner-a", fence=lambda _: fence) is None
    from shared.services.linking.connection import record_status

    assert not record_status(c.store, c.bus, c.clock, device.id, DeviceStatus.banned, guard=fence)
    a.runner.on_status(device.id, DeviceStatus.logged_out)
    assert c.store.get("devices", device.id)["status"] != "logged_out"


def test_graceful_shutdown_releases_so_the_other_takes_over_at_once(container, acc, cluster):
    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc)
    a.runner.resume([device.id])
    a.keeper.stop(release=True)
    b.keeper.tick()  # no time passed
    assert device.id in b.runner.sessions


def test_a_restarted_instance_resumes_its_shards_devices(container, acc, cluster):
    c = container
    a = cluster.add("runner-a")
    devices = [seed_device(c, acc) for _ in range(3)]
    a.runner.resume([d.id for d in devices])
    a.keeper.stop(release=True)
    again = cluster.add("runner-a")
    assert sorted(again.runner.sessions) == sorted(d.id for d in devices)
    assert {c.store.get("devices", d.id)["lease_epoch"] for d in devices} == {2}


def test_the_keeper_sweeps_its_disconnected_devices_for_the_non_operative_rule(container, acc,
                                                                              cluster, tmp_path):
    from shared.adapters.mailers import FileOutboxMailer

    c = container
    c.__dict__["mailer"] = FileOutboxMailer(tmp_path / "outbox.jsonl")
    c.store.update("accounts", acc, {"email": "ops@acme.example"})
    a = cluster.add("runner-a")
    a.runner.c.__dict__["mailer"] = c.mailer
    device = seed_device(c, acc)
    a.runner.resume([device.id])
    a.runner.on_status(device.id, DeviceStatus.disconnected, detail="network")
    cluster.pass_time(c.settings.non_operative_after + 1)
    a.keeper.tick()
    assert c.store.get("devices", device.id)["status"] == "non_operative"
    assert [m["to"] for m in c.mailer.messages()] == ["ops@acme.example"]


def test_a_deleted_device_is_stopped_on_whichever_shard_holds_it(container, acc, cluster):
    from shared.services import devices as device_service

    c = container
    a, b = cluster.add("runner-a"), cluster.add("runner-b")
    device = seed_device(c, acc)
    b.runner.resume([device.id])
    device_service.delete_device(c, acc, device.id)
    response = a.client.post("/tasks/devices", json={"device_id": device.id, "action": "stop"})
    assert response.status_code == 200
    assert device.id not in b.runner.sessions and not b.leases.holds(device.id)


def test_a_renew_that_keeps_failing_drops_the_sessions_once_the_lease_runs_out(
        container, acc, cluster, monkeypatch):
    c = container
    a = cluster.add("runner-a")
    device = seed_device(c, acc)
    a.runner.resume([device.id])
    assert device.id in a.runner.sessions

    def unreachable():
        raise OSError("store out of reach")

    monkeypatch.setattr(a.keeper.leases, "renew", unreachable)
    a.keeper.safe_tick()  # the lease is still good: keep the sessions
    assert device.id in a.runner.sessions
    cluster.pass_time(cluster.lease * 2)
    a.keeper.safe_tick()
    assert device.id not in a.runner.sessions
