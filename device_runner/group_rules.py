"""WhatsApp's rules for changing a group's participants, in one place: the sandbox's
simulated groups (device_runner/sandbox_groups.py) apply them, and the WhatsApp transport
(device_runner/whatsapp/group_calls.py) checks them before asking WhatsApp, so the
participants' outcomes read the same on both transports.

- Only admins change a group (its subject, description, announcement mode, participants
  and invite link).
- The superadmin (the creator) is neither removed nor demoted; an admin does not remove
  itself.
"""

from __future__ import annotations

from device_runner.transport import GroupAction
from shared.inbox import GroupRole, ParticipantFailure

ADMINS = (GroupRole.admin, GroupRole.superadmin)


def refusal(action: GroupAction, role: GroupRole | None, is_me: bool) -> ParticipantFailure | None:
    """Why the rules refuse this change for a participant of this role (None: a person
    not in the group), if they do."""
    if action == GroupAction.add:
        return ParticipantFailure.already_participant if role is not None else None
    if role is None:
        return ParticipantFailure.not_participant
    if role == GroupRole.superadmin or (action == GroupAction.remove and is_me):
        return ParticipantFailure.not_allowed
    if action == GroupAction.promote and role == GroupRole.admin:
        return ParticipantFailure.already_admin
    if action == GroupAction.demote and role != GroupRole.admin:
        return ParticipantFailure.not_admin
    return None
