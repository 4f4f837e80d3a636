"""The relay: hands logged events to the bus's transport (Pub/Sub) on worker threads,
retrying each until the transport acknowledges it, for as long as the process lives. A
request thread waits for the acknowledgement at most `ack_wait` seconds: a slow Pub/Sub
delays an answer by that much at most and never fails it (the event is in the log).

Each process keeps one document in `event_relays` (its `origin`), written before its first
event is logged and renewed every few seconds while it has events in flight:
`pending_since` is the creation time of the oldest event it has logged but not yet had
acknowledged. When the process dies, the document stops being renewed and the sweep
(shared/services/event_log.py) relays what it logged since then. Between renewals the
process writes nothing per event: durability costs the event's own document only.

After a transport outage the relay also publishes again what it had published in the
`settle` seconds before the outage began, in case the transport lost what it had
acknowledged (an emulator that was killed). The fan-out drops the copies it has seen."""

from __future__ import annotations

import collections
import logging
import os
import queue
import socket
import threading
import time
import uuid
from datetime import timedelta

from shared.clock import Clock
from shared.domain import Event
from shared.ports import DocumentStore, EventBus
from shared.repositories.events import EventRelays

log = logging.getLogger(__name__)

RELAYS = EventRelays.name
RETENTION = timedelta(days=30)  # Firestore TTL on event_relays.expire_at
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 10.0
RECENT_MAX = 20000


def _origin() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Relay:
    def __init__(self, store: DocumentStore, transport: EventBus, clock: Clock, *,
                 origin: str | None = None, ack_wait: float = 1.0, workers: int = 4,
                 beat_every: float = 5.0, rebeat_after: float = 1800.0, settle: float = 60.0,
                 inline: bool | None = None):
        self.store = store
        self.transport = transport
        self.clock = clock
        self.origin = origin or _origin()
        self.ack_wait = ack_wait
        self.beat_every = beat_every
        self.rebeat_after = rebeat_after  # an idle process renews before logging again
        self.settle = settle
        # A transport that delivers in the caller's thread (the unit tests' bus): publish
        # there, so a test sees the fan-out at once; a failure goes to the workers.
        self.inline = getattr(transport, "synchronous", False) if inline is None else inline
        # A transport whose publish never waits on anything (the in-process bus, which
        # queues): also published in the caller's thread, sparing a worker hand-off and a
        # wake-up per event (in a busy process each costs up to the GIL's switch interval);
        # the workers and the relay document's renewals run as for any other transport.
        self.publish_here = self.inline or getattr(transport, "publishes_at_once", False)
        self._workers = workers
        self._queue: queue.Queue[Event] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: dict[str, Event] = {}
        self._acked: dict[str, threading.Event] = {}  # a pending event's waiter (_waiter)
        self._recent: collections.deque[tuple[float, Event]] = collections.deque(maxlen=RECENT_MAX)
        self._acked_ids: set[str] = set()  # the ids in _recent
        self._outage_since: float | None = None
        self._beat_at: float | None = None  # monotonic time of the last renewal
        self._dirty = False
        self._started = False
        self._stopping = threading.Event()

    # --- what the event log calls ------------------------------------------------

    def register(self, events: list[Event]) -> None:
        """Before the commit that logs `events`: from here they count as in flight."""
        with self._lock:
            for event in events:
                self._pending[event.id] = event
            self._dirty = True
            renew = self._beat_at is None or time.monotonic() - self._beat_at > self.rebeat_after
        if renew:
            self._beat()  # the sweep must know this process before it logs anything
        if not self.inline:
            self._start()

    def forget(self, events: list[Event]) -> None:
        with self._lock:
            for event in events:
                self._pending.pop(event.id, None)
                done = self._acked.pop(event.id, None)
                if done is not None:
                    done.set()

    def submit(self, events: list[Event], *, wait: bool = True) -> None:
        """Publish the logged `events`; wait up to `ack_wait` seconds for them."""
        for event in events:
            with self._lock:
                self._pending[event.id] = event
            if self.publish_here and self._try(event):
                continue
            self._start()
            self._queue.put(event)
        if not wait or self.inline:
            return
        deadline = time.monotonic() + self.ack_wait
        for event in events:
            done = self._waiter(event.id)
            if done is not None and not done.wait(max(0.0, deadline - time.monotonic())):
                log.warning("event %s not acknowledged within %.1f s; it stays in the log and "
                            "the relay keeps trying", event.id, self.ack_wait)
                return

    def _waiter(self, event_id: str) -> threading.Event | None:
        """What a caller waits on for `event_id`'s acknowledgement; None when it needs no
        wait (acknowledged or forgotten already). Made only when someone waits: an event
        published in the caller's thread never needs one."""
        with self._lock:
            if event_id not in self._pending:
                return None
            return self._acked.setdefault(event_id, threading.Event())

    def acknowledged(self, event_id: str) -> bool:
        """Whether this process had `event_id` acknowledged in the last `settle` seconds."""
        with self._lock:
            return event_id in self._acked_ids

    def pending(self) -> list[Event]:
        with self._lock:
            return list(self._pending.values())

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is in flight (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self) -> None:
        self._stopping.set()

    # --- publishing ----------------------------------------------------------------

    def _try(self, event: Event) -> bool:
        try:
            self.transport.publish(event)
        except Exception as exc:  # retried by the workers until it goes through
            with self._lock:
                if self._outage_since is None:
                    self._outage_since = time.monotonic()
            log.warning("publishing event %s failed (%s); retrying", event.id,
                        str(exc)[:200] or type(exc).__name__)
            return False
        self._acknowledged(event)
        return True

    def _acknowledged(self, event: Event) -> None:
        now = time.monotonic()
        again: list[Event] = []
        with self._lock:
            self._pending.pop(event.id, None)
            done = self._acked.pop(event.id, None)
            if self._outage_since is not None:
                began, self._outage_since = self._outage_since, None
                again = [e for at, e in self._recent if began - self.settle <= at <= began]
            if len(self._recent) == self._recent.maxlen:
                self._acked_ids.discard(self._recent[0][1].id)
            self._recent.append((now, event))
            self._acked_ids.add(event.id)
            while self._recent and self._recent[0][0] < now - self.settle:
                self._acked_ids.discard(self._recent.popleft()[1].id)
            self._dirty = True
        if done is not None:
            done.set()
        if again:
            log.warning("the transport is back: publishing again %d event(s) it acknowledged "
                        "just before it failed", len(again))
            self._start()
            for e in again:
                self._queue.put(e)

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                event = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            delay = BACKOFF_FIRST
            while not self._try(event):
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, BACKOFF_MAX)

    # --- the relay document ----------------------------------------------------------

    def _beat(self) -> None:
        now = self.clock.now()
        with self._lock:
            pending = [e.created_at for e in self._pending.values()]
            self._dirty = False
        doc = {"beat_at": now, "pending_since": min(pending, default=now),
               "expire_at": now + RETENTION}
        if not self.store.update(RELAYS, self.origin, doc):
            self.store.put(RELAYS, self.origin, doc)
        self._beat_at = time.monotonic()

    def _beats(self) -> None:
        while not self._stopping.wait(self.beat_every):
            with self._lock:
                due = self._dirty or bool(self._pending)
            if due:
                try:
                    self._beat()
                except Exception:  # the store is out of reach: try again at the next beat
                    log.exception("could not renew the relay document %s", self.origin)

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        for n in range(self._workers):
            threading.Thread(target=self._work, daemon=True, name=f"relay-{n}").start()
        threading.Thread(target=self._beats, daemon=True, name="relay-beat").start()
