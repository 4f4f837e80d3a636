"""The device runner's invariants: no message lost, none sent twice."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from device_runner.app import create_app as create_runner_app
from device_runner.sandbox import SandboxNetwork
from shared.runner_tasks import MessageTask
from shared.services import devices as device_service
from shared.services import message_transitions
from shared.services import messages as message_service
from shared.services.linking import connection
from tests.fakes import (
    in_threads,
    message_events,
    queue_message,
    seed_account,
    seed_device,
    status_of,
    wait_until,
)

SENT_OR_LATER = ("sent", "delivered", "read")


def go_fast(runner, device_id):
    """Lift the pacing of a session (pacing has tests of its own in test_session.py)."""
    runner.sessions[device_id].set_speed(60_000)


def connect(runner, timer, device_id, *, fast=True):
    runner.handle_device_task({"device_id": device_id, "action": "start"})
    if fast:
        go_fast(runner, device_id)
    timer.fire_all()
    wait_until(lambda: runner.sessions[device_id].connected, message="device connected")


def all_sent(c, messages):
    """Every message's status is past `sent` and its message:out:sent is published (the
    status is written a moment before its event, by the sending thread)."""
    return lambda: all(status_of(c, m.id) in SENT_OR_LATER
                       and message_events(c, m.id, "message:out:sent") for m in messages)


def assert_sent_exactly_once(c, network, messages):
    wa_ids = [m.wa_id for m in messages]
    assert sorted(network.send_attempts) == sorted(wa_ids), "a message reached the network twice"
    assert sorted(network.delivered) == sorted(wa_ids)
    for m in messages:
        assert message_events(c, m.id, "message:out:sent") == ["message:out:sent"], m.id
        assert status_of(c, m.id) in SENT_OR_LATER


@pytest.fixture
def acc(container):
    return seed_account(container)


# --- invariant 1: a task delivered twice sends once -------------------------------------


def test_same_task_twice_sends_once(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    message = queue_message(c, acc, device.id)
    runner, timer = make_runner(c)
    runner.handle_message_task(message.id)
    runner.handle_message_task(message.id)
    timer.fire_all()  # the device links
    wait_until(all_sent(c, [message]))
    runner.handle_message_task(message.id)  # a third delivery, after the send
    timer.fire_all()  # receipts
    assert status_of(c, message.id) == "read"
    assert_sent_exactly_once(c, network, [message])
    # the session forgets a message just after its send returns (on its own thread)
    wait_until(lambda: runner.sessions[device.id].pending() == 0)


def test_same_tasks_from_two_threads_send_once(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    connect(runner, timer, device.id)
    messages = [queue_message(c, acc, device.id, f"m{i}") for i in range(20)]
    barrier = threading.Barrier(2)

    def deliver_all_tasks():
        barrier.wait()
        for _ in range(2):
            for m in messages:
                runner.handle_message_task(m.id)

    in_threads(deliver_all_tasks, 2, timeout=10)
    wait_until(all_sent(c, messages), message="every message sent")
    for m in messages:  # late redeliveries change nothing
        runner.handle_message_task(m.id)
    timer.fire_all()
    assert_sent_exactly_once(c, network, messages)


class SlowNetwork(SandboxNetwork):
    """Each send takes a moment, which widens the window in which two runners race."""

    def deliver(self, device_id, wa_id, to, text):
        time.sleep(0.002)
        return super().deliver(device_id, wa_id, to, text)


def test_two_runners_during_a_rollout_send_once(container, acc, make_runner):
    c = container
    network = SlowNetwork()
    device = seed_device(c, acc)
    old, old_timer = make_runner(c, shard="runner-old", net=network)
    new, new_timer = make_runner(c, shard="runner-new", net=network)
    connect(old, old_timer, device.id)
    connect(new, new_timer, device.id)
    messages = [queue_message(c, acc, device.id, f"m{i}") for i in range(20)]
    barrier = threading.Barrier(2)

    def deliver(runner):
        barrier.wait()
        for m in messages:
            runner.handle_message_task(m.id)

    in_threads(deliver, (old, new), timeout=10)
    wait_until(all_sent(c, messages))
    assert_sent_exactly_once(c, network, messages)


# --- invariant 2: a restart loses nothing and sends nothing twice ----------------------


def test_restart_sends_each_remaining_message_once(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc, speed=1)  # one a minute: the rest stay queued
    messages = [queue_message(c, acc, device.id, f"m{i}") for i in range(6)]
    first, first_timer = make_runner(c)
    for m in messages:
        first.handle_message_task(m.id)
    first_timer.fire_all()
    wait_until(lambda: sum(status_of(c, m.id) == "sent" for m in messages) == 1)
    first.stop()
    assert sum(status_of(c, m.id) == "queued" for m in messages) == 5

    second, second_timer = make_runner(c)
    second.start()
    go_fast(second, device.id)
    second_timer.fire_all()
    wait_until(all_sent(c, messages), message="the remaining messages")
    # tasks of the old runner's messages arrive again at the new one: nothing changes
    for m in messages:
        second.handle_message_task(m.id)
    first_timer.fire_all()
    second_timer.fire_all()
    assert_sent_exactly_once(c, network, messages)
    assert all(status_of(c, m.id) == "read" for m in messages)


def test_restart_without_any_task_redelivered(container, acc, make_runner, network):
    """The store is the truth: a new runner finds queued messages without their tasks."""
    c = container
    device = seed_device(c, acc)
    messages = [queue_message(c, acc, device.id, f"m{i}") for i in range(3)]
    runner, timer = make_runner(c)
    runner.start()
    go_fast(runner, device.id)
    timer.fire_all()
    wait_until(all_sent(c, messages))
    assert_sent_exactly_once(c, network, messages)


# --- invariant 3: a claim left by a dead runner ----------------------------------------


def test_claim_left_by_a_dead_runner_is_sent_once(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    message = queue_message(c, acc, device.id)
    others = [queue_message(c, acc, device.id, f"other{i}") for i in range(2)]
    # the runner died between claim and send
    assert message_transitions.claim(c, message.id, c.settings.runner_shard) is not None
    assert c.store.get("messages", message.id)["claimed_by"] == c.settings.runner_shard

    runner, timer = make_runner(c)
    runner.start()
    go_fast(runner, device.id)
    timer.fire_all()
    runner.handle_message_task(message.id)  # and its task is redelivered too
    wait_until(all_sent(c, [message, *others]))
    runner.handle_message_task(message.id)
    assert_sent_exactly_once(c, network, [message, *others])


def test_claim_after_send_before_mark_sent_is_not_delivered_twice(container, acc, make_runner,
                                                                  network):
    """The runner died after the send but before recording it: the resend reuses the
    WhatsApp message id, so the network (like WhatsApp clients) shows it once."""
    c = container
    device = seed_device(c, acc)
    message = queue_message(c, acc, device.id)
    message_transitions.claim(c, message.id, c.settings.runner_shard)
    assert network.deliver(device.id, message.wa_id, message.phone, message.message)

    runner, timer = make_runner(c)
    runner.start()
    timer.fire_all()
    wait_until(all_sent(c, [message]))
    assert list(network.delivered) == [message.wa_id]
    assert message_events(c, message.id, "message:out:sent") == ["message:out:sent"]


# --- order, cancel, schedule --------------------------------------------------------


def test_urgent_messages_go_first(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    low, urgent = [], []
    for i in range(8):
        low.append(queue_message(c, acc, device.id, f"low{i}", priority="low"))
        c.clock.advance(1)
    for i in range(3):
        urgent.append(queue_message(c, acc, device.id, f"urgent{i}", priority="urgent"))
        c.clock.advance(1)
    runner, timer = make_runner(c)
    for m in low + urgent:
        runner.handle_message_task(m.id)
    go_fast(runner, device.id)
    timer.fire_all()
    wait_until(all_sent(c, low + urgent))
    assert network.send_attempts == [m.wa_id for m in urgent + low]


def test_cancelled_before_send_is_never_sent(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    cancelled = queue_message(c, acc, device.id, "cancel me")
    kept = queue_message(c, acc, device.id, "keep me")
    runner, timer = make_runner(c)
    runner.handle_message_task(cancelled.id)
    runner.handle_message_task(kept.id)
    message_service.cancel_message(c, acc, cancelled.id)
    go_fast(runner, device.id)
    timer.fire_all()
    wait_until(lambda: status_of(c, kept.id) == "sent")
    wait_until(lambda: runner.sessions[device.id].pending() == 0)
    runner.handle_message_task(cancelled.id)  # a late task for it
    assert status_of(c, cancelled.id) == "cancelled"
    assert network.send_attempts == [kept.wa_id]
    assert message_events(c, cancelled.id) == ["message:out:new", "message:out:cancelled"]


def test_a_task_that_brings_its_message_is_sent_without_reading_it(container, acc,
                                                                  make_runner, network):
    c = container
    device = seed_device(c, acc)
    sent, cancelled = (queue_message(c, acc, device.id, text) for text in ("go", "stop"))
    message_service.cancel_message(c, acc, cancelled.id)  # after its task was enqueued
    runner, timer = make_runner(c)
    read = []
    doc = c.repos.messages.doc
    c.repos.messages.doc = lambda message_id: read.append(message_id) or doc(message_id)
    for message in (sent, cancelled):
        runner.handle_message_task(message.id, message.model_dump(mode="json"))
    assert read == []
    timer.fire_all()
    wait_until(all_sent(c, [sent]))
    wait_until(lambda: runner.sessions[device.id].pending() == 0)
    runner.handle_message_task(sent.id, sent.model_dump(mode="json"))  # repeated, as queued
    wait_until(lambda: runner.sessions[device.id].pending() == 0)
    timer.fire_all()
    assert_sent_exactly_once(c, network, [sent])
    assert status_of(c, cancelled.id) == "cancelled"


def test_deliver_at_in_the_future_waits(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    later = queue_message(c, acc, device.id, "later", priority="urgent",
                          deliver_at=c.clock.now() + timedelta(hours=1))
    now = queue_message(c, acc, device.id, "now", priority="low")
    past = queue_message(c, acc, device.id, "past", priority="low",
                         deliver_at=c.clock.now() - timedelta(hours=1))
    runner, timer = make_runner(c)
    for m in (later, now, past):
        runner.handle_message_task(m.id)
    go_fast(runner, device.id)
    timer.fire_all()
    wait_until(all_sent(c, [now, past]))
    assert status_of(c, later.id) == "queued"
    assert runner.sessions[device.id].pending() == 1


# --- device tasks ---------------------------------------------------------------------


def test_device_links_and_reports_its_status(container, acc, make_runner):
    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    runner.handle_device_task({"device_id": device.id, "action": "start"})
    assert c.store.get("devices", device.id)["status"] == "linking"
    timer.fire_all()
    doc = c.store.get("devices", device.id)
    assert doc["status"] == "connected" and doc["phone"].startswith("+")
    statuses = [(e.data["previous"], e.data["status"], e.data["code"]) for e in c.bus.published
                if e.event == "device:status" and e.device == device.id]
    assert statuses == [("pending", "linking", "wa-connecting"), ("linking", "linking", "wa-qr"),
                        ("linking", "connected", "wa-connected")]


def test_refresh_applies_new_speed(container, acc, make_runner):
    c = container
    device = seed_device(c, acc, speed=10)
    runner, timer = make_runner(c)
    runner.handle_device_task({"device_id": device.id, "action": "start"})
    assert runner.sessions[device.id].delivery_speed == 10
    device_service.update_device(c, acc, device.id,
                                 {"settings": {"delivery_speed": 18}})
    runner.handle_device_task({"device_id": device.id, "action": "refresh"})
    assert runner.sessions[device.id].delivery_speed == 18
    device_service.update_device(c, acc, device.id,
                                 {"settings": {"delivery_speed": 90}})
    runner.handle_device_task({"device_id": device.id, "action": "refresh"})
    assert runner.sessions[device.id].delivery_speed == 20  # the Professional plan's cap


def test_deleted_device_stops_and_its_queue_fails(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    message = queue_message(c, acc, device.id)
    runner.handle_message_task(message.id)
    device_service.delete_device(c, acc, device.id)
    runner.handle_device_task({"device_id": device.id, "action": "stop"})
    timer.fire_all()  # a link that was under way arrives late
    assert device.id not in runner.sessions
    assert status_of(c, message.id) == "failed"
    assert c.store.get("messages", message.id)["failure_reason"] == "device_deleted"
    assert network.send_attempts == []


def test_a_logged_out_device_fails_nothing_its_queue_waits_for_the_relink(container, acc,
                                                                           make_runner, network):
    """Why FailureReason.device_logged_out is given by no code (shared/domain.py)."""
    from shared.device_states import StatusCode
    from shared.domain import DeviceStatus

    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    connect(runner, timer, device.id)
    runner.on_status(device.id, DeviceStatus.logged_out, code=StatusCode.logged_out)
    message = queue_message(c, acc, device.id)
    runner.handle_message_task(message.id)
    session = runner.sessions[device.id]  # holds it: nothing goes while not connected
    assert not session.connected and session.pending() == 1  # (test_send_queue.py)
    assert network.send_attempts == [] and status_of(c, message.id) == "queued"
    runner.on_status(device.id, DeviceStatus.connected, phone="+447911000001")  # linked again
    wait_until(all_sent(c, [message]))
    assert_sent_exactly_once(c, network, [message])


def test_unknown_device_action_is_refused(container, acc, make_runner):
    device = seed_device(container, acc)
    runner, _ = make_runner(container)
    with pytest.raises(ValueError):
        runner.handle_device_task({"device_id": device.id, "action": "explode"})


def test_task_for_unknown_message_or_device_does_nothing(container, acc, make_runner):
    runner, _ = make_runner(container)
    runner.handle_message_task("msg_nope")
    runner.handle_device_task({"device_id": "dev_nope", "action": "start"})
    assert runner.sessions == {}


def test_whatsapp_device_without_transport_reports_why_and_keeps_messages(container, acc,
                                                                         make_runner, network):
    c = container
    device = seed_device(c, acc, transport="whatsapp")
    message = queue_message(c, acc, device.id)
    runner, _ = make_runner(c)
    runner.handle_message_task(message.id)
    [event] = [e for e in c.bus.published if e.event == "device:status"]
    assert event.data["status"] == "disconnected" and event.data["detail"]
    assert event.data["code"] == "utio-transport-unavailable"
    assert "reconnecting" not in event.data["message"]
    assert status_of(c, message.id) == "queued"
    assert network.send_attempts == []


def test_an_unavailable_transport_is_not_mailed_as_non_operative(container, acc, make_runner,
                                                                 tmp_path):
    """The device cannot run here at all: that is for the operator to fix, so the sweep
    neither marks it non_operative nor mails its owner to check their phone."""
    from shared.adapters.mailers import FileOutboxMailer

    c = container
    mailer = FileOutboxMailer(tmp_path / "outbox.jsonl")
    c.store.update("accounts", acc, {"email": "owner@acme.example"})
    device = seed_device(c, acc, transport="whatsapp")
    runner, _ = make_runner(c)
    runner.ensure_session(device.id)
    assert c.store.get("devices", device.id)["status_code"] == "utio-transport-unavailable"
    c.clock.advance(7200)
    assert connection.sweep_non_operative(c.store, c.bus, c.clock, mailer, [device.id],
                                          after=60) == []
    assert c.store.get("devices", device.id)["status"] == "disconnected"
    assert mailer.messages() == []


# --- the runner's HTTP face ------------------------------------------------------------


def test_runner_task_endpoints(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    message = queue_message(c, acc, device.id)
    runner, timer = make_runner(c)
    client = create_runner_app(runner).test_client()
    assert client.post("/tasks/devices", json={"device_id": device.id, "action": "start"}
                       ).status_code == 200
    go_fast(runner, device.id)
    timer.fire_all()
    for _ in range(2):
        assert client.post("/tasks/messages", json={"message_id": message.id}).status_code == 200
    wait_until(all_sent(c, [message]))
    assert_sent_exactly_once(c, network, [message])
    health = client.get("/healthz").get_json()
    assert health == {"ok": True, "shard": c.settings.runner_shard, "devices": 1}


def test_a_message_task_as_the_api_enqueued_it_sends_once_however_often_it_comes(
        container, acc, make_runner, network):
    """The task carries the message and its document's version (MessageTask.version):
    its claim reads nothing; a repeat, on a version the claim moved past, sends nothing."""
    c = container
    device = seed_device(c, acc)
    message = queue_message(c, acc, device.id)
    [task] = [t for t in c.tasks.tasks if t.payload.get("message_id") == message.id]
    assert task.payload["version"]
    # the API writes the payload by hand (messages.enqueue_send): exactly MessageTask's
    assert MessageTask.model_validate(task.payload).model_dump() == task.payload
    runner, timer = make_runner(c)
    client = create_runner_app(runner).test_client()
    connect(runner, timer, device.id)
    for _ in range(3):
        assert client.post("/tasks/messages", json=task.payload).status_code == 200
        wait_until(all_sent(c, [message]))
    assert_sent_exactly_once(c, network, [message])


@pytest.mark.parametrize("path,body", [
    ("/tasks/messages", None),
    ("/tasks/messages", [1]),
    ("/tasks/messages", {"message_id": 5}),
    ("/tasks/devices", {"device_id": "dev_1"}),
    ("/tasks/devices", {"device_id": "dev_1", "action": "explode"}),
    ("/tasks/devices", {"device_id": "dev_1", "action": "sandbox_inbound"}),
    ("/rpc/explode", {"device_id": "dev_1"}),
    ("/rpc/exists", {"device_id": "dev_1", "numbers": "+34600100999"}),
    ("/rpc/profile", {"device_id": "dev_1", "image": "not base64!"}),
])
def test_runner_task_endpoints_refuse_bad_bodies(container, make_runner, path, body):
    runner, _ = make_runner(container)
    client = create_runner_app(runner).test_client()
    response = client.post(path, json=body) if body is not None else client.post(path, data=b"{")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("bug", [KeyError("device_id"), ValueError("bad state")])
def test_a_bug_in_a_task_is_a_500_with_the_error_logged(container, acc, make_runner, caplog,
                                                        monkeypatch, bug):
    """Bad bodies are refused at the edge (400, above); a KeyError or ValueError raised
    while handling a valid task is a bug: logged with its traceback, answered 500."""
    device = seed_device(container, acc)
    runner, _ = make_runner(container)

    def broken(task):
        raise bug

    monkeypatch.setattr(runner, "handle_device_task", broken)
    client = create_runner_app(runner).test_client()
    response = client.post("/tasks/devices", json={"device_id": device.id, "action": "start"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert any(r.exc_info and r.exc_info[1] is bug for r in caplog.records)


def test_a_sandbox_inbound_task_for_a_gone_or_other_device_is_acknowledged(container, acc,
                                                                          make_runner):
    """Bad bodies are 400s and bugs are 500s, but a valid task that can never do anything
    (its device deleted, or not on the sandbox) is done: no retry for ever."""
    runner, _ = make_runner(container)
    whatsapp = seed_device(container, acc, transport="whatsapp")
    client = create_runner_app(runner).test_client()
    for device_id in ("dev_gone", whatsapp.id):
        response = client.post("/tasks/devices", json={
            "device_id": device_id, "action": "sandbox_inbound", "phone": "+34600100999",
            "message": "hi"})
        assert response.status_code == 200, response.get_json()
    assert not [e for e in container.bus.published if e.event == "message:in:new"]
