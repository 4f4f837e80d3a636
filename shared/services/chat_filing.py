"""Outbound messages filed in their chat's history with at most one write of the chat's
document every REFILL seconds while a device keeps sending to it (issue #18: one device
sending 1000 messages a minute to one recipient wrote the chat's document 17 times a
second; Firestore sustains about one write a second per document).

Each chat has a bucket of BURST chat writes, refilled one every REFILL seconds. A sent
message is filed at once (shared.services.chats.record_outbound, as before) while its
chat has one; else it waits, and all that waited are filed together when the next one
comes: their entries and ONE update of the chat (numbers, last message) in one commit.
So the chat's invariants hold as for one message: consecutive numbers taken with a
compare-and-set on the chat, the oldest entries dropped past the cap, the first message
of a chat making its contact.

What it allows: while a device sends to a chat faster than one message per REFILL
seconds, a sent message may show in that chat's history up to REFILL seconds after it
is sent (its status, events and webhooks are not delayed: the message document is the
truth). If the runner dies in that window, the waiting entries are not filed: the
chat's history misses them, as it missed a message whose runner died between `sent`
and filing before. The runner files what waits when it stops, and before it edits or
deletes a message for everyone (`flush_device`), so a change never misses its entry.
Settings.coalesce_chats turns this off (every message filed at once): the unit tests'
default."""

from __future__ import annotations

import heapq
import logging
import threading
import time

from shared.clock import Clock
from shared.domain import Message
from shared.inbox import MAX_CHAT_MESSAGES, ChatEntry, ChatKind, Contact
from shared.ports import DocumentStore, Write
from shared.repositories.chats import ChatMessages, chat_key, entry_doc_id
from shared.repositories.contacts import Contacts
from shared.services import chats

log = logging.getLogger(__name__)

BURST = 4  # chat writes a chat may take at once
REFILL = 2.0  # seconds per chat write after them, while the device keeps sending


class OutboundFiling:
    def __init__(self, store: DocumentStore, clock: Clock, *, enabled: bool = True,
                 burst: int = BURST, refill: float = REFILL, cap: int = MAX_CHAT_MESSAGES,
                 timer=time.monotonic):
        self.store, self.clock, self.enabled = store, clock, enabled
        self.burst, self.refill, self.cap, self.timer = burst, refill, cap, timer
        self._tokens: dict[str, tuple[float, float]] = {}  # chat => (writes left, as of)
        self._waiting: dict[str, list[ChatEntry]] = {}
        self._busy: set[str] = set()  # chats being filed now
        self._due: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def file(self, message: Message) -> None:
        """File a message just sent: now, or with the next ones of its chat."""
        if not self.enabled:
            chats.record_outbound(self.store, self.clock, message, cap=self.cap)
            return
        entry = chats.outbound_entry(self.clock, message)
        key = chat_key(entry.device_id, entry.chat)
        with self._cond:
            now = self.timer()
            if key not in self._waiting and key not in self._busy and self._take(key, now):
                self._busy.add(key)
            else:
                self._wait(key, entry, now)
                return
        try:
            chats.file_outbound(self.store, self.clock, entry, cap=self.cap)
        finally:
            self._done(key)

    def flush_device(self, device_id: str) -> None:
        """File at once what waits of the device's chats."""
        with self._cond:
            keys = [k for k, waiting in self._waiting.items() if waiting[0].device_id == device_id]
        for key in keys:
            self._flush(key)

    def flush_all(self) -> None:
        with self._cond:
            keys = list(self._waiting)
        for key in keys:
            self._flush(key)

    # --- the bucket and the waiting entries (under the lock) ---------------------------

    def _left(self, key: str, now: float) -> float:
        left, at = self._tokens.get(key, (float(self.burst), now))
        return min(float(self.burst), left + (now - at) / self.refill)

    def _take(self, key: str, now: float) -> bool:
        left = self._left(key, now)
        if left < 1:
            return False
        self._tokens[key] = (left - 1, now)
        if len(self._tokens) > 10_000:  # forget the fullest buckets: they refill anyway
            for k in [k for k in self._tokens if self._left(k, now) >= self.burst][:5_000]:
                del self._tokens[k]
        return True

    def _wait(self, key: str, entry: ChatEntry, now: float) -> None:
        waiting = self._waiting.setdefault(key, [])
        waiting.append(entry)
        if len(waiting) == 1:
            heapq.heappush(self._due, (now + (1 - self._left(key, now)) * self.refill, key))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="chat-filing")
                self._thread.start()
            self._cond.notify()

    def _done(self, key: str) -> None:
        with self._cond:
            self._busy.discard(key)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due or self._due[0][0] > self.timer():
                    self._cond.wait(None if not self._due else self._due[0][0] - self.timer())
                _, key = heapq.heappop(self._due)
            self._flush(key)

    def _flush(self, key: str) -> None:
        with self._cond:
            while key in self._busy:  # one filing of a chat at a time: in order
                self._cond.wait()
            waiting = self._waiting.pop(key, None)
            if not waiting:
                return
            now = self.timer()
            left = self._left(key, now)
            self._tokens[key] = (max(0.0, left - 1), now)
            self._busy.add(key)
        try:
            file_many(self.store, self.clock, waiting, cap=self.cap)
        except Exception:  # the store is out of reach: these entries are not filed
            log.exception("chat %s: could not file %d sent message(s)", key, len(waiting))
        finally:
            self._done(key)


def file_many(store: DocumentStore, clock: Clock, entries: list[ChatEntry], *,
              cap: int = MAX_CHAT_MESSAGES) -> None:
    """Outbound entries of one chat, in order, numbered and filed in one commit with one
    update of the chat. One filed before (a message sent again) files them one by one."""
    if len(entries) == 1:
        chats.file_outbound(store, clock, entries[0], cap=cap)
        return
    history = ChatMessages(store)
    for _ in range(chats._CAS_ATTEMPTS):
        chat, last, chat_write = chats._next_place(store, clock, entries[-1], False,
                                                   count=len(entries))
        first = last - len(entries) + 1
        writes = [Write.create(history.name, entry_doc_id(e.device_id, e.wa_id),
                               e.model_copy(update={"thread": chat.thread, "seq": first + i}).to_doc())
                  for i, e in enumerate(entries)]
        if store.commit([*writes, chat_write]):
            break
        if any(history.doc(entry_doc_id(e.device_id, e.wa_id)) is not None for e in entries):
            for entry in entries:
                chats.file_outbound(store, clock, entry, cap=cap)
            return
    else:
        raise RuntimeError(f"chat {chat.key}: too many concurrent writers")
    for seq in range(max(first, cap + 1), last + 1):
        for old in history.numbered(chat.thread, seq - cap):
            history.delete(old["id"])
    if first == 1 and chat.kind == ChatKind.user:
        now = clock.now()
        Contacts(store).create(Contact(account_id=chat.account_id, device_id=chat.device_id,
                                       phone=chat.chat, created_at=now, updated_at=now))
