"""The scheduled chat clean-up: applies each device's clean-up setting (delete chats
inactive for N days, keep at most N chats), finishes the erasure of deleted chats, and
records the warnings of devices with so many chats or groups that delivery slows down."""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.clock import Clock
from shared.domain import Device, DeviceWarning, DeviceWarningCode
from shared.inbox import CHAT_WARNING_THRESHOLD, GROUP_WARNING_THRESHOLD, Chat
from shared.ports import DocumentStore, EventBus
from shared.repositories.chats import Chats
from shared.repositories.devices import Devices
from shared.repositories.groups import Groups
from shared.services import chat_deletion

log = logging.getLogger(__name__)


def warnings_for(chats: int, groups: int) -> list[DeviceWarning]:
    found = []
    if chats > CHAT_WARNING_THRESHOLD:
        found.append(DeviceWarning(
            code=DeviceWarningCode.too_many_chats, count=chats, limit=CHAT_WARNING_THRESHOLD,
            message=f"{chats} open chats (more than {CHAT_WARNING_THRESHOLD}) slow the device's "
            "delivery down; delete chats or turn on the chat clean-up setting"))
    if groups > GROUP_WARNING_THRESHOLD:
        found.append(DeviceWarning(
            code=DeviceWarningCode.too_many_groups, count=groups, limit=GROUP_WARNING_THRESHOLD,
            message=f"the device is in {groups} groups (more than {GROUP_WARNING_THRESHOLD}), "
            "which slows its delivery down; leave the groups it does not need"))
    return found


def doomed(chats: list[Chat], device: Device, clock: Clock) -> list[Chat]:
    """The chats the device's clean-up setting deletes now."""
    setting = device.settings.chat_cleanup
    picked: dict[str, Chat] = {}
    if setting is None:
        return []
    if setting.inactive_days:
        cutoff = clock.now() - timedelta(days=setting.inactive_days)
        picked |= {c.key: c for c in chats if c.last_message_at < cutoff}
    if setting.max_chats and len(chats) > setting.max_chats:
        newest_first = sorted(chats, key=lambda c: c.sort_key, reverse=True)
        picked |= {c.key: c for c in newest_first[setting.max_chats:]}
    return list(picked.values())


def clean_device(store: DocumentStore, bus: EventBus, clock: Clock, device: Device) -> dict:
    chats = Chats(store).of_device(device.id)
    gone = doomed(chats, device, clock)
    for chat in gone:
        chat_deletion.retire(store, bus, clock, chat, reason="cleanup")
    groups = len(Groups(store).active_of_device(device.id))
    remaining = len(chats) - len(gone)
    warnings = warnings_for(remaining, groups)
    if warnings != device.warnings:
        Devices(store).update(device.id, {"warnings": [w.model_dump() for w in warnings]})
    return {"device": device.id, "deleted": len(gone), "chats": remaining, "groups": groups,
            "warnings": [w.code.value for w in warnings]}


def run(store: DocumentStore, bus: EventBus, clock: Clock) -> dict:
    """One pass over every device; a device that fails is logged and skipped."""
    devices, deleted, failed = 0, 0, []
    for doc in Devices(store).docs():
        try:
            report = clean_device(store, bus, clock, Device.model_validate(doc))
        except Exception:
            log.exception("chat clean-up of device %s failed", doc.get("id"))
            failed.append(doc.get("id"))
            continue
        devices += 1
        deleted += report["deleted"]
    purged = chat_deletion.finish_purges(store)
    return {"devices": devices, "chats_deleted": deleted, "threads_purged": purged,
            "failed": failed}
