"""The event log: every event is a document of `events`, written in the same atomic commit
as the state change it reports, then relayed to the bus (Pub/Sub) by the process that
made it, and by the sweep when that process died first. docs/events.md has the design.

- An event id derives from what changed (`key`, e.g. a message id and its new status, or
  a device and a WhatsApp message id) where there is such a thing, so a change applied
  twice (a retried commit, a redelivered inbound message) can never yield two ids; the
  log's `create` refuses the second.
- `logged_at` is the commit's time (COMMIT_TIME): the log's order. A document committed
  after another never sorts before it, which is what lets a reader resume after the
  last event it saw (shared/services/event_feed.py) and the sweep scan by it.
- Kept 30 days (`expire_at`, a Firestore TTL policy in shared/indexes.py).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.clock import Clock
from shared.domain import Event
from shared.ids import new_id
from shared.ports import COMMIT_TIME, Committed, DocumentStore, EventBus, Guard, Write
from shared.repositories.events import EventLogEntries, EventRelays
from shared.services.sequence import PROCESS_SEQUENCER, Sequencer

log = logging.getLogger(__name__)

EVENTS = EventLogEntries.name
RELAYS = EventRelays.name  # one document per publishing process: how far it has relayed
RETENTION = timedelta(days=30)  # Firestore TTL on events.expire_at
SWEEP_PAGE = 500


def event_id(key: str) -> str:
    """The id of the event of the change named `key`: the same change, the same id."""
    return "evt_" + hashlib.sha256(key.encode()).hexdigest()[:20]


def to_doc(event: Event, origin: str) -> dict:
    return {"id": event.id, "account_id": event.account, "event": event.event, "device": event.device,
            "sequence": event.sequence, "created_at": event.created_at, "data": event.data,
            "origin": origin, "logged_at": COMMIT_TIME,
            "expire_at": event.created_at + RETENTION}


def from_doc(doc: dict) -> Event:
    return Event(id=doc["id"], event=doc["event"], created_at=doc["created_at"],
                 account=doc["account_id"], device=doc.get("device"),
                 sequence=doc.get("sequence"), data=doc.get("data") or {})


class Waker:
    """Wakes the long polls of an account in this process: when this process logs one of
    its events, or when a store listener (event_feed.Watches) sees one logged elsewhere.
    Only accounts with a waiting poll are tracked, so it stays as small as the waits."""

    def __init__(self):
        self._cond = threading.Condition()
        self._generation = 0  # bumped by notify() of every account
        self._accounts: dict[str, list[int]] = {}  # waiting account => [waiters, generation]

    def notify(self, accounts=None) -> None:
        """Wake the polls of `accounts` (an iterable of ids); None: of every account."""
        if accounts is not None and not self._accounts:
            # No poll waits in this process (the usual case of a runner): nothing to wake,
            # and no lock taken per commit. A poll that registers after this reads the log
            # after registering (event_feed.follow), so it finds what was just committed.
            return
        with self._cond:
            if accounts is None:
                self._generation += 1
            else:
                for account in accounts:
                    if account in self._accounts:
                        self._accounts[account][1] += 1
            self._cond.notify_all()

    def waiting(self, account: str) -> _Waiting:
        return _Waiting(self, account)

    def _token(self, account: str) -> tuple[int, int]:
        entry = self._accounts.get(account)
        return self._generation, entry[1] if entry else 0

    @property
    def generation(self) -> int:
        return self._generation


class _Waiting:
    """One long poll of an account, registered while it runs (a context manager): take a
    token before reading the log, then `wait` returns once a notify came after it."""

    def __init__(self, waker: Waker, account: str):
        self.waker, self.account = waker, account

    def __enter__(self) -> _Waiting:
        with self.waker._cond:
            self.waker._accounts.setdefault(self.account, [0, 0])[0] += 1
        return self

    def __exit__(self, *exc) -> None:
        with self.waker._cond:
            entry = self.waker._accounts[self.account]
            entry[0] -= 1
            if entry[0] == 0:
                del self.waker._accounts[self.account]

    def token(self) -> tuple[int, int]:
        with self.waker._cond:
            return self.waker._token(self.account)

    def wait(self, timeout: float, seen: tuple[int, int]) -> None:
        deadline = time.monotonic() + timeout
        with self.waker._cond:
            while self.waker._token(self.account) == seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.waker._cond.wait(left)


WAKER = Waker()


class EventLog(EventBus):
    """The bus the services use. `commit` writes a change and its events atomically and
    relays them; `publish` (the plain EventBus call) logs one event in a commit of its
    own, for changes that have no document write to join."""

    def __init__(self, store: DocumentStore, relay, clock: Clock,
                 sequencer: Sequencer | None = None):
        self.store = store
        self.relay = relay  # shared.services.event_relay.Relay
        self.clock = clock
        self.sequencer = sequencer or PROCESS_SEQUENCER

    @property
    def transport(self) -> EventBus:
        return self.relay.transport

    def event(self, name: str, account: str, device: str | None, data: dict, *,
              key: str | None = None, at: datetime | None = None) -> Event:
        """A new event (not yet logged): its id from `key` when the change has one; its
        sequence from this process's clock (shared/services/sequence.py)."""
        return Event(id=event_id(key) if key else new_id("evt"), event=str(name),
                     created_at=at or self.clock.now(), account=account, device=device,
                     sequence=self.sequencer.next(), data=data)

    def commit(self, writes: Sequence[Write], events: Sequence[Event], *,
               guard: Guard | None = None) -> Committed | bool:
        """The writes and the events' log documents in one atomic commit; then the events
        are relayed. False (nothing written, nothing relayed) when a condition failed;
        else the store's answer (the documents' new versions: DocumentStore.commit)."""
        events = list(events)
        self.relay.register(events)  # covered by this process's relay document from now
        try:
            done = self.store.commit([*writes, *(Write.create(EVENTS, e.id, to_doc(e, self.relay.origin))
                                                 for e in events)], guard=guard)
        except BaseException:
            self._settle(events)
            raise
        if not done:
            self._settle(events)
            return False
        WAKER.notify({e.account for e in events})
        self.relay.submit(events)
        return done

    def _settle(self, events: list[Event]) -> None:
        """After a commit that failed or raised: an event this process logged after all (a
        commit applied whose answer was lost, then refused on its retry) is relayed; the
        others (the change was made before, by whoever relayed its event) are forgotten."""
        logged = []
        for event in events:
            doc = self.store.get(EVENTS, event.id) if not self.relay.acknowledged(event.id) else None
            if doc is not None and doc.get("origin") == self.relay.origin:
                logged.append(event)  # ours, never relayed: the commit did apply
        self.relay.forget([e for e in events if e not in logged])
        if logged:
            self.relay.submit(logged, wait=False)

    def publish(self, event: Event) -> None:
        if event.sequence is None and event.device is not None:
            event.sequence = self.sequencer.next()
        self.commit([], [event])

    def __getattr__(self, name):  # the transport's extras (subscribe, published…)
        if name in ("relay", "store"):
            raise AttributeError(name)
        return getattr(self.relay.transport, name)


