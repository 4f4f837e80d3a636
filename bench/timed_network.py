"""The sandbox network with the time of every delivery, for the figures of how long sends
stop (a runner's death, a store outage)."""

from __future__ import annotations

import time

from device_runner.sandbox import SandboxNetwork


class TimedNetwork(SandboxNetwork):
    def __init__(self):
        super().__init__()
        self.times: list[float] = []  # time.monotonic() of each delivery

    def deliver(self, device_id, wa_id, to, text):
        self.times.append(time.monotonic())
        return super().deliver(device_id, wa_id, to, text)
