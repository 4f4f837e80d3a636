"""What an outbound message carries, one typed model per kind. The API validates input
into these, the message document stores them, and each transport converts them to its
wire format (the sandbox records them; the WhatsApp adapter builds protobufs). Pure
data: no I/O here."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared import phones
from shared.errors import ValidationFailed
from shared.model import Model

MAX_TEXT = 6000
MAX_CAPTION = 1024
MAX_BODY = 1024  # the body text of a buttons or list message
MAX_BUTTON_TEXT = 20
MAX_FOOTER = 60
MAX_HEADER = 60
MAX_ROWS = 10


class MessageType(StrEnum):
    text = "text"
    image = "image"
    video = "video"
    audio = "audio"
    gif = "gif"
    document = "document"
    location = "location"
    contacts = "contacts"
    buttons = "buttons"
    list = "list"
    reaction = "reaction"
    poll = "poll"


class MediaKind(StrEnum):
    image = "image"
    video = "video"
    audio = "audio"
    gif = "gif"
    document = "document"

    @property
    def limit_name(self) -> str:
        """The plan's size limit that applies: a GIF is an MP4 video on WhatsApp."""
        return "video" if self is MediaKind.gif else self.value


def e164(value: str | None) -> str | None:
    if value is None:  # an optional phone given as null
        return None
    try:
        return phones.normalise(value)
    except ValidationFailed as exc:
        raise ValueError(exc.message.split(": ", 1)[-1]) from exc


_LID = re.compile(r"^\d{1,24}@lid$")


def phone_or_lid(value: str | None) -> str | None:
    """A recipient: E.164, or an anonymous WhatsApp id ("<digits>@lid") as events give."""
    if value is not None and _LID.match(value.strip()):
        return value.strip()
    return e164(value)


_GROUP = re.compile(r"^(\d{6,22}(?:-\d{6,12})?)(?:@g\.us)?$")


