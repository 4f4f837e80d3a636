"""Control tasks for a device (the runner-control queue, shared.runner_tasks.DeviceTask):
start or stop its session, refresh its settings, link or relink it, the sandbox's
injected inbound messages, votes and changes, and group operations and syncs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from device_runner import groups as device_groups
from device_runner.transport import TransportError
from shared.domain import DeviceStatus
from shared.runner_rpc import RunnerUnavailable
from shared.runner_tasks import DeviceAction, DeviceTask
from shared.services.quotas import effective_speed

if TYPE_CHECKING:
    from device_runner.runner import Runner

log = logging.getLogger(__name__)


def _retry_while_connecting(runner: Runner, device_id: str) -> None:
    """A linked device whose session is still starting here (a runner that has just taken
    it over: the session exists before its transport connects) cannot take an injected
    message yet, as WhatsApp holds one for a phone that is offline: the task is answered
    503 and comes again, instead of being dropped. A device never linked drops it."""
    device = runner.devices.get(device_id)
    if (device is not None and device.status == DeviceStatus.connected
            and runner.statuses.get(device_id) != DeviceStatus.connected.value):
        raise RunnerUnavailable(f"device {device_id} is connecting on this runner; retry")


def handle(runner: Runner, task: DeviceTask | dict) -> None:
    """A control task: the model, or its payload as enqueued (pydantic's
    ValidationError, a ValueError, when it is not one)."""
    if not isinstance(task, DeviceTask):
        task = DeviceTask.model_validate(task)
    device_id, action = task.device_id, task.action
    if action == DeviceAction.start:
        runner.ensure_session(device_id)
    elif action == DeviceAction.stop:
        runner.drop_session(device_id)
    elif action == DeviceAction.refresh:
        device = runner.load_device(device_id)
        session = runner.ensure_session(device_id)
        if device and session:  # settings (its, its account's), the plan or the pause
            runner.devices[device_id] = device
            session.set_speed(effective_speed(device))
            session.set_paused(device.queue_paused_at is not None)
    elif action in (DeviceAction.link, DeviceAction.relink):  # relink: another number
        if runner.ensure_session(device_id) is not None:
            runner.transport_of(device_id).link(device_id, runner,
                                              logout=action == DeviceAction.relink)
    elif action == DeviceAction.sandbox_inbound:
        if runner.ensure_session(device_id) is None:
            return  # deleted meanwhile: nothing to inject into
        sandbox = runner.transports["sandbox"]
        try:
            if task.file_id:
                _inject_media(runner, sandbox, task)
            else:
                sandbox.inject_inbound(device_id, task.phone, task.message,  # type: ignore[attr-defined]
                                       wa_id=task.wa_id, lid=task.lid)
        except (LookupError, TransportError):  # not a sandbox device (any more), or the file
            _retry_while_connecting(runner, device_id)
            log.warning("sandbox inbound for %s dropped", device_id)  # is gone: never works
    elif action == DeviceAction.sandbox_poll_vote:
        if runner.ensure_session(device_id) is None:
            return
        try:
            runner.transports["sandbox"].inject_poll_vote(  # type: ignore[attr-defined]
                device_id, task.phone, task.poll_wa_id, task.options or [], wa_id=task.wa_id)
        except LookupError:
            _retry_while_connecting(runner, device_id)
            log.warning("sandbox poll vote for %s dropped: not connected", device_id)
    elif action == DeviceAction.sandbox_change:
        if runner.ensure_session(device_id) is None:
            return
        sandbox = runner.transports["sandbox"]
        change = dict(change_wa_id=task.wa_id, group=task.group)
        try:
            if task.message is not None:  # an edit to this text, else a deletion
                sandbox.inject_edit(device_id, task.phone, task.target_wa_id,  # type: ignore[attr-defined]
                                    task.message, **change)
            else:
                sandbox.inject_revoke(device_id, task.phone,  # type: ignore[attr-defined]
                                      task.target_wa_id, **change)
        except TransportError:
            _retry_while_connecting(runner, device_id)
            log.warning("sandbox change for %s dropped: not connected", device_id)
    elif action in (DeviceAction.group_operation, DeviceAction.group_sync):
        runner.ensure_session(device_id)
        device_groups.handle(runner.c, runner.transport_of(device_id), task)


def _inject_media(runner: Runner, sandbox, task: DeviceTask) -> None:
    """The account's file, sent to the device by `task.phone` (the sandbox keeps it as the
    WhatsApp adapter keeps what it downloads)."""
    from shared.repositories.files import Files

    record = Files(runner.c.store).doc(task.file_id or "")
    if record is None:
        raise LookupError(task.file_id)
    data = runner.c.storage.get(record["key"])
    sandbox.inject_media(task.device_id, task.phone, data, record["mime"], task.kind or "document",
                         caption=task.caption, filename=record.get("filename"),
                         wa_id=task.wa_id)
