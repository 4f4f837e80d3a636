"""Which runner holds which device: a lease per shard, a fencing epoch per device.

- `shards/{shard}` holds the shard's lease: the runner `instance` holding it, an `epoch`
  bumped at every acquisition by a new instance, `lease_until`, the shard's URL and
  capacity. The holder renews it every few seconds; a graceful shutdown releases it.
- `devices/{id}` carries `shard` (who holds the device) and `lease_epoch` (bumped at
  every change of holder instance). A device belongs to shard S while S's lease lives.
  Taking a device over is a conditional write from the (shard, lease_epoch) just read,
  so of two runners racing for it exactly one wins.
- Fencing: every write a runner makes for a device it holds (its status, a message
  claim) is conditional on the device still showing (this shard, the epoch it took it
  with) — see `fence`. A stale runner (paused past its lease, or an old instance during
  a rollout) finds the epoch moved on and writes nothing.
- The holder fences itself in time as well: it stops using its devices once its own
  monotonic clock says the lease ran out, less a margin, before anyone may take them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.clock import Clock
from shared.ids import new_id
from shared.ports import DocumentStore, Guard
from shared.repositories.devices import Devices
from shared.repositories.shards import Shards

SHARDS = Shards.name
DEVICES = Devices.name


def shard_alive(doc: dict | None, now: datetime) -> bool:
    return bool(doc) and doc.get("state") == "active" and doc.get("lease_until") is not None \
        and doc["lease_until"] > now


class Leases:
    def __init__(self, store: DocumentStore, clock: Clock, *, shard: str, url: str,
                 capacity: int, lease_seconds: float, instance: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self.store, self.clock = store, clock
        self.shard, self.url, self.capacity = shard, url, capacity
        self.lease = timedelta(seconds=lease_seconds)
        self.margin = lease_seconds / 6  # clock drift and a write in flight
        self.instance = instance or new_id("inst")
        self.epoch: int | None = None  # of the shard lease, while we hold it
        self._monotonic = monotonic
        self._deadline = 0.0
        self._held: dict[str, int] = {}  # device id -> the lease_epoch we took it with
        # device id -> when the lease of the shard that held it before us ended (read as
        # we claimed it), None when nobody held it: its last holder's last sends.
        self._taken: dict[str, datetime | None] = {}
        self._previous_until: datetime | None = None  # of our shard's previous instance
        self._lock = threading.RLock()

    # --- the shard's lease ---------------------------------------------------------

    def acquire(self) -> bool:
        """Take this shard's lease: free, expired, released, or never created."""
        started, now = self._monotonic(), self.clock.now()
        doc = self.store.get(SHARDS, self.shard)
        fields = {"url": self.url or (doc or {}).get("url", ""), "capacity": self.capacity,
                  "instance": self.instance, "lease_until": now + self.lease,
                  "renewed_at": now, "state": "active", "sessions": 0}
        if doc is None:
            epoch = 1
            ok = self.store.create(SHARDS, self.shard, fields | {"epoch": epoch, "created_at": now})
        elif doc.get("instance") != self.instance and shard_alive(doc, now):
            return False  # another instance of this shard still holds it (a rollout)
        else:
            epoch = int(doc.get("epoch") or 0) + 1
            ok = self.store.update(SHARDS, self.shard, fields | {"epoch": epoch},
                                   when={"instance": doc.get("instance"), "epoch": doc.get("epoch")})
        with self._lock:
            if ok:
                self._previous_until = (doc or {}).get("lease_until")
                self.epoch, self._deadline = epoch, started + self._usable()
                self.url = fields["url"]
                self._held.clear()  # device fences of an earlier epoch are void
        if ok and self._monotonic() - started > self.margin:
            # Answered late (a runner's first call also builds the store's client): the
            # lease written counts from the start of the call; renew it at once.
            self.renew()
        return ok

    def renew(self) -> bool:
        """Extend the lease. The lease the store keeps runs from when the call started (the
        only time we know the write came after), so a renewal the store answered late (a
        pause, a slow network) leaves little or nothing of it: it is written once more at
        once, and the deadline then counts from when the store answered the first time. A
        lease that is late is not lost: only a refused write loses it."""
        for _ in range(2):
            started, answered = self._renew_once()
            if started is None:
                return False
            if answered - started <= self.margin:
                break  # answered in time: the lease counts from (about) now
        return True

    def _renew_once(self) -> tuple[float | None, float]:
        with self._lock:
            epoch, sessions = self.epoch, len(self._held)
        if epoch is None:
            return None, 0.0
        started, now = self._monotonic(), self.clock.now()
        ok = self.store.update(SHARDS, self.shard,
                               {"lease_until": now + self.lease, "renewed_at": now,
                                "sessions": sessions},
                               when={"instance": self.instance, "epoch": epoch})
        answered = self._monotonic()
        with self._lock:
            if not ok:
                self.epoch = None
                self._held.clear()
                return None, answered
            self._deadline = max(self._deadline, started + self._usable())
        return started, answered

    def release(self) -> None:
        """Give the lease up now: other runners take our devices on their next look."""
        if self.epoch is not None:
            self.store.update(SHARDS, self.shard, {"lease_until": self.clock.now(), "state": "stopped"},
                              when={"instance": self.instance, "epoch": self.epoch})
        with self._lock:
            self.epoch = None
            self._held.clear()

    def valid(self) -> bool:
        return self.epoch is not None and self._monotonic() < self._deadline

    def late(self, device_id: str | None = None) -> bool:
        """The lease's renewal is overdue (the store slow or paused) but it is not lost: no
        write of ours was refused. Work for our devices waits for it; nothing is dropped."""
        with self._lock:
            if device_id is not None and device_id not in self._held:
                return False
            return self.epoch is not None and not self.valid()

    def _usable(self) -> float:
        return self.lease.total_seconds() - self.margin

    # --- devices -------------------------------------------------------------------

    def claim(self, device_id: str) -> int | None:
        """Hold the device: ours already, unassigned, or its shard's lease is dead. Returns
        the fencing epoch, or None when another live shard holds it (or we are full)."""
        with self._lock:
            if not self.valid():
                return None
            if device_id in self._held:
                return self._held[device_id]
            if len(self._held) >= self.capacity:
                return None
        doc = self.store.get(DEVICES, device_id)
        if doc is None:
            return None
        holder, epoch = doc.get("shard"), doc.get("lease_epoch")
        until = self._previous_until if holder == self.shard else None
        if holder not in (None, self.shard):
            shard = self.store.get(SHARDS, holder)
            if shard_alive(shard, self.clock.now()):
                return None
            until = (shard or {}).get("lease_until")
        new_epoch = int(epoch or 0) + 1
        if not self.store.update(DEVICES, device_id,
                                 {"shard": self.shard, "lease_epoch": new_epoch},
                                 when={"shard": holder, "lease_epoch": epoch}):
            return None
        with self._lock:
            self._held[device_id] = new_epoch
            self._taken[device_id] = until
        return new_epoch

    def held_until(self, device_id: str) -> datetime | None:
        """When the lease of the device's holder before us ended: it sent (and filed) for
        the device until then at the latest. None: nobody held it, or not known."""
        with self._lock:
            return self._taken.get(device_id)

    def holds(self, device_id: str) -> bool:
        with self._lock:
            return device_id in self._held and self.valid()

    def fence(self, device_id: str) -> Guard | None:
        """The condition a write for this device must meet; None when we do not hold it."""
        with self._lock:
            epoch = self._held.get(device_id)
            if epoch is None or not self.valid():
                return None
        return Guard(DEVICES, device_id, {"shard": self.shard, "lease_epoch": epoch})

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._held.pop(device_id, None)
            self._taken.pop(device_id, None)

    def let_go(self, device_id: str) -> bool:
        """Hand a device we hold but cannot run back to the pool: the next shard that looks
        for orphans takes it (the fencing epoch moves on when it does)."""
        with self._lock:
            epoch = self._held.pop(device_id, None)
        if epoch is None:
            return False
        return self.store.update(DEVICES, device_id, {"shard": None},
                                 when={"shard": self.shard, "lease_epoch": epoch})

    def held(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def free(self) -> int:
        with self._lock:
            return max(0, self.capacity - len(self._held))

    # --- other shards --------------------------------------------------------------

    def holder_url(self, device_id: str) -> str | None:
        """The URL of the live shard holding the device, if another one does."""
        doc = self.store.get(DEVICES, device_id)
        holder = (doc or {}).get("shard")
        if holder in (None, self.shard):
            return None
        shard = self.store.get(SHARDS, holder)
        return shard.get("url") or None if shard_alive(shard, self.clock.now()) else None

    def peer_urls(self) -> list[str]:
        """The URLs of the other live shards."""
        now = self.clock.now()
        return [s["url"] for s in self.store.query(SHARDS)
                if s["id"] != self.shard and s.get("url") and shard_alive(s, now)]

    def mine(self) -> list[str]:
        """Devices assigned to this shard (by us or an earlier instance of it)."""
        return [d["id"] for d in self.store.query(DEVICES, [("shard", "==", self.shard)])]

    def orphans(self, limit: int) -> list[str]:
        """Devices nobody holds: never assigned, or their shard's lease is dead."""
        if limit <= 0:
            return []
        now = self.clock.now()
        found = [d["id"] for d in self.store.query(DEVICES, [("shard", "==", None)], limit=limit)]
        for shard in self.store.query(SHARDS):
            if len(found) >= limit:
                break
            if shard["id"] != self.shard and not shard_alive(shard, now):
                found += [d["id"] for d in self.store.query(
                    DEVICES, [("shard", "==", shard["id"])], limit=limit - len(found))]
        return found[:limit]

    def room_anywhere(self) -> bool:
        """Whether any live shard (as of its last renewal) can take another device."""
        now = self.clock.now()
        return self.free() > 0 or any(
            shard_alive(s, now) and int(s.get("capacity") or 0) > int(s.get("sessions") or 0)
            for s in self.store.query(SHARDS) if s["id"] != self.shard)
