"""What a caller asks to send, completed into the content the runner sends: media
fetched (or taken from the account's files) and typed against the plan's limits, a
reaction's or a quote's message found in the chat, and WhatsApp's rules on buttons and
lists checked. shared.services.messages accepts the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from shared import media as media_types
from shared.content import (
    Buttons,
    ListMessage,
    Media,
    MediaKind,
    MessageRef,
    MessageType,
    Reaction,
)
from shared.deps import Deps
from shared.domain import Device, MessageStatus, Priority
from shared.errors import NotFound, ValidationFailed
from shared.ids import wa_message_id
from shared.repositories.chats import chat_key, entry_doc_id
from shared.repositories.messages import SENT
from shared.services import files, quotas


@dataclass(frozen=True)
class MediaRequest:
    """Media by `url` (fetched now) or by `file` (an id from POST /v1/files)."""

    url: str | None = None
    file: str | None = None
    type: MediaKind | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool = False


@dataclass(frozen=True)
class ReactionRequest:
    message: str  # Utio's message id, or the WhatsApp id of a message in the chat
    emoji: str


Draft = BaseModel | MediaRequest | ReactionRequest


def complete(deps: Deps, device: Device, to: str, draft: Draft, priority: Priority,
              deliver_at: datetime | None) -> BaseModel:
    if isinstance(draft, MediaRequest):
        return _media(deps, device, draft)
    if isinstance(draft, ReactionRequest):
        return Reaction(target=message_ref(deps, device, to, draft.message, "reaction.message"),
                        emoji=draft.emoji)
    if isinstance(draft, Buttons) and draft.has_links and to.endswith("@g.us"):
        raise ValidationFailed("buttons: URL and call buttons cannot be sent to a group; send "
                               "them to a phone, or use reply buttons in the group",
                               details={"field": "buttons"}, code="buttons_not_allowed_in_groups")
    if isinstance(draft, Buttons | ListMessage) and not conversation_started(
            deps, device.id, to, priority, deliver_at or deps.clock.now()):
        kind = "buttons" if isinstance(draft, Buttons) else "list"
        raise ValidationFailed(
            f"{kind}: a {kind} message cannot open a conversation; WhatsApp shows it only in "
            f"a chat that has messages. Send a text message to {to} first, then the {kind}",
            details={"field": kind}, code="first_message_not_text")
    return draft


def conversation_started(deps: Deps, device_id: str, to: str, priority: Priority,
                         at: datetime) -> bool:
    """Whether the chat with `to` on this device has a message before one sent at `at`
    with `priority`: an inbound message, an outbound one sent, or a queued one that will
    go first (higher or equal priority, due no later)."""
    if deps.repos.chats.doc(chat_key(device_id, to)) is not None:
        return True
    messages = deps.repos.messages
    if messages.in_chat(device_id, to, SENT, limit=1):
        return True
    for earlier in messages.in_chat(device_id, to, (MessageStatus.queued,), limit=50):
        due = earlier.deliver_at or earlier.created_at
        if (earlier.type not in (MessageType.buttons, MessageType.list, MessageType.reaction)
                and earlier.priority.rank <= priority.rank and due <= at):
            return True
    return False


def _media(deps: Deps, device: Device, draft: MediaRequest) -> Media:
    """The storage and the fetcher are reached only here: a text never builds them."""
    plan_media = quotas.plan_of(device).media
    if draft.type is not None:
        cap = quotas.media_limit(device, draft.type.limit_name)
    else:
        cap = max(plan_media.image, plan_media.audio, plan_media.video, plan_media.document)
    if draft.url:
        try:
            record = files.fetch_file(deps.store, deps.storage, deps.fetcher, deps.clock,
                                      device.account_id, draft.url, max_bytes=cap,
                                      timeout=deps.settings.media_fetch_timeout)
        except files.TooLarge as exc:
            limit_name = draft.type.limit_name if draft.type else "document"
            raise quotas.media_too_large(deps.store, deps.mailer, deps.clock, device,
                                         limit_name, exc.limit + 1) from exc
    else:
        try:
            record = files.get_file(deps.store, device.account_id, draft.file or "")
        except NotFound as exc:
            raise ValidationFailed(f"media.file: no file {draft.file} in this account; upload "
                                   "it with POST /v1/files", details={"field": "media.file"},
                                   code="unknown_file") from exc
    kind = media_types.kind_for(record.mime, draft.type, voice=draft.voice)
    media_types.check_name(draft.filename, record.mime)
    if record.size > quotas.media_limit(device, kind.limit_name):
        raise quotas.media_too_large(deps.store, deps.mailer, deps.clock, device,
                                     kind.limit_name, record.size)
    return Media(type=kind.value, file=record.stored(), caption=draft.caption,
                 filename=draft.filename or record.filename, voice=draft.voice)


def message_ref(deps: Deps, device: Device, to: str, ident: str, field: str) -> MessageRef:
    """Another message of the chat with `to`: one Utio sent (by its id or WhatsApp id) or
    one that arrived (by its WhatsApp id)."""
    messages = deps.repos.messages
    doc = messages.doc(ident) if ident.startswith("msg_") else None
    if doc is None:
        doc = messages.doc_by_wa_id(ident)
    if doc is not None and doc.get("device_id") == device.id:
        other = messages.load(doc)
        if other.to != to:
            raise ValidationFailed(f"{field}: message {ident} belongs to another chat",
                                   details={"field": field}, code="message_in_other_chat")
        return MessageRef(wa_id=other.wa_id or wa_message_id(other.id), from_me=True,
                          message_id=other.id, text=other.message or None)
    entry = deps.repos.chat_messages.doc(entry_doc_id(device.id, ident))
    if entry is not None:  # a message that arrived (or one the chat log filed)
        chat = entry.get("chat")  # the chat log's entries name their chat
        if chat is None and not to.endswith("@g.us"):
            chat = entry.get("phone")  # a 1-to-1 inbound record: its sender is the chat
        if chat is not None and chat != to:
            raise ValidationFailed(f"{field}: message {ident} belongs to another chat",
                                   details={"field": field}, code="message_in_other_chat")
        from_me = entry.get("direction") == "outbound"
        return MessageRef(wa_id=ident, from_me=from_me,
                          sender=None if from_me else entry.get("phone"),
                          text=entry.get("message"))
    raise ValidationFailed(f"{field}: no message {ident} on device {device.id}",
                           details={"field": field}, code="unknown_message")
