"""The transport port: what the runner needs of a WhatsApp connection. Sending is the
half the send flow drives (shared.ports.MessageSender); the rest is the session's life,
linking, numbers, profile and groups."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from shared.domain import DeviceStatus
from shared.inbox import GroupFailure, GroupRole, ParticipantFailure
from shared.ports import DocumentStore, Inbound, MessageSender, Receipt
from shared.repositories.devices import Devices


class TransportError(Exception):
    """WhatsApp refused or failed a request (not a send: sends answer SendResult)."""


class NotSupported(TransportError):
    pass


@dataclass(frozen=True)
class GroupInfo:
    wa_id: str  # "<digits>@g.us"
    subject: str
    description: str | None
    announce: bool  # only admins send
    owner: str | None
    # (phone in E.164, role); a participant WhatsApp names only by an anonymous id is
    # listed by it ("<digits>@lid")
    participants: tuple[tuple[str, GroupRole], ...]
    invite_code: str | None = None  # known when the device is an admin
    lids: tuple[tuple[str, str], ...] = ()  # (participant as listed, their "<digits>@lid")


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
                  detail: str | None = None, code: str | None = None) -> None:
        """`code`: a shared.device_states.StatusCode; the status's default when None."""

    @abstractmethod
    def on_receipt(self, device_id: str, wa_id: str, receipt: Receipt) -> None: ...

    @abstractmethod
    def on_inbound(self, device_id: str, message: Inbound) -> None: ...

    def on_link(self, device_id: str, qr: str | None = None, pairing_code: str | None = None,
                expires_in: float | None = None) -> None:
        """A QR code to show (WhatsApp rotates it), or a pairing code to type on the phone.
        Listeners that do not link (tests of sends) ignore it."""
        return None


class Transport(MessageSender):
    @abstractmethod
    def connect(self, device_id: str, listener: Listener) -> None:
        """Start (or resume) the session; status changes arrive on the listener."""

    @abstractmethod
    def disconnect(self, device_id: str) -> None: ...

    # Receipts after a restart: WhatsApp delivers the receipts a session missed when it
    # connects again, so the WhatsApp transport needs nothing. A simulated network whose
    # receipts lived in the crashed process says so here and is handed the messages still
    # waiting for theirs.
    replays_receipts = False

    def replay_receipts(self, device_id: str, waiting: list[tuple[str, bool]]) -> None:
        """Report the receipts owed to messages still `sent` or `delivered`: (wa_id,
        whether it was delivered already) each."""
        return None

    # Linking, numbers and profile: the same features on every transport.

    def link(self, device_id: str, listener: Listener, *, logout: bool = False) -> None:
        """Start linking again: a fresh QR code; with `logout`, unlink the current number
        first (change of number: the device keeps its id, settings and chats)."""
        self.disconnect(device_id)
        self.connect(device_id, listener)

    def pair_phone(self, device_id: str, phone: str) -> str:
        """Link by phone number instead of QR: the code to type on that phone."""
        raise NotSupported("this transport cannot link by pairing code")

    def check_numbers(self, device_id: str, phones: list[str]) -> dict[str, bool]:
        """Which of these E.164 numbers have WhatsApp, asked through the device."""
        raise NotSupported("this transport cannot check numbers")

    def mark_read(self, device_id: str, chat: str, messages: list[tuple[str, str]]) -> None:
        """Send read receipts for these messages of `chat`: (wa_id, sender) each."""
        raise NotSupported("this transport cannot send read receipts")

    def typing(self, device_id: str, to: str, seconds: float) -> None:
        """Show "typing..." in the chat with `to` for `seconds`, then stop; returns after."""
        return None

    # Actions on messages already sent (wa_id: ours; `to`: the phone or group it went to).

    def edit_text(self, device_id: str, wa_id: str, to: str, text: str) -> None:
        """Replace the text of a sent text message, for everyone."""
        raise NotSupported("this transport cannot edit messages")

    def revoke(self, device_id: str, wa_id: str, to: str) -> None:
        """Delete a sent message for everyone."""
        raise NotSupported("this transport cannot delete messages")

    def set_profile(self, device_id: str, *, name: str | None = None,
                    about: str | None = None, image: bytes | None = None) -> None:
        raise NotSupported("this transport cannot change the profile")

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


class SessionDirectory:
    """The WhatsApp JID each device's session is stored under (on the device document), so a
    linked device resumes its session, on its number, after a restart."""

    def __init__(self, store: DocumentStore):
        self.devices = Devices(store)

    def jid_of(self, device_id: str) -> str | None:
        return self.devices.wa_jid(device_id)

    def remember(self, device_id: str, jid: str) -> None:
        self.devices.set_wa_jid(device_id, jid)

    def forget(self, device_id: str) -> None:
        self.devices.set_wa_jid(device_id, None)
