"""Linking a device: the runner publishes the current QR code (WhatsApp rotates it every
20 seconds or so) or pairing code in `device_links/{device}`; GET /v1/devices/{id}/scan
reads it, and asks the runner for a new one when there is none."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from shared import names
from shared.clock import Clock
from shared.domain import Device, DeviceStatus
from shared.errors import Conflict
from shared.ports import DocumentStore, TaskQueue

LINKS = "device_links"
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
    if not store.update(LINKS, device_id, doc):
        store.put(LINKS, device_id, doc)


def clear(store: DocumentStore, device_id: str) -> None:
    store.delete(LINKS, device_id)


def current(store: DocumentStore, clock: Clock, device_id: str) -> dict | None:
    doc = store.get(LINKS, device_id)
    if doc is None or doc["expires_at"] <= clock.now():
        return None
    return doc


def ensure_linkable(device: Device) -> None:
    if device.status == DeviceStatus.connected:
        raise Conflict(f"device {device.id} is linked to {device.phone} already; to link "
                       f"another number, POST /v1/devices/{device.id}/relink",
                       code="device_already_linked")


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
