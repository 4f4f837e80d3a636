"""A device's chats (collection "chats", keyed "<device>:<chat>"), their messages
("chat_messages", keyed "<device>:<wa_id>", each numbered within its chat's thread) and
the threads a deletion left to erase ("chat_purges")."""

from __future__ import annotations

from shared.inbox import Chat
from shared.repositories.base import Collection, Repository


def chat_key(device_id: str, chat: str) -> str:
    return f"{device_id}:{chat}"


def entry_doc_id(device_id: str, wa_id: str) -> str:
    return f"{device_id}:{wa_id}"


class Labelled:
    """What chats and contacts share: the customer's labels on them."""

    def with_label(self, account_id: str, label_id: str) -> list[dict]:
        return self.docs([("account_id", "==", account_id),  # type: ignore[attr-defined]
                          ("labels", "array_contains", label_id)])


class Chats(Labelled, Repository[Chat]):
    name = "chats"
    model = Chat

    def add(self, item: Chat) -> None:
        self.put_doc(item.key, self.dump(item))

    def create(self, item: Chat) -> bool:
        return self.create_doc(item.key, self.dump(item))

    def of(self, device_id: str, chat: str) -> Chat | None:
        return self.get(chat_key(device_id, chat))

    def of_device(self, device_id: str) -> list[Chat]:
        return self.find([("device_id", "==", device_id)])


class ChatMessages(Collection):
    name = "chat_messages"

    def numbered(self, thread: str, seq: int) -> list[dict]:
        return self.docs([("thread", "==", thread), ("seq", "==", seq)], limit=1)

    def of_thread(self, thread: str, limit: int | None = None) -> list[dict]:
        return self.docs([("thread", "==", thread)], limit=limit)

    def page(self, thread: str, *, before: int | None = None, limit: int) -> list[dict]:
        """A thread's entries, newest first, those numbered below `before` only."""
        where: list = [("thread", "==", thread)]
        if before is not None:
            where.append(("seq", "<", before))
        return self.docs(where, order_by=[("seq", "desc")], limit=limit)

    def of_message(self, message_id: str) -> dict | None:
        """The entry of the message with this Utio id, if one is filed."""
        found = self.docs([("message_id", "==", message_id)], limit=1)
        return found[0] if found else None


class ChatPurges(Collection):
    name = "chat_purges"

    def all(self) -> list[dict]:
        return self.docs()
