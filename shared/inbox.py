"""Documents and enumerations of the shared inbox: chats and their messages, contacts,
labels, groups and agents. (Messages, devices and webhooks live in shared.domain.)"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.domain import Doc

MAX_CHAT_MESSAGES = 1000  # kept per chat; writing one more drops the oldest
CHAT_WARNING_THRESHOLD = 1000  # open chats above which a device gets a warning
GROUP_WARNING_THRESHOLD = 50  # groups above which a device gets a warning
MAX_LABELS_PER_ACCOUNT = 100
MAX_LABELS_PER_ITEM = 20
# Contact metadata bounds, as Stripe's metadata: well known to our customers.
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500


class ChatKind(StrEnum):
    user = "user"
    group = "group"


class ChatEntry(Doc):
    """One message of a chat, inbound or outbound, as the chat history keeps it. Its
    document id is "<device_id>:<wa_id>", so a redelivered message is kept once."""

    message_id: str  # the msg_ id events carry; outbound: the /v1/messages resource
    account_id: str
    device_id: str
    chat: str  # the chat id: a phone in E.164, or a group's WhatsApp id
    thread: str | None = None  # the chat incarnation it belongs to; None until filed
    seq: int | None = None  # its place in the chat, 1, 2, 3...
    wa_id: str
    direction: str
    type: str = "text"
    phone: str
    message: str
    at: datetime
    content: dict | None = None  # the content's fields, JSON only (inbound media: its URL)
    lid: str | None = None  # the sender's anonymous WhatsApp id, when WhatsApp gave one
    edited_at: datetime | None = None  # its author edited it (message is the new text)
    revoked_at: datetime | None = None  # its author deleted it for everyone


class Chat(Doc):
    key: str  # "<device_id>:<chat>", the document id
    account_id: str
    device_id: str
    chat: str
    lid: str | None = None  # the contact's anonymous WhatsApp id ("<digits>@lid"), once known
    kind: ChatKind = ChatKind.user
    thread: str
    seq: int = 0
    unread: int = 0
    has_unread: bool = False
    labels: list[str] = Field(default_factory=list)
    name: str | None = None  # the contact's name (or the sender's WhatsApp name), as listed
    assigned_to: str | None = None  # the agent (agt_ id) who answers this chat
    terms: list[str] = Field(default_factory=list)  # what a search matches (chats.search_terms)
    last_message: dict | None = None
    last_message_at: datetime
    sort_key: str  # "<last_message_at>|<key>": one tie-free field to order and page by
    created_at: datetime
    updated_at: datetime


class Contact(Doc):
    account_id: str
    device_id: str
    phone: str
    lid: str | None = None  # their anonymous WhatsApp id ("<digits>@lid"), once known
    name: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)
    version: int = 0  # for compare-and-set merges of metadata
    created_at: datetime
    updated_at: datetime


class LabelColor(StrEnum):
    grey = "grey"
    red = "red"
    orange = "orange"
    yellow = "yellow"
    green = "green"
    teal = "teal"
    blue = "blue"
    purple = "purple"
    pink = "pink"


class Label(Doc):
    id: str
    account_id: str
    name: str
    color: LabelColor = LabelColor.grey
    description: str | None = None
    created_at: datetime


class GroupStatus(StrEnum):
    creating = "creating"
    active = "active"
    failed = "failed"


class GroupRole(StrEnum):
    member = "member"
    admin = "admin"
    superadmin = "superadmin"


class GroupOperationKind(StrEnum):
    create = "create"
    update = "update"
    add = "add"
    remove = "remove"
    promote = "promote"
    demote = "demote"
    reset_invite = "reset_invite"


class OperationStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class GroupFailure(StrEnum):
    device_not_connected = "device_not_connected"
    group_not_found = "group_not_found"
    not_group_admin = "not_group_admin"
    transport_error = "transport_error"


class ParticipantFailure(StrEnum):
    not_on_whatsapp = "not_on_whatsapp"
    already_participant = "already_participant"
    not_participant = "not_participant"
    already_admin = "already_admin"
    not_admin = "not_admin"
    not_allowed = "not_allowed"
    group_full = "group_full"


class Participant(Doc):
    phone: str | None  # E.164; None for a participant WhatsApp names only by anonymous id
    lid: str | None = None  # their anonymous WhatsApp id ("<digits>@lid"), when given
    role: GroupRole = GroupRole.member


class Group(Doc):
    id: str
    account_id: str
    device_id: str
    wa_id: str | None = None
    status: GroupStatus = GroupStatus.active
    subject: str
    description: str | None = None
    announce: bool = False
    owner: str | None = None
    participants: list[Participant] = Field(default_factory=list)
    invite_link: str | None = None
    failure_reason: GroupFailure | None = None
    created_at: datetime
    updated_at: datetime


class ParticipantResult(Doc):
    phone: str
    ok: bool
    reason: ParticipantFailure | None = None


class GroupOperation(Doc):
    id: str
    account_id: str
    device_id: str
    group_id: str
    kind: GroupOperationKind
    params: dict = Field(default_factory=dict)
    status: OperationStatus = OperationStatus.pending
    failure_reason: GroupFailure | None = None
    participants: list[ParticipantResult] = Field(default_factory=list)
    created_at: datetime
    completed_at: datetime | None = None


class AgentRole(StrEnum):
    admin = "admin"  # every device; manages agents, labels and settings (not API keys)
    agent = "agent"  # the devices granted to it: their chats, contacts and groups


class Agent(Doc):
    id: str
    account_id: str
    name: str
    email: str
    role: AgentRole = AgentRole.agent
    devices: list[str] = Field(default_factory=list)
    active: bool = True
    token_prefix: str
    token_hash: str
    created_at: datetime
    updated_at: datetime
