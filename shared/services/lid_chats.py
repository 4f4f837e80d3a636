"""One person, one chat: a chat opened under a contact's anonymous id (LID, because
WhatsApp gave no number) joins their number's chat when the device learns the number
(shared.services.lids.learn). From then on everything from and to the LID is filed under
the number, and the inbound flow (shared.services.inbound) and a send to the LID finish
any join left undone.

- No chat under the number yet: the LID chat's entries are marked (below) where they
  are, then the number's chat takes the LID chat's place, with its thread (its entries
  and their numbering as they are), unread count, labels, assignee and name; the LID
  chat is deleted in the same commit.
- Both chats exist (a message was sent to the number first): the LID chat's entries are
  appended to the number's chat, oldest first, in batches: each batch moves to the
  number's thread in one commit with the block of numbers it takes there (conditional
  on the number's chat, so concurrent filings never take the same number, and on each
  entry being still in the LID's thread, so an entry is moved and numbered once however
  many joins run). A LID chat of more than one batch (400) may so have a message filed
  meanwhile between its blocks. Then the LID chat goes, and the number's chat adds its
  unread count and labels and shows the newer last message, in one commit with events.
- Each moved entry is marked with the chat's number (and `lid`); the LID's contact joins
  the number's the same way (its name, labels and metadata fill what the number's lacks),
  before the commit that deletes the LID chat.

Resumable and idempotent: the LID chat is deleted by the last commit only, guarded on
it being as read (its numbering, thread and unread count): a LID message filed during
the join makes it start again, and while the LID chat exists the join is unfinished and
`join` (or `finish`) completes it; a process that stops midway leaves every message in
one of the two chats. Cost on the inbound flow, for a message that carries a LID only
(none for the others): at most one read more, of the LID chat (`finish`) when the number
is known, or of the mapping again after filing under the LID (a number learnt
meanwhile: then the join); one read, `finish`, for a message sent to a LID with a known number
(shared.services.messages); the join's own reads and writes only when there is a LID
chat to join.
Events: chat:delete of the LID chat (reason merged, merged_into the number), chat:update
of the number's chat (changed: merged)."""

from __future__ import annotations

from shared.clock import Clock
from shared.events import EventName
from shared.inbox import MAX_CHAT_MESSAGES, Chat, Contact
from shared.ports import DocumentStore, EventBus, Guard, Write
from shared.repositories.chats import ChatMessages, Chats, chat_key
from shared.repositories.contacts import Contacts
from shared.services import event_log
from shared.services.chats import chat_data, search_terms, sort_key

BATCH = 400  # entry updates a commit (Firestore takes 500 writes)
_SUMMED = ("lid", "unread", "has_unread", "labels", "name", "assigned_to", "terms",
           "last_message", "last_message_at", "sort_key", "updated_at")
_ATTEMPTS = 50


def finish(store: DocumentStore, bus: EventBus, clock: Clock, device_id: str, lid: str,
           phone: str) -> bool:
    """Complete a join left undone (an interrupted one, or a LID chat opened after it):
    one read, the chat under `lid`; the join only when it is there."""
    if Chats(store).doc(chat_key(device_id, lid)) is None:
        return False
    return join(store, bus, clock, device_id, lid, phone)


def join(store: DocumentStore, bus: EventBus, clock: Clock, device_id: str, lid: str,
         phone: str, *, cap: int = MAX_CHAT_MESSAGES) -> bool:
    """Move the chat opened under `lid` into `phone`'s; False when there is none. Safe to
    run again, and beside another join or filing: see the module's docstring."""
    chats = Chats(store)
    lid_key, key = chat_key(device_id, lid), chat_key(device_id, phone)
    for _ in range(_ATTEMPTS):
        doc = chats.doc(lid_key)
        if doc is None:
            _join_contact(store, clock, device_id, lid, phone)
            return False
        source = Chat.model_validate(doc)
        # the LID chat as read: nothing filed in it, nor read, since (else: again)
        guard = Guard(Chats.name, lid_key, {"seq": source.seq, "thread": source.thread,
                                            "unread": source.unread})
        left = sorted(ChatMessages(store).of_thread(source.thread),
                      key=lambda d: d.get("seq") or 0)
        target = chats.doc(key)
        if target is None:
            if _take_place(store, bus, clock, source, left, key, phone, lid, guard):
                return True
        elif _append(store, bus, clock, source, left, Chat.model_validate(target), phone,
                     lid, guard, cap):
            return True
    raise RuntimeError(f"chat {lid_key}: too many concurrent writers")


