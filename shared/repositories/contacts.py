"""A device's contacts (collection "contacts", keyed "<device>:<phone>" like its chat)."""

from __future__ import annotations

from shared.inbox import Contact
from shared.repositories.base import Repository
from shared.repositories.chats import Labelled, chat_key


class Contacts(Labelled, Repository[Contact]):
    name = "contacts"
    model = Contact

    def doc_of(self, device_id: str, phone: str) -> dict | None:
        return self.doc(chat_key(device_id, phone))

    def create(self, item: Contact) -> bool:
        return self.create_doc(chat_key(item.device_id, item.phone), self.dump(item))

    def page(self, device_id: str, *, label: str | None = None, after: str | None = None,
             limit: int) -> list[Contact]:
        """The device's contacts by phone number, those after `after` only."""
        where: list = [("device_id", "==", device_id)]
        if label:
            where.append(("labels", "array_contains", label))
        if after:
            where.append(("phone", ">", after))
        return self.find(where, order_by=[("phone", "asc")], limit=limit)
