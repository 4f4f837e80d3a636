"""Conversion between Utio's message model and WhatsApp's protobuf messages (neonize's
waE2E types). Pure: no client, no I/O, so it is tested with the real protobufs and no
connection. Media travel as an upload result the adapter obtained before converting.

Outbound content arrives as the dict of a shared.content model (its `type` field says
which): text, image, video, audio, gif, document, location, contacts, buttons, list,
reaction, with an optional quote. Buttons and lists are built with neonize's
interactive message builders (native-flow buttons, single-select lists).

Addresses (JIDs) are jids.py; the answers to group calls group_convert.py."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from neonize.ext.interactive_message import ButtonMessage
from neonize.proto.Neonize_pb2 import Message as MessageEvent
from neonize.proto.Neonize_pb2 import UploadResponse
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LocationMessage,
    Message,
    MessageContextInfo,
    PollCreationMessage,
    ProtocolMessage,
    ReactionMessage,
    VideoMessage,
)

from device_runner.whatsapp.jids import (
    GROUP_SERVER,
    USER_SERVER,
    Unsupported,
    jid,
    jid_text,
    lid_text,
    phone,
)

MEDIA_TYPES = ("image", "video", "audio", "gif", "document")
VOICE_MIME = "audio/ogg; codecs=opus"


# --- status posts -------------------------------------------------------------------


DEFAULT_STATUS_BACKGROUND = 0xFF25D366  # WhatsApp's green, opaque


def as_status(message: Message, background: str | None) -> Message:
    """A status (story) post: a text one is an extended text with its background colour
    (ARGB) and the default font, as WhatsApp's own apps post it; media as they are."""
    if message.conversation or message.HasField("extendedTextMessage"):
        text = message.conversation or message.extendedTextMessage.text
        argb = (0xFF000000 | int(background[1:], 16)) if background else \
            DEFAULT_STATUS_BACKGROUND
        return Message(extendedTextMessage=ExtendedTextMessage(
            text=text, backgroundArgb=argb, textArgb=0xFFFFFFFF, font=0))
    return message


# --- outbound -----------------------------------------------------------------------


def outgoing(content: dict, *, to: str, upload: UploadResponse | None = None,
             quote: dict | None = None, now_ms: int | None = None,
             forwarded: bool = False) -> Message:
    """The waE2E.Message for one content dict (shared.content model, dumped)."""
    kind = content.get("type")
    context = _quote_context(quote, to) if quote else None
    if forwarded:  # as WhatsApp marks a forward: "Forwarded" above the message
        context = context or ContextInfo()
        context.isForwarded = True
        context.forwardingScore = 1
    if kind == "text":
        if context is None:
            return Message(conversation=content["text"])
        return Message(extendedTextMessage=ExtendedTextMessage(text=content["text"],
                                                               contextInfo=context))
    if kind in MEDIA_TYPES:
        if upload is None:
            raise Unsupported(f"{kind} needs the upload of its file first")
        return _media(kind, content, upload, context)
    if kind == "location":
        return Message(locationMessage=LocationMessage(
            degreesLatitude=content["latitude"], degreesLongitude=content["longitude"],
            name=content.get("name") or "", address=content.get("address") or "",
            URL=content.get("url") or "", contextInfo=context))
    if kind == "contacts":
        cards = [ContactMessage(displayName=c["name"], vcard=vcard(c)) for c in content["contacts"]]
        if len(cards) == 1:
            card = cards[0]
            if context is not None:
                card.contextInfo.CopyFrom(context)
            return Message(contactMessage=card)
        return Message(contactsArrayMessage=ContactsArrayMessage(
            displayName=f"{len(cards)} contacts", contacts=cards, contextInfo=context))
    if kind == "buttons":
        return _buttons(content, context)
    if kind == "list":
        return _list(content, context)
    if kind == "poll":
        # As whatsmeow's BuildPollCreation: a fresh message secret (votes are encrypted
        # with it; whatsmeow keeps it when the message is sent); selectable 1 for a
        # single choice, 0 for any number.
        return Message(
            pollCreationMessage=PollCreationMessage(
                name=content["question"],
                options=[PollCreationMessage.Option(optionName=o) for o in content["options"]],
                selectableOptionsCount=0 if content.get("multiple") else 1,
                contextInfo=context),
            messageContextInfo=MessageContextInfo(messageSecret=os.urandom(32)))
    if kind == "reaction":
        target = content["target"]
        return Message(reactionMessage=ReactionMessage(
            key=_key(target, to), text=content.get("emoji") or "",
            senderTimestampMS=now_ms if now_ms is not None else int(time.time() * 1000)))
    raise Unsupported(f"no WhatsApp form for content of type {kind!r}")


def media_kind(content: dict) -> str | None:
    """The upload's media type (image, video, audio, document) of a media content."""
    kind = content.get("type")
    if kind not in MEDIA_TYPES:
        return None
    return "video" if kind == "gif" else kind


