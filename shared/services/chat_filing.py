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
truth). The runner files what waits when it stops, and before it edits or deletes a
message for everyone (`flush_device`), so a change never misses its entry. If the
runner dies with entries waiting (or between a message's `sent` and its filing), the
next runner to take the device files them when it does (`file_unfiled`, called as the
session starts, before it sends): the device's messages sent since `recovery_since`
whose entry is missing, through the same `chats.file_outbound_many`, so numbering, the cap and the
first message's contact hold, and an entry filed meanwhile (a stale runner's flush)
stays one entry (its id is the message's). The bound: a holder sends and files only
while its lease lives, and it was renewed at (lease_until - lease) at the latest, so
what waited when it died was sent after (lease_until - lease - REFILL - SLACK), on the
holder's own clock, which also wrote lease_until; the taker reads lease_until as it
claims the device (device_runner/leases.py `held_until`), and counts from now where
there is none (a device nobody held, a runner without leases). Cost: at takeover (or
start) only, per device one query of its messages sent since then (a read per message:
about lease + REFILL + SLACK seconds of its sending: some 620 at 1000 a minute with the
30 s lease) and one batched get of their entries (as many reads); nothing in steady
state. Settings.coalesce_chats turns the coalescing off (every message filed at once):
the unit tests' default."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from datetime import datetime, timedelta

from shared.clock import Clock
from shared.domain import Message
from shared.inbox import MAX_CHAT_MESSAGES, ChatEntry
from shared.ports import DocumentStore
from shared.repositories.chats import ChatMessages, chat_key, entry_doc_id
from shared.repositories.messages import SENT
from shared.services import chats

log = logging.getLogger(__name__)

BURST = 4  # chat writes a chat may take at once
REFILL = 2.0  # seconds per chat write after them, while the device keeps sending
SLACK = 5.0  # seconds: a filing in flight when the runner died (a slow store)


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
            chats.file_outbound_many(self.store, self.clock, waiting, cap=self.cap)
        except Exception:  # the store is out of reach: these entries are not filed
            log.exception("chat %s: could not file %d sent message(s)", key, len(waiting))
        finally:
            self._done(key)


def recovery_since(now: datetime, lease_seconds: float, held_until: datetime | None) -> datetime:
    """Since when a device's sent messages may lack their entry as a runner takes it: its
    last holder's lease end (else now) less a lease, a REFILL and SLACK (module doc)."""
    until = min(now, held_until) if held_until is not None else now
    return until - timedelta(seconds=lease_seconds + REFILL + SLACK)


def file_unfiled(store: DocumentStore, clock: Clock, messages: list[Message], *,
                 cap: int = MAX_CHAT_MESSAGES) -> int:
    """File the entries these sent messages (a device's, oldest first) miss in their chat's
    history, as the flusher would have: per chat, in order, with `chats.file_outbound_many`. Returns how
    many were missing."""
    sent = [m for m in messages if m.status in SENT and m.sent_at is not None
            and not m.status_post and m.direction == "outbound"]
    if not sent:
        return 0
    ids = {m.id: entry_doc_id(m.device_id, m.wa_id or m.id) for m in sent}
    filed = store.get_many(ChatMessages.name, list(ids.values()))
    missing: dict[str, list[ChatEntry]] = {}
    for m in sorted((m for m in sent if ids[m.id] not in filed),
                    key=lambda m: (m.sent_at, m.created_at)):
        entry = chats.outbound_entry(clock, m).model_copy(update={"at": m.sent_at})
        missing.setdefault(chat_key(m.device_id, entry.chat), []).append(entry)
    for key, entries in missing.items():
        log.warning("chat %s: filing %d sent message(s) its history missed (a runner died "
                    "before filing them)", key, len(entries))
        chats.file_outbound_many(store, clock, entries, cap=cap)
    return sum(len(entries) for entries in missing.values())
