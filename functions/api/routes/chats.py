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
    """The device's chats, one per phone number or group, most recently active first, each with
    its unread count, labels and last message. Filter by `label`, `unread` or `kind`; page
    with `cursor` (the previous answer's `next_cursor`). Chats are made by messages in and
    out; a device with 1000+ open chats gets slow, so delete the ones you are done with.

    Errors: 404 when the device is not in this account (or an agent's token was not granted
    it); 422 for a bad filter or a cursor this API did not return."""
    devices.get_device(p.c, p.account_id, device_id)
    found, next_cursor = chats.list_chats(p.c.store, device_id, label=query.label,
                                          kind=query.kind, unread=query.unread,
                                          limit=query.limit, after=query.cursor)
    return ChatList(data=[_out(c) for c in found], next_cursor=next_cursor)


@agent_route("GET", _CHAT, response=ChatOut, summary="Get a chat", tag="chats", errors=(404,))
def get_chat(p: Principal, device_id: str, chat_id: str):
    """One chat, by its id: the phone number in E.164 (`+34600100999`) or the group id.

    Errors: 404 when the device or the chat is not found."""
    return _out(chats.get_chat(p.c.store, p.account_id, device_id, parse_chat_id(chat_id)))


@agent_route("PATCH", _CHAT, body=UpdateChat, response=ChatOut, tag="chats", errors=(404,),
             summary="Label a chat, or mark it read or unread (event chat:update)")
def update_chat(p: Principal, device_id: str, chat_id: str, body: UpdateChat):
    """Sets the chat's labels (`labels` replaces them; label ids from `POST /v1/labels`) and
    marks it read (`read: true`, unread count 0) or unread. Emits `chat:update`.

    Errors: 404 when the device or the chat is not found; 422 for an unknown label or more
    than 20 labels."""
    chat = chats.update_chat(p.c.store, p.c.bus, p.c.clock, p.account_id, device_id,
                             parse_chat_id(chat_id), labels=body.labels, read=body.read)
    return _out(chat)


@api.route("DELETE", _CHAT, status=204, tag="chats", errors=(404,),
           summary="Delete a chat and its messages (event chat:delete)")
def delete_chat(p: Principal, device_id: str, chat_id: str):
    """Deletes the chat and the messages Utio keeps for it (the phone keeps its own copy).
    Emits `chat:delete`. A new message in or out starts a fresh chat.

    Errors: 404 when the device or the chat is not found."""
    chats.delete_chat(p.c.store, p.c.bus, p.c.clock, p.account_id, device_id,
                      parse_chat_id(chat_id))


@agent_route("GET", _CHAT + "/messages", query=Page, response=ChatMessageList,
             summary="A chat's messages, inbound and outbound, newest first", tag="chats",
             errors=(404,))
def list_chat_messages(p: Principal, device_id: str, chat_id: str, query: Page):
    """The chat's messages in both directions, newest first, a page at a time (`limit`,
    `cursor`). Utio keeps the newest 1000 messages of a chat; older ones drop off.

    Errors: 404 when the device or the chat is not found; 422 for a cursor this API did not
    return."""
    page, next_cursor = chats.list_entries(p.c.store, p.account_id, device_id,
                                           parse_chat_id(chat_id), limit=query.limit,
                                           after=query.cursor)
    return ChatMessageList.model_validate({"data": page, "next_cursor": next_cursor})


@agent_route("POST", _CHAT + "/messages", body=SendToChat, response=MessageOut, status=201,
             summary="Send a text message in a chat", tag="chats", errors=(404, 409),
             headers={"Idempotency-Key": "As for POST /v1/messages."})
def send_to_chat(p: Principal, device_id: str, chat_id: str, body: SendToChat):
    """Sends a text in an existing one-to-one chat, the way the web chat answers: like
    `POST /v1/messages` with the chat's number and this device, so the same plan rules,
    queue and events apply. For media, buttons or groups use `POST /v1/messages`.

    Errors: 402 when the device's trial ended without a subscription; 404 when the device or
    the chat is not found; 409 when an `Idempotency-Key` was used with another body; 422 for
    an empty text, more than 6000 characters, or a group chat."""
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
    """A `https://wa.me/…` link that opens a chat with the number in WhatsApp, optionally
    with a prefilled `text`: put it on a website or in an email so customers write to you.

    Errors: 404 when the device is not found; 422 when the number is not valid E.164 or the
    text is too long for a link."""
    devices.get_device(p.c, p.account_id, device_id)
    return ChatLink.model_validate(chats.chat_link(phone, query.text))
