"""One device's send queue: web chat messages first, then highest priority first, first
in first out within a priority, paced to the device's delivery speed with a little jitter.

The gap runs from the start of one send to the start of the next, so the time a send
takes does not slow the configured rate. A send that was not ours (cancelled, sent by
another runner) costs no gap; a send that asks to be retried, or raises, goes back to
the queue after a backoff and keeps its place in the priority order.

Paused, it sends nothing and keeps everything. A message with an expiry is handed to
`expire` when that time comes, in the session's own thread (so never while it is being
sent), and leaves the queue."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared import backoff as backoff_formula
from shared.domain import Priority

log = logging.getLogger(__name__)


RETRY_BASE = 5.0  # seconds before the first retry; doubling up to RETRY_MAX
RETRY_MAX = 300.0


@dataclass(order=True)
class Entry:
    rank: int
    created: float
    seq: int
    message_id: str = field(compare=False)
    attempts: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Retry:
    """What a send returns to be tried again later (`after` seconds; None: backoff)."""

    after: float | None = None


def backoff(attempts: int) -> float:
    return backoff_formula.delay(attempts - 1, base=RETRY_BASE, cap=RETRY_MAX)


class SendQueue:
    def __init__(self, device_id: str, send: Callable[[str], bool | Retry], *, delivery_speed: int,
                 rng: random.Random | None = None, jitter: float = 0.15,
                 expire: Callable[[str], None] | None = None, paused: bool = False):
        self.device_id = device_id
        self._send = send
        self._expire = expire
        self.delivery_speed = delivery_speed
        self.connected = False
        self.paused = paused
        self._expiries: list[tuple[float, str]] = []  # (monotonic deadline, message id)
        self._gone: set[str] = set()  # expired: skipped when their entry comes up
        self._rng = rng or random.Random()
        self._jitter = jitter
        self._ready: list[Entry] = []
        self._delayed: list[tuple[float, Entry]] = []
        self._known: set[str] = set()
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._next_send = 0.0
        self._last_send: tuple[float, float] | None = None  # (start, jitter factor)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"send-{device_id}")
        self._thread.start()

    def push(self, message_id: str, priority: Priority | int, created: float,
             ready_in: float = 0.0, expires_in: float | None = None) -> bool:
        """Queue a message once; a repeated push of the same id is ignored. `priority` is a
        Priority or a rank (Message.send_rank: the web chat's rank is below urgent's)."""
        with self._cond:
            if message_id in self._known:
                return False
            self._known.add(message_id)
            if expires_in is not None and self._expire is not None:
                heapq.heappush(self._expiries, (time.monotonic() + expires_in, message_id))
            rank = priority if isinstance(priority, int) else priority.rank
            entry = Entry(rank, created, next(self._seq), message_id)
            if ready_in > 0:
                heapq.heappush(self._delayed, (time.monotonic() + ready_in, entry))
            else:
                heapq.heappush(self._ready, entry)
            self._cond.notify()
            return True

    def set_connected(self, connected: bool) -> None:
        with self._cond:
            self.connected = connected
            self._cond.notify()

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self.paused = paused
            self._cond.notify()

    def set_speed(self, delivery_speed: int) -> None:
        """A new speed applies at once, to the gap under way too."""
        with self._cond:
            self.delivery_speed = delivery_speed
            if self._last_send is not None:
                self._next_send = self._gap_end(*self._last_send)
            self._cond.notify()

    def _gap_end(self, started: float, factor: float) -> float:
        return started + 60.0 / self.delivery_speed * factor

    def pending(self) -> int:
        with self._cond:
            return len(self._known - self._gone)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _take(self) -> Entry | str | None:
        """The next entry to send, or the id of a message whose time is up."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while self._expiries and self._expiries[0][0] <= now:
                    message_id = heapq.heappop(self._expiries)[1]
                    if message_id in self._known and message_id not in self._gone:
                        self._gone.add(message_id)
                        return message_id
                while self._delayed and self._delayed[0][0] <= now:
                    heapq.heappush(self._ready, heapq.heappop(self._delayed)[1])
                while self._ready and self._ready[0].message_id in self._gone:
                    self._forget(heapq.heappop(self._ready).message_id)
                waits = []
                if self._delayed:
                    waits.append(self._delayed[0][0] - now)
                if self._expiries:
                    waits.append(self._expiries[0][0] - now)
                if self._ready and self.connected and not self.paused:
                    if now >= self._next_send:
                        return heapq.heappop(self._ready)
                    waits.append(self._next_send - now)
                self._cond.wait(timeout=max(0.0, min(waits)) if waits else None)
            return None

    def _forget(self, message_id: str) -> None:
        self._known.discard(message_id)
        self._gone.discard(message_id)

    def _run(self) -> None:
        while (entry := self._take()) is not None:
            if isinstance(entry, str):
                try:
                    self._expire(entry)  # type: ignore[misc]
                except Exception:
                    log.exception("expiring %s failed; its send checks the time again", entry)
                    with self._cond:
                        self._gone.discard(entry)
                continue
            started = time.monotonic()
            try:
                outcome = self._send(entry.message_id)
            except Exception:
                log.exception("sending %s failed; it will be retried", entry.message_id)
                outcome = Retry()
            with self._cond:
                if isinstance(outcome, Retry):
                    entry.attempts += 1
                    delay = backoff(entry.attempts) if outcome.after is None else outcome.after
                    heapq.heappush(self._delayed, (time.monotonic() + delay, entry))
                    continue
                self._forget(entry.message_id)
                if outcome:
                    factor = self._rng.uniform(1 - self._jitter, 1 + self._jitter)
                    self._last_send = (started, factor)
                    self._next_send = self._gap_end(started, factor)
