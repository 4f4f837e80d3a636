"""Reading the event log (GET /v1/events): a page newest first, one event, and the
events after a position in log order, waiting for the first (a long poll).

The log's order is `logged_at` (the time of the commit that logged the event), then `id`.
A commit never gets an earlier time than one before it that a reader could have seen, so
a reader that asks for the events after the last one it got never misses one committed
meanwhile, and sees each once: a cursor is that (logged_at, id) position.

The log is several streams, each in that order, merged here: the collection `events`,
and for each event name kept in its message's document (event_log.HOMES) the messages
ordered by that event's fields. A page reads each stream a chunk at a time, so it reads
about what it returns plus a chunk per stream."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from shared import cursor as cursors
from shared.clock import Clock
from shared.domain import Event
from shared.errors import NotFound, ValidationFailed
from shared.events import CATALOG, DEVICELESS, known_pattern
from shared.ports import DocumentStore
from shared.services.event_log import (
    EVENTS,
    LOGGED_AT,
    MESSAGES,
    STREAMS,
    WAKER,
    Stream,
    Waker,
    find,
    from_doc,
    horizon,
)

MAX_WAIT = 25.0
POLL_EVERY = 0.5  # seconds between reads of the log while a long poll waits, unwatched
# The same while a store listener watches the account: a safety net only (the listener
# wakes the poll as an event is logged), and each read is a query of every stream (the
# log and each home: 5 reads even when nothing moved), so seldom: 30 reads a minute.
WATCHED_POLL_EVERY = 10.0
WATCH_LINGER = 30.0  # seconds a listener outlives its last long poll (the next one is near)
MAX_IN = 30  # values Firestore allows in one `in` filter
_SCAN_ROUNDS = 10  # pages read at most to fill one page when filtering in memory
_FIRST_CHUNK = 16  # documents a stream reads first; each next read doubles, up to a page

log = logging.getLogger(__name__)

Position = tuple[datetime, str]  # (logged_at, id)




# --- filters -------------------------------------------------------------------------


def event_names(types: Iterable[str] | None) -> list[str] | None:
    """The event names that `types` (names and patterns, as webhooks accept) cover; None:
    every name. Unknown ones are a 422."""
    if not types:
        return None
    types = list(types)
    unknown = [t for t in types if not known_pattern(t)]
    if unknown:
        raise ValidationFailed(f"type: unknown event names {unknown}; GET /v1/webhooks/events "
                               "lists them", details={"field": "type", "unknown": unknown},
                               code="unknown_event")
    if "*" in types:
        return None
    names = [n.value for n in CATALOG if n not in DEVICELESS and any(
        t == n.value or (t.endswith(":*") and n.value.startswith(t[:-1])) for t in types)]
    return names


@dataclass
class _Query:
    stream: Stream
    where: list
    keep: Callable[[dict], bool]  # what is left to check in memory, on the shaped document


def _filters(account_id: str, names: list[str] | None, device: str | None,
             devices: frozenset[str] | None) -> list[_Query]:
    """Each stream's query (the streams holding none of `names` left out), and what is
    left to check in memory (Firestore takes one `in` filter of at most MAX_IN values
    here)."""
    if device is not None and devices is not None and device not in devices:
        raise NotFound(f"device {device} not found")
    queries = []
    for stream in STREAMS:
        if stream.home is not None and names is not None and stream.home.event not in names:
            continue
        where: list = [("account_id", "==", account_id)]
        checks: list[Callable[[dict], bool]] = []
        if device is not None:
            where.append((stream.device, "==", device))
        elif devices is not None:
            granted = sorted(devices)
            if len(granted) <= MAX_IN:
                where.append((stream.device, "in", granted))
            else:
                checks.append(lambda doc: doc.get("device") in devices)
        if stream.home is not None:
            where.append((stream.at, ">=", horizon()))  # the log's 30 days
        elif names is not None:
            if not names:  # only events that are never logged (webhook:test): none
                where.append(("event", "==", ""))
            elif len(names) == 1:
                where.append(("event", "==", names[0]))
            elif not any(op == "in" for _, op, _ in where) and len(names) <= MAX_IN:
                where.append(("event", "in", names))
            else:
                wanted = set(names)
                checks.append(lambda doc, wanted=wanted: doc.get("event") in wanted)
        queries.append(_Query(stream, where, lambda doc, checks=checks: all(c(doc) for c in checks)))
    return queries


def _ranged(queries: list[_Query], since: datetime | None, until: datetime | None,
            until_op: str = "<") -> list[_Query]:
    for query in queries:
        if since is not None:
            query.where.append((query.stream.at, ">=", since))
        if until is not None:
            query.where.append((query.stream.at, until_op, until))
    return queries


def encode_position(position: Position) -> str:
    return cursors.encode(f"{position[0].isoformat()}|{position[1]}")


def decode_position(raw: str, field: str) -> Position:
    try:
        value = str(cursors.decode(raw, str))
        stamp, event_id = value.split("|", 1)
        return cursors.timestamp(stamp), event_id
    except (ValidationFailed, ValueError) as exc:
        raise ValidationFailed(f"{field}: not a cursor from GET /v1/events (next_cursor) nor "
                               "an event id", details={"field": field},
                               code="invalid_cursor") from exc


def _position(doc: dict) -> Position:
    return doc["logged_at"], doc["id"]


def _visible(doc: dict | None, account_id: str, devices: frozenset[str] | None) -> bool:
    return doc is not None and doc.get("account_id") == account_id and (
        devices is None or doc.get("device") in devices)


# --- reading ------------------------------------------------------------------------


def get_event(store: DocumentStore, account_id: str, event_id: str, *,
              devices: frozenset[str] | None = None) -> Event:
    doc = find(store, event_id) if event_id.startswith("evt_") else None
    if not _visible(doc, account_id, devices):
        raise NotFound(f"event {event_id} not found")
    return from_doc(doc)


def _read(store: DocumentStore, query: _Query, order: str, start: Position | None,
          page: int, budget: int | None) -> Iterator[tuple[tuple, dict | None]]:
    """A stream's documents after `start` in `order`, shaped as log documents, each with
    its sort key; read a chunk at a time (the first small, each next twice the last, up
    to `page`). Past `budget` documents read it yields a last (key, None): the merge
    stops there, as nothing beyond is known."""
    stream = query.stream
    order_by = [(stream.at, order), (stream.key, order)]
    chunk, read = min(_FIRST_CHUNK, page), 0
    while True:
        docs = store.query(stream.collection, query.where, order_by=order_by, limit=chunk,
                           start_after=list(start) if start else None)
        read += len(docs)
        for doc in docs:
            shaped = stream.shaped(doc)
            if query.keep(shaped):
                yield _position(shaped), shaped
        if len(docs) < chunk:
            return
        start = (docs[-1][stream.at], docs[-1][stream.key])
        if budget is not None and read >= budget:
            yield start, None
            return
        chunk = min(chunk * 2, page)


def _merged(store: DocumentStore, queries: list[_Query], order: str, start: Position | None,
            page: int, budget: int | None) -> Iterator[dict | None]:
    """The streams' documents merged in log order (None where a stream ran out of budget:
    nothing after it is certain)."""
    reads = [_read(store, q, order, start, page, budget) for q in queries]
    if len(reads) == 1:
        merged = reads[0]
    else:
        merged = heapq.merge(*reads, key=lambda item: item[0], reverse=order == "desc")
    for _, doc in merged:
        yield doc


def _scan(store: DocumentStore, queries: list[_Query], order: str, start: Position | None,
          limit: int) -> tuple[list[dict], bool]:
    """Up to `limit` documents that pass their checks, in log order (asc or desc) after
    `start`; and whether more may follow."""
    found: list[dict] = []
    for doc in _merged(store, queries, order, start, limit + 1, _SCAN_ROUNDS * (limit + 1)):
        if doc is None:
            return found, True
        found.append(doc)
        if len(found) > limit:
            return found[:limit], True
    return found, False


def list_events(store: DocumentStore, account_id: str, *, types: list[str] | None = None,
                device: str | None = None, devices: frozenset[str] | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: int = 50, cursor: str | None = None) -> tuple[list[Event], str | None]:
    """A page, newest first, and the cursor of the next (older) page; None at the end."""
    queries = _ranged(_filters(account_id, event_names(types), device, devices), since, until)
    start = decode_position(cursor, "cursor") if cursor else None
    docs, more = _scan(store, queries, "desc", start, limit)
    page = [from_doc(d) for d in docs]
    return page, (encode_position(_position(docs[-1])) if more and docs else None)


def logged_between(store: DocumentStore, account_id: str, since: datetime, until: datetime, *,
                   types: list[str] | None = None, page: int = 200) -> Iterator[Event]:
    """The account's events of `types` logged in [since, until] (the log's time frame),
    oldest first, a page at a time (webhook catch-up, shared/services/webhooks/fanout.py):
    the query of GET /v1/events?type=...&since=...&until=..., served by the same index."""
    queries = _ranged(_filters(account_id, event_names(types), None, None), since, until, "<=")
    for doc in _merged(store, queries, "asc", None, page, None):
        if doc is not None:
            yield from_doc(doc)


def resolve_after(store: DocumentStore, account_id: str, after: str, clock: Clock,
                  devices: frozenset[str] | None = None) -> Position:
    """`after`: an event id (of this account), `now`, or a next_cursor."""
    if after == "now":  # the store's time frame: logged_at is the commit's time
        return datetime.now(UTC), "~"
    if after.startswith("evt_"):
        doc = find(store, after)
        if not _visible(doc, account_id, devices):
            raise NotFound(f"event {after} not found")
        return _position(doc)
    return decode_position(after, "after")


def events_after(store: DocumentStore, clock: Clock, account_id: str, after: str, *,
                 types: list[str] | None = None, device: str | None = None,
                 devices: frozenset[str] | None = None, limit: int = 100, wait: float = 0.0,
                 waker: Waker = WAKER) -> tuple[list[Event], str]:
    """The events after `after` in log order (oldest first), waiting up to `wait` seconds
    for the first; and the cursor to continue from (the same position when none came)."""
    found = follow(store, clock, account_id, after, types=types, device=device, devices=devices,
                   limit=limit, wait=wait, waker=waker)
    return [event for event, _ in found.events], found.cursor


class Watches:
    """One store listener per account whose long polls wait in this process: it wakes
    them as soon as another process (the runner) logs one of the account's events, instead
    of at their next read. It watches the account's newest event (the index of the newest-
    first page, and the messages' newest homed event), so it costs a read per event of the
    account, whatever the number of polls waiting; it lingers WATCH_LINGER s after the last
    one. A store that cannot watch (the memory store: one process, where the log itself
    wakes the polls) leaves polls reading every POLL_EVERY s."""

    def __init__(self, waker: Waker = WAKER, linger: float = WATCH_LINGER):
        self.waker, self.linger = waker, linger
        self._lock = threading.Lock()
        self._held: dict[tuple[int, str], list] = {}  # (store, account) => [polls, stop, timer]

    def hold(self, store: DocumentStore, account_id: str) -> Callable[[], None] | None:
        """Watch the account while a poll waits; returns its release, or None (no watch)."""
        key = (id(store), account_id)
        with self._lock:
            entry = self._held.get(key)
            if entry is None:
                try:
                    stop = self._watch(store, account_id)
                except Exception:  # noqa: BLE001 - no listener: the poll reads as before
                    log.warning("cannot watch the event log of %s; polling", account_id,
                                exc_info=True)
                    stop = None
                if stop is None:
                    return None
                entry = self._held[key] = [0, stop, None]
            entry[0] += 1
            if entry[2] is not None:
                entry[2].cancel()
                entry[2] = None
        return lambda: self._release(key, entry)

    def _watch(self, store: DocumentStore, account_id: str) -> Callable[[], None] | None:
        """Two listeners: the log's collection, and the messages by their newest homed
        event (event_log.LOGGED_AT); one stop for both, or None (the store cannot)."""
        wake = lambda: self.waker.notify((account_id,))  # noqa: E731
        where = [("account_id", "==", account_id)]
        stop_log = store.watch(EVENTS, where, [("logged_at", "desc"), ("id", "desc")], 1, wake)
        if stop_log is None:
            return None
        try:
            stop_homes = store.watch(MESSAGES, where, [(LOGGED_AT, "desc")], 1, wake)
        except BaseException:
            stop_log()
            raise
        if stop_homes is None:
            stop_log()
            return None

        def stop() -> None:
            try:
                stop_log()
            finally:
                stop_homes()
        return stop

    def _release(self, key, entry) -> None:
        with self._lock:
            entry[0] -= 1
            if entry[0] == 0 and self._held.get(key) is entry:
                entry[2] = threading.Timer(self.linger, self._close, (key, entry))
                entry[2].daemon = True
                entry[2].start()

    def _close(self, key, entry) -> None:
        with self._lock:
            if entry[0] != 0 or self._held.get(key) is not entry:
                return
            del self._held[key]
        try:
            entry[1]()
        except Exception:  # noqa: BLE001 - a listener that is gone already
            log.debug("stopping a listener of the event log", exc_info=True)

    def __len__(self) -> int:
        return len(self._held)


WATCHES = Watches()


class Followed:
    def __init__(self, events: list[tuple[Event, str]], cursor: str):
        self.events = events  # each with the cursor that resumes after it
        self.cursor = cursor


def follow(store: DocumentStore, clock: Clock, account_id: str, after: str, *,
           types: list[str] | None = None, device: str | None = None,
           devices: frozenset[str] | None = None, limit: int = 100, wait: float = 0.0,
           waker: Waker = WAKER, max_wait: float = MAX_WAIT,
           watches: Watches | None = None) -> Followed:
    """events_after, with the cursor of each event (the stream's SSE ids)."""
    queries = _filters(account_id, event_names(types), device, devices)
    position = resolve_after(store, account_id, after, clock, devices)
    deadline = time.monotonic() + min(max(wait, 0.0), max_wait)
    watches = watches if watches is not None else (WATCHES if waker is WAKER else Watches(waker))
    release = None
    with waker.waiting(account_id) as waiting:
        try:
            while True:
                seen = waiting.token()
                docs, _ = _scan(store, queries, "asc", position, limit)
                if docs:
                    return Followed([(from_doc(d), encode_position(_position(d))) for d in docs],
                                    encode_position(_position(docs[-1])))
                left = deadline - time.monotonic()
                if left <= 0:
                    return Followed([], encode_position(position))
                if release is None:  # a listener wakes this poll: read seldom meanwhile
                    held = watches.hold(store, account_id)
                    release = held or (lambda: None)
                    every = WATCHED_POLL_EVERY if held else POLL_EVERY
                waiting.wait(min(every, left), seen)
        finally:
            if release is not None:
                release()
