"""Units of the monthly message quota taken from its counter shards in blocks (leases),
so a device sending fast costs the counter a read and a write per block rather than per
message (issue #18: the quota was a read and a write of every message sent).

shared.services.quotas counts a message with one capped increment of one shard. A lease
takes `size` units with one such increment; this process's next messages from the
device spend them, each remembering its shard as before, so a failed or cancelled
message gives its unit back to the shard it came from, as before. What leases allow:

- The limit is never passed: the units come from the same capped increments, several at
  a time.
- Units a lease holds and has not spent count as used until they are given back: the
  device's usage shows them, and another process finding every shard full refuses a
  message they would have allowed. They go back as the lease's LEASE_SECONDS end: by a
  background thread of the process, and, where the platform gives a process no CPU
  between requests (Cloud Run's default), after its next request of any kind (the API
  gives back ended leases after each) or reservation; and as the process exits (atexit:
  Cloud Run's SIGTERM ends the server, and the interpreter, normally).
- A process killed outright (SIGKILL, out of memory) gives nothing back: the unspent
  units of the leases it had not given back stay counted until the period ends, at most
  MAX_UNITS - 1 per device (tests/integration/test_quota_leases.py kills one to check).
  So does a give-back the store failed (it is an increment: one that failed may have
  been applied, so it is not tried again) and a block whose increment failed without
  its answer: errors leave the count high, never low, so the limit is never passed.
- The size follows the device's pace in this process: 1 (exactly quotas.reserve) for a
  device that sends less than a lease's worth in LEASE_SECONDS; doubled, up to MAX_UNITS,
  each time a lease is spent before it ends; after a lease that ended unspent, what it
  spent. Once a shard refuses a block (the device is near its limit), one unit at a time
  for the rest of the period, so the count is exact where it matters.

The runner counts the daily cap's sends the same way (DailyCapLeases, below).
Settings.quota_leases turns both off (every message its own increment): the unit tests'
default, which read the counters right after sending.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from shared.domain import Device
from shared.ports import DocumentStore
from shared.services import daily_caps, quotas
from shared.services.quotas import Reservation

log = logging.getLogger(__name__)

MAX_UNITS = 16  # units a lease takes at most
LEASE_SECONDS = 5.0  # how long unspent units may stay counted (a live process)
KEPT = 10_000  # devices whose pace a process remembers at most


@dataclass
class _Lease:
    period: str
    shard: int
    size: int  # units taken
    left: int  # of them, not spent yet
    until: float  # on the timer
    limit: int | None = None  # the limit it was taken under (a lower one ends it)

    @property
    def spent(self) -> int:
        return self.size - self.left


class QuotaLeases:
    """This process's leases, by (device, period). Thread-safe: a request spends a unit
    under one lock; a new lease's increment is made outside it, by one thread a device at
    a time (64 taker locks, by the device's hash), the others waiting for that lease."""

    def __init__(self, store: DocumentStore, *, enabled: bool = True,
                 max_units: int = MAX_UNITS, seconds: float = LEASE_SECONDS,
                 timer=time.monotonic, background: bool = False):
        self.store, self.enabled, self.background = store, enabled, background
        self.max_units, self.seconds, self.timer = max_units, seconds, timer
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # wakes the background give-back
        self._thread: threading.Thread | None = None
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._sizes: dict[tuple[str, str], int] = {}  # the next lease's size
        self._exact: set[tuple[str, str]] = set()  # near the limit: one unit at a time
        self._takers = [threading.Lock() for _ in range(64)]
        self._first_end = float("inf")  # the earliest end of a lease held

    def reserve(self, device: Device, now: datetime,
                rng: random.Random | None = None) -> Reservation | None:
        """Count one message against the device's monthly quota (quotas.reserve's
        contract); None when it is used up."""
        if not self.enabled:  # one unit, one increment
            taken = self._block(device, now, 1, rng)
            return None if taken is None else taken[0]
        self.give_back_ended()
        key = (device.id, self._period(now))
        limit = self._limit(device, now)
        spent = self._spend(key, limit)
        if spent is not None:
            return spent
        with self._taker(key):  # one new lease a device at once
            spent = self._spend(key, limit)  # (another thread made one meanwhile)
            if spent is not None:
                return spent
            with self._lock:
                lease = self._leases.pop(key, None)  # spent, or ended
                size = self._next_size(key, lease, self.timer())
                owed = self._owed([(key, lease)] if lease else [])
            self._pay(owed)
            # A store error from here loses at most this block (counted, never spent):
            # the increment may have been applied without its answer.
            taken = self._block(device, now, size, rng)
            if taken is None:
                return None
            reservation, units = taken
            with self._lock:
                if units < size:
                    self._exact.add(key)
                self._sizes[key] = size
                until = self.timer() + self.seconds
                self._leases[key] = _Lease(reservation.period, reservation.shard, units,
                                           units - 1, until, limit)
                self._first_end = min(self._first_end, until)
                self._forget()
                if self.background:
                    self._wake_giver()
            return reservation

    def put_back(self, device_id: str, reservation: Reservation) -> None:
        """A unit reserved for a message that was not created after all: back into its
        lease while that lasts and has spent another (no write), else to its shard."""
        if self.enabled:
            with self._lock:
                lease = self._leases.get((device_id, reservation.period))
                if lease is not None and lease.shard == reservation.shard and \
                        self.timer() < lease.until and lease.left < lease.size - 1:
                    lease.left += 1
                    return
        self._release(device_id, reservation.period, reservation.shard, 1)

    def give_back_ended(self) -> None:
        """Give the unspent units of the leases that ended back to their shards: at every
        reservation, and after every request of the API (functions/api/app.py)."""
        t = self.timer()
        if t < self._first_end:  # (read without the lock: a hint)
            return
        with self._lock:
            ended = [key for key, lease in self._leases.items() if t >= lease.until]
            self._first_end = min((lease.until for lease in self._leases.values()
                                   if t < lease.until), default=float("inf"))
        self._give_back(ended, lambda lease: t >= lease.until)

    def give_back_device(self, device_id: str) -> None:
        """Give back the unspent units of a device's leases (the runner letting the device
        go: the next holder finds them at once, not after the lease ends)."""
        with self._lock:
            keys = [key for key in self._leases if key[0] == device_id]
        self._give_back(keys, lambda lease: True)

    def close(self) -> None:
        """Give back every unspent unit (the process is ending)."""
        with self._lock:
            owed = self._owed(list(self._leases.items()))
            self._leases.clear()
            self._first_end = float("inf")
        self._pay(owed)

    def held(self) -> int:
        """Units this process holds unspent (for tests and the bench)."""
        with self._lock:
            return sum(lease.left for lease in self._leases.values())

    # --- the counter: the monthly quota's shards (DailyCapLeases: the daily cap's) ---------

    def _period(self, now: datetime) -> str:
        return quotas.period_of(now)

    def _limit(self, device: Device, now: datetime) -> int | None:
        """The limit now: a lease taken under a higher one is given back, not spent."""
        return quotas.plan_of(device).messages_per_month

    def _block(self, device: Device, now: datetime, size: int,
               rng: random.Random | None) -> tuple[Reservation, int] | None:
        return quotas.reserve_block(self.store, device, now, size, rng)

    def _release(self, device_id: str, period: str, shard: int, units: int) -> None:
        quotas.release_units(self.store, device_id, period, shard, units)

    # --- under the lock -----------------------------------------------------------------

    def _wake_giver(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._give_back_when_due, daemon=True,
                                            name="quota-leases")
            self._thread.start()
        self._cond.notify()

    def _give_back_when_due(self) -> None:
        """The background thread: each lease's unspent units back as it ends."""
        while True:
            with self._cond:
                while self._first_end == float("inf"):
                    self._cond.wait()
                delay = self._first_end - self.timer()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
            self.give_back_ended()

    def _taker(self, key: tuple[str, str]) -> threading.Lock:
        return self._takers[hash(key) % len(self._takers)]

    def _give_back(self, keys: list[tuple[str, str]], ended) -> None:
        """Each key's lease, if `ended(lease)` still, out and its unspent units back, under
        the key's taker lock: a reservation of that device waits for the give-back, so it
        never finds the counter full while units are on their way back."""
        for key in keys:
            with self._taker(key):
                with self._lock:
                    lease = self._leases.get(key)
                    if lease is None or not ended(lease):
                        continue
                    owed = self._owed([(key, self._leases.pop(key))])
                self._pay(owed)

    def _spend(self, key: tuple[str, str], limit: int | None) -> Reservation | None:
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease.left > 0 and self.timer() < lease.until and not (
                    limit is not None and lease.limit is not None and limit < lease.limit):
                lease.left -= 1
                return Reservation(lease.period, lease.shard)
        return None

    def _next_size(self, key: tuple[str, str], lease: _Lease | None, t: float) -> int:
        if key in self._exact:
            return 1
        if lease is None:
            return self._sizes.get(key, 1)
        if lease.left == 0 and t < lease.until:  # spent before it ended: faster
            return min(self.max_units, lease.size * 2)
        return max(1, min(self.max_units, lease.spent))  # ended: what it spent in its time

    def _owed(self, ended: list[tuple[tuple[str, str], _Lease]]) -> list:
        owed = []
        for key, lease in ended:
            if lease.left:
                self._sizes[key] = max(1, lease.spent)
                owed.append((key[0], lease.period, lease.shard, lease.left))
        return owed

    def _forget(self) -> None:
        if len(self._sizes) > KEPT:  # a device not seen for long starts again at 1
            for key in list(self._sizes)[:KEPT // 2]:
                if key not in self._leases:
                    self._sizes.pop(key, None)
                    self._exact.discard(key)

    # --- the store ----------------------------------------------------------------------

    def _pay(self, owed: list[tuple[str, str, int, int]]) -> None:
        for device_id, period, shard, units in owed:
            try:
                self._release(device_id, period, shard, units)
            except Exception:  # noqa: BLE001
                # Not tried again: a give-back is an increment, and one that failed may
                # have been applied; so a failure leaves the count high (units lost until
                # the period ends, as for a killed process), never low (past the limit).
                log.exception("could not give back %d quota unit(s) of device %s", units,
                              device_id)


class DailyCapLeases(QuotaLeases):
    """The daily cap's counter (shared/services/daily_caps.py: one document a device and
    UTC day, a capped increment a send) taken in blocks the same way, by the runner that
    sends for the device; what that allows is the module's, per day instead of month: a
    block's unspent units count as sent today until they are given back (the queue's
    expected times and the device's usage read them), a killed runner leaves at most
    MAX_UNITS - 1 counted for the day, and the cap is never passed: a cap lowered while a
    block is held (a PATCH of daily_limit) ends the block, its unspent units given back,
    and the next send takes from the counter under the new cap."""

    def _period(self, now: datetime) -> str:
        return daily_caps.day_of(now)

    def _limit(self, device: Device, now: datetime) -> int | None:
        return daily_caps.cap_on(device, now)

    def _block(self, device: Device, now: datetime, size: int,
               rng: random.Random | None) -> tuple[Reservation, int] | None:
        units = daily_caps.take_block(self.store, device, now, size)
        return (Reservation(daily_caps.day_of(now), 0), units) if units else None

    def _release(self, device_id: str, period: str, shard: int, units: int) -> None:
        daily_caps.give_back_units(self.store, device_id, period, units)
