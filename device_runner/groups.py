"""The runner's half of groups: apply a queued group operation, or sync a device's groups,
through the device's transport, and hand what WhatsApp reports to shared.services.groups."""

from __future__ import annotations

import logging

from device_runner.transport import (
    INVITE_URL,
    GroupAction,
    GroupError,
    GroupInfo,
    ParticipantChange,
    Transport,
)
from shared.bootstrap import Container
from shared.inbox import Group, GroupFailure, GroupOperation, GroupOperationKind
from shared.runner_tasks import DeviceAction, DeviceTask
from shared.services import groups as group_service

log = logging.getLogger(__name__)


def state(info: GroupInfo) -> dict:
    return {"wa_id": info.wa_id, "subject": info.subject, "description": info.description,
            "announce": info.announce, "owner": info.owner,
            "participants": [participant(key, role, dict(info.lids).get(key))
                             for key, role in info.participants],
            "invite_link": INVITE_URL + info.invite_code if info.invite_code else None}


def participant(key: str, role, lid: str | None) -> dict:
    """A participant as stored: phone null for one known only by anonymous id."""
    known_by_lid = key.endswith("@lid")
    return {"phone": None if known_by_lid else key, "lid": key if known_by_lid else lid,
            "role": role.value}


def result(change: ParticipantChange) -> dict:
    return {"phone": change.phone, "ok": change.ok,
            "reason": change.reason.value if change.reason else None}


def handle(c: Container, transport: Transport, task: DeviceTask) -> None:
    """A group_sync or group_operation task of a device this runner holds."""
    device_id = task.device_id
    if task.action == DeviceAction.group_sync:
        try:
            infos = transport.list_groups(device_id)
        except GroupError as exc:
            log.info("group sync of %s skipped: %s", device_id, exc)
            return
        group_service.sync_groups(c.store, c.clock, device_id, [state(i) for i in infos])
        return
    found = group_service.pending_operation(c.store, str(task.operation_id))
    if found is None:
        return
    op, group = found
    try:
        info, changes = apply(transport, device_id, op, group)
    except GroupError as exc:
        group_service.fail_operation(c.store, c.bus, c.clock, op, exc.reason)
        return
    except Exception:
        log.exception("group operation %s failed", op.id)
        group_service.fail_operation(c.store, c.bus, c.clock, op, GroupFailure.transport_error)
        return
    group_service.complete_operation(c.store, c.bus, c.clock, op, state=state(info),
                                     participants=[result(ch) for ch in changes])


def apply(transport: Transport, device_id: str, op: GroupOperation,
          group: Group) -> tuple[GroupInfo, list[ParticipantChange]]:
    params = op.params
    if op.kind == GroupOperationKind.create:
        info, changes = transport.create_group(device_id, params["subject"], params["participants"])
        if params.get("description") or params.get("announce"):
            info = transport.update_group(device_id, info.wa_id,
                                          description=params.get("description"),
                                          announce=params.get("announce") or None)
        return info, changes
    if group.wa_id is None:
        raise GroupError(GroupFailure.group_not_found, f"group {group.id} has no WhatsApp id")
    if op.kind == GroupOperationKind.update:
        info = transport.update_group(device_id, group.wa_id, subject=params.get("subject"),
                                      description=params.get("description"),
                                      announce=params.get("announce"))
        return info, []
    if op.kind == GroupOperationKind.reset_invite:
        transport.reset_invite(device_id, group.wa_id)
        return transport.get_group(device_id, group.wa_id), []
    changes = transport.change_participants(device_id, group.wa_id, GroupAction(op.kind.value),
                                            params["phones"])
    return transport.get_group(device_id, group.wa_id), changes
