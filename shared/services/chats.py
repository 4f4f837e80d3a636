"""Chats: each device's conversations, with inbound and outbound messages alike.

A chat document holds a sequence counter. Filing a message takes the next number with a
compare-and-set on the chat, and when that number passes 1000 it deletes the one entry
numbered 1000 below: one equality look-up, never a scan, however long the chat. Into a
chat this process wrote last, the compare-and-set is on the version its commit answered,
with no read (WrittenChats).

A chat's entries belong to its `thread`, an id drawn when the chat document is created.
Deleting a chat deletes the document at once; its thread is then unreachable, and its
entries are erased right away when few, else by the scheduled clean-up
(shared/services/chat_deletion.py). A message that
arrives afterwards starts a new chat with a new thread.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections import OrderedDict
from datetime import UTC, datetime

from shared import cursor, phones
from shared.clock import Clock
from shared.domain import Message
from shared.errors import NotFound, ValidationFailed
from shared.events import EventName
from shared.ids import new_id
from shared.inbox import MAX_CHAT_MESSAGES, Chat, ChatEntry, ChatKind, Contact
from shared.ports import DocumentStore, EventBus, Write, version_of
from shared.repositories.chats import ChatMessages, Chats, chat_key, entry_doc_id
from shared.repositories.contacts import Contacts
from shared.repositories.groups import Groups
from shared.repositories.messages import Messages
from shared.services import event_log
from shared.services.chat_content import bounded_content
from shared.services.labels import check_labels

PREVIEW_LENGTH = 200
_CAS_ATTEMPTS = 50


def _back_off(attempt: int) -> None:
    """Before a chat's compare-and-set is tried again: nothing the first two times, then a
    random pause of up to 1, 2, 4... ms (at most 50), so writers that keep losing to
    faster ones (a kept copy writes without a read: a shorter window) get their turn."""
    if attempt >= 2:
        time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** (attempt - 2))))


class WrittenChats:
    """The chats this process filed into last, each with the version its commit answered
    (issue #18: filing read the chat, then read it again for its conditional update).
    The next filing into such a chat writes on that version without reading: the store
    applies it only while the chat is still exactly what this process wrote, so the copy
    kept here is the document. Any other change (another process, the API marking it
    read, a label, a deletion) moves the version on: the write is refused, the copy
    dropped, and the chat read as before (a filing read is conditional on every field
    the copy moves on from, _next_place, so the copy it keeps is the document too). At
    most `size` chats a store, the least recently filed forgotten first: a few KB each,
    so about 30 MB at most for a runner's."""

    def __init__(self, size: int = 5_000):
        self.size = size
        self._lock = threading.Lock()
        self._turns = [threading.RLock() for _ in range(256)]
        self._stores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def turn(self, key: str) -> threading.RLock:
        """The lock a thread of this process files into the chat under (256, by the
        chat's hash): threads of one process take turns instead of racing each other's
        compare-and-set, each on the copy the one before kept; other processes' changes
        are still refused by the version."""
        return self._turns[hash(key) % len(self._turns)]

    def get(self, store: DocumentStore, key: str) -> tuple[Chat, str] | None:
        with self._lock:
            known = self._known(store)
            return None if known is None else known.get(key)

    def put(self, store: DocumentStore, key: str, chat: Chat, version: str | None) -> None:
        """Keep `chat` at `version`, unless a later state of the chat is kept already (a
        commit answered after this one: the same thread, numbered further)."""
        with self._lock:
            known = self._known(store, make=True)
            if known is None:
                return
            if version is None:  # a store that gave no version: nothing to write on
                known.pop(key, None)
                return
            held = known.get(key)
            if held is not None and held[0].thread == chat.thread and held[0].seq > chat.seq:
                return
            known[key] = (chat, version)
            known.move_to_end(key)
            while len(known) > self.size:
                known.popitem(last=False)

    def drop(self, store: DocumentStore, key: str, version: str | None = None) -> None:
        """Forget the chat's copy: the one at `version` (refused), when given, so that a
        later one another thread kept meanwhile stays for the next attempt."""
        with self._lock:
            known = self._known(store)
            held = None if known is None else known.get(key)
            if held is not None and (version is None or held[1] == version):
                known.pop(key, None)

    def _known(self, store: DocumentStore, make: bool = False) -> OrderedDict | None:
        """The store's kept chats (under the lock); None for a store that cannot be
        weakly referenced: nothing is kept for it."""
        try:
            return self._stores.setdefault(store, OrderedDict()) if make \
                else self._stores.get(store)
        except TypeError:
            return None


WRITTEN = WrittenChats()


def sort_key(at: datetime, key: str) -> str:
    """A chat's place in its device's list: its last message's time, then its key."""
    return f"{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}|{key}"


def messages_url(device_id: str, chat: str) -> str:
    """Where a chat's messages are listed (inbound messages live there, not under
    /v1/messages)."""
    return f"/v1/devices/{device_id}/chats/{chat}/messages"


def inbound_entry(store: DocumentStore, account_id: str, message_id: str) -> dict | None:
    """The chat entry of a message received under this Utio id, if the account has one."""
    found = ChatMessages(store).of_message(message_id)
    if found and found.get("account_id") == account_id and found.get("direction") == "inbound":
        return found
    return None


def parse_chat_id(raw: str) -> str:
    """A chat id from a URL: a group's WhatsApp id as is, else a phone number in E.164."""
    if raw.endswith("@g.us"):
        return raw
    if raw.endswith("@lid") and raw[:-4].isdigit():  # a contact known only by its LID
        return raw
    return phones.normalise(raw, field="chat")


# --- filing messages ----------------------------------------------------------------


def record_inbound(store: DocumentStore, clock: Clock, account_id: str, device_id: str,
                   record: dict, *, cap: int = MAX_CHAT_MESSAGES, bus: EventBus | None = None,
                   events: list | None = None) -> bool:
    """File an inbound message (the runner's record). False when it was filed before.
    With `events` (and the `bus`), the entry and its events are one commit (the event
    log): a message filed is announced, one filed before is not again."""
    entry = ChatEntry(message_id=record["id"], account_id=account_id, device_id=device_id,
                      chat=record.get("chat") or record["phone"], wa_id=record["wa_id"],
                      direction="inbound",
                      type=record.get("type", "text"), phone=record["phone"],
                      message=record["message"], at=record["received_at"],
                      lid=record.get("lid"), content=bounded_content(record.get("content")))
    return _file(store, clock, entry, inbound=True, cap=cap, bus=bus, events=events,
                 push_name=record.get("push_name"))


def record_outbound(store: DocumentStore, clock: Clock, message: Message, *,
                    cap: int = MAX_CHAT_MESSAGES) -> bool:
    """File an outbound message once it is sent. Sending from the device reads the chat.
    (The runner files through shared/services/chat_filing.py, which may file several.)"""
    return file_outbound(store, clock, outbound_entry(clock, message), cap=cap)


def outbound_entry(clock: Clock, message: Message) -> ChatEntry:
    return ChatEntry(message_id=message.id, account_id=message.account_id,
                     device_id=message.device_id, chat=message.to,
                     wa_id=message.wa_id or message.id, direction="outbound", type=message.type,
                     phone=message.phone or message.to, message=message.message, at=clock.now(),
                     content=bounded_content(_sent_content(message)))


def file_outbound(store: DocumentStore, clock: Clock, entry: ChatEntry, *,
                  cap: int = MAX_CHAT_MESSAGES) -> bool:
    return _file(store, clock, entry, inbound=False, cap=cap)


def _sent_content(message: Message) -> dict:
    """The content sent, and the message it quoted (as inbound replies keep theirs)."""
    content = message.content.model_dump(mode="json")
    if message.quote is not None:
        content["quote"] = message.quote.model_dump(mode="json", include={"wa_id", "from_me",
                                                                          "sender", "text"})
    return content


def _file(store: DocumentStore, clock: Clock, entry: ChatEntry, *, inbound: bool, cap: int,
          bus: EventBus | None = None, events: list | None = None,
          push_name: str | None = None) -> bool:
    """The entry (numbered), the chat's update (its sequence, last message and unread
    count) and the events, as ONE commit: whoever sees the event finds the chat already
    showing the message, and a redelivered message (its entry exists) changes nothing."""
    with WRITTEN.turn(chat_key(entry.device_id, entry.chat)):
        return _file_in_turn(store, clock, entry, inbound=inbound, cap=cap, bus=bus,
                             events=events, push_name=push_name)


def _file_in_turn(store: DocumentStore, clock: Clock, entry: ChatEntry, *, inbound: bool,
                  cap: int, bus: EventBus | None, events: list | None,
                  push_name: str | None) -> bool:
    entries = ChatMessages(store)
    doc_id = entry_doc_id(entry.device_id, entry.wa_id)
    unnumbered = False  # an entry an earlier version created, then stopped before numbering
    for attempt in range(_CAS_ATTEMPTS):
        _back_off(attempt)
        chat, seq, chat_write = _next_place(store, clock, entry, inbound, push_name)
        place = {"thread": chat.thread, "seq": seq}
        writes = [Write.update(entries.name, doc_id, place) if unnumbered else
                  Write.create(entries.name, doc_id, entry.model_copy(update=place).to_doc()),
                  chat_write]
        done = event_log.commit(bus, store, writes, events) if events and not unnumbered \
            else store.commit(writes)
        if done:
            WRITTEN.put(store, chat.key, chat, version_of(done, Chats.name, chat.key))
            break
        if chat_write.version is not None:  # the chat changed since this process wrote it
            WRITTEN.drop(store, chat.key, chat_write.version)
            continue
        existing = entries.doc(doc_id)
        if existing is not None and existing.get("thread") is not None:
            return False  # filed before: a redelivered message
        unnumbered = existing is not None  # (its events were logged with it then)
        # else the chat changed under us (another message took the number): again
    else:
        raise RuntimeError(f"chat {chat.key}: too many concurrent writers")
    _settle(store, clock, chat, seq, seq, cap)
    return True


def file_outbound_many(store: DocumentStore, clock: Clock, entries: list[ChatEntry], *,
                       cap: int = MAX_CHAT_MESSAGES) -> None:
    """Outbound entries of one chat (shared/services/chat_filing.py), in order, numbered
    and filed in one commit with one update of the chat. One filed before (a message sent
    again) files them one by one."""
    if len(entries) == 1:
        file_outbound(store, clock, entries[0], cap=cap)
        return
    with WRITTEN.turn(chat_key(entries[-1].device_id, entries[-1].chat)):
        _file_many_in_turn(store, clock, entries, cap=cap)


def _file_many_in_turn(store: DocumentStore, clock: Clock, entries: list[ChatEntry], *,
                       cap: int) -> None:
    history = ChatMessages(store)
    for attempt in range(_CAS_ATTEMPTS):
        _back_off(attempt)
        chat, last, chat_write = _next_place(store, clock, entries[-1], False,
                                             count=len(entries))
        first = last - len(entries) + 1
        writes = [Write.create(history.name, entry_doc_id(e.device_id, e.wa_id),
                               e.model_copy(update={"thread": chat.thread, "seq": first + i}).to_doc())
                  for i, e in enumerate(entries)]
        done = store.commit([*writes, chat_write])
        if done:
            WRITTEN.put(store, chat.key, chat, version_of(done, Chats.name, chat.key))
            break
        if chat_write.version is not None:  # the chat changed since this process wrote it
            WRITTEN.drop(store, chat.key, chat_write.version)
            continue
        if any(history.doc(entry_doc_id(e.device_id, e.wa_id)) is not None for e in entries):
            for entry in entries:
                file_outbound(store, clock, entry, cap=cap)
            return
    else:
        raise RuntimeError(f"chat {chat.key}: too many concurrent writers")
    _settle(store, clock, chat, first, last, cap)


def _settle(store: DocumentStore, clock: Clock, chat: Chat, first: int, last: int,
            cap: int) -> None:
    """After entries numbered first..last are filed: the ones the cap now leaves out go
    (one equality look-up each), and a chat's first message makes its contact."""
    history = ChatMessages(store)
    for seq in range(max(first, cap + 1), last + 1):
        for old in history.numbered(chat.thread, seq - cap):
            history.delete(old["id"])
    if first == 1 and chat.kind == ChatKind.user:
        now = clock.now()
        Contacts(store).create(Contact(account_id=chat.account_id, device_id=chat.device_id,
                                       phone=chat.chat, lid=chat.lid, created_at=now,
                                       updated_at=now))


def _preview(entry: ChatEntry) -> dict:
    return {"id": entry.message_id, "direction": entry.direction, "type": entry.type,
            "message": entry.message[:PREVIEW_LENGTH], "at": entry.at}


def _next_place(store: DocumentStore, clock: Clock, entry: ChatEntry, inbound: bool,
                push_name: str | None = None, count: int = 1) -> tuple[Chat, int, Write]:
    """The chat as it will be, the entry's number in it, and the write that makes it so:
    a create of a new chat, or an update conditional on the sequence read (so two
    writers never take one number). A new chat takes its name from the contact (kept
    when a chat is deleted), else the sender's WhatsApp name. With `count`, the places of
    that many entries filed at once (shared/services/chat_filing.py), `entry` the last:
    the number returned is the last's, the others the ones just below it."""
    chats = Chats(store)
    key = chat_key(entry.device_id, entry.chat)
    push_name = (push_name or "").strip()[:100] or None
    now = clock.now()
    written = WRITTEN.get(store, key)  # the chat as this process wrote it: no read
    doc = None if written is not None else chats.doc(key)
    if written is None and doc is None:
        if entry.chat.endswith("@g.us"):  # a group's chat is named by its subject
            group = next(iter(Groups(store).by_wa_id(entry.device_id, entry.chat, limit=1)), {})
            name = group.get("subject") or None
        else:
            name = (Contacts(store).doc(key) or {}).get("name") or push_name
        chat = Chat(key=key, account_id=entry.account_id, device_id=entry.device_id,
                    chat=entry.chat, lid=entry.lid if entry.chat == entry.phone else None,
                    kind=ChatKind.group if entry.chat.endswith("@g.us") else ChatKind.user,
                    name=name, terms=search_terms(entry.chat, name),
                    thread=new_id("thr"), seq=count, unread=count if inbound else 0,
                    has_unread=inbound,
                    last_message=_preview(entry), last_message_at=entry.at,
                    sort_key=sort_key(entry.at, key), created_at=now, updated_at=now)
        return chat, count, Write.create(chats.name, key, chats.dump(chat))
    chat = written[0] if written is not None else Chat.model_validate(doc)
    unread = chat.unread + count if inbound else 0
    changes: dict = {"seq": chat.seq + count, "unread": unread, "has_unread": unread > 0,
                     "updated_at": now}
    if entry.lid and chat.lid is None and entry.chat == entry.phone:  # a 1:1 chat learns it
        changes["lid"] = entry.lid
    if push_name and chat.name is None and inbound and chat.kind == ChatKind.user:
        changes |= {"name": push_name, "terms": search_terms(chat.chat, push_name)}
    if entry.at >= chat.last_message_at:
        changes |= {"last_message": _preview(entry), "last_message_at": entry.at,
                    "sort_key": sort_key(entry.at, key)}
    # Read, the update is conditional on every field it was computed from (seq and thread
    # number it; unread, lid, name and the last message's time are what it moves on from),
    # so what this process keeps after it (WRITTEN) is the document at the version the
    # commit answers: a change to any of them in between (a mark-read, a rename, a LID
    # join) makes it read again instead of writing over it.
    write = Write.update(chats.name, key, changes, version=written[1]) if written is not None \
        else Write.update(chats.name, key, changes, when={
            "seq": chat.seq, "thread": chat.thread, "unread": chat.unread, "lid": chat.lid,
            "name": chat.name, "last_message_at": chat.last_message_at})
    return chat.model_copy(update=changes), chat.seq + count, write


# --- reading and changing chats -----------------------------------------------------


def get_chat(store: DocumentStore, account_id: str, device_id: str, chat: str) -> Chat:
    found = Chats(store).of(device_id, chat)
    if found is None or found.account_id != account_id:
        raise NotFound(f"chat {chat} not found on device {device_id}")
    return found


def list_chats(store: DocumentStore, device_id: str, *, label: str | None = None,
               kind: ChatKind | None = None, unread: bool | None = None,
               assigned_to: str | None = None, search: str | None = None, limit: int = 50,
               after: str | None = None) -> tuple[list[Chat], str | None]:
    """The device's chats, most recently active first; and the cursor of the next page.
    `search` matches the starts of the name's words and of the number's digits (E.164 or
    national): the query asks for the chats holding the first word's term, and the other
    words (and a label, Firestore taking one array filter a query) are checked here."""
    where: list = [("device_id", "==", device_id)]
    words = query_words(search) if search else []
    if search and not words:
        raise ValidationFailed("search: give a name or a number to look for",
                               details={"field": "search"}, code="invalid_search")
    if words:
        where.append(("terms", "array_contains", words[0]))
    elif label:
        where.append(("labels", "array_contains", label))
    if kind:
        where.append(("kind", "==", kind.value))
    if unread is not None:
        where.append(("has_unread", "==", unread))
    if assigned_to:
        where.append(("assigned_to", "==", assigned_to))
    position = cursor.decode(after, str) if after else None

    def keep(chat: Chat) -> bool:
        return (not (words and label) or label in chat.labels) and all(
            any(term == w for term in chat.terms) for w in words[1:])

    found: list[Chat] = []
    batch = limit + 1 if len(words) < 2 and not (words and label) else max(100, limit + 1)
    while len(found) <= limit:
        page_where = where + ([("sort_key", "<", position)] if position else [])
        docs = Chats(store).docs(page_where, order_by=[("sort_key", "desc")], limit=batch)
        for doc in docs:
            chat = Chat.model_validate(doc)
            if keep(chat):
                found.append(chat)
        if len(docs) < batch:
            break
        position = docs[-1]["sort_key"]
    chats = found[:limit]
    return chats, cursor.encode(chats[-1].sort_key) if len(found) > limit else None


TERM_LENGTH = 15  # a word's prefixes are kept up to this length; a longer query is cut
MIN_DIGITS = 3  # a number matches from its first three digits


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def query_words(search: str) -> list[str]:
    """What a search looks up: a number (the digits of "+34 600-100") or the name's words."""
    text = search.strip()
    if text and all(ch.isdigit() or ch in "+-() ." for ch in text):
        digits = _digits(text)
        return [digits[:TERM_LENGTH]] if len(digits) >= MIN_DIGITS else []
    return [w[:TERM_LENGTH] for w in text.casefold().split()][:5]


def rename_group_chat(store: DocumentStore, clock: Clock, device_id: str, wa_id: str,
                      subject: str) -> None:
    """A group's chat takes the group's subject as its name (when it has a chat)."""
    Chats(store).update(chat_key(device_id, wa_id), {
        "name": subject, "terms": search_terms(wa_id, subject), "updated_at": clock.now()})


def search_terms(chat: str, name: str | None) -> list[str]:
    """The terms a chat is found by: every start of each word of its name (casefolded),
    and every start (from three digits) of its number, in E.164 and national form."""
    terms: set[str] = set()
    for word in (name or "").casefold().split()[:10]:
        terms.update(word[:n] for n in range(1, min(len(word), TERM_LENGTH) + 1))
    if not chat.endswith("@g.us"):
        numbers = {_digits(chat)}
        try:
            import phonenumbers

            numbers.add(str(phonenumbers.parse(chat).national_number))
        except Exception:  # not a number phonenumbers reads: its digits are enough
            pass
        for digits in numbers:
            terms.update(digits[:n] for n in range(MIN_DIGITS, min(len(digits), TERM_LENGTH) + 1))
    return sorted(terms)


def list_entries(store: DocumentStore, account_id: str, device_id: str, chat: str, *,
                 limit: int = 50, after: str | None = None) -> tuple[list[dict], str | None]:
    """A chat's messages, newest first, each outbound one with its current status."""
    found = get_chat(store, account_id, device_id, chat)
    docs = ChatMessages(store).page(found.thread, limit=limit + 1,
                                    before=cursor.decode(after, int) if after else None)
    entries = [ChatEntry.model_validate(d) for d in docs[:limit]]
    statuses = Messages(store).statuses(
        account_id, [e.message_id for e in entries if e.direction == "outbound"])
    page = [e.model_dump() | {"id": e.message_id, "status": statuses.get(e.message_id)}
            for e in entries]
    return page, cursor.encode(entries[-1].seq) if len(docs) > limit else None


UNCHANGED = object()  # update_chat's assigned_to when the request leaves it as it is


def update_chat(store: DocumentStore, bus: EventBus, clock: Clock, account_id: str,
                device_id: str, chat: str, *, labels: list[str] | None = None,
                read: bool | None = None, assigned_to=UNCHANGED) -> Chat:
    """Set labels, read or unread, and the agent the chat is assigned to (None: nobody)."""
    found = get_chat(store, account_id, device_id, chat)
    changes: dict = {"updated_at": clock.now()}
    if labels is not None:
        changes["labels"] = check_labels(store, account_id, labels)
    if assigned_to is not UNCHANGED:
        if assigned_to is not None:
            from shared.services.agents import check_assignee  # only when one is assigned

            check_assignee(store, account_id, device_id, assigned_to)
        changes["assigned_to"] = assigned_to
    if read is not None:
        unread = 0 if read else max(found.unread, 1)
        changes |= {"unread": unread, "has_unread": unread > 0}
    updated = found.model_copy(update=changes)
    event = event_log.new_event(
        bus, clock, EventName.chat_update, account_id, device_id,
        chat_data(updated) | {"changed": sorted(set(changes) - {"updated_at", "has_unread"})})
    # The change and its event are one commit: neither is ever kept without the other.
    if not event_log.commit(bus, store, [Write.update(Chats.name, found.key, changes,
                                                      when={"thread": found.thread})], [event]):
        raise NotFound(f"chat {chat} not found on device {device_id}")
    return updated


def chat_data(chat: Chat) -> dict:
    data = chat.model_dump(mode="json", include={"chat", "lid", "kind", "name", "unread",
                                                 "labels",
                                                 "assigned_to", "last_message",
                                                 "last_message_at", "created_at",
                                                 "updated_at"})
    return {"id": data.pop("chat"), **data}


def rename(store: DocumentStore, account_id: str, device_id: str, phone: str,
           name: str | None) -> None:
    """The contact's new name on its chat, if it has one (what the chat list shows)."""
    key = chat_key(device_id, phone)
    chats = Chats(store)
    doc = chats.doc(key)
    if doc is not None and doc.get("account_id") == account_id and doc.get("name") != name:
        chats.update(key, {"name": name, "terms": search_terms(phone, name)},
                     when={"thread": doc["thread"]})
