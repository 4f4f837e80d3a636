"""Request and response models of groups and their operations."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field, field_validator

from functions.api.schemas import Input, Phone, _e164
from shared.inbox import (
    GroupFailure,
    GroupOperationKind,
    GroupRole,
    GroupStatus,
    OperationStatus,
    ParticipantFailure,
)
from shared.model import Model

_T = "2026-11-24T10:00:00Z"
MAX_SUBJECT = 100  # WhatsApp's limits
MAX_DESCRIPTION = 2048


def _phones(values: list[str]) -> list[str]:
    return [_e164(v) for v in values]


class CreateGroup(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"subject": "Order 1042 support", "participants": ["+447911123456", "+447400123456"],
         "description": "Questions about order 1042", "announce": False}]})
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    participants: list[Phone] = Field(min_length=1, max_length=256,
                                    description="Numbers in E.164 to add (1 to 256).")
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    announce: bool = Field(default=False, description="Only admins send messages (read-only group).")

    _phones = field_validator("participants")(_phones)


class UpdateGroup(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"subject": "Order 1042 (closed)", "announce": True}]})
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION,
                                    description="An empty string clears it.")
    announce: bool | None = Field(default=None, description="true: only admins send.")


class Participants(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phones": ["+447911123456"]}]})
    phones: list[Phone] = Field(min_length=1, max_length=100,
                               description="Numbers in E.164 (1 to 100).")

    _phones = field_validator("phones")(_phones)


class ParticipantOut(Model):
    phone: str | None = Field(description="E.164; null for a participant WhatsApp names only "
                              "by an anonymous id (then `lid`).")
    lid: str | None = Field(default=None, description="Their anonymous WhatsApp id "
                            "(<digits>@lid), when WhatsApp gave one.")
    role: GroupRole


class GroupOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "grp_0a1b2c3d4e5f6a7b8c9d", "device_id": "dev_5e6f7a8b9c0d1a2b3c4d",
        "wa_id": "120363041234567890@g.us", "status": "active", "subject": "Order 1042 support",
        "description": "Questions about order 1042", "announce": False, "owner": "+34600100042",
        "participants": [{"phone": "+34600100042", "role": "superadmin"},
                         {"phone": "+447911123456", "role": "member"}],
        "invite_link": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv",
        "failure_reason": None, "created_at": _T, "updated_at": _T}]})
    id: str
    device_id: str
    wa_id: str | None = Field(description="WhatsApp's id of the group; null while it is being created.")
    status: GroupStatus
    subject: str
    description: str | None
    announce: bool = Field(description="Only admins send messages.")
    owner: str | None
    participants: list[ParticipantOut]
    invite_link: str | None = Field(description="Known when the device is a group admin.")
    failure_reason: GroupFailure | None
    created_at: datetime
    updated_at: datetime


class GroupList(Model):
    data: list[GroupOut]


class ParticipantResultOut(Model):
    phone: str
    ok: bool
    reason: ParticipantFailure | None


class OperationOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "gop_9c0d1a2b3c4d5e6f7a8b", "device_id": "dev_5e6f7a8b9c0d1a2b3c4d",
        "group_id": "grp_0a1b2c3d4e5f6a7b8c9d", "kind": "add",
        "params": {"phones": ["+447911123456"]}, "status": "pending", "failure_reason": None,
        "participants": [], "created_at": _T, "completed_at": None}]})
    id: str
    device_id: str
    group_id: str
    kind: GroupOperationKind
    params: dict
    status: OperationStatus
    failure_reason: GroupFailure | None
    participants: list[ParticipantResultOut] = Field(description="For participant changes: the "
                                                     "outcome for each number.")
    created_at: datetime
    completed_at: datetime | None


class GroupCreated(Model):
    group: GroupOut
    operation: OperationOut


class InviteLink(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"url": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"}]})
    url: str
