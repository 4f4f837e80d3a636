"""Groups. Only the runner that holds a device's session can talk to WhatsApp, so:

- Reads come from Firestore, the runner's mirror of the device's groups (synced when a
  listing finds it older than SYNC_AFTER, or on request), and need no live session.
- Changes are operations: the API validates one, stores it `pending` and queues a
  runner-control task; the runner applies it through the transport, writes the group as
  WhatsApp then reports it, marks the operation `succeeded` or `failed` (with a reason
  for the operation and for each participant) and publishes `group:update`.
  A new group gets its id at once, with status `creating` until WhatsApp has made it.
"""

from __future__ import annotations

from datetime import timedelta

from shared import names
from shared.clock import Clock
from shared.domain import Device, DeviceStatus
from shared.errors import Conflict, NotFound
from shared.events import EventName
from shared.ids import new_id
from shared.inbox import (
    Group,
    GroupFailure,
    GroupOperation,
    GroupOperationKind,
    GroupStatus,
    OperationStatus,
    ParticipantResult,
)
from shared.ports import DocumentStore, EventBus, TaskQueue, Write
from shared.repositories.devices import Devices
from shared.repositories.groups import GroupOperations, Groups, GroupSyncs
from shared.runner_tasks import DeviceAction
from shared.services import chats, event_log

SYNC_AFTER = timedelta(minutes=5)
ACTION_OPERATION = DeviceAction.group_operation
ACTION_SYNC = DeviceAction.group_sync


# --- API side -----------------------------------------------------------------------


def _connected_device(store: DocumentStore, account_id: str, device_id: str) -> Device:
    device = Devices(store).owned(account_id, device_id)
    if device.status != DeviceStatus.connected:
        raise Conflict(f"device {device_id} is {device.status.value}; groups change only through "
                       "a connected device", code="device_not_connected")
    return device


def get_group(store: DocumentStore, account_id: str, device_id: str, ref: str) -> Group:
    """A group by our id (grp_...) or by its WhatsApp id (...@g.us)."""
    if ref.endswith("@g.us"):
        docs = Groups(store).by_wa_id(device_id, ref, limit=1)
        doc = docs[0] if docs else None
    else:
        doc = Groups(store).doc(ref)
    if doc is None or doc["account_id"] != account_id or doc["device_id"] != device_id:
        raise NotFound(f"group {ref} not found on device {device_id}")
    return Group.model_validate(doc)


def list_groups(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
                device_id: str) -> list[Group]:
    groups = [Group.model_validate(d) for d in Groups(store).docs_of_device(device_id)
              if d["account_id"] == account_id]
    request_sync(store, tasks, clock, device_id)
    return sorted(groups, key=lambda g: (g.subject.casefold(), g.id))


def request_sync(store: DocumentStore, tasks: TaskQueue, clock: Clock, device_id: str, *,
                 force: bool = False) -> bool:
    """Queue a sync of the device's groups unless one ran within SYNC_AFTER; True if queued.
    The task name holds the time window, so a burst of listings queues one sync."""
    now = clock.now()
    state = GroupSyncs(store).doc(device_id) or {}
    synced = state.get("synced_at")
    if not force and synced is not None and now - synced < SYNC_AFTER:
        return False
    window = int(now.timestamp() // (SYNC_AFTER.total_seconds() if not force else 10))
    tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES,
                  {"device_id": device_id, "action": ACTION_SYNC},
                  name=f"groups-sync-{device_id}-{'f' if force else 'w'}{window}")
    return True


def _operate(store: DocumentStore, tasks: TaskQueue, clock: Clock, group: Group,
             kind: GroupOperationKind, params: dict) -> GroupOperation:
    op = GroupOperation(id=new_id("gop"), account_id=group.account_id, device_id=group.device_id,
                        group_id=group.id, kind=kind, params=params, created_at=clock.now())
    GroupOperations(store).add(op)
    tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES,
                  {"device_id": group.device_id, "action": ACTION_OPERATION, "operation_id": op.id},
                  name=op.id)
    return op


def create_group(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
                 device_id: str, *, subject: str, participants: list[str],
                 description: str | None = None, announce: bool = False) -> tuple[Group, GroupOperation]:
    _connected_device(store, account_id, device_id)
    now = clock.now()
    group = Group(id=new_id("grp"), account_id=account_id, device_id=device_id,
                  status=GroupStatus.creating, subject=subject, description=description,
                  announce=announce, created_at=now, updated_at=now)
    Groups(store).add(group)
    op = _operate(store, tasks, clock, group, GroupOperationKind.create,
                  {"subject": subject, "participants": list(dict.fromkeys(participants)),
                   "description": description, "announce": announce})
    return group, op


def _active(group: Group) -> Group:
    if group.status != GroupStatus.active:
        raise Conflict(f"group {group.id} is {group.status.value}", code="group_not_active")
    return group


def update_group(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
                 device_id: str, ref: str, changes: dict) -> GroupOperation:
    _connected_device(store, account_id, device_id)
    group = _active(get_group(store, account_id, device_id, ref))
    params = {k: changes[k] for k in ("subject", "description", "announce")
              if changes.get(k) is not None}
    return _operate(store, tasks, clock, group, GroupOperationKind.update, params)


def change_participants(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
                        device_id: str, ref: str, kind: GroupOperationKind,
                        phones: list[str]) -> GroupOperation:
    _connected_device(store, account_id, device_id)
    group = _active(get_group(store, account_id, device_id, ref))
    return _operate(store, tasks, clock, group, kind, {"phones": list(dict.fromkeys(phones))})


