"""The sandbox links a device within a second, with its default delays. A contract rule (a
sandbox device is usable almost at once), checked on the delays the sandbox schedules and
the events that follow them, not on a wall clock."""

from __future__ import annotations

from device_runner.main import build_runner
from device_runner.sandbox import SandboxNetwork, SandboxTransport
from device_runner.transport import Listener
from shared.domain import DeviceStatus
from tests.fakes import ManualTimer, seed_account, seed_device

WITHIN = 1.0  # seconds from connect to connected


class Statuses(Listener):
    def __init__(self):
        self.seen: list[DeviceStatus] = []

    def on_status(self, device_id, status, phone=None, **kwargs):
        self.seen.append(status)

    def on_receipt(self, device_id, wa_id, receipt):
        pass

    def on_inbound(self, device_id, message):
        pass


def link_delay(timer: ManualTimer, connected) -> float:
    """Fire the timer's callbacks in order, adding up their delays, until `connected()`."""
    waited = 0.0
    while not connected():
        assert timer.pending, "nothing left to wait for, and not connected"
        delay = min(d for d, _ in timer.pending)
        waited += delay
        timer.fire_next()
    return waited


def test_the_sandbox_transport_links_within_a_second():
    timer, listener = ManualTimer(), Statuses()
    transport = SandboxTransport(SandboxNetwork(), timer=timer)  # the default delays
    transport.connect("dev_1", listener)
    assert listener.seen == [DeviceStatus.linking]
    assert link_delay(timer, lambda: DeviceStatus.connected in listener.seen) < WITHIN
    transport.disconnect("dev_1")


def test_a_sandbox_device_is_connected_within_a_second_of_its_start(container):
    c = container
    device = seed_device(c, seed_account(c))
    timer = ManualTimer()
    runner = build_runner(c, SandboxTransport(timer=timer))  # the default delays
    try:
        runner.handle_device_task({"device_id": device.id, "action": "start"})
        assert c.store.get("devices", device.id)["status"] == "linking"
        waited = link_delay(timer, lambda: c.store.get("devices", device.id)["status"] ==
                            "connected")
        assert waited < WITHIN, f"linked after {waited:.2f} s"
    finally:
        runner.stop()
