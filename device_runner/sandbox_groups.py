"""Groups on the simulated WhatsApp network, with WhatsApp's rules
(device_runner/group_rules.py): the creator is the group's superadmin; only numbers on
the (simulated) network can be added; a group holds 1024 people. Someone can join by an
invite as an anonymous id (join_anonymously): WhatsApp then lists them by their LID,
without a number."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from device_runner.group_rules import ADMINS, refusal
from device_runner.transport import GroupAction, GroupError, GroupInfo, ParticipantChange
from shared.inbox import GroupFailure, GroupRole, ParticipantFailure

MAX_PARTICIPANTS = 1024


@dataclass
class SandboxGroup:
    wa_id: str
    subject: str
    owner: str
    participants: dict[str, GroupRole]
    description: str | None = None
    announce: bool = False
    invite_code: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def info(self, viewer: str) -> GroupInfo:
        admin = self.participants.get(viewer) in ADMINS
        return GroupInfo(wa_id=self.wa_id, subject=self.subject, description=self.description,
                         announce=self.announce, owner=self.owner,
                         participants=tuple(sorted(self.participants.items())),
                         invite_code=self.invite_code if admin else None,
                         lids=tuple((k, k) for k in sorted(self.participants)
                                    if k.endswith("@lid")))


class SandboxGroups:
    def __init__(self, exists):
        self._exists = exists  # whether a number is on the network
        self._groups: dict[str, SandboxGroup] = {}
        self._lock = threading.Lock()

    def join_anonymously(self, wa_id: str, lid: str) -> None:
        """`lid` ("<digits>@lid") joins the group by its invite link, their number hidden."""
        with self._lock:
            self._groups[wa_id].participants[lid] = GroupRole.member

    def _member_of(self, me: str, wa_id: str) -> SandboxGroup:
        group = self._groups.get(wa_id)
        if group is None or me not in group.participants:
            raise GroupError(GroupFailure.group_not_found, f"no group {wa_id} with this device in it")
        return group

    def _admin_of(self, me: str, wa_id: str) -> SandboxGroup:
        group = self._member_of(me, wa_id)
        if group.participants[me] not in ADMINS:
            raise GroupError(GroupFailure.not_group_admin, "only group admins can do this")
        return group

    def list(self, me: str) -> list[GroupInfo]:
        with self._lock:
            return [g.info(me) for g in self._groups.values() if me in g.participants]

    def create(self, me: str, subject: str, phones: list[str]) -> tuple[GroupInfo, list[ParticipantChange]]:
        with self._lock:
            wa_id = f"120363{secrets.randbelow(10 ** 12):012d}@g.us"
            group = SandboxGroup(wa_id=wa_id, subject=subject, owner=me,
                                 participants={me: GroupRole.superadmin})
            self._groups[wa_id] = group
            changes = self._add(group, phones)
            return group.info(me), changes

    def get(self, me: str, wa_id: str) -> GroupInfo:
        with self._lock:
            return self._member_of(me, wa_id).info(me)

    def update(self, me: str, wa_id: str, subject: str | None, description: str | None,
               announce: bool | None) -> GroupInfo:
        with self._lock:
            group = self._admin_of(me, wa_id)
            if subject is not None:
                group.subject = subject
            if description is not None:
                group.description = description or None
            if announce is not None:
                group.announce = announce
            return group.info(me)

    def change(self, me: str, wa_id: str, action: GroupAction,
               phones: list[str]) -> list[ParticipantChange]:
        with self._lock:
            group = self._admin_of(me, wa_id)
            if action == GroupAction.add:
                return self._add(group, phones)
            return [self._change_one(group, me, action, phone) for phone in dict.fromkeys(phones)]

    def reset_invite(self, me: str, wa_id: str) -> str:
        with self._lock:
            group = self._admin_of(me, wa_id)
            group.invite_code = secrets.token_urlsafe(16)
            return group.invite_code

    def _add(self, group: SandboxGroup, phones: list[str]) -> list[ParticipantChange]:
        changes = []
        for phone in dict.fromkeys(phones):
            reason = refusal(GroupAction.add, group.participants.get(phone), False)
            if reason is not None:
                changes.append(ParticipantChange(phone, False, reason))
            elif not self._exists(phone):
                changes.append(ParticipantChange(phone, False, ParticipantFailure.not_on_whatsapp))
            elif len(group.participants) >= MAX_PARTICIPANTS:
                changes.append(ParticipantChange(phone, False, ParticipantFailure.group_full))
            else:
                group.participants[phone] = GroupRole.member
                changes.append(ParticipantChange(phone, True))
        return changes

    @staticmethod
    def _change_one(group: SandboxGroup, me: str, action: GroupAction,
                    phone: str) -> ParticipantChange:
        reason = refusal(action, group.participants.get(phone), phone == me)
        if reason is not None:
            return ParticipantChange(phone, False, reason)
        if action == GroupAction.remove:
            del group.participants[phone]
        else:
            group.participants[phone] = GroupRole.admin if action == GroupAction.promote \
                else GroupRole.member
        return ParticipantChange(phone, True)
