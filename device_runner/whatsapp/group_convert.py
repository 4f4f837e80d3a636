"""neonize's answers to group calls (its GroupInfo and GroupParticipant protobufs, its
errors) in the transport port's terms. Pure, like convert.py."""

from __future__ import annotations

from neonize.proto.Neonize_pb2 import GroupInfo as NeonizeGroupInfo
from neonize.proto.Neonize_pb2 import GroupParticipant

from device_runner.transport import GroupInfo, ParticipantChange
from device_runner.whatsapp.jids import jid_text, lid_text, phone
from shared.inbox import GroupFailure, GroupRole, ParticipantFailure

# neonize answers group calls with its GroupInfo / GroupParticipant protobufs; these turn
# them into the transport port's types. Participants are listed by phone number; one that
# WhatsApp reports only by LID (no PhoneNumber) is listed by the LID, and every LID given
# is kept beside the participant (GroupInfo.lids).

# The error codes WhatsApp puts on a participant it could not add, remove, promote or demote.
_PARTICIPANT_ERRORS = {
    409: ParticipantFailure.already_participant,
    404: ParticipantFailure.not_participant,
    500: ParticipantFailure.group_full,
}


def invite_code(link: str | None) -> str | None:
    """The code of an invite link (https://chat.whatsapp.com/<code>)."""
    if not link:
        return None
    return link.rstrip("/").rsplit("/", 1)[-1] or None


def participant_phone(p: GroupParticipant) -> str | None:
    """E.164 of a participant: its phone-number JID, else its JID when that is a phone."""
    if p.HasField("PhoneNumber") and p.PhoneNumber.User:
        found = phone(p.PhoneNumber)
        if found is not None:
            return found
    return phone(p.JID)


def participant_lid(p: GroupParticipant) -> str | None:
    """"<digits>@lid" of a participant: its JID when that is a LID, else its LID field."""
    return lid_text(p.JID) or (lid_text(p.LID) if p.HasField("LID") else None)


def role(p: GroupParticipant) -> GroupRole:
    if p.IsSuperAdmin:
        return GroupRole.superadmin
    return GroupRole.admin if p.IsAdmin else GroupRole.member


def group_info(info: NeonizeGroupInfo, *, invite: str | None = None) -> GroupInfo:
    """The port's GroupInfo of neonize's; `invite`: the invite link or code, when known."""
    owner = None
    if info.HasField("OwnerPN") and info.OwnerPN.User:
        owner = phone(info.OwnerPN)
    if owner is None and info.HasField("OwnerJID"):
        owner = phone(info.OwnerJID)
    participants, lids = {}, {}
    for p in info.Participants:
        lid = participant_lid(p)
        key = participant_phone(p) or lid
        if key is not None and not p.Error:
            participants[key] = role(p)
            if lid is not None:
                lids[key] = lid
    topic = info.GroupTopic
    return GroupInfo(wa_id=jid_text(info.JID), subject=info.GroupName.Name,
                     description=None if topic.TopicDeleted else (topic.Topic or None),
                     announce=info.GroupAnnounce.IsAnnounce, owner=owner,
                     participants=tuple(sorted(participants.items())),
                     invite_code=invite_code(invite), lids=tuple(sorted(lids.items())))


def participant_changes(phones: list[str], answered) -> list[ParticipantChange]:
    """One change per requested phone (in order, once each) from the participants WhatsApp
    answered: ok unless it put an error code on that participant or left it out."""
    by_phone = {participant_phone(p): p for p in answered}
    changes = []
    for number in dict.fromkeys(phones):
        p = by_phone.get(number)
        if p is None:
            changes.append(ParticipantChange(number, False, ParticipantFailure.not_allowed))
        elif p.Error:
            reason = _PARTICIPANT_ERRORS.get(p.Error, ParticipantFailure.not_allowed)
            changes.append(ParticipantChange(number, False, reason))
        else:
            changes.append(ParticipantChange(number, True))
    return changes


def group_failure(error: Exception) -> GroupFailure:
    """A GroupFailure for an error neonize raised (whatsmeow's error text)."""
    text = str(error).lower()
    if "not found" in text or "404" in text or "not participating" in text \
            or "item-not-found" in text:
        return GroupFailure.group_not_found
    if "403" in text or "forbidden" in text or "not-authorized" in text \
            or "not authorized" in text:
        return GroupFailure.not_group_admin
    return GroupFailure.transport_error