def _take_place(store, bus, clock, source: Chat, left: list[dict], key: str, phone: str,
                lid: str, guard: Guard) -> bool:
    """No chat under the number: the entries are marked where they are (the same values
    however often), then the number's chat takes the LID chat's place in one commit."""
    writes = [Write.update(ChatMessages.name, d["id"], _marks(d, phone, lid)) for d in left
              if d.get("chat") != phone]
    for start in range(0, len(writes), BATCH):
        if not store.commit(writes[start:start + BATCH]):
            return False  # an entry went meanwhile (the cap): read again
    joined = source.model_copy(update={
        "key": key, "chat": phone, "lid": lid, "terms": search_terms(phone, source.name),
        "sort_key": sort_key(source.last_message_at, key), "updated_at": clock.now()})
    _join_contact(store, clock, source.device_id, lid, phone)
    return _commit(store, bus, clock, source, joined,
                   Write.create(Chats.name, key, Chats(store).dump(joined)), guard)


def _append(store, bus, clock, source: Chat, left: list[dict], target: Chat, phone: str,
            lid: str, guard: Guard, cap: int) -> bool:
    """Both chats: each batch of entries, oldest first, moves to the number's thread in
    one commit with the numbers it takes there (conditional on the number's chat, and on
    each entry being still in the LID's thread: moved once, numbered once); then the
    number's chat sums the LID chat's, which goes, in one commit."""
    chats, entries = Chats(store), ChatMessages(store)
    for start in range(0, len(left), BATCH):
        batch = left[start:start + BATCH]
        writes = [Write.update(chats.name, target.key, {"seq": target.seq + len(batch)},
                               when={"seq": target.seq, "thread": target.thread})]
        writes += [Write.update(entries.name, d["id"], _marks(d, phone, lid) | {
            "thread": target.thread, "seq": target.seq + 1 + i},
            when={"thread": source.thread}) for i, d in enumerate(batch)]
        if not store.commit(writes):
            return False  # a filing or another join was first: read again
        target = target.model_copy(update={"seq": target.seq + len(batch)})
    while target.seq > cap:  # the oldest beyond the cap go, as when filing
        beyond = entries.page(target.thread, before=target.seq - cap + 1, limit=BATCH)
        store.commit([Write.delete(entries.name, old["id"]) for old in beyond])
        if len(beyond) < BATCH:
            break
    _join_contact(store, clock, source.device_id, lid, phone)
    joined = _sum(target, source, clock)
    return _commit(store, bus, clock, source, joined, Write.update(chats.name, target.key, {
        k: v for k, v in chats.dump(joined).items() if k in _SUMMED},
        when={"seq": target.seq, "thread": target.thread}), guard)


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
        "sort_key": sort_key(newer.last_message_at, target.key), "updated_at": clock.now()})


def _commit(store, bus, clock, source: Chat, joined: Chat, write: Write, guard: Guard) -> bool:
    events = [
        event_log.new_event(bus, clock, EventName.chat_delete, source.account_id,
                            source.device_id, {"id": source.chat, "kind": source.kind.value,
                                               "reason": "merged", "merged_into": joined.chat}),
        event_log.new_event(bus, clock, EventName.chat_update, joined.account_id,
                            joined.device_id, chat_data(joined) | {"changed": ["merged"]})]
    return event_log.commit(bus, store, [write, Write.delete(Chats.name, source.key)], events,
                            guard=guard)


def _marks(doc: dict, phone: str, lid: str) -> dict:
    """What a moved entry is marked with: the number's chat, and the LID it came under."""
    changes: dict = {"chat": phone, "lid": doc.get("lid") or lid}
    if doc.get("phone") == lid:
        changes["phone"] = phone
    return changes


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