# --- what services call, whatever bus they were given ---------------------------------


def new_event(bus: EventBus, clock: Clock, name: str, account: str, device: str | None,
              data: dict, *, key: str | None = None) -> Event:
    if isinstance(bus, EventLog):
        return bus.event(name, account, device, data, key=key)
    return Event(id=event_id(key) if key else new_id("evt"), event=str(name),
                 created_at=clock.now(), account=account, device=device,
                 sequence=PROCESS_SEQUENCER.next() if device else None, data=data)


def commit(bus: EventBus, store: DocumentStore, writes: Sequence[Write], events: Sequence[Event],
           *, guard: Guard | None = None) -> Committed | bool:
    """The change and its events as one durable fact (with the production bus, the log);
    a bare transport (a test's) gets the writes, then the events published. The answer
    is the store's (DocumentStore.commit: False, or the new versions)."""
    if isinstance(bus, EventLog):
        return bus.commit(writes, events, guard=guard)
    done = store.commit(writes, guard=guard)
    if not done:
        return False
    for event in events:
        bus.publish(event)
    return done


# --- the sweep: events of processes that died before relaying them -------------------


def sweep(store: DocumentStore, transport: EventBus, clock: Clock, *, stale: float,
          retire: float = 7200.0, skew: float = 60.0) -> int:
    """Relay again the events of every process whose relay document has not been renewed
    for `stale` seconds: those it logged since the oldest event it had not relayed at its
    last renewal, or since the sweep's last pass over it. Returns how many it published.
    A process that is only slow, not dead, relays them too: the fan-out drops the second
    copy (deliveries are keyed by event and webhook)."""
    now = clock.now()
    published = 0
    for relay in store.query(RELAYS, [("beat_at", "<", now - timedelta(seconds=stale))]):
        since = relay.get("pending_since") or relay.get("beat_at")
        start = since - timedelta(seconds=skew)
        if relay.get("swept_to") is not None and relay["swept_to"] > start:
            start = relay["swept_to"]
        last = None
        while True:
            docs = store.query(EVENTS, [("origin", "==", relay["id"]), ("logged_at", ">", start)],
                               order_by=[("logged_at", "asc")], limit=SWEEP_PAGE)
            for doc in docs:
                transport.publish(from_doc(doc))
                published += 1
            if docs:
                last = start = docs[-1]["logged_at"]
            if len(docs) < SWEEP_PAGE:
                break
        if last is not None:
            store.update(RELAYS, relay["id"], {"swept_to": last})
            log.warning("sweep: relayed again %d event(s) of process %s", published, relay["id"])
        elif (now - relay["beat_at"]).total_seconds() > retire:
            store.delete(RELAYS, relay["id"])  # long gone, and nothing left to relay
    return published


def sweep_forever(store: DocumentStore, transport: EventBus, clock: Clock, *, stale: float,
                  stop: threading.Event) -> None:
    """The sweep every stale/2 seconds until `stop` (the runner runs one; production also
    has the scheduled `events_sweep` function)."""
    while not stop.wait(max(1.0, stale / 2)):
        try:
            sweep(store, transport, clock, stale=stale)
        except Exception:  # the store or the bus is out of reach: the next pass retries
            log.exception("event sweep failed")
