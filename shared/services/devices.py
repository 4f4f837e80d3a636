"""Devices: the customer's linked WhatsApp numbers."""

from __future__ import annotations

from shared import names
from shared.clock import Clock
from shared.domain import (
    Device,
    DeviceSettings,
    FailureReason,
    Message,
    MessageStatus,
    Transport,
)
from shared.errors import BadRequest, NotFound
from shared.ids import new_id
from shared.plans import DEFAULT_PLAN
from shared.ports import DocumentStore, EventBus, TaskQueue
from shared.services import messages as message_service
from shared.services import trials


def _control(tasks: TaskQueue, payload: dict) -> None:
    tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES, payload)


def create_device(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str, *,
                  transport: Transport, alias: str | None = None,
                  settings: DeviceSettings | None = None, plan: str = DEFAULT_PLAN) -> Device:
    now = clock.now()
    device = Device(id=new_id("dev"), account_id=account_id, alias=alias, transport=transport,
                    settings=settings or DeviceSettings(), plan=plan, created_at=now, updated_at=now)
    trials.admit(store, device)  # billing: trial or unpaid, or Conflict by the trial rules
    store.put("devices", device.id, device.to_doc())
    _control(tasks, {"device_id": device.id, "action": "start"})
    return device


def get_device(store: DocumentStore, account_id: str, device_id: str) -> Device:
    doc = store.get("devices", device_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"device {device_id} not found")
    return Device.model_validate(doc)


def list_devices(store: DocumentStore, account_id: str) -> list[Device]:
    docs = store.query("devices", [("account_id", "==", account_id)])
    return sorted((Device.model_validate(d) for d in docs), key=lambda d: d.created_at)


def update_device(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
                  device_id: str, changes: dict) -> Device:
    device = get_device(store, account_id, device_id)
    updates: dict = {"updated_at": clock.now()}
    if "alias" in changes:
        updates["alias"] = changes["alias"]
    if changes.get("settings") is not None:
        merged = device.settings.model_dump() | changes["settings"]
        updates["settings"] = DeviceSettings.model_validate(merged).model_dump()
    store.update("devices", device_id, updates)
    _control(tasks, {"device_id": device_id, "action": "refresh"})
    return get_device(store, account_id, device_id)


def delete_device(store: DocumentStore, tasks: TaskQueue, bus: EventBus, clock: Clock,
                  account_id: str, device_id: str) -> None:
    get_device(store, account_id, device_id)
    store.delete("devices", device_id)
    _control(tasks, {"device_id": device_id, "action": "stop"})
    queued = store.query("messages", [("device_id", "==", device_id),
                                      ("status", "==", MessageStatus.queued.value)])
    for doc in queued:
        message_service.fail(store, bus, clock, Message.model_validate(doc),
                             FailureReason.device_deleted)


def inject_sandbox_inbound(store: DocumentStore, tasks: TaskQueue, account_id: str,
                           device_id: str, phone: str, text: str) -> None:
    device = get_device(store, account_id, device_id)
    if device.transport != Transport.sandbox:
        raise BadRequest(f"device {device_id} uses transport {device.transport.value}; "
                         "inbound injection works on sandbox devices only",
                         code="not_a_sandbox_device")
    # The WhatsApp id is drawn here, once: a task run twice (a retry) injects the same
    # message, which the inbound flow files and announces once.
    _control(tasks, {"device_id": device_id, "action": "sandbox_inbound", "phone": phone,
                     "wa_id": new_id("wa").upper(),
                     "message": text})
