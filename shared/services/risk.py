"""The ban-risk warning: `device:risk`, when a device's failure or block rate passes the
threshold (device_runner/risk.py keeps the figure)."""

from __future__ import annotations

from shared.deps import Deps
from shared.domain import Device
from shared.events import EventName
from shared.ports import Guard
from shared.services import event_log


def warn(deps: Deps, device: Device, figure, *, guard: Guard | None = None) -> None:
    data = figure.as_data() | {"message": (
        f"{figure.failures} of the last {figure.sends} messages from this device failed "
        f"({figure.rate:.0%}): WhatsApp may restrict numbers that send to many numbers "
        "without WhatsApp or that are blocked. Slow down (delivery_speed, daily_limit), "
        "check the numbers first (POST /v1/numbers/exists), or pause the queue.")}
    event = event_log.new_event(deps.bus, deps.clock, EventName.device_risk, device.account_id,
                                device.id, data)
    event_log.commit(deps.bus, deps.store, [], [event], guard=guard)
