from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal
from functions.api.schemas_chats import ChatOut
from shared.services import chat_read, chats
from shared.services.chats import parse_chat_id


@agent_route("POST", "/v1/devices/{device_id}/chats/{chat_id}/read", response=ChatOut,
             summary="Mark a chat read, with read receipts to WhatsApp", tag="chats",
             errors=(404, 409, 503))
def read_chat(p: Principal, device_id: str, chat_id: str):
    """Sends WhatsApp the read receipts of the chat's unread messages (the sender sees blue
    ticks), then sets its `unread` to 0 (`chat:update`). `PATCH` with `read: true` only
    changes the count here; this tells the sender too. With `read_on_reply` on (the
    account's setting, `PATCH /v1/account/settings`, or the device's own, which overrides
    it) a device does this by itself each time a message to the chat goes out.

    Errors: 404 when the chat is not on this device; 409 `device_not_connected`; 503 when
    the device's runner cannot be reached (retry)."""
    chat, _ = chat_read.mark_read(p.c, p.account_id, device_id, parse_chat_id(chat_id))
    return ChatOut.model_validate(chats.chat_data(chat))
