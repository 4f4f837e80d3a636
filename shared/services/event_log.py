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
- The four events of a message's usual path (`message:out:new`, `sent`, `delivered`,
  `read`: HOMES) committed with a write of their message are not documents of their own:
  they are fields of that message's document, written by the same write (`place`), so
  they cost no write beyond the transition's. Their log order is the same (`<field>_at`
  is the commit's time), and the readers merge the log's collection with one stream per
  such event (shared/services/event_feed.py). docs/events.md, "Where an event lives".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pydantic_core

from shared.clock import Clock
from shared.domain import Event
from shared.events import EventName
from shared.ids import new_id
from shared.ports import COMMIT_TIME, Committed, DocumentStore, EventBus, Guard, Write
from shared.repositories.events import EventLogEntries, EventRelays
from shared.repositories.messages import Messages
from shared.services.sequence import PROCESS_SEQUENCER, Sequencer

log = logging.getLogger(__name__)

EVENTS = EventLogEntries.name
RELAYS = EventRelays.name  # one document per publishing process: how far it has relayed
RETENTION = timedelta(days=30)  # Firestore TTL on events.expire_at
SWEEP_PAGE = 500
MESSAGES = Messages.name
# A message document's newest homed event (the commit's time): what Watches listens to.
LOGGED_AT = "event_logged_at"


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


# --- events that live in their message's document -----------------------------------


@dataclass(frozen=True)
class Home:
    """Where the events of one name live when committed with their message's document:
    the map `field` (the body: event, created_at, device, sequence, and data as JSON
    text, so that Firestore indexes none of it and a store copies one string), and the
    flat fields the readers filter and order on: `<field>_at` (the commit's time: the
    log's order), `<field>_id` and `<field>_origin` (the process that logged it: the
    sweep). A message reaches each of these statuses once (the event id derives from the
    message and the status), so one field per name holds every such event."""

    event: str
    field: str

    @property
    def at(self) -> str:
        return self.field + "_at"

    @property
    def id(self) -> str:
        return self.field + "_id"

    @property
    def origin(self) -> str:
        return self.field + "_origin"

    def fields(self, event: Event, origin: str) -> dict:
        body = {"event": event.event, "created_at": event.created_at, "device": event.device,
                "sequence": event.sequence,
                "data": _json_text(event.data)}
        return {self.field: body, self.at: COMMIT_TIME, self.id: event.id,
                self.origin: origin, LOGGED_AT: COMMIT_TIME}

    def holds(self, doc: dict | None, event_id: str) -> bool:
        return doc is not None and doc.get(self.id) == event_id

    def log_doc(self, doc: dict) -> dict:
        """The event as its log document would be (from_doc takes it)."""
        body = doc[self.field]
        return {"id": doc[self.id], "account_id": doc["account_id"], "event": body["event"],
                "device": body.get("device"), "sequence": body.get("sequence"),
                "created_at": body["created_at"], "data": json.loads(body["data"]),
                "origin": doc.get(self.origin), "logged_at": doc[self.at]}


def _json_text(data: dict) -> str:
    """Compact UTF-8 JSON, as json.dumps(separators=(",", ":"), ensure_ascii=False) writes
    it, in a fifth of its time (pydantic's encoder); json.dumps for what that refuses (a
    lone surrogate, which the API's validation already refuses at the door)."""
    try:
        return pydantic_core.to_json(data).decode()
    except pydantic_core.PydanticSerializationError:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


HOMES: dict[str, Home] = {
    str(name): Home(str(name), f"event_{status}") for name, status in (
        (EventName.message_out_new, "new"), (EventName.message_out_sent, "sent"),
        (EventName.message_out_delivered, "delivered"), (EventName.message_out_read, "read"))}


@dataclass(frozen=True)
class Stream:
    """One stream of the log: a collection whose documents hold events, in log order by
    (`at`, `key`), logged by the process named in `origin`; `home` for the messages
    holding one event name each (None: the log's own collection, whose documents are the
    events as they are)."""

    collection: str
    at: str
    key: str
    device: str
    origin: str
    home: Home | None = None

    def shaped(self, doc: dict) -> dict:
        """The document as a log document (from_doc takes it)."""
        return self.home.log_doc(doc) if self.home is not None else doc


