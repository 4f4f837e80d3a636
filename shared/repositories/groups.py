"""A device's groups (collection "groups", the runner's mirror of what WhatsApp reports),
the changes asked of them ("group_operations") and when each device's were last synced
("group_syncs")."""

from __future__ import annotations

from shared.inbox import Group, GroupOperation, GroupStatus
from shared.repositories.base import Collection, Repository


class Groups(Repository[Group]):
    name = "groups"
    model = Group
    missing = "group"

    def docs_of_device(self, device_id: str) -> list[dict]:
        return self.docs([("device_id", "==", device_id)])

    def active_of_device(self, device_id: str) -> list[dict]:
        return self.docs([("device_id", "==", device_id),
                          ("status", "==", GroupStatus.active.value)])

    def by_wa_id(self, device_id: str, wa_id: str, limit: int | None = None) -> list[dict]:
        return self.docs([("device_id", "==", device_id), ("wa_id", "==", wa_id)], limit=limit)


class GroupOperations(Repository[GroupOperation]):
    name = "group_operations"
    model = GroupOperation
    missing = "operation"


class GroupSyncs(Collection):
    name = "group_syncs"
