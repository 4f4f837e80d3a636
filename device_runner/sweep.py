"""The stranded-work sweep: what a restart, a lapsed lease or a lost task left behind.

Every minute or so the shard's keeper asks:
- which devices the store says this shard holds have no session here (a resume that was
  cut short): they are resumed, or logged and handed back;
- which messages are still `queued` past their due time (`deliver_at`, else
  `created_at`) by more than a grace period, for a device with no live session here or a
  session that does not have them in its queue: their device is woken (its session
  reloads its queued messages) or the message is queued in its session again.
Messages of devices another live shard holds are that shard's to sweep.

What it found is kept for the health answer (`GET /health`) and the bench."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from device_runner.leases import SHARDS, shard_alive
from shared.domain import Message, MessageStatus
from shared.repositories.messages import Messages

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60  # how often the keeper sweeps
GRACE = timedelta(seconds=60)  # a message this late past its due time is looked at
LIMIT = 500  # oldest first, per sweep


@dataclass
class SweepReport:
    at: datetime | None = None
    devices: int = 0  # devices of this shard found without a session (last sweep)
    messages: int = 0  # messages found stranded (last sweep)
    total: int = 0  # messages found stranded since the runner started
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict:
        return {"at": self.at.isoformat() if self.at else None, "devices": self.devices,
                "messages": self.messages, "total": self.total}


def sweep(runner, now: datetime, *, grace: timedelta = GRACE, limit: int = LIMIT) -> SweepReport:
    report: SweepReport = runner.sweep_report
    leases, store = runner.leases, runner.c.store
    devices = 0
    if leases is not None:
        missing = [d for d in leases.mine() if d not in runner.sessions]
        if missing:
            log.warning("sweep: %d device(s) of shard %s have no session: %s", len(missing),
                        runner.shard, ", ".join(missing[:20]))
            runner.resume(missing)
        devices = len(missing)
    stranded = 0
    shards: dict[str, bool] = {}
    for doc in store.query(Messages.name, [("status", "==", MessageStatus.queued.value),
                                        ("created_at", "<=", now - grace)],
                           order_by=[("created_at", "asc")], limit=limit):
        message = Message.model_validate(doc)
        if (message.deliver_at or message.created_at) > now - grace:
            continue  # scheduled: not due yet
        if not _ours(runner, message.device_id, shards, now):
            continue
        session = runner.sessions.get(message.device_id)
        if session is None:
            log.warning("sweep: message %s waits for device %s, which has no session; "
                        "waking it", message.id, message.device_id)
            if runner.ensure_session(message.device_id) is not None:
                stranded += 1
        elif runner.requeue(session, message):
            log.warning("sweep: message %s was queued but not in its device's queue; "
                        "queued again", message.id)
            stranded += 1
    with report._lock:
        report.at, report.devices, report.messages = now, devices, stranded
        report.total += stranded
    return report


def _ours(runner, device_id: str, shards: dict[str, bool], now: datetime) -> bool:
    """The device is held here, or by nobody alive (then it is ours to take)."""
    leases = runner.leases
    if leases is None or leases.holds(device_id):
        return True
    doc = runner.c.repos.devices.doc(device_id)
    if doc is None:
        return False
    holder = doc.get("shard")
    if holder in (None, runner.shard):
        return True
    if holder not in shards:
        shards[holder] = shard_alive(runner.c.store.get(SHARDS, holder), now)
    return not shards[holder]
