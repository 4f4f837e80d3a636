"""Devices: the customer's linked WhatsApp numbers."""

from __future__ import annotations

from shared import names
from shared.billing import trials
from shared.deps import Deps
from shared.domain import Device, DeviceSettings, DeviceStatus, FailureReason, Transport
from shared.errors import BadRequest, Conflict
from shared.ids import new_id
from shared.plans import DEFAULT_PLAN
from shared.ports import TaskQueue
from shared.services import message_transitions


def _control(tasks: TaskQueue, payload: dict) -> None:
    tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES, payload)


def create_device(deps: Deps, account_id: str, *, transport: Transport, alias: str | None = None,
                  settings: DeviceSettings | None = None, plan: str = DEFAULT_PLAN) -> Device:
    now = deps.clock.now()
    settings = settings or DeviceSettings()
    if transport == Transport.sandbox and "warmup" not in settings.model_fields_set:
        # Sandbox devices are for tests and demos: no warm-up unless asked for.
        settings = settings.model_copy(update={"warmup": settings.warmup.model_copy(
            update={"enabled": False})})
    device = Device(id=new_id("dev"), account_id=account_id, alias=alias, transport=transport,
                    settings=settings, plan=plan, created_at=now, updated_at=now)
    trials.admit(deps.store, device)  # billing: trial or unpaid, or Conflict by the trial rules
    deps.repos.devices.add(device)
    deps.caches.devices_added(account_id)  # not the account's only device any more
    _control(deps.tasks, {"device_id": device.id, "action": "start"})
    return device


def get_device(deps: Deps, account_id: str, device_id: str) -> Device:
    return deps.repos.devices.owned(account_id, device_id)


def list_devices(deps: Deps, account_id: str) -> list[Device]:
    return sorted(deps.repos.devices.of_account(account_id), key=lambda d: d.created_at)


def update_device(deps: Deps, account_id: str, device_id: str, changes: dict) -> Device:
    device = get_device(deps, account_id, device_id)
    updates: dict = {"updated_at": deps.clock.now()}
    if "alias" in changes:
        updates["alias"] = changes["alias"]
    if changes.get("settings") is not None:
        patch = dict(changes["settings"])
        if patch.get("daily_limit") == 0:
            patch["daily_limit"] = None  # 0 removes the cap
        if "warmup" in patch:
            patch["warmup"] = device.settings.warmup.model_dump() | patch["warmup"]
        merged = device.settings.model_dump() | patch
        updates["settings"] = DeviceSettings.model_validate(merged).model_dump()
    deps.repos.devices.update(device_id, updates)
    deps.caches.device_changed(device_id)
    _control(deps.tasks, {"device_id": device_id, "action": "refresh"})
    return get_device(deps, account_id, device_id)


def delete_device(deps: Deps, account_id: str, device_id: str) -> None:
    get_device(deps, account_id, device_id)
    deps.repos.devices.delete(device_id)
    deps.caches.device_changed(device_id)
    _control(deps.tasks, {"device_id": device_id, "action": "stop"})
    for message in deps.repos.messages.queued_for_device(device_id):
        message_transitions.fail(deps, message, FailureReason.device_deleted)
    _ungrant(deps, account_id, device_id)


def _ungrant(deps: Deps, account_id: str, device_id: str) -> None:
    """A deleted device leaves the agents it was granted to (GET /v1/agents listed it on):
    each grant list written on the one read, read again when it changed meanwhile."""
    agents = deps.repos.agents
    for doc in agents.docs_of_account(account_id):
        for _ in range(10):
            granted = doc.get("devices") or []
            if device_id not in granted or agents.update(
                    doc["id"], {"devices": [d for d in granted if d != device_id]},
                    when={"devices": granted}):
                break
            doc = agents.doc(doc["id"])
            if doc is None:
                break


def inject_sandbox_inbound(deps: Deps, account_id: str, device_id: str, phone: str | None,
                           text: str, *, lid: str | None = None) -> None:
    device = get_device(deps, account_id, device_id)
    if device.transport != Transport.sandbox:
        raise BadRequest(f"device {device_id} uses transport {device.transport.value}; "
                         "inbound injection works on sandbox devices only",
                         code="not_a_sandbox_device")
    # The WhatsApp id is drawn here, once: a task run twice (a retry) injects the same
    # message, which the inbound flow files and announces once.
    _control(deps.tasks, {"device_id": device_id, "action": "sandbox_inbound", "phone": phone,
                          "wa_id": new_id("wa").upper(), "message": text}
             | ({"lid": lid} if lid else {}))


def inject_sandbox_media(deps: Deps, account_id: str, device_id: str, phone: str,
                         file_id: str, caption: str | None = None) -> None:
    """`phone` sends the device a file of the account (POST /v1/files): an image, video,
    audio or document as the bytes say, kept and announced as WhatsApp's would be."""
    from shared import media
    from shared.errors import NotFound, ValidationFailed
    from shared.services import files

    device = get_device(deps, account_id, device_id)
    if device.transport != Transport.sandbox:
        raise BadRequest(f"device {device_id} uses transport {device.transport.value}; "
                         "inbound injection works on sandbox devices only",
                         code="not_a_sandbox_device")
    try:
        record = files.get_file(deps.store, account_id, file_id)
    except NotFound as exc:
        raise ValidationFailed(f"file: no file {file_id} in this account; upload it with "
                               "POST /v1/files", details={"field": "file"},
                               code="unknown_file") from exc
    kind = media.kind_for(record.mime, None)
    _control(deps.tasks, {"device_id": device_id, "action": "sandbox_inbound", "phone": phone,
                          "wa_id": new_id("wa").upper(), "file_id": record.id,
                          "caption": caption, "kind": kind.value})


def require_connected(device: Device) -> None:
    if device.status != DeviceStatus.connected:
        raise Conflict(f"device {device.id} is {device.status.value}, not connected; link it "
                       f"first (GET /v1/devices/{device.id}/scan)", code="device_not_connected")
