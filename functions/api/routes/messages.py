from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.routes import files  # noqa: F401 (registers the file and usage routes)
from functions.api.schemas_messages import (
    MessageList,
    MessageOut,
    MessageQuery,
    SendMessage,
)
from shared.content import Contacts
from shared.services import messages


def _out(message) -> MessageOut:
    return MessageOut.model_validate(message.model_dump(exclude=message.INTERNAL))


def _draft(body: SendMessage):
    if body.message is not None:
        return None
    if body.media is not None:
        m = body.media
        return messages.MediaRequest(url=m.url, file=m.file, type=m.type, caption=m.caption,
                                     filename=m.filename, voice=m.voice)
    if body.reaction is not None:
        return messages.ReactionRequest(message=body.reaction.message, emoji=body.reaction.emoji)
    if body.contacts is not None:
        return Contacts(contacts=body.contacts)
    return body.location or body.buttons or body.list


@api.route("POST", "/v1/messages", body=SendMessage, response=MessageOut, status=201,
           summary="Queue a message", tag="messages", errors=(404, 409, 413, 429),
           headers={"Idempotency-Key": "Repeat a request safely: the same key and body return "
                    "the message the first request created (status 200); another body with "
                    "the same key gets 409."})
def send_message(p: Principal, body: SendMessage):
    message, created = messages.send_message(
        p.c, p.account_id, phone=body.phone, group=body.group, text=body.message,
        content=_draft(body), quote=body.quote, device_id=body.device, priority=body.priority,
        reference=body.reference, deliver_at=body.deliver_at, idempotency_key=p.idempotency_key)
    return _out(message), 201 if created else 200


@api.route("GET", "/v1/messages/{message_id}", response=MessageOut, summary="Get a message",
           tag="messages", errors=(404,))
def get_message(p: Principal, message_id: str):
    return _out(messages.get_message(p.c, p.account_id, message_id))


@api.route("GET", "/v1/messages", query=MessageQuery, response=MessageList,
           summary="List messages, newest first, a page at a time", tag="messages")
def list_messages(p: Principal, query: MessageQuery):
    found, cursor = messages.list_messages(
        p.c, p.account_id, device_id=query.device, status=query.status, phone=query.phone,
        group=query.group, reference=query.reference, since=query.since, until=query.until,
        limit=query.limit, cursor=query.cursor)
    return MessageList(data=[_out(m) for m in found], next_cursor=cursor)


@api.route("DELETE", "/v1/messages/{message_id}", response=MessageOut,
           summary="Cancel a queued or scheduled message", tag="messages", errors=(404, 409))
def cancel_message(p: Principal, message_id: str):
    return _out(messages.cancel_message(p.c, p.account_id,
                                        message_id))
