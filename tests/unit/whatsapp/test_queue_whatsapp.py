"""The queue's controls over the WhatsApp adapter (the neonize stand-in): a paused queue
hands neonize nothing, an expired message never reaches it, a newly linked number is
warmed up (its day's cap, then the next day), and failures past the threshold raise
device:risk with the figure."""

from __future__ import annotations

from datetime import timedelta

from device_runner import risk as risk_window
from shared.services import device_queue
from tests.fakes import queue_message, status_of
from tests.fakes import wait_until as _wait_until
from tests.unit.whatsapp.test_runner_whatsapp import linked_device, setup, world  # noqa: F401


def wait_until(predicate, timeout: float = 15.0, message: str = "condition"):
    """A longer bound than the default: these wait on runner threads, on loaded machines."""
    return _wait_until(predicate, timeout, message)


def _send_all(runner, messages):
    for message in messages:
        runner.handle_message_task(message.id)


def test_a_paused_queue_hands_neonize_nothing_until_resumed(setup, world):  # noqa: F811
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    device_queue.pause(c, account, device.id)
    runner.handle_device_task({"device_id": device.id, "action": "refresh"})
    messages = [queue_message(c, account, device.id, f"m{i}") for i in range(2)]
    _send_all(runner, messages)
    wait_until(lambda: runner.sessions[device.id].pending() == 2, message="queued")
    assert client.sent == []
    device_queue.resume(c, account, device.id)
    runner.handle_device_task({"device_id": device.id, "action": "refresh"})
    runner.sessions[device.id].set_speed(60_000)
    wait_until(lambda: len(client.sent) == 2, message="both sent")
    assert [m.conversation for _, m in client.sent] == ["m0", "m1"]


def test_an_expired_message_never_reaches_neonize(setup, world):  # noqa: F811
    from shared.services.messages import send_message

    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    runner.sessions[device.id].set_connected(False)
    message, _ = send_message(c, account, phone="+447911123456", text="code 1234",
                              device_id=device.id,
                              expires_at=c.clock.now() + timedelta(seconds=30))
    runner.handle_message_task(message.id)
    c.clock.advance(31)
    runner.sessions[device.id].set_connected(True)
    wait_until(lambda: status_of(c, message.id) == "failed", message="expired")
    assert c.store.get("messages", message.id)["failure_reason"] == "expired"
    assert client.sent == []


def test_a_newly_linked_number_is_warmed_up(setup, world):  # noqa: F811
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)  # linked today
    assert c.store.get("devices", device.id)["linked_at"] == c.clock.now()
    doc = c.store.get("devices", device.id)
    settings = doc["settings"] | {"warmup": doc["settings"]["warmup"] | {"first_day": 2}}
    c.store.update("devices", device.id, {"settings": settings})
    runner.handle_device_task({"device_id": device.id, "action": "refresh"})
    runner.sessions[device.id].set_speed(60_000)
    messages = [queue_message(c, account, device.id, f"m{i}") for i in range(3)]
    _send_all(runner, messages)
    wait_until(lambda: len(client.sent) == 2, message="the day's two")
    wait_until(lambda: c.store.get("messages", messages[2].id)["claimed_by"] is None,
               message="the third given back")
    assert status_of(c, messages[2].id) == "queued"  # waits, does not fail
    view = device_queue.view(c, account, device.id)
    assert (view.daily.used, view.daily.limit, view.daily.warmup_day) == (2, 2, 1)
    [slot] = view.slots
    assert slot.expected_at == (c.clock.now() + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0)


def test_failures_past_the_threshold_raise_device_risk(setup, world):  # noqa: F811
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    doc = c.store.get("devices", device.id)
    c.store.update("devices", device.id, {"settings": doc["settings"] | {
        "warmup": doc["settings"]["warmup"] | {"enabled": False}}})
    runner.handle_device_task({"device_id": device.id, "action": "refresh"})
    runner.sessions[device.id].set_speed(60_000)
    good = [queue_message(c, account, device.id, f"ok{i}") for i in range(15)]
    bad = [queue_message(c, account, device.id, f"x{i}", phone=f"+4479111{i:02d}0000")
           for i in range(5)]  # not on WhatsApp, as neonize answers
    _send_all(runner, good + bad)
    wait_until(lambda: all(status_of(c, m.id) in ("sent", "failed") for m in good + bad),
               message="all done")
    [event] = [e for e in c.bus.published if e.event == "device:risk"]
    assert event.device == device.id
    assert event.data["failures"] == 5 and event.data["sends"] == 20
    assert event.data["rate"] == 0.25 and event.data["threshold"] == risk_window.THRESHOLD
    assert event.data["reasons"] == {"number_not_on_whatsapp": 5}
    more = [queue_message(c, account, device.id, f"y{i}", phone=f"+4479112{i:02d}0000")
            for i in range(3)]
    _send_all(runner, more)
    wait_until(lambda: all(status_of(c, m.id) == "failed" for m in more), message="failed")
    assert len([e for e in c.bus.published if e.event == "device:risk"]) == 1  # once
