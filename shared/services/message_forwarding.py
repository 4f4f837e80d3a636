"""Forwarding (POST /v1/messages/{id}/forward): a message sent or received, sent again
through shared.services.messages, shown as forwarded. A received media message is sent
again from the bytes the runner kept when it arrived (inbound/<device>/<name>): they
become a file of the account, and the transport uploads them as for any media."""

from __future__ import annotations

from shared.content import MAX_CAPTION, ContactCard, Contacts, Location, MediaKind, Poll, Reaction, Text
from shared.deps import Deps
from shared.domain import Message, Priority
from shared.errors import Conflict, NotFound
from shared.services.message_content import MediaRequest
from shared.services.messages import send_message

FORWARDABLE_INBOUND = ("text", "location", "contacts", "image", "video", "audio", "gif",
                       "document")
MEDIA_KINDS = ("image", "video", "audio", "gif", "document")


def forward(deps: Deps, account_id: str, message_id: str, *, phone: str | None = None,
            group: str | None = None, device_id: str | None = None,
            priority: Priority = Priority.normal, reference: str | None = None,
            idempotency_key: str | None = None) -> tuple[Message, bool]:
    """Send a message again, to another phone or group, shown as forwarded: one this
    account sent (any content but a reaction or a poll), or one received (text, location,
    contacts or media other than a sticker). From the original's device unless `device_id` says otherwise."""
    from shared.services.chats import inbound_entry

    doc = deps.repos.messages.doc(message_id)
    if doc is not None and doc.get("account_id") == account_id:
        original = deps.repos.messages.load(doc)
        if isinstance(original.content, Reaction | Poll):
            raise Conflict(f"message {message_id} is a {original.type.value}: reactions and "
                           "polls cannot be forwarded", code="not_forwardable")
        content, source_device = original.content, original.device_id
    else:
        entry = inbound_entry(deps.store, account_id, message_id)
        if entry is None:
            raise NotFound(f"message {message_id} not found")
        kind, fields = entry.get("type"), entry.get("content") or {}
        if kind not in FORWARDABLE_INBOUND:
            raise Conflict(f"message {message_id} is a received {kind} message: of received "
                           f"messages, {', '.join(FORWARDABLE_INBOUND)} can be forwarded",
                           code="not_forwardable")
        try:
            if kind in MEDIA_KINDS:
                content = _received_media(deps, account_id, message_id, entry)
            elif kind == "text":
                content = Text(text=entry.get("message") or fields.get("text") or " ")
            elif kind == "location":
                content = Location(**{k: fields.get(k) for k in (
                    "latitude", "longitude", "name", "address", "url")
                    if fields.get(k) is not None})
            else:
                content = Contacts(contacts=[ContactCard(name=c.get("name") or "Contact",
                                                         phone=c.get("phone"))
                                             for c in fields.get("contacts") or []
                                             if c.get("phone")])
        except ValueError as exc:  # pydantic's ValidationError: what arrived does not fit
            raise Conflict(f"message {message_id} cannot be forwarded: {exc}",
                           code="not_forwardable") from None
        source_device = entry["device_id"]
    return send_message(deps, account_id, phone=phone, group=group, content=content,
                        device_id=device_id or source_device, priority=priority,
                        reference=reference, forwarded=True, idempotency_key=idempotency_key)


def _received_media(deps: Deps, account_id: str, message_id: str, entry: dict) -> MediaRequest:
    """The media of a received message, as a file of the account to send again."""
    from shared.errors import ValidationFailed
    from shared.services import files

    fields = entry.get("content") or {}
    url = fields.get("url") or ""
    name = url.rsplit("/media/", 1)[-1] if "/media/" in url else ""
    try:
        data, _ = deps.inbound_media.get(entry["device_id"], name)
    except LookupError:
        raise Conflict(f"message {message_id} cannot be forwarded: its media was not kept "
                       "when it arrived, or is gone", code="media_unavailable") from None
    filename = fields.get("filename") if entry.get("type") == "document" else None
    try:
        record = files.store_file(deps.store, deps.storage, deps.clock, account_id, data,
                                  filename=filename)
    except ValidationFailed:  # a name that does not fit the bytes: send them unnamed
        record = files.store_file(deps.store, deps.storage, deps.clock, account_id, data)
    return MediaRequest(file=record.id, type=MediaKind(entry["type"]),
                        caption=(fields.get("caption") or "")[:MAX_CAPTION] or None, filename=filename,
                        voice=bool(fields.get("voice")))
