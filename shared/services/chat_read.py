"""Marking a chat read: the read receipts of its unread messages go to WhatsApp (blue
ticks for the sender) through the runner holding the device, then the chat's unread
count is 0 (chat:update). With `read_on_reply` (the account's setting, or the device's,
which overrides it) a device does it by itself when a message it sends answers a chat
with unread messages (shared/services/outbound.py)."""

from __future__ import annotations

from shared.deps import Deps
from shared.repositories.chats import ChatMessages
from shared.services import chats

MAX_RECEIPTS = 100  # the newest unread messages a read marks (WhatsApp takes ids in batches)


def unread_receipts(store, chat) -> list[tuple[str, str]]:
    """(wa_id, sender) of the chat's unread inbound messages, newest first."""
    if chat.unread <= 0:
        return []
    docs = ChatMessages(store).page(chat.thread, limit=min(MAX_RECEIPTS, chat.unread + 20))
    inbound = [d for d in docs if d.get("direction") == "inbound"][:chat.unread]
    return [(d["wa_id"], d["phone"]) for d in inbound]


def mark_read(deps: Deps, account_id: str, device_id: str, chat_id: str):
    chat = chats.get_chat(deps.store, account_id, device_id, chat_id)
    receipts = unread_receipts(deps.store, chat)
    if receipts:
        deps.runner_rpc.call("read", {"device_id": device_id, "chat": chat_id,
                                      "messages": [list(r) for r in receipts]})
    return chats.update_chat(deps.store, deps.bus, deps.clock, account_id, device_id, chat_id,
                             read=True), len(receipts)
