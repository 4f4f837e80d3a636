"""Units of the monthly message quota taken from its counter shards in blocks (leases),
so a device sending fast costs the counter a read and a write per block rather than per
message (issue #18: the quota was a read and a write of every message sent).

shared.services.quotas counts a message with one capped increment of one shard. A lease
takes `size` units with one such increment; this process's next messages from the
device spend them, each remembering its shard as before, so a failed or cancelled
message gives its unit back to the shard it came from, as before. What leases allow:

- The limit is never passed: the units come from the same capped increments, several at
  a time.
- Units a lease holds and has not spent count as used for at most LEASE_SECONDS: the
  device's usage shows them, and another process finding every shard full refuses a
  message they would have allowed (a retry after LEASE_SECONDS finds them). They go
  back to their shard when the lease ends: at this process's next reservation (for any
  device), or as the process exits (atexit: Cloud Run's SIGTERM ends the server, and
  the interpreter, normally).
- A process killed outright (SIGKILL, out of memory) gives nothing back: the unspent
  units of its leases stay counted until the period ends. The bound: MAX_UNITS - 1 per
  device it was sending from in its last LEASE_SECONDS (tests/integration/
  test_quota_leases.py kills one to check).
- The size follows the device's pace in this process: 1 (exactly quotas.reserve) for a
  device that sends less than a lease's worth in LEASE_SECONDS; doubled, up to MAX_UNITS,
  each time a lease is spent before it ends; after a lease that ended unspent, what it
  spent. Once a shard refuses a block (the device is near its limit), one unit at a time
  for the rest of the period, so the count is exact where it matters.

Settings.quota_leases turns them off (every message its own increment): the unit tests'
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
from shared.services import quotas
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

    @property
    def spent(self) -> int:
        return self.size - self.left


class QuotaLeases:
    """This process's leases, by (device, period). Thread-safe: a request takes a unit
    under a lock; a new lease's increment is made outside it, by one thread a device at
    a time (64 taker locks, by the device's hash)."""

    def __init__(self, store: DocumentStore, *, enabled: bool = True,
                 max_units: int = MAX_UNITS, seconds: float = LEASE_SECONDS,
                 timer=time.monotonic):
        self.store, self.enabled = store, enabled
        self.max_units, self.seconds, self.timer = max_units, seconds, timer
        self._lock = threading.Lock()
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._sizes: dict[tuple[str, str], int] = {}  # the next lease's size
        self._exact: set[tuple[str, str]] = set()  # near the limit: one unit at a time
        self._takers = [threading.Lock() for _ in range(64)]
        self._first_end = float("inf")  # the earliest end of a lease held
        self._owed: list[tuple[str, str, int, int]] = []  # (device, period, shard, units)

    def reserve(self, device: Device, now: datetime,
                rng: random.Random | None = None) -> Reservation | None:
        """Count one message against the device's monthly quota (quotas.reserve's
        contract); None when it is used up."""
        if not self.enabled:
            return quotas.reserve(self.store, device, now, rng)
        self.give_back_ended()
        key = (device.id, quotas.period_of(now))
        with self._takers[hash(key) % len(self._takers)]:  # one new lease a device at once
            with self._lock:
                lease = self._leases.get(key)
                t = self.timer()
                if lease is not None and lease.left > 0 and t < lease.until:
                    lease.left -= 1
                    return Reservation(lease.period, lease.shard)
                size = self._next_size(key, lease, t)
                owed = self._take_owed([(key, self._leases.pop(key))] if lease else [])
            self._pay(owed)
            taken = quotas.reserve_block(self.store, device, now, size, rng)
            if taken is None:
                return None
            reservation, units = taken
            with self._lock:
                if units < size:
                    self._exact.add(key)
                self._sizes[key] = size
                until = self.timer() + self.seconds
                self._leases[key] = _Lease(reservation.period, reservation.shard, units,
                                           units - 1, until)
                self._first_end = min(self._first_end, until)
                self._forget()
            return reservation

    def put_back(self, device_id: str, reservation: Reservation) -> None:
        """A unit reserved for a message that was not created after all: back into its
        lease while that lasts (no write), else to its shard."""
        if self.enabled:
            with self._lock:
                lease = self._leases.get((device_id, reservation.period))
                if lease is not None and lease.shard == reservation.shard and \
                        self.timer() < lease.until and lease.left < lease.size:
                    lease.left += 1
                    return
        quotas.release(self.store, device_id, reservation.period, reservation.shard)

    def give_back_ended(self) -> None:
        """Give the unspent units of the leases that ended back to their shards."""
        t = self.timer()
        if t < self._first_end and not self._owed:  # (read without the lock: a hint)
            return
        with self._lock:
            ended = [key for key, lease in self._leases.items() if t >= lease.until]
            owed = self._take_owed([(key, self._leases.pop(key)) for key in ended])
            self._first_end = min((lease.until for lease in self._leases.values()),
                                  default=float("inf"))
        self._pay(owed)

    def close(self) -> None:
        """Give back every unspent unit (the process is ending)."""
        with self._lock:
            owed = self._take_owed(list(self._leases.items()))
            self._leases.clear()
        self._pay(owed)

    def held(self) -> int:
        """Units this process holds unspent (for tests and the bench)."""
        with self._lock:
            return sum(lease.left for lease in self._leases.values())

    # --- under the lock -----------------------------------------------------------------

    def _next_size(self, key: tuple[str, str], lease: _Lease | None, t: float) -> int:
        if key in self._exact:
            return 1
        if lease is None:
            return self._sizes.get(key, 1)
        if lease.left == 0 and t < lease.until:  # spent before it ended: faster
            return min(self.max_units, lease.size * 2)
        return max(1, min(self.max_units, lease.spent))  # ended: what it spent in its time

    def _take_owed(self, ended: list[tuple[tuple[str, str], _Lease]]) -> list:
        for key, lease in ended:
            if lease.left:
                self._sizes[key] = max(1, lease.spent)
                self._owed.append((key[0], lease.period, lease.shard, lease.left))
        owed, self._owed = self._owed, []
        return owed

    def _forget(self) -> None:
        if len(self._sizes) > KEPT:  # a device not seen for long starts again at 1
            for key in list(self._sizes)[:KEPT // 2]:
                if key not in self._leases:
                    self._sizes.pop(key, None)
                    self._exact.discard(key)

    # --- the store ----------------------------------------------------------------------

    def _pay(self, owed: list[tuple[str, str, int, int]]) -> None:
        for i, (device_id, period, shard, units) in enumerate(owed):
            try:
                quotas.release_units(self.store, device_id, period, shard, units)
            except Exception:  # the store is out of reach: the next reservation tries again
                log.exception("could not give back %d quota unit(s) of device %s", units,
                              device_id)
                with self._lock:
                    self._owed.extend(owed[i:])
                return
