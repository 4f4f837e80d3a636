"""One person, one chat: a chat opened under a contact's anonymous id (LID, because
WhatsApp gave no number) joins their number's chat when the device learns the number
(shared.services.lids.learn). The inbound flow calls `join` once, when the mapping is new;
from then on everything from and to the LID is filed under the number.

- No chat under the number yet: the number's chat takes the LID chat's place, with its
  thread (its entries and their numbering as they are), unread count, labels, assignee
  and name; the LID chat is deleted in the same commit.
- Both chats exist (a message was sent to the number first): the LID chat's entries are
  appended to the number's chat, oldest first, in a block of numbers the number's chat
  reserves with one conditional write (so concurrent filings never take the same
  number); then the LID chat goes, and the number's chat adds its unread count and
  labels and shows the newer last message, in one commit with the events.
- Each moved entry is marked with the chat's number (and `lid`); the LID's contact joins
  the number's the same way (its name, labels and metadata fill what the number's lacks).

The moves are batched commits, not one: a process that stops midway leaves the LID chat
in place with the entries not yet moved, every message still in one of the two chats.
Events: chat:delete of the LID chat (reason merged, merged_into the number), chat:update
of the number's chat (changed: merged)."""

from __future__ import annotations

from shared.clock import Clock
from shared.events import EventName
from shared.inbox import MAX_CHAT_MESSAGES, Chat, Contact
from shared.ports import DocumentStore, EventBus, Write
from shared.repositories.chats import ChatMessages, Chats, chat_key
from shared.repositories.contacts import Contacts
from shared.services import event_log
from shared.services.chats import _stamp, chat_data, search_terms

BATCH = 400  # entry updates a commit (Firestore takes 500 writes)
_SUMMED = ("lid", "unread", "has_unread", "labels", "name", "assigned_to", "terms",
           "last_message", "last_message_at", "sort_key", "updated_at")
_ATTEMPTS = 50


def join(store: DocumentStore, bus: EventBus, clock: Clock, device_id: str, lid: str,
         phone: str, *, cap: int = MAX_CHAT_MESSAGES) -> bool:
    """Move the chat opened under `lid` into `phone`'s; False when there is none."""
    chats, entries = Chats(store), ChatMessages(store)
    doc = chats.doc(chat_key(device_id, lid))
    if doc is None:
        _join_contact(store, clock, device_id, lid, phone)
        return False
    source = Chat.model_validate(doc)
    moved = sorted(entries.of_thread(source.thread), key=lambda d: d.get("seq") or 0)
    key = chat_key(device_id, phone)
    if chats.doc(key) is None:
        joined = source.model_copy(update={
            "key": key, "chat": phone, "lid": lid, "terms": search_terms(phone, source.name),
            "sort_key": f"{_stamp(source.last_message_at)}|{key}", "updated_at": clock.now()})
        if _commit(store, bus, clock, source, joined, Write.create(chats.name, key,
                                                                   chats.dump(joined))):
            _mark(store, moved, phone, lid)
            _join_contact(store, clock, device_id, lid, phone)
            return True
        # the number's chat was opened meanwhile: append to it
    reserved = _reserve(store, key, len(moved))
    _mark(store, moved, phone, lid, thread=reserved.thread, first=reserved.seq - len(moved) + 1)
    for _ in range(_ATTEMPTS):
        target = Chat.model_validate(chats.doc(key))
        joined = _sum(target, source, clock)
        if _commit(store, bus, clock, source, joined, Write.update(chats.name, key, {
                k: v for k, v in chats.dump(joined).items() if k in _SUMMED},
                when={"seq": target.seq, "thread": target.thread})):
            break
    else:
        raise RuntimeError(f"chat {key}: too many concurrent writers")
    while target.seq > cap:  # the oldest beyond the cap go, as when filing
        beyond = entries.page(target.thread, before=target.seq - cap + 1, limit=BATCH)
        store.commit([Write.delete(entries.name, old["id"]) for old in beyond])
        if len(beyond) < BATCH:
            break
    _join_contact(store, clock, device_id, lid, phone)
    return True


def _reserve(store: DocumentStore, key: str, count: int) -> Chat:
    """Take `count` numbers at the end of the chat; the chat as it is after."""
    chats = Chats(store)
    for _ in range(_ATTEMPTS):
        chat = Chat.model_validate(chats.doc(key))
        if chats.update(key, {"seq": chat.seq + count},
                        when={"seq": chat.seq, "thread": chat.thread}):
            return chat.model_copy(update={"seq": chat.seq + count})
    raise RuntimeError(f"chat {key}: too many concurrent writers")


def _sum(target: Chat, source: Chat, clock: Clock) -> Chat:
    unread = target.unread + source.unread
    name = target.name or source.name
    newer = source if source.last_message_at > target.last_message_at else target
    return target.model_copy(update={
        "lid": source.lid or source.chat, "unread": unread, "has_unread": unread > 0,
        "labels": list(dict.fromkeys([*target.labels, *source.labels])), "name": name,
        "assigned_to": target.assigned_to or source.assigned_to,
        "terms": search_terms(target.chat, name), "last_message": newer.last_message,
        "last_message_at": newer.last_message_at,
        "sort_key": f"{_stamp(newer.last_message_at)}|{target.key}", "updated_at": clock.now()})


def _commit(store, bus, clock, source: Chat, joined: Chat, write: Write) -> bool:
    events = [
        event_log.new_event(bus, clock, EventName.chat_delete, source.account_id,
                            source.device_id, {"id": source.chat, "kind": source.kind.value,
                                               "reason": "merged", "merged_into": joined.chat}),
        event_log.new_event(bus, clock, EventName.chat_update, joined.account_id,
                            joined.device_id, chat_data(joined) | {"changed": ["merged"]})]
    return event_log.commit(bus, store, [write, Write.delete(Chats.name, source.key)], events)


def _mark(store: DocumentStore, moved: list[dict], phone: str, lid: str, *,
          thread: str | None = None, first: int = 0) -> None:
    writes = []
    for i, doc in enumerate(moved):
        changes: dict = {"chat": phone, "lid": doc.get("lid") or lid}
        if doc.get("phone") == lid:
            changes["phone"] = phone
        if thread is not None:
            changes |= {"thread": thread, "seq": first + i}
        writes.append(Write.update(ChatMessages.name, doc["id"], changes))
    for start in range(0, len(writes), BATCH):
        store.commit(writes[start:start + BATCH])


def _join_contact(store: DocumentStore, clock: Clock, device_id: str, lid: str,
                  phone: str) -> None:
    contacts = Contacts(store)
    old, doc = contacts.doc_of(device_id, lid), contacts.doc_of(device_id, phone)
    now = clock.now()
    if doc is None:
        if old is None:
            return  # the number's contact is made with its chat's first message
        merged = Contact.model_validate(old).model_copy(update={
            "phone": phone, "lid": lid, "updated_at": now, "version": 0})
        contacts.create_doc(chat_key(device_id, phone), merged.to_doc())
    else:
        contact = Contact.model_validate(doc)
        extra = Contact.model_validate(old) if old is not None else None
        changes: dict = {"lid": lid, "updated_at": now, "version": contact.version + 1}
        if extra is not None:
            changes |= {"name": contact.name or extra.name,
                        "labels": list(dict.fromkeys([*contact.labels, *extra.labels])),
                        "metadata": extra.metadata | contact.metadata}
        contacts.update(chat_key(device_id, phone), changes, when={"version": contact.version})
    if old is not None:
        contacts.delete(chat_key(device_id, lid))
