"""Request and response models of messages, files and usage. Content that needs no
server-side work (location, contacts, buttons, lists) uses the models of shared.content
as they are; media and reactions name things the server resolves."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from functions.api.schemas import CURSOR, GroupRef, Phone, Recipient, UtcDatetime, exactly_one
from shared.content import (
    MAX_CAPTION,
    MAX_TEXT,
    Buttons,
    ContactCard,
    Content,
    ListMessage,
    Location,
    MediaKind,
    MessageRef,
    MessageType,
    Poll,
    TargetError,
    e164,
    group_jid,
    phone_or_lid,
)
from shared.domain import FailureReason, MessageSource, MessageStatus, Priority
from shared.errors import ValidationFailed
from shared.model import Model

MAX_SCHEDULE_DAYS = 365  # a typo such as 3025 for 2025 is refused, not kept for ages

CONTENT_FIELDS = ("message", "media", "location", "contacts", "buttons", "list", "reaction",
                  "poll")


class Input(Model):
    model_config = ConfigDict(extra="forbid")


class MediaIn(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra=exactly_one(("url", "file")))

    url: str | None = Field(default=None, max_length=2000,
                            description="Fetched by Utio (HTTPS; public addresses only).")
    file: str | None = Field(default=None, max_length=100,
                             description="The id of a file uploaded with POST /v1/files.")
    type: MediaKind | None = Field(
        default=None, description="How to send it; taken from the bytes when absent. A type "
        "the bytes do not fit is refused.")
    caption: str | None = Field(default=None, min_length=1, max_length=MAX_CAPTION)
    filename: str | None = Field(default=None, min_length=1, max_length=255,
                                 description="The name the recipient sees (documents).")
    voice: bool = Field(default=False, description="Send audio as a voice note (OGG/Opus).")

    @model_validator(mode="after")
    def _one_source(self) -> MediaIn:
        if (self.url is None) == (self.file is None):
            raise ValueError("give exactly one of url or file")
        return self

    def draft(self):
        """What the messages service is asked to send (message_content.MediaRequest)."""
        from shared.services.message_content import MediaRequest

        return MediaRequest(url=self.url, file=self.file, type=self.type, caption=self.caption,
                            filename=self.filename, voice=self.voice)


class ReactionIn(Input):
    message: str = Field(min_length=1, max_length=200,
                         description="The message to react to: its Utio id (msg_…) or, for a "
                         "message received, its WhatsApp id.")
    emoji: str = Field(max_length=16, description="One emoji; an empty string removes it.")

    @field_validator("emoji")
    @classmethod
    def _emoji(cls, value: str) -> str:
        if any(ch.isascii() and (ch.isalnum() or ch.isspace()) for ch in value):
            raise ValueError("must be an emoji (or empty, to remove a reaction)")
        return value

    def draft(self):
        """What the messages service is asked to send (message_content.ReactionRequest)."""
        from shared.services.message_content import ReactionRequest

        return ReactionRequest(message=self.message, emoji=self.emoji)


def _refuse_broadcast(data: Any) -> Any:
    if isinstance(data, dict):
        phone, group = str(data.get("phone") or ""), str(data.get("group") or "")
        if "broadcast" in data or phone.endswith("@broadcast") or group.endswith("@broadcast"):
            raise ValidationFailed(
                "broadcast lists are not supported: send 1-to-1 messages (one request per "
                "phone), or send to a group (group)", code="broadcast_not_supported",
                details={"field": "broadcast", "alternatives": ["phone", "group"]})
    return data


class SendMessage(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "+447911123456", "message": "Your order #1042 has shipped 🚚",
         "priority": "high", "reference": "order-1042"},
        {"phone": "+447911123456", "media": {"url": "https://acme.example/invoice-1042.pdf",
                                             "caption": "Your invoice"}},
        {"group": "120363025246125486@g.us", "location": {
            "latitude": 51.5033, "longitude": -0.1196, "name": "London Eye"}},
        {"phone": "+447911123456", "buttons": {"text": "Did your parcel arrive?", "items": [
            {"type": "reply", "id": "yes", "text": "Yes"},
            {"type": "reply", "id": "no", "text": "No"}]}},
        {"phone": "+447911123456", "reaction": {"message": "msg_0a1b2c3d4e5f6a7b8c9d",
                                                "emoji": "👍"}},
        {"phone": "+447911123456", "message": "Tomorrow at 9", "quote": "msg_0a1b2c3d4e5f6a7b8c9d",
         "deliver_at": "2026-11-25T08:00:00Z", "priority": "low"},
        {"phone": "+447911123456", "message": "Your code is 381 204", "priority": "urgent",
         "expires_at": "2026-11-24T10:05:00Z"},
        {"phone": "+447911123456", "poll": {"question": "Which day suits you for delivery?",
                                            "options": ["Monday", "Tuesday", "Wednesday"]}}],
        "allOf": [exactly_one(("phone", "group")), exactly_one(CONTENT_FIELDS)]})

    phone: Recipient | None = Field(default=None, description="Recipient in E.164 (+<country code>"
                                    "<number>), or the anonymous id (<digits>@lid) an event gave; "
                                    "an anonymous id whose number the device knows goes to the "
                                    "number's chat. Give phone or group.")
    group: GroupRef | None = Field(default=None, max_length=64,
                                   description="A group's id (120363025246125486@g.us).")
    message: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT,
                                description="Text, 1 to 6000 characters.",
                                json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT})
    media: MediaIn | None = None
    location: Location | None = None
    contacts: builtins.list[ContactCard] | None = Field(default=None, min_length=1,
                                                        max_length=20)
    buttons: Buttons | None = Field(
        default=None, description="Reply, URL or call buttons (URL and call buttons: not to "
        "groups). Not as the first message of a chat: send a text first.")
    list: ListMessage | None = Field(default=None, description="A list of options in sections. "
                                     "Not as the first message of a chat: send a text first.")
    reaction: ReactionIn | None = None
    poll: Poll | None = Field(default=None, description="A question with 2 to 12 options; "
                              "votes arrive as message:poll:vote events, and the message "
                              "shows the tally (poll_results).")
    quote: str | None = Field(default=None, min_length=1, max_length=200,
                              description="Reply quoting this message (a Utio id, or the "
                              "WhatsApp id of a message received in the chat).")
    device: str | None = Field(default=None, description="Device to send from; required when "
                               "the account has several devices.")
    priority: Priority = Priority.normal
    reference: str | None = Field(default=None, max_length=200,
                                  description="Your own reference, returned in events.")
    deliver_at: UtcDatetime | None = Field(
        default=None, description="Send at this time (ISO 8601 with a zone), at most "
        f"{MAX_SCHEDULE_DAYS} days ahead; a time in the past sends at once.")

    typing: int | None = Field(default=None, ge=0, le=20, description="Show \"typing...\" "
                               "for this many seconds before it goes out (0: not at all); "
                               "default: the device's typing_seconds.")
    expires_at: UtcDatetime | None = Field(
        default=None, description="Not sent by this time (ISO 8601 with a zone), the message "
        "fails with failure_reason `expired` instead of going out late (a one-time code). "
        "Must be later than now and than deliver_at.")

    _broadcast = model_validator(mode="before")(_refuse_broadcast)
    _phone = field_validator("phone")(phone_or_lid)

    @field_validator("deliver_at", "expires_at")
    @classmethod
    def _not_too_far(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + timedelta(days=MAX_SCHEDULE_DAYS):
            raise ValueError(f"must be at most {MAX_SCHEDULE_DAYS} days ahead")
        return value

    @field_validator("group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return group_jid(value)
        except TargetError as exc:
            # raised past pydantic on purpose: the error keeps its own code
            raise ValidationFailed(f"group: {exc}", code=exc.code,
                                   details={"field": "group"}) from exc

    @model_validator(mode="after")
    def _one_each(self) -> SendMessage:
        if (self.phone is None) == (self.group is None):
            raise _invalid("phone", "give exactly one of phone (E.164) or group (a group id)")
        given = [name for name in CONTENT_FIELDS if getattr(self, name) is not None]
        if not given:
            raise _invalid("message", f"give one of {', '.join(CONTENT_FIELDS)}")
        if len(given) > 1:
            raise _invalid(given[1], f"give only one of {', '.join(CONTENT_FIELDS)}; got "
                           f"{', '.join(given)} (a media caption goes in media.caption)")
        return self


def _invalid(field: str, message: str) -> ValidationFailed:
    """A rule across fields, reported like pydantic's own errors but naming the field
    (raised past pydantic, which would report it without one)."""
    return ValidationFailed(f"body: {field}: {message}", details=[
        {"field": field, "message": message, "type": "value_error"}])


class PollResults(Model):
    votes: dict[str, int] = Field(description="Voters per option, every option listed.")
    voters: int = Field(description="People whose latest vote chose at least one option.")


class MessageOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "msg_0a1b2c3d4e5f6a7b8c9d", "device_id": "dev_5e6f7a8b9c0d1a2b3c4d",
        "direction": "outbound", "type": "text", "phone": "+447911123456", "group": None,
        "message": "Your order #1042 has shipped 🚚",
        "content": {"type": "text", "text": "Your order #1042 has shipped 🚚"}, "quote": None,
        "priority": "high", "source": "api", "reference": "order-1042", "status": "delivered",
        "failure_reason": None, "deliver_at": None, "expires_at": None,
        "created_at": "2026-11-24T10:00:00Z",
        "sent_at": "2026-11-24T10:00:01Z", "delivered_at": "2026-11-24T10:00:02Z",
        "read_at": None, "failed_at": None, "cancelled_at": None}]})
    id: str
    device_id: str
    direction: str
    type: MessageType
    phone: str | None
    group: str | None
    message: str = Field(description="The text, or a line standing for other content.")
    content: Content
    quote: MessageRef | None
    priority: Priority
    source: MessageSource = Field(default=MessageSource.api, description=(
        "`web_chat` for a message a person sent in the web chat: it goes out on its device "
        "ahead of everything the API queued there, at the device's delivery speed."))
    reference: str | None
    status: MessageStatus
    failure_reason: FailureReason | None
    deliver_at: datetime | None
    expires_at: datetime | None = None
    typing: int | None = None
    forwarded: bool = False
    lid: str | None = Field(default=None, description="The anonymous WhatsApp id it was "
                            "addressed to; phone is the number when the device knows it.")
    status_post: bool = Field(default=False, description="A status (story) post: to no "
                              "phone or group.")
    background: str | None = Field(default=None, description="A text status's colour.")
    poll_results: PollResults | None = Field(
        default=None, description="A poll's tally (its latest vote from each voter); null "
        "for other messages.")
    edited_at: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None


class EditMessage(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "Your order #1042 has shipped 🚚 (tracking: AB123)"}]})
    message: str = Field(min_length=1, max_length=MAX_TEXT, description="The new text.")


class ForwardMessage(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "+447911123457"}, {"group": "120363025246125486@g.us", "priority": "low"}],
        **exactly_one(("phone", "group"))})
    phone: Recipient | None = Field(default=None, description="Forward to this number (E.164); "
                                    "give phone or group.")
    group: GroupRef | None = Field(default=None, max_length=64, description="Or to this group.")
    device: str | None = Field(default=None, description="Send from this device; default: "
                               "the original message's.")
    priority: Priority = Priority.normal
    reference: str | None = Field(default=None, max_length=200)

    _broadcast = model_validator(mode="before")(_refuse_broadcast)
    _phone = field_validator("phone")(e164)
    _group = field_validator("group")(SendMessage._group.__func__)  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _one_target(self) -> ForwardMessage:
        if (self.phone is None) == (self.group is None):
            raise _invalid("phone", "give exactly one of phone (E.164) or group (a group id)")
        return self


class MessageList(Model):
    data: list[MessageOut]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next "
                                     "page; null on the last page.")


class MessageQuery(Input):
    device: str | None = Field(default=None, description="Only this device's messages.")
    status: MessageStatus | None = Field(default=None, description="Only messages in this status.")
    phone: Phone | None = Field(default=None, description="Only messages to this number.")
    group: GroupRef | None = Field(default=None, description="Only messages to this group.")
    reference: str | None = Field(default=None, max_length=200,
                                  description="Only messages with this reference.")
    since: UtcDatetime | None = Field(default=None, description="Created at or after (ISO 8601).")
    until: UtcDatetime | None = Field(default=None, description="Created before (ISO 8601).")
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500, json_schema_extra=CURSOR,
                               description="next_cursor of the previous page.")

    _phone = field_validator("phone")(e164)

    @field_validator("group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        try:
            return None if value is None else group_jid(value)
        except TargetError as exc:
            raise ValueError(str(exc)) from exc


# --- files and usage --------------------------------------------------------------------


class FileFromUrl(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://acme.example/catalogue.pdf"}]})
    url: str = Field(max_length=2000, json_schema_extra={"pattern": r"^[hH][tT][tT][pP][sS]?://"},
                     description="Fetched by "
                     "Utio (HTTPS; public addresses only). Or send multipart/form-data with the "
                     "file in `file`.")


class FileOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "file_9f2c4e0a1b3d5f7a9c1e3b5d", "mime": "application/pdf", "size": 48213,
        "sha256": "5f7c…", "filename": "catalogue.pdf", "created_at": "2026-11-24T10:00:00Z",
        "expires_at": "2026-12-24T10:00:00Z"}]})
    id: str = Field(description="Use as media.file in POST /v1/messages.")
    mime: str = Field(description="Taken from the bytes.")
    size: int
    sha256: str
    filename: str | None
    created_at: datetime
    expires_at: datetime


class Count(Model):
    used: int
    limit: int
    remaining: int


class SpeedOut(Model):
    configured: int = Field(description="The device setting, messages per minute.")
    plan_max: int
    effective: int = Field(description="What the runner paces to: the lower of the two.")


class DailyUsage(Model):
    day: str = Field(description="The UTC day, YYYY-MM-DD.")
    used: int = Field(description="Messages sent today and counted against the cap (counted "
                      "while a cap applies).")
    limit: int | None = Field(description="Today's cap; null when the device has none.")
    warmup_day: int | None = Field(description="Day of the warm-up (1: the day the number "
                                   "was linked); null once warmed up or without warm-up.")
    resets_at: datetime


class UsageOut(Model):
    device: str
    plan: str
    plan_name: str
    period: str = Field(description="Calendar month, UTC (YYYY-MM).")
    resets_at: datetime
    messages: Count = Field(description="Queued or sent this period; failed and cancelled "
                            "messages do not count.")
    media_limits: dict[str, int] = Field(description="Bytes per file, by type.")
    delivery_speed: SpeedOut
    daily: DailyUsage = Field(description="Today's cap (UTC): the lower of the device's "
                              "daily_limit and its warm-up's; messages beyond it wait for the "
                              "next day.")