def _media(kind: str, content: dict, upload: UploadResponse, context) -> Message:
    file = content.get("file") or {}
    common = {"URL": upload.url, "directPath": upload.DirectPath, "mediaKey": upload.MediaKey,
              "fileEncSHA256": upload.FileEncSHA256, "fileSHA256": upload.FileSHA256,
              "fileLength": upload.FileLength, "mimetype": file.get("mime") or "",
              "contextInfo": context}
    caption = content.get("caption") or ""
    if kind == "image":
        return Message(imageMessage=ImageMessage(caption=caption, **common))
    if kind in ("video", "gif"):
        return Message(videoMessage=VideoMessage(caption=caption, gifPlayback=kind == "gif",
                                                 **common))
    if kind == "audio":
        voice = bool(content.get("voice"))
        if voice:
            common["mimetype"] = VOICE_MIME
        return Message(audioMessage=AudioMessage(PTT=voice, **common))
    name = content.get("filename") or file.get("filename") or "file"
    document = DocumentMessage(fileName=name, title=name, caption=caption, **common)
    if caption:  # WhatsApp shows a document's caption only in this wrapper
        return Message(documentWithCaptionMessage=FutureProofMessage(
            message=Message(documentMessage=document)))
    return Message(documentMessage=document)


def _buttons(content: dict, context) -> Message:
    builder = ButtonMessage().set_body(content["text"])
    if content.get("header"):
        builder.set_title(content["header"])
    if content.get("footer"):
        builder.set_footer(content["footer"])
    for item in content["items"]:
        kind = item.get("type", "reply")
        if kind == "reply":
            builder.add_reply(item["text"], item["id"])
        elif kind == "url":
            builder.add_url(item["text"], item["url"])
        elif kind == "call":
            builder.add_call(item["text"], item["phone"])
        else:
            raise Unsupported(f"no WhatsApp form for a {kind!r} button")
    if context is not None:
        builder.set_context_info(context)
    return builder.prepare_send(None)  # no header media: nothing to upload, no client


def _list(content: dict, context) -> Message:
    builder = ButtonMessage().set_body(content["text"])
    if content.get("title"):
        builder.set_title(content["title"])
    if content.get("footer"):
        builder.set_footer(content["footer"])
    builder.add_selection(content["button"])
    for section in content["sections"]:
        builder.add_section(section["title"])
        for row in section["rows"]:
            builder.add_row(row["title"], row.get("description") or "", row["id"])
    if context is not None:
        builder.set_context_info(context)
    return builder.prepare_send(None)


def vcard(card: dict) -> str:
    digits = card["phone"].lstrip("+")
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{card['name']}"]
    if card.get("organization"):
        lines.append(f"ORG:{card['organization']};")
    lines.append(f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}")
    if card.get("email"):
        lines.append(f"EMAIL:{card['email']}")
    lines.append("END:VCARD")
    return "\n".join(lines)


def _key(target: dict, to: str) -> MessageKey:
    key = MessageKey(remoteJID=jid_text(jid(to)), fromMe=bool(target.get("from_me")),
                     ID=target["wa_id"])
    if to.endswith("@" + GROUP_SERVER) and not target.get("from_me") and target.get("sender"):
        key.participant = jid_text(jid(target["sender"]))
    return key


def _quote_context(quote: dict, to: str) -> ContextInfo:
    """The quoted message's id and author: its sender, or in a 1:1 chat the other party
    (a quote of our own message names no author)."""
    context = ContextInfo(stanzaID=quote["wa_id"],
                          quotedMessage=Message(conversation=quote.get("text") or ""))
    if not quote.get("from_me"):
        author = quote.get("sender") or (None if to.endswith("@" + GROUP_SERVER) else to)
        if author:
            context.participant = jid_text(jid(author))
    return context


# --- inbound ------------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """An inbound WhatsApp message in our terms. `media` is the protobuf to download
    (for the adapter), `content` the event's fields."""

    wa_id: str
    sender: str | None  # E.164; None when WhatsApp only gave a hidden id
    group: str | None
    push_name: str | None
    at: datetime
    type: str
    text: str
    content: dict
    media: Message | None = None
    from_me: bool = False
    lid: str | None = None  # the sender's anonymous id, "<digits>@lid", when WhatsApp gave one


_WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2",
             "documentWithCaptionMessage")


def unwrap(message: Message) -> Message:
    for _ in range(4):
        for field in _WRAPPERS:
            if message.HasField(field):
                message = getattr(message, field).message
                break
        else:
            return message
    return message


def incoming(event: MessageEvent) -> Incoming:
    info, source = event.Info, event.Info.MessageSource
    sender = phone(source.Sender)
    alt = source.SenderAlt if source.HasField("SenderAlt") else None
    if sender is None and alt is not None:  # a hidden (lid) sender's phone
        sender = phone(alt)
    lid = lid_text(source.Sender) or (lid_text(alt) if alt is not None else None)
    group = jid_text(source.Chat) if source.Chat.Server == GROUP_SERVER else None
    kind, text, content, media = _parts(unwrap(event.Message))
    return Incoming(wa_id=info.ID, sender=sender, group=group, push_name=info.Pushname or None,
                    at=datetime.fromtimestamp(info.Timestamp or 0, UTC), type=kind, text=text,
                    content=content, media=media, from_me=source.IsFromMe, lid=lid)


