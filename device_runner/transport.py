"""The transport port: what the runner needs of a WhatsApp connection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from shared.content import Text
from shared.domain import DeviceStatus, FailureReason
from shared.inbox import GroupFailure, GroupRole, ParticipantFailure


class Receipt(StrEnum):
    delivered = "delivered"
    read = "read"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    reason: FailureReason | None = None
    retryable: bool = False  # a transient failure: the runner tries again with backoff


@dataclass(frozen=True)
class Inbound:
    wa_id: str
    sender: str  # E.164
    text: str
    at: datetime


@dataclass(frozen=True)
class GroupInfo:
    wa_id: str  # "<digits>@g.us"
    subject: str
    description: str | None
    announce: bool  # only admins send
    owner: str | None
    participants: tuple[tuple[str, GroupRole], ...]  # (phone in E.164, role)
    invite_code: str | None = None  # known when the device is an admin


@dataclass(frozen=True)
class ParticipantChange:
    phone: str
    ok: bool
    reason: ParticipantFailure | None = None


class GroupAction(StrEnum):
    add = "add"
    remove = "remove"
    promote = "promote"
    demote = "demote"


class GroupError(Exception):
    def __init__(self, reason: GroupFailure, message: str = ""):
        super().__init__(message or reason.value)
        self.reason = reason


INVITE_URL = "https://chat.whatsapp.com/"


class Listener(ABC):
    @abstractmethod
    def on_status(self, device_id: str, status: DeviceStatus, phone: str | None = None,
                  detail: str | None = None) -> None: ...

    @abstractmethod
    def on_receipt(self, device_id: str, wa_id: str, receipt: Receipt) -> None: ...

    @abstractmethod
    def on_inbound(self, device_id: str, message: Inbound) -> None: ...


class Transport(ABC):
    @abstractmethod
    def connect(self, device_id: str, listener: Listener) -> None:
        """Start (or resume) the session; status changes arrive on the listener."""

    @abstractmethod
    def disconnect(self, device_id: str) -> None: ...

    @abstractmethod
    def send(self, device_id: str, wa_id: str, to: str, content: BaseModel,
             media: bytes | None = None) -> SendResult:
        """Send `content` (a model of shared.content) under `wa_id` to `to`: an E.164 phone,
        or a group id ending in @g.us. `media` holds the file's bytes for Media content.
        Sending the same wa_id again must not deliver twice."""

    def send_text(self, device_id: str, wa_id: str, to: str, text: str) -> SendResult:
        return self.send(device_id, wa_id, to, Text(text=text))

    # --- groups: a transport without them fails each call with transport_error ----

    def list_groups(self, device_id: str) -> list[GroupInfo]:
        """The groups the device is in."""
        raise GroupError(GroupFailure.transport_error, "this transport has no groups")

    def create_group(self, device_id: str, subject: str,
                     participants: list[str]) -> tuple[GroupInfo, list[ParticipantChange]]:
        raise GroupError(GroupFailure.transport_error, "this transport has no groups")

    def get_group(self, device_id: str, wa_id: str) -> GroupInfo:
        raise GroupError(GroupFailure.transport_error, "this transport has no groups")

    def update_group(self, device_id: str, wa_id: str, *, subject: str | None = None,
                     description: str | None = None, announce: bool | None = None) -> GroupInfo:
        raise GroupError(GroupFailure.transport_error, "this transport has no groups")

    def change_participants(self, device_id: str, wa_id: str, action: GroupAction,
                            phones: list[str]) -> list[ParticipantChange]:
        raise GroupError(GroupFailure.transport_error, "this transport has no groups")

    def reset_invite(self, device_id: str, wa_id: str) -> str:
        """Revoke the invite link; returns the new invite code."""
        raise GroupError(GroupFailure.transport_error, "this transport has no groups")
