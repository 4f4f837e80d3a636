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
acknowledged (an emulator that was killed). The fan-out drops the copies it has seen.

Every event of the process passes the relay (the API's requests, the runner's send and
receipt threads), so its hot path (register, submit, an acknowledgement, a waiter) takes
no lock: each step is one operation on a dict or a deque, which CPython's GIL makes atomic
(the platform runs CPython 3.11). A lock every event took made each thread wait for the
holder's next turn at the GIL: in the bench's pipeline (issue #18) the threads waited 7 s
on it to hold it 0.3 s. The lock guards only what spans several steps: an outage and what
is published again after it, and starting the workers; the pruning of what was recently
acknowledged has a lock of its own that nobody waits for."""

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
        self._lock = threading.Lock()  # the outage, the start (module doc)
        self._pruning = threading.Lock()  # taken without waiting: one thread prunes _recent
        self._pending: dict[str, Event] = {}
        self._acked: dict[str, threading.Event] = {}  # a pending event's waiter (_waiter)
        # acknowledged events, oldest first, kept `settle` seconds and RECENT_MAX at most;
        # _acked_at: their ids, each at its (latest) acknowledgement
        self._recent: collections.deque[tuple[float, Event]] = collections.deque()
        self._acked_at: dict[str, float] = {}
        self._outage_since: float | None = None
        self._beat_at: float | None = None  # monotonic time of the last renewal
        self._dirty = False
        self._started = False
        self._stopping = threading.Event()

    # --- what the event log calls ------------------------------------------------

    def register(self, events: list[Event]) -> None:
        """Before the commit that logs `events`: from here they count as in flight."""
        for event in events:
            self._pending[event.id] = event
        self._dirty = True
        if self._beat_at is None or time.monotonic() - self._beat_at > self.rebeat_after:
            self._beat()  # the sweep must know this process before it logs anything
        if not self.inline:
            self._start()

    def forget(self, events: list[Event]) -> None:
        for event in events:
            self._pending.pop(event.id, None)
            done = self._acked.pop(event.id, None)  # after the pop above (see _waiter)
            if done is not None:
                done.set()

    def submit(self, events: list[Event], *, wait: bool = True) -> None:
        """Publish the logged `events`; wait up to `ack_wait` seconds for them."""
        for event in events:
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
        published in the caller's thread never needs one. Without a lock: an acknowledgement
        pops the event from _pending, then its waiter from _acked; the waiter is made, then
        _pending is looked at again, so one made too late for the acknowledgement to see it
        finds the event gone and is not waited on."""
        if event_id not in self._pending:
            return None
        done = self._acked.setdefault(event_id, threading.Event())
        if event_id not in self._pending:
            self._acked.pop(event_id, None)
            return None
        return done

    def acknowledged(self, event_id: str) -> bool:
        """Whether this process had `event_id` acknowledged in the last `settle` seconds."""
        at = self._acked_at.get(event_id)
        return at is not None and at >= time.monotonic() - self.settle

    def pending(self) -> list[Event]:
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
        self._acked_at[event.id] = now  # first: once it is not pending, acknowledged() holds
        self._pending.pop(event.id, None)
        done = self._acked.pop(event.id, None)  # after the pop above (see _waiter)
        if self._outage_since is not None:
            with self._lock:
                if self._outage_since is not None:
                    began = self._outage_since
                    again = [e for at, e in list(self._recent)
                             if began - self.settle <= at <= began]
                    # only now: an acknowledgement that sees no outage prunes without the
                    # lock, and would drop what `again` is taken from
                    self._outage_since = None
        self._prune(now)
        self._recent.append((now, event))
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

    def _prune(self, now: float) -> None:
        """Drop what was acknowledged more than `settle` seconds ago, and the oldest past
        RECENT_MAX. One thread at a time, and none waits for it: the others append (at the
        other end of the deque) and the next acknowledgement prunes."""
        if not self._pruning.acquire(blocking=False):
            return
        try:
            recent, acked_at = self._recent, self._acked_at
            while recent and (recent[0][0] < now - self.settle or len(recent) >= RECENT_MAX):
                at, old = recent.popleft()
                if acked_at.get(old.id, at) <= at:  # not acknowledged again since
                    acked_at.pop(old.id, None)
        finally:
            self._pruning.release()

    # --- the relay document ----------------------------------------------------------

    def _beat(self) -> None:
        now = self.clock.now()
        self._dirty = False  # first: an event registered from here makes it dirty again
        pending = [e.created_at for e in list(self._pending.values())]
        doc = {"beat_at": now, "pending_since": min(pending, default=now),
               "expire_at": now + RETENTION}
        if not self.store.update(RELAYS, self.origin, doc):
            self.store.put(RELAYS, self.origin, doc)
        self._beat_at = time.monotonic()

    def _beats(self) -> None:
        while not self._stopping.wait(self.beat_every):
            if self._dirty or self._pending:
                try:
                    self._beat()
                except Exception:  # the store is out of reach: try again at the next beat
                    log.exception("could not renew the relay document %s", self.origin)

    def _start(self) -> None:
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
        for n in range(self._workers):
            threading.Thread(target=self._work, daemon=True, name=f"relay-{n}").start()
        threading.Thread(target=self._beats, daemon=True, name="relay-beat").start()
