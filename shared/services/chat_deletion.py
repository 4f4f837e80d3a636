"""Deleting a chat: the document goes at once, its thread becomes unreachable, and its
entries are erased right away when few (INLINE_PURGE), else by the scheduled clean-up
(finish_purges, from the chat_purges records)."""

from __future__ import annotations

from shared.clock import Clock
from shared.events import EventName
from shared.inbox import Chat
from shared.ports import DocumentStore, EventBus, Write
from shared.repositories.chats import ChatMessages, ChatPurges, Chats
from shared.services import event_log
from shared.services.chats import get_chat

INLINE_PURGE = 100  # entries a deletion erases at once; the clean-up job erases the rest


def delete_chat(store: DocumentStore, bus: EventBus, clock: Clock, account_id: str,
                device_id: str, chat: str, *, reason: str = "api") -> None:
    found = get_chat(store, account_id, device_id, chat)
    retire(store, bus, clock, found, reason=reason)


def retire(store: DocumentStore, bus: EventBus, clock: Clock, chat: Chat, *, reason: str) -> None:
    """Delete a chat now and its messages now or soon (see the module's docstring). The
    chat's deletion, the purge's record and the chat:delete event are one commit."""
    event = event_log.new_event(bus, clock, EventName.chat_delete, chat.account_id,
                                chat.device_id,
                                {"id": chat.chat, "kind": chat.kind.value, "reason": reason})
    event_log.commit(bus, store, [
        Write.put(ChatPurges.name, chat.thread, {"thread": chat.thread, "key": chat.key,
                                                 "device_id": chat.device_id,
                                                 "account_id": chat.account_id,
                                                 "created_at": clock.now()}),
        Write.delete(Chats.name, chat.key)], [event])
    if purge(store, chat.thread, limit=INLINE_PURGE):
        ChatPurges(store).delete(chat.thread)


def purge(store: DocumentStore, thread: str, limit: int | None = None) -> bool:
    """Erase a retired thread's entries (at most `limit`); True when none is left."""
    entries = ChatMessages(store)
    docs = entries.of_thread(thread, limit=None if limit is None else limit + 1)
    for doc in docs[:limit]:
        entries.delete(doc["id"])
    return limit is None or len(docs) <= limit


def finish_purges(store: DocumentStore) -> int:
    """Erase the threads that deletions left (the clean-up job); returns how many."""
    done, purges = 0, ChatPurges(store)
    for record in purges.all():
        live = Chats(store).doc(record["key"])
        if live is not None and live.get("thread") == record["thread"]:
            continue  # the deletion did not go through: the chat still uses this thread
        purge(store, record["thread"])
        purges.delete(record["id"])
        done += 1
    return done