def reset_invite(store: DocumentStore, tasks: TaskQueue, clock: Clock, account_id: str,
                 device_id: str, ref: str) -> GroupOperation:
    _connected_device(store, account_id, device_id)
    group = _active(get_group(store, account_id, device_id, ref))
    return _operate(store, tasks, clock, group, GroupOperationKind.reset_invite, {})


def invite_link(store: DocumentStore, account_id: str, device_id: str, ref: str) -> str:
    group = _active(get_group(store, account_id, device_id, ref))
    if not group.invite_link:
        raise Conflict("the device is not an admin of this group, so it has no invite link",
                       code="not_group_admin")
    return group.invite_link


def get_operation(store: DocumentStore, account_id: str, device_id: str, ref: str,
                  operation_id: str) -> GroupOperation:
    group = get_group(store, account_id, device_id, ref)
    doc = GroupOperations(store).doc(operation_id)
    if doc is None or doc["group_id"] != group.id:
        raise NotFound(f"operation {operation_id} not found on group {ref}")
    return GroupOperation.model_validate(doc)


# --- runner side --------------------------------------------------------------------


def pending_operation(store: DocumentStore, operation_id: str) -> tuple[GroupOperation, Group] | None:
    op_doc = GroupOperations(store).doc(operation_id)
    if op_doc is None or op_doc["status"] != OperationStatus.pending.value:
        return None  # done already: a repeated task
    group_doc = Groups(store).doc(op_doc["group_id"])
    op = GroupOperation.model_validate(op_doc)
    if group_doc is None:
        return None
    return op, Group.model_validate(group_doc)


def _state(state: dict, now) -> dict:
    """Group fields from what the transport reports (wa_id, subject, ..., invite_link)."""
    return {"wa_id": state["wa_id"], "subject": state["subject"],
            "description": state.get("description"), "announce": bool(state.get("announce")),
            "owner": state.get("owner"), "participants": state.get("participants", []),
            "invite_link": state.get("invite_link"), "status": GroupStatus.active.value,
            "failure_reason": None, "updated_at": now}


def complete_operation(store: DocumentStore, bus: EventBus, clock: Clock, op: GroupOperation, *,
                       state: dict | None, participants: list[dict] = ()) -> GroupOperation | None:
    now = clock.now()
    if state is not None:
        groups = Groups(store)
        groups.update(op.group_id, _state(state, now))
        chats.rename_group_chat(store, clock, op.device_id, state["wa_id"], state["subject"])
        # A sync that ran while WhatsApp made the group may have mirrored it already.
        for twin in groups.by_wa_id(op.device_id, state["wa_id"]):
            if twin["id"] != op.group_id:
                groups.delete(twin["id"])
    results = [ParticipantResult.model_validate(p).model_dump(mode="json") for p in participants]
    return _finish(store, bus, clock, op, {"status": OperationStatus.succeeded.value,
                                           "participants": results, "completed_at": now})


def fail_operation(store: DocumentStore, bus: EventBus, clock: Clock, op: GroupOperation,
                   reason: GroupFailure) -> GroupOperation | None:
    now = clock.now()
    if op.kind == GroupOperationKind.create:
        Groups(store).update(op.group_id, {"status": GroupStatus.failed.value,
                                           "failure_reason": reason.value, "updated_at": now})
    return _finish(store, bus, clock, op, {"status": OperationStatus.failed.value,
                                           "failure_reason": reason.value, "completed_at": now})


def _finish(store, bus, clock, op: GroupOperation, changes: dict) -> GroupOperation | None:
    """The operation's end and its group:update event, in one commit."""
    done = GroupOperation.model_validate(op.model_dump() | changes)
    group_doc = Groups(store).doc(op.group_id)
    event = event_log.new_event(
        bus, clock, EventName.group_update, op.account_id, op.device_id,
        {"operation": operation_data(done),
         "group": group_data(Group.model_validate(group_doc)) if group_doc else None})
    if not event_log.commit(bus, store, [Write.update(GroupOperations.name, op.id, changes,
                                                      when={"status": OperationStatus.pending.value})],
                            [event]):
        return None
    return done


def sync_groups(store: DocumentStore, clock: Clock, device_id: str, states: list[dict]) -> int:
    """Make the mirror match the groups the transport reports; returns how many it holds."""
    device = Devices(store).doc(device_id)
    if device is None:
        return 0
    now = clock.now()
    groups = Groups(store)
    known = {d.get("wa_id"): d for d in groups.docs_of_device(device_id)}
    seen = set()
    for state in states:
        seen.add(state["wa_id"])
        existing = known.get(state["wa_id"])
        if existing is None or existing.get("subject") != state["subject"]:
            chats.rename_group_chat(store, clock, device_id, state["wa_id"], state["subject"])
        if existing is not None:
            groups.update(existing["id"], _state(state, now))
            continue
        group = Group(id=new_id("grp"), account_id=device["account_id"], device_id=device_id,
                      subject=state["subject"], created_at=now, updated_at=now)
        groups.put_doc(group.id, group.to_doc() | _state(state, now))
    for wa_id, doc in known.items():
        if wa_id is not None and wa_id not in seen:
            groups.delete(doc["id"])  # the device left it or was removed
    GroupSyncs(store).put_doc(device_id, {"synced_at": now, "groups": len(states)})
    return len(states)


def group_data(group: Group) -> dict:
    return group.model_dump(mode="json", exclude={"account_id"})


def operation_data(op: GroupOperation) -> dict:
    return op.model_dump(mode="json", exclude={"account_id"})
