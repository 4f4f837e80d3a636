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
from shared.domain import MessageSource, Priority
from shared.errors import Forbidden, ValidationFailed
from shared.services import chat_deletion, chat_links, chats, devices, messages
from shared.services.chats import parse_chat_id

_CHAT = "/v1/devices/{device_id}/chats/{chat_id}"


def _out(chat) -> ChatOut:
    return ChatOut.model_validate(chats.chat_data(chat))


def _draft(body: SendToChat):
    content = body.media or body.reaction
    return content.draft() if content is not None else None


@agent_route("GET", "/v1/devices/{device_id}/chats", query=ChatQuery, response=ChatList,
             summary="List a device's chats, most recently active first", tag="chats",
             errors=(404,))
def list_chats(p: Principal, device_id: str, query: ChatQuery):
    """The device's chats, one per phone number or group, most recently active first, each with
    its name, unread count, labels, assignee and last message. Filter by `label`, `unread`,
    `kind` or `assigned_to` (`me` for the calling agent), find by name or number with
    `search`; page with `cursor` (the previous answer's `next_cursor`). Chats are made by messages in and
    out; a device with 1000+ open chats gets slow, so delete the ones you are done with.

    Errors: 404 when the device is not in this account (or an agent's token was not granted
    it); 422 for a bad filter, `assigned_to=me` without an agent, or a cursor this API did
    not return."""
    devices.get_device(p.c, p.account_id, device_id)
    assigned_to = query.assigned_to
    if assigned_to == "me":
        if p.agent_id is None:
            raise ValidationFailed("assigned_to: `me` means the calling agent; this call is "
                                   "not an agent's (give an agent id)",
                                   details={"field": "assigned_to"}, code="not_an_agent")
        assigned_to = p.agent_id
    found, next_cursor = chats.list_chats(p.c.store, device_id, label=query.label,
                                          kind=query.kind, unread=query.unread,
                                          assigned_to=assigned_to, search=query.search,
                                          limit=query.limit, after=query.cursor)
    return ChatList(data=[_out(c) for c in found], next_cursor=next_cursor)


@agent_route("GET", _CHAT, response=ChatOut, summary="Get a chat", tag="chats", errors=(404,))
def get_chat(p: Principal, device_id: str, chat_id: str):
    """One chat, by its id: the phone number in E.164 (`+34600100999`) or the group id.

    Errors: 404 when the device or the chat is not found."""
    return _out(chats.get_chat(p.c.store, p.account_id, device_id, parse_chat_id(chat_id)))


@agent_route("PATCH", _CHAT, body=UpdateChat, response=ChatOut, tag="chats", errors=(404,),
             summary="Label a chat, mark it read or unread, or assign it to an agent "
             "(event chat:update)")
def update_chat(p: Principal, device_id: str, chat_id: str, body: UpdateChat):
    """Sets the chat's labels (`labels` replaces them; label ids from `POST /v1/labels`),
    marks it read (`read: true`, unread count 0) or unread, and assigns it to an agent who
    may use the device (`assigned_to`; null unassigns), so the team knows who answers.
    Emits `chat:update`, whose `changed` names the fields set.

    Errors: 404 when the device or the chat is not found; 422 for an unknown label, more
    than 20 labels, or an agent that is not in the account, not granted the device or
    deactivated."""
    extra = {"assigned_to": body.assigned_to} if "assigned_to" in body.model_fields_set else {}
    chat = chats.update_chat(p.c.store, p.c.bus, p.c.clock, p.account_id, device_id,
                             parse_chat_id(chat_id), labels=body.labels, read=body.read,
                             **extra)
    return _out(chat)


@api.route("DELETE", _CHAT, status=204, tag="chats", errors=(404,),
           summary="Delete a chat and its messages (event chat:delete)")
def delete_chat(p: Principal, device_id: str, chat_id: str):
    """Deletes the chat and the messages Utio keeps for it (the phone keeps its own copy).
    Emits `chat:delete`. A new message in or out starts a fresh chat.

    Errors: 404 when the device or the chat is not found."""
    chat_deletion.delete_chat(p.c.store, p.c.bus, p.c.clock, p.account_id, device_id,
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
             summary="Send a text, a file or a reaction in a chat (the web chat's way)",
             tag="chats", errors=(403, 404, 409, 413),
             headers={"Idempotency-Key": "As for POST /v1/messages."})
def send_to_chat(p: Principal, device_id: str, chat_id: str, body: SendToChat):
    """Sends in a chat, the way the web chat answers: a text (`message`, optionally quoting
    a message with `quote`), a file (`media`, uploaded first with `POST /v1/files`) or a
    reaction (`reaction`). It is `POST /v1/messages` with the chat's number (or group) and
    this device, so the same plan rules, limits and events apply. A chat with a number
    that has none yet starts with its first message. With `source: web_chat` (a signed-in
    person only) the message goes out next on the device, ahead of the API's queue, at the
    device's delivery speed. Buttons and lists stay with `POST /v1/messages`.

    Errors: 402 when the device's trial ended without a subscription; 403 when `source` is
    `web_chat` without a person's sign-in; 404 when the device is not found; 409 when an
    `Idempotency-Key` was used with another body; 413 when the file is larger than the
    plan allows for its type; 422 for no or two contents, an empty text, more than 6000
    characters, an unknown file or a quoted message of another chat."""
    devices.get_device(p.c, p.account_id, device_id)
    chat = parse_chat_id(chat_id)
    priority = body.priority
    if body.source == MessageSource.web_chat:
        if p.person is None:
            raise Forbidden("source: web_chat is for a person signed in to the web chat; "
                            "programs send with priority instead",
                            code="web_chat_needs_sign_in", details={"field": "source"})
        priority = Priority.urgent  # its Cloud Tasks queue; the runner puts it first
    target = {"group": chat} if chat.endswith("@g.us") else {"phone": chat}
    message, created = messages.send_message(
        p.c, p.account_id, **target, text=body.message, content=_draft(body),
        quote=body.quote, device_id=device_id, priority=priority, source=body.source,
        reference=body.reference, idempotency_key=p.idempotency_key)
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
    return ChatLink.model_validate(chat_links.chat_link(phone, query.text))