class TargetError(ValueError):
    """A `group` that is not a group: `code` says which kind (for a precise 422)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def group_jid(value: str) -> str:
    """The WhatsApp id of a group ("<digits>@g.us"), from the id with or without suffix."""
    text = value.strip()
    if text.endswith("@broadcast"):
        raise TargetError("broadcast lists cannot be sent to through the API: send 1-to-1 "
                          "messages to each recipient (phone), or send to a group (group)",
                          "broadcast_not_supported")
    if text.endswith("@newsletter"):
        raise TargetError("channels (newsletters) are not supported: send to a phone or a group",
                          "unsupported_target")
    match = _GROUP.match(text)
    if not match:
        raise TargetError(f"{value!r} is not a group id (digits, optionally followed by @g.us, "
                          "e.g. 120363025246125486@g.us)", "invalid_group")
    return match.group(1) + "@g.us"


def is_group(to: str) -> bool:
    return to.endswith("@g.us")


class _Model(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- content models ------------------------------------------------------------------


class Text(_Model):
    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="1 to 6000 characters.")


class StoredFile(_Model):
    """A file kept by Utio (uploaded, or fetched from a URL); the runner reads its bytes."""

    id: str
    mime: str = Field(description="Taken from the bytes, not the name.")
    size: int = Field(ge=1, description="Bytes.")
    sha256: str
    filename: str | None = None


class Media(_Model):
    type: Literal["image", "video", "audio", "gif", "document"]
    file: StoredFile
    caption: str | None = Field(default=None, max_length=MAX_CAPTION)
    filename: str | None = Field(default=None, max_length=255,
                                 description="The name the recipient sees (documents).")
    voice: bool = Field(default=False, description="Audio as a voice note (OGG/Opus).")


class Location(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"latitude": 51.5033, "longitude": -0.1196, "name": "London Eye",
         "address": "Riverside Building, London SE1 7PB"}]})
    type: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=256)
    address: str | None = Field(default=None, max_length=512)
    url: str | None = Field(default=None, max_length=2000)


class ContactCard(_Model):
    name: str = Field(min_length=1, max_length=256)
    phone: str = Field(description="E.164.")
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    organization: str | None = Field(default=None, max_length=256)

    _phone = field_validator("phone")(e164)


class Contacts(_Model):
    type: Literal["contacts"] = "contacts"
    contacts: list[ContactCard] = Field(min_length=1, max_length=20)


def _tag_required(schema: dict) -> None:
    """A member of a union told apart by `type`: the input must say it (the default is for
    our own code), so the document marks it required."""
    schema["required"] = ["type", *[f for f in schema.get("required", []) if f != "type"]]


class ReplyButton(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_tag_required)
    type: Literal["reply"] = "reply"
    id: str = Field(min_length=1, max_length=256, description="Comes back in the reply event.")
    text: str = Field(min_length=1, max_length=MAX_BUTTON_TEXT)


class UrlButton(_Model):
    type: Literal["url"]
    text: str = Field(min_length=1, max_length=MAX_BUTTON_TEXT)
    url: str = Field(max_length=2000, pattern=r"^https?://\S+$")


class CallButton(_Model):
    type: Literal["call"]
    text: str = Field(min_length=1, max_length=MAX_BUTTON_TEXT)
    phone: str = Field(description="E.164.")

    _phone = field_validator("phone")(e164)


Button = Annotated[ReplyButton | UrlButton | CallButton, Field(discriminator="type")]


class Buttons(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"text": "Did your parcel arrive?", "footer": "Acme deliveries", "items": [
            {"type": "reply", "id": "yes", "text": "Yes"},
            {"type": "reply", "id": "no", "text": "No"},
            {"type": "url", "text": "Track it", "url": "https://acme.example/t/1042"}]}]})
    type: Literal["buttons"] = "buttons"
    text: str = Field(min_length=1, max_length=MAX_BODY)
    header: str | None = Field(default=None, max_length=MAX_HEADER)
    footer: str | None = Field(default=None, max_length=MAX_FOOTER)
    items: list[Button] = Field(min_length=1, max_length=3,
                                description="1 to 3: reply, url or call buttons.")

    @model_validator(mode="after")
    def _unique_ids(self) -> Buttons:
        ids = [b.id for b in self.items if isinstance(b, ReplyButton)]
        if len(ids) != len(set(ids)):
            raise ValueError("reply button ids must be unique")
        return self

    @property
    def has_links(self) -> bool:
        return any(not isinstance(b, ReplyButton) for b in self.items)


class ListRow(_Model):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(_Model):
    title: str = Field(min_length=1, max_length=24)
    rows: list[ListRow] = Field(min_length=1, max_length=MAX_ROWS)


class ListMessage(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"text": "When should we deliver?", "button": "Pick a slot", "sections": [
            {"title": "Tomorrow", "rows": [
                {"id": "am", "title": "Morning", "description": "8:00 to 12:00"},
                {"id": "pm", "title": "Afternoon", "description": "12:00 to 18:00"}]}]}]})
    type: Literal["list"] = "list"
    text: str = Field(min_length=1, max_length=MAX_BODY)
    button: str = Field(min_length=1, max_length=MAX_BUTTON_TEXT,
                        description="The label of the button that opens the list.")
    title: str | None = Field(default=None, max_length=MAX_HEADER)
    footer: str | None = Field(default=None, max_length=MAX_FOOTER)
    sections: list[ListSection] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _rows(self) -> ListMessage:
        rows = [row.id for section in self.sections for row in section.rows]
        if len(rows) > MAX_ROWS:
            raise ValueError(f"a list holds at most {MAX_ROWS} rows in all its sections")
        if len(rows) != len(set(rows)):
            raise ValueError("row ids must be unique across sections")
        return self


class MessageRef(_Model):
    """Another message of the same chat, as WhatsApp addresses it (for quotes and
    reactions)."""

    wa_id: str
    from_me: bool
    sender: str | None = Field(default=None, description="Author (E.164) when not from_me.")
    message_id: str | None = Field(default=None, description="Utio's id, when Utio knows it.")
    text: str | None = Field(default=None, description="The quoted text, for the preview.")


class Reaction(_Model):
    type: Literal["reaction"] = "reaction"
    target: MessageRef
    emoji: str = Field(max_length=16, description="One emoji; empty removes the reaction.")


MAX_POLL_OPTIONS = 12


class Poll(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"question": "Which day suits you for delivery?",
         "options": ["Monday", "Tuesday", "Wednesday"], "multiple": False}]})
    type: Literal["poll"] = "poll"
    question: str = Field(min_length=1, max_length=255)
    options: list[str] = Field(min_length=2, max_length=MAX_POLL_OPTIONS,
                               description="2 to 12 distinct options, each 1 to 100 characters.",
                               # what _distinct checks, stated in the OpenAPI document
                               json_schema_extra={"uniqueItems": True, "items": {
                                   "type": "string", "minLength": 1, "maxLength": 100,
                                   "pattern": "\\S"}})
    multiple: bool = Field(default=False, strict=True,
                           description="Whether a voter may choose several.")

    @field_validator("options")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if any(not option.strip() or len(option) > 100 for option in value):
            raise ValueError("each option must be 1 to 100 characters")
        if len(set(value)) != len(value):
            raise ValueError("options must be distinct")
        return value


Content = Annotated[Text | Media | Location | Contacts | Buttons | ListMessage | Reaction | Poll,
                    Field(discriminator="type")]


def summary(content: BaseModel) -> str:
    """A line of text standing for the content: the message's `message` field."""
    if isinstance(content, Text):
        return content.text
    if isinstance(content, Media):
        return content.caption or content.filename or content.file.filename or ""
    if isinstance(content, Location):
        return content.name or f"{content.latitude},{content.longitude}"
    if isinstance(content, Contacts):
        return ", ".join(c.name for c in content.contacts)
    if isinstance(content, Buttons | ListMessage):
        return content.text
    if isinstance(content, Reaction):
        return content.emoji
    if isinstance(content, Poll):
        return content.question
    return ""