def _parts(m: Message) -> tuple[str, str, dict, Message | None]:
    if m.HasField("protocolMessage"):  # an edit, or a deletion for everyone
        p = m.protocolMessage
        target = {"wa_id": p.key.ID}
        if p.type == ProtocolMessage.Type.MESSAGE_EDIT:
            edited = unwrap(p.editedMessage)
            text = edited.conversation or edited.extendedTextMessage.text
            return "edit", text, {"target": target, "text": text}, None
        if p.type == ProtocolMessage.Type.REVOKE:
            return "revoke", "", {"target": target}, None
    if m.HasField("pollUpdateMessage"):  # a vote: its options are decrypted by the client
        key = m.pollUpdateMessage.pollCreationMessageKey
        return "poll_vote", "", {"poll_wa_id": key.ID, "from_me": key.fromMe}, None
    if m.HasField("reactionMessage"):
        r = m.reactionMessage
        return "reaction", r.text, {"emoji": r.text, "target": {
            "wa_id": r.key.ID, "from_me": r.key.fromMe}}, None
    if m.conversation:
        return "text", m.conversation, {"text": m.conversation}, None
    if m.HasField("extendedTextMessage"):
        text = m.extendedTextMessage.text
        return "text", text, {"text": text, **_quoted(m.extendedTextMessage.contextInfo)}, None
    for field, kind in (("imageMessage", "image"), ("videoMessage", "video"),
                        ("audioMessage", "audio"), ("documentMessage", "document"),
                        ("stickerMessage", "sticker")):
        if m.HasField(field):
            part = getattr(m, field)
            if kind == "video" and part.gifPlayback:
                kind = "gif"
            caption = getattr(part, "caption", "") or ""
            content = {"mime": part.mimetype, "size": part.fileLength,
                       "sha256": part.fileSHA256.hex(), "caption": caption or None}
            if kind == "document":
                content["filename"] = part.fileName or part.title or None
            if kind == "audio":
                content["voice"] = part.PTT
            if kind in ("audio", "video", "gif"):
                content["seconds"] = part.seconds
            return kind, caption or content.get("filename") or "", content, m
    if m.HasField("locationMessage"):
        loc = m.locationMessage
        content = {"latitude": loc.degreesLatitude, "longitude": loc.degreesLongitude,
                   "name": loc.name or None, "address": loc.address or None,
                   "url": loc.URL or None}
        return "location", loc.name or f"{loc.degreesLatitude},{loc.degreesLongitude}", content, None
    if m.HasField("contactMessage") or m.HasField("contactsArrayMessage"):
        cards = [m.contactMessage] if m.HasField("contactMessage") else list(m.contactsArrayMessage.contacts)
        contacts = [{"name": c.displayName, "vcard": c.vcard, "phone": _vcard_phone(c.vcard)}
                    for c in cards]
        return "contacts", ", ".join(c["name"] for c in contacts), {"contacts": contacts}, None
    if m.HasField("buttonsResponseMessage"):
        b = m.buttonsResponseMessage
        return "button_reply", b.selectedDisplayText, {"id": b.selectedButtonID,
                                                       "text": b.selectedDisplayText}, None
    if m.HasField("templateButtonReplyMessage"):
        b = m.templateButtonReplyMessage
        return "button_reply", b.selectedDisplayText, {"id": b.selectedID,
                                                       "text": b.selectedDisplayText}, None
    if m.HasField("listResponseMessage"):
        r = m.listResponseMessage
        return "list_reply", r.title, {"id": r.singleSelectReply.selectedRowID, "title": r.title,
                                       "description": r.description or None}, None
    if m.HasField("interactiveResponseMessage"):
        r = m.interactiveResponseMessage
        try:
            params = json.loads(r.nativeFlowResponseMessage.paramsJSON or "{}")
        except ValueError:
            params = {}
        kind = "list_reply" if "list" in (r.nativeFlowResponseMessage.name or "") else "button_reply"
        chosen = params.get("id") or params.get("selectedRowId") or params.get("selectedButtonId")
        return kind, r.body.text, {"id": chosen, "text": r.body.text, "params": params}, None
    return "unsupported", "", {"fields": [f.name for f, _ in m.ListFields()]}, None


def _quoted(context: ContextInfo) -> dict:
    if not context.stanzaID:
        return {}
    author = context.participant
    sender = "+" + author.split("@", 1)[0] if author.endswith("@" + USER_SERVER) else None
    return {"quote": {"wa_id": context.stanzaID, "sender": sender}}


def _vcard_phone(card: str) -> str | None:
    for line in card.splitlines():
        if line.upper().startswith("TEL") and ":" in line:
            digits = "".join(ch for ch in line.rsplit(":", 1)[1] if ch.isdigit())
            return "+" + digits if digits else None
    return None


