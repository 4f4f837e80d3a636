from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas import MessageList, MessageOut, MessageQuery, SendMessage
from shared.services import messages


def _out(message) -> MessageOut:
    return MessageOut.model_validate(message.model_dump())


@api.route("POST", "/v1/messages", body=SendMessage, response=MessageOut, status=201,
           summary="Queue a message", tag="messages", errors=(409,),
           headers={"Idempotency-Key": "Repeat a request safely: the same key and body return "
                    "the first answer; another body with the same key gets 409."})
def send_message(p: Principal, body: SendMessage):
    message, created = messages.send_message(
        p.c.store, p.c.tasks, p.c.bus, p.c.clock, p.account_id, phone=body.phone,
        text=body.message, device_id=body.device, priority=body.priority,
        reference=body.reference, deliver_at=body.deliver_at,
        idempotency_key=p.idempotency_key)
    return _out(message), 201 if created else 200


@api.route("GET", "/v1/messages/{message_id}", response=MessageOut, summary="Get a message",
           tag="messages", errors=(404,))
def get_message(p: Principal, message_id: str):
    return _out(messages.get_message(p.c.store, p.account_id, message_id))


@api.route("GET", "/v1/messages", query=MessageQuery, response=MessageList,
           summary="List messages, newest first", tag="messages")
def list_messages(p: Principal, query: MessageQuery):
    found = messages.list_messages(p.c.store, p.account_id, device_id=query.device,
                                   status=query.status, limit=query.limit)
    return MessageList(data=[_out(m) for m in found])


@api.route("DELETE", "/v1/messages/{message_id}", response=MessageOut,
           summary="Cancel a queued message", tag="messages", errors=(404, 409))
def cancel_message(p: Principal, message_id: str):
    return _out(messages.cancel_message(p.c.store, p.c.bus, p.c.clock, p.account_id,
                                        message_id))