# The log: its collection, then each home (the readers merge them, the sweep reads each).
STREAMS: tuple[Stream, ...] = (
    Stream(EVENTS, "logged_at", "id", "device", "origin"),
    *(Stream(MESSAGES, h.at, h.id, "device_id", h.origin, h) for h in HOMES.values()))


def horizon() -> datetime:
    """The oldest `logged_at` the log still shows: a message outlives its events' 30 days
    (the log's TTL deletes their documents; the readers stop showing homed ones)."""
    return datetime.now(UTC) - RETENTION


def _message_of(event: Event) -> str | None:
    message = event.data.get("id") if event.event in HOMES else None
    return message if isinstance(message, str) else None


def place(writes: Sequence[Write], events: Sequence[Event], origin: str) -> list[Write]:
    """The commit's writes with its events in it: an event of HOMES goes into the write of
    its message's document when the commit has one (a create, put or update); any other
    event is a `create` of its own log document (which also refuses a second event with
    its id: the homed ones rely on their transition's condition for that)."""
    placed = list(writes)
    at = {(w.collection, w.doc_id): i for i, w in enumerate(placed) if w.op != "delete"}
    for event in events:
        i = at.get((MESSAGES, _message_of(event)))
        if i is None:
            placed.append(Write.create(EVENTS, event.id, to_doc(event, origin)))
        else:
            home = HOMES[event.event]
            placed[i] = dataclasses.replace(placed[i], data=placed[i].data | home.fields(event, origin))
    return placed


def find(store: DocumentStore, event_id: str) -> dict | None:
    """An event's log document (as from its collection) by id, wherever it lives: one
    read in the log; a homed event costs a query per home besides."""
    doc = store.get(EVENTS, event_id)
    if doc is not None:
        return doc
    for home in HOMES.values():
        found = store.query(MESSAGES, [(home.id, "==", event_id)], limit=1)
        if found:
            return home.log_doc(found[0])
    return None


def logged_doc(store: DocumentStore, event: Event) -> dict | None:
    """The log document of an event this process made, if it was logged: a homed one is
    looked for in its message's document first."""
    message = _message_of(event)
    if message is not None:
        home = HOMES[event.event]
        doc = store.get(MESSAGES, message)
        if home.holds(doc, event.id):
            return home.log_doc(doc)
    return store.get(EVENTS, event.id)


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
            done = self.store.commit(place(writes, events, self.relay.origin), guard=guard)
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
            doc = logged_doc(self.store, event) if not self.relay.acknowledged(event.id) else None
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
        before = published
        since = relay.get("pending_since") or relay.get("beat_at")
        start = since - timedelta(seconds=skew)
        if relay.get("swept_to") is not None and relay["swept_to"] > start:
            start = relay["swept_to"]
        last = None
        for stream in STREAMS:  # the log's collection, then each home (docs/events.md)
            after = start
            while True:
                docs = store.query(stream.collection, [(stream.origin, "==", relay["id"]),
                                                       (stream.at, ">", after)],
                                   order_by=[(stream.at, "asc")], limit=SWEEP_PAGE)
                for doc in docs:
                    transport.publish(from_doc(stream.shaped(doc)))
                    published += 1
                if docs:
                    after = docs[-1][stream.at]
                    last = after if last is None or after > last else last
                if len(docs) < SWEEP_PAGE:
                    break
        if last is not None:
            store.update(RELAYS, relay["id"], {"swept_to": last})
            # Nothing was in flight at its last renewal and it logged nothing since: a
            # process that went quiet (an idle Cloud Run instance has no CPU to renew),
            # whose last minute goes again for the clocks' sake. Else it may have died
            # with events unrelayed.
            quiet = since == relay.get("beat_at") and last <= relay["beat_at"]
            log.log(logging.INFO if quiet else logging.WARNING,
                    "sweep: relayed again %d event(s) of process %s%s", published - before,
                    relay["id"], " (quiet since its last renewal: the fan-out drops copies)"
                    if quiet else "")
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
