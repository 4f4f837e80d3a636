"""Linking a device: the runner publishes the current QR code (WhatsApp rotates it every
20 seconds or so) or pairing code in `device_links/{device}`; GET /v1/devices/{id}/scan
reads it, and asks the runner for a new one when there is none."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from shared import names
from shared.clock import Clock
from shared.device_states import MESSAGES, StatusCode
from shared.domain import Device, DeviceStatus
from shared.errors import Conflict
from shared.ports import DocumentStore, TaskQueue
from shared.repositories.links import DeviceLinks

LINKS = DeviceLinks.name
DEFAULT_TTL = 20.0


def publish_code(store: DocumentStore, clock: Clock, device_id: str, *, qr: str | None = None,
                 pairing_code: str | None = None, expires_in: float | None = None) -> None:
    now = clock.now()
    doc = {"device_id": device_id, "at": now,
           "expires_at": now + timedelta(seconds=expires_in or DEFAULT_TTL)}
    if qr is not None:
        doc["qr"] = qr
    if pairing_code is not None:
        doc["pairing_code"] = pairing_code
    links = DeviceLinks(store)
    if not links.update(device_id, doc):
        links.put_doc(device_id, doc)


def clear(store: DocumentStore, device_id: str) -> None:
    DeviceLinks(store).delete(device_id)


def current(store: DocumentStore, clock: Clock, device_id: str) -> dict | None:
    doc = DeviceLinks(store).doc(device_id)
    if doc is None or doc["expires_at"] <= clock.now():
        return None
    return doc


def ensure_linkable(device: Device) -> None:
    if device.status == DeviceStatus.connected:
        raise Conflict(f"device {device.id} is linked to {device.phone} already; to link "
                       f"another number, POST /v1/devices/{device.id}/relink",
                       code="device_already_linked")


# States in which the device cannot make a QR or pairing code however long one waits:
# GET /scan says so instead of "try again in a moment".
CANNOT_LINK = (StatusCode.connection_failed, StatusCode.client_outdated,
               StatusCode.transport_unavailable, StatusCode.temporary_ban, StatusCode.banned)


def ensure_can_make_code(device: Device) -> None:
    """Raise 409 with the device's own status code and message when it is in a state
    that makes no code (WhatsApp unreachable, the client refused, banned…)."""
    if device.status_code not in {c.value for c in CANNOT_LINK}:
        return
    code = StatusCode(device.status_code)
    message = MESSAGES[code].replace("{id}", device.id)
    raise Conflict(f"device {device.id} cannot make a QR or pairing code now: {message} "
                   f"({code.value})", code="device_cannot_link",
                   details={"status": device.status.value, "status_code": code.value,
                            "status_message": message})


def request_link(tasks: TaskQueue, device: Device, *, logout: bool = False,
                 now: datetime | None = None) -> None:
    """Ask the holder runner to start linking (a fresh QR code). Named per 10 seconds, so
    clients polling /scan do not pile up tasks."""
    action = "relink" if logout else "link"
    payload = {"device_id": device.id, "action": action}
    slot = int((now.timestamp() if now else time.time()) // 10)
    tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES, payload,
                  name=f"{device.id}-{action}-{slot}")


def wait_for_code(store: DocumentStore, clock: Clock, device_id: str, seconds: float,
                  *, pairing: bool = False, since: datetime | None = None,
                  sleep=time.sleep) -> dict | None:
    """The current link document, polling for up to `seconds` while there is none."""
    deadline = time.monotonic() + seconds
    while True:
        doc = current(store, clock, device_id)
        if doc and (not pairing or doc.get("pairing_code")) and (since is None or doc["at"] >= since):
            return doc
        if time.monotonic() >= deadline:
            return None
        sleep(0.2)
