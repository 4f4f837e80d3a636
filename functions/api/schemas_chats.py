"""Request and response models of chats, contacts and labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from functions.api.ids import AgentId, LabelId
from functions.api.schemas import CURSOR, MAX_TEXT, Input, exactly_one
from functions.api.schemas_messages import MediaIn, ReactionIn
from shared.domain import MessageSource, MessageStatus, Priority
from shared.inbox import (
    MAX_LABELS_PER_ITEM,
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_LENGTH,
    ChatKind,
    LabelColor,
)
from shared.model import Model

_T = "2026-11-24T10:00:00Z"
_PAGE = {"ge": 1, "le": 200}


class Page(Input):
    limit: int = Field(default=50, description="Items a page, 1 to 200.", **_PAGE)
    cursor: str | None = Field(default=None, max_length=500, json_schema_extra=CURSOR,
                               description="next_cursor of the previous page.")


# --- chats --------------------------------------------------------------------------


class LastMessage(Model):
    id: str
    direction: str
    type: str
    message: str = Field(description="The first 200 characters.")
    at: datetime


class ChatOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "+447911123456", "kind": "user", "name": "Jane Doe", "unread": 2,
        "labels": ["lbl_0a1b2c3d4e5f6a7b8c9d"], "assigned_to": "agt_0a1b2c3d4e5f6a7b8c9d",
        "last_message": {"id": "msg_5e6f7a8b9c0d1a2b3c4d", "direction": "inbound", "type": "text",
                         "message": "Is my order on its way?", "at": _T},
        "last_message_at": _T, "created_at": "2026-11-20T09:00:00Z", "updated_at": _T}]})
    id: str = Field(description="The chat: the contact's phone in E.164, or a group's WhatsApp "
                    "id; a contact whose number is not known has their anonymous id "
                    "(<digits>@lid) until it is, when the chat joins the number's.")
    lid: str | None = Field(default=None, description="The contact's anonymous WhatsApp id "
                            "(<digits>@lid) when WhatsApp gave one; null for groups.")
    kind: ChatKind
    name: str | None = Field(default=None, description="The contact's name (set with PATCH on "
                             "the contact), else the sender's WhatsApp name; null when unknown.")
    unread: int = Field(description="Inbound messages since the chat was last read.")
    labels: list[str]
    assigned_to: str | None = Field(default=None, description="The agent (agt_…) who answers "
                                    "this chat; null when nobody is assigned.")
    last_message: LastMessage | None
    last_message_at: datetime
    created_at: datetime
    updated_at: datetime


class ChatList(Model):
    data: list[ChatOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class ChatQuery(Page):
    label: str | None = Field(default=None, max_length=64, description="Only chats with this label id.")
    kind: ChatKind | None = Field(default=None, description="Only user or only group chats.")
    unread: bool | None = Field(default=None, description="true: only chats with unread messages; "
                                "false: only read ones.")
    assigned_to: str | None = Field(
        default=None, max_length=40, pattern=r"^(me|agt_[0-9a-f]{20})$",
        description="Only chats assigned to this agent (agt_…), or to the caller with `me` "
        "(an agent's token or sign-in).")
    search: str | None = Field(
        default=None, min_length=1, max_length=50,
        description="A name or a number: chats whose name has words starting with each word "
        "given, or whose number (E.164 or national, from 3 digits) starts with the digits "
        "given. Chats made before search existed are found once their name is set again.")


class UpdateChat(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"labels": ["lbl_0a1b2c3d4e5f6a7b8c9d"], "read": True},
        {"assigned_to": "agt_0a1b2c3d4e5f6a7b8c9d"}, {"assigned_to": None}]})
    labels: list[LabelId] | None = Field(default=None, max_length=MAX_LABELS_PER_ITEM,
                                     description="Label ids; replaces the chat's labels.")
    read: bool | None = Field(default=None, description="true marks the chat read (unread 0); "
                              "false marks it unread.")
    assigned_to: AgentId | None = Field(
        default=None, description="Assign the chat to this agent (one that may use the "
        "device: granted it, or an admin); null unassigns it; leave it out to keep it.")


class ChatMessageOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "msg_0a1b2c3d4e5f6a7b8c9d", "wa_id": "3EB0A1B2C3D4E5F6A7B8", "seq": 42,
        "direction": "outbound", "type": "text", "phone": "+447911123456",
        "message": "Your order #1042 has shipped 🚚", "at": _T, "status": "delivered"}]})
    id: str = Field(description="The message id; outbound ones are /v1/messages resources.")
    wa_id: str
    seq: int = Field(description="Position in the chat: 1 for its first message.")
    direction: str
    type: str
    phone: str
    lid: str | None = Field(default=None, description="Inbound: the sender's anonymous "
                            "WhatsApp id (<digits>@lid), when WhatsApp gave one.")
    message: str
    at: datetime
    status: MessageStatus | None = Field(description="Outbound messages: their current status.")
    content: dict[str, Any] | None = Field(default=None, description=(
        "The message's content by type, as in message.in.new events: inbound media with its "
        "`url`, mime, size and caption; location; contacts; a reaction's emoji and `target`; "
        "a reply's quoted message. Outbound: the content sent. None for messages filed "
        "before contents were kept."))
    edited_at: datetime | None = Field(default=None, description="Its author edited it: "
                                       "`message` is the new text.")
    revoked_at: datetime | None = Field(default=None, description="Its author deleted it for "
                                        "everyone.")


class ChatMessageList(Model):
    data: list[ChatMessageOut] = Field(description="Newest first. A chat keeps its last 1000 messages.")
    next_cursor: str | None


class SendToChat(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "Thanks! It left our warehouse this morning.", "priority": "high"},
        {"message": "Yes, that one 👍", "quote": "3EB0C1D2E3F4A5B6C7D8", "source": "web_chat"},
        {"media": {"file": "file_0a1b2c3d4e5f6a7b8c9d0e1f", "caption": "Your invoice"},
         "source": "web_chat"},
        {"reaction": {"message": "3EB0C1D2E3F4A5B6C7D8", "emoji": "❤️"}, "source": "web_chat"}],
        **exactly_one(("message", "media", "reaction"))})
    message: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT,
                                description="Text, 1 to 6000 characters.")
    media: MediaIn | None = Field(default=None, description="A file uploaded with POST "
                                  "/v1/files (or a URL), as in POST /v1/messages.")
    reaction: ReactionIn | None = None
    quote: str | None = Field(default=None, min_length=1, max_length=200,
                              description="Reply quoting this message of the chat (a Utio id, "
                              "or the WhatsApp id of a message received).")
    priority: Priority = Priority.normal
    reference: str | None = Field(default=None, max_length=200)
    source: MessageSource = Field(default=MessageSource.api, description=(
        "`web_chat`: a person is typing in the web chat and waits, so the message goes out "
        "next on the device, ahead of everything the API queued there (any priority), still "
        "at the device's delivery speed. Only a signed-in person's ID token may set it (an "
        "API key or agent token gets 403 `web_chat_needs_sign_in`); `priority` is then "
        "ignored."))

    @model_validator(mode="after")
    def _one_content(self) -> SendToChat:
        given = [n for n in ("message", "media", "reaction") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of message, media or reaction")
        if self.reaction is not None and self.quote is not None:
            raise ValueError("a reaction cannot quote a message")
        return self


class ChatLinkQuery(Input):
    text: str | None = Field(default=None, max_length=1000,
                             description="A message to pre-fill in the chat's input box.")


class ChatLink(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "phone": "+447911123456", "url": "https://web.whatsapp.com/send?phone=447911123456",
        "wa_me": "https://wa.me/447911123456"}]})
    phone: str
    url: str = Field(description="Opens the chat, existing or new, in WhatsApp Web.")
    wa_me: str = Field(description="The same chat as a wa.me link, for phones.")


# --- contacts -----------------------------------------------------------------------


class ContactOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "phone": "+447911123456", "name": "Jane Doe",
        "metadata": {"crm_id": "C-1042", "order": "1042"}, "labels": ["lbl_0a1b2c3d4e5f6a7b8c9d"],
        "created_at": "2026-11-20T09:00:00Z", "updated_at": _T}]})
    phone: str
    lid: str | None = Field(default=None, description="Their anonymous WhatsApp id "
                            "(<digits>@lid) when WhatsApp gave one; `phone` is that id when "
                            "their number is not known.")
    name: str | None
    metadata: dict[str, str]
    labels: list[str]
    created_at: datetime
    updated_at: datetime


class ContactList(Model):
    data: list[ContactOut]
    next_cursor: str | None


class ContactQuery(Page):
    label: str | None = Field(default=None, max_length=64, description="Only contacts with this label id.")


class UpdateContact(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Jane Doe", "metadata": {"crm_id": "C-1042", "old_key": None},
         "labels": ["lbl_0a1b2c3d4e5f6a7b8c9d"]}]})
    name: str | None = Field(default=None, max_length=100)
    metadata: dict[str, str | None] | None = Field(
        default=None, description=f"Merged into the contact's metadata; null deletes a key. At most "
        f"{MAX_METADATA_KEYS} keys of {MAX_METADATA_KEY_LENGTH} characters (letters, digits, _ - .), "
        f"values of {MAX_METADATA_VALUE_LENGTH} characters.",
        json_schema_extra={
            "maxProperties": MAX_METADATA_KEYS,
            "propertyNames": {"pattern": f"^[A-Za-z0-9_.-]{{1,{MAX_METADATA_KEY_LENGTH}}}$"},
            "additionalProperties": {"anyOf": [
                {"type": "string", "maxLength": MAX_METADATA_VALUE_LENGTH}, {"type": "null"}]}})
    labels: list[LabelId] | None = Field(default=None, max_length=MAX_LABELS_PER_ITEM,
                                     description="Label ids; replaces the contact's labels.")

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict | None) -> dict | None:
        if value is not None and len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
        return value


# --- labels -------------------------------------------------------------------------


class CreateLabel(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "VIP", "color": "purple", "description": "Customers with a yearly plan"}]})
    name: str = Field(min_length=1, max_length=50)
    color: LabelColor = LabelColor.grey
    description: str | None = Field(default=None, max_length=200)


class UpdateLabel(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "VIP customers", "color": "blue"}]})
    name: str | None = Field(default=None, min_length=1, max_length=50)
    color: LabelColor | None = None
    description: str | None = Field(default=None, max_length=200)


class LabelOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "lbl_0a1b2c3d4e5f6a7b8c9d", "name": "VIP", "color": "purple",
        "description": "Customers with a yearly plan", "created_at": _T}]})
    id: str
    name: str
    color: LabelColor
    description: str | None
    created_at: datetime


class LabelList(Model):
    data: list[LabelOut]

