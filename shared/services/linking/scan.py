"""What the API asks to link a device: its current QR code (or a pairing code), asking
the runner for a new one when none is current; and a change of number (relink)."""

from __future__ import annotations

import time
from datetime import timedelta

from shared.deps import Deps
from shared.domain import Device
from shared.services.devices import get_device
from shared.services.linking import codes


def scan(deps: Deps, account_id: str, device_id: str, *, wait: float,
         sleep=time.sleep) -> tuple[Device, dict | None]:
    """The device and its current QR code (or pairing code), asking the runner for a new
    one when none is current; None when none came within `wait` seconds."""
    store, clock = deps.store, deps.clock
    device = get_device(deps, account_id, device_id)
    codes.ensure_linkable(device)
    code = codes.current(store, clock, device.id)
    if code is None:
        codes.request_link(deps.tasks, device, now=clock.now())
        code = codes.wait_for_code(store, clock, device.id, wait, sleep=sleep)
        if code is None:  # none came: say why if the device knows it cannot make one
            codes.ensure_can_make_code(get_device(deps, account_id, device_id))
    return device, code


def pairing_code(deps: Deps, account_id: str, device_id: str,
                 phone: str) -> tuple[Device, dict]:
    clock = deps.clock
    device = get_device(deps, account_id, device_id)
    codes.ensure_linkable(device)
    answer = deps.runner_rpc.call("pair", {"device_id": device.id, "phone": phone})
    doc = codes.current(deps.store, clock, device.id) or {}
    return device, {"pairing_code": answer["pairing_code"], "phone": phone,
                    "expires_at": doc.get("expires_at", clock.now() + timedelta(minutes=2))}


def relink(deps: Deps, account_id: str, device_id: str) -> Device:
    """Unlink the current number and link again: id, settings, chats and contacts stay."""
    device = get_device(deps, account_id, device_id)
    codes.clear(deps.store, device.id)
    codes.request_link(deps.tasks, device, logout=True, now=deps.clock.now())
    return device
