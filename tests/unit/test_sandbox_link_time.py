"""The sandbox links a device within a second, on its real timer and default delays.
A contract rule (a sandbox device is usable almost at once), not a speed benchmark."""

from __future__ import annotations

import threading
import time

from device_runner.main import build_runner
from device_runner.sandbox import SandboxNetwork, SandboxTransport
from device_runner.transport import Listener
from shared.domain import DeviceStatus
from tests.fakes import seed_account, seed_device

WITHIN = 1.0  # seconds from connect to connected


class Linked(Listener):
    def __init__(self):
        self.connected = threading.Event()
        self.at: float | None = None

    def on_status(self, device_id, status, phone=None, **kwargs):
        if status == DeviceStatus.connected and self.at is None:
            self.at = time.monotonic()
            self.connected.set()

    def on_receipt(self, device_id, wa_id, receipt):
        pass

    def on_inbound(self, device_id, message):
        pass

    def on_link(self, device_id, qr=None, pairing_code=None, **kwargs):
        pass


def test_the_sandbox_transport_links_within_a_second():
    transport, listener = SandboxTransport(SandboxNetwork()), Linked()
    started = time.monotonic()
    transport.connect("dev_1", listener)
    assert listener.connected.wait(WITHIN * 3), "never linked"
    assert listener.at - started < WITHIN
    transport.disconnect("dev_1")


def test_a_sandbox_device_is_connected_within_a_second_of_its_start(container):
    c = container
    device = seed_device(c, seed_account(c))
    runner = build_runner(c)  # the default SandboxTransport: real timer, default delays
    try:
        started = time.monotonic()
        runner.handle_device_task({"device_id": device.id, "action": "start"})
        deadline = started + WITHIN * 3
        while (c.store.get("devices", device.id)["status"] != "connected"
               and time.monotonic() < deadline):
            time.sleep(0.01)
        took = time.monotonic() - started
        assert c.store.get("devices", device.id)["status"] == "connected"
        assert took < WITHIN, f"linked after {took:.2f} s"
    finally:
        runner.stop()
