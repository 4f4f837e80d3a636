from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal, api
from functions.api.schemas_chats import (
    ChatLink,
    ChatLinkQuery,
    ChatList,
    ChatMessageList,
    ChatOut,
    ChatQuery,
    Page,
    SendToChat,
    UpdateChat,
)
from functions.api.schemas_messages import MessageOut
from shared.errors import ValidationFailed
from shared.services import chats, devices, messages
from shared.services.chats import parse_chat_id

_CHAT = "/v1/devices/{device_id}/chats/{chat_id}"


def _out(chat) -> ChatOut:
    return ChatOut.model_validate(chats.chat_data(chat))


@agent_route("GET", "/v1/devices/{device_id}/chats", query=ChatQuery, response=ChatList,
             summary="List a device's chats, most recently active first", tag="chats",
             errors=(404,))
def list_chats(p: Principal, device_id: str, query: ChatQuery):
    devices.get_device(p.c, p.account_id, device_id)
    found, next_cursor = chats.list_chats(p.c.store, device_id, label=query.label,
                                          kind=query.kind, unread=query.unread,
                                          limit=query.limit, after=query.cursor)
    return ChatList(data=[_out(c) for c in found], next_cursor=next_cursor)


@agent_route("GET", _CHAT, response=ChatOut, summary="Get a chat", tag="chats", errors=(404,))
def get_chat(p: Principal, device_id: str, chat_id: str):
    return _out(chats.get_chat(p.c.store, p.account_id, device_id, parse_chat_id(chat_id)))


@agent_route("PATCH", _CHAT, body=UpdateChat, response=ChatOut, tag="chats", errors=(404,),
             summary="Label a chat, or mark it read or unread (event chat:update)")
def update_chat(p: Principal, device_id: str, chat_id: str, body: UpdateChat):
    chat = chats.update_chat(p.c.store, p.c.bus, p.c.clock, p.account_id, device_id,
                             parse_chat_id(chat_id), labels=body.labels, read=body.read)
    return _out(chat)


@api.route("DELETE", _CHAT, status=204, tag="chats", errors=(404,),
           summary="Delete a chat and its messages (event chat:delete)")
def delete_chat(p: Principal, device_id: str, chat_id: str):
    chats.delete_chat(p.c.store, p.c.bus, p.c.clock, p.account_id, device_id,
                      parse_chat_id(chat_id))


@agent_route("GET", _CHAT + "/messages", query=Page, response=ChatMessageList,
             summary="A chat's messages, inbound and outbound, newest first", tag="chats",
             errors=(404,))
def list_chat_messages(p: Principal, device_id: str, chat_id: str, query: Page):
    page, next_cursor = chats.list_entries(p.c.store, p.account_id, device_id,
                                           parse_chat_id(chat_id), limit=query.limit,
                                           after=query.cursor)
    return ChatMessageList.model_validate({"data": page, "next_cursor": next_cursor})


@agent_route("POST", _CHAT + "/messages", body=SendToChat, response=MessageOut, status=201,
             summary="Send a text message in a chat", tag="chats", errors=(404, 409),
             headers={"Idempotency-Key": "As for POST /v1/messages."})
def send_to_chat(p: Principal, device_id: str, chat_id: str, body: SendToChat):
    devices.get_device(p.c, p.account_id, device_id)
    chat = parse_chat_id(chat_id)
    if chat.endswith("@g.us"):
        raise ValidationFailed("chat: sending to a group chat is not supported here yet",
                               details={"field": "chat"}, code="group_chat")
    message, created = messages.send_message(
        p.c, p.account_id, phone=chat, text=body.message, device_id=device_id,
        priority=body.priority, reference=body.reference, idempotency_key=p.idempotency_key)
    return MessageOut.model_validate(message.model_dump(exclude=message.INTERNAL)), \
        201 if created else 200


@agent_route("GET", "/v1/devices/{device_id}/chats/{phone}/link", query=ChatLinkQuery,
             response=ChatLink, tag="chats", errors=(404,),
             summary="A link that opens the chat with a number (existing or new) in WhatsApp Web")
def chat_link(p: Principal, device_id: str, phone: str, query: ChatLinkQuery):
    devices.get_device(p.c, p.account_id, device_id)
    return ChatLink.model_validate(chats.chat_link(phone, query.text))
