"""Daily caps on what a device sends, against bans: the device's `daily_limit` and the
warm-up of a newly linked number (shared.domain.Warmup), whichever is lower, per UTC day.

The runner counts each send in one counter document per device and day before handing
the message to WhatsApp (an increment refused past the cap: the message waits for the
next day, it does not fail). The counter is what the queue's expected times and the
device's usage read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain import Device
from shared.ports import DocumentStore
from shared.repositories.usage import UsageCounters

COUNTERS = UsageCounters.name
METRIC = "messages_per_day"


@dataclass(frozen=True)
class DailyCap:
    day: str  # YYYY-MM-DD, UTC
    used: int
    limit: int | None  # None: no cap today
    warmup_day: int | None  # 1 on the day of linking, while the warm-up lasts
    resets_at: datetime


def day_of(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def warmup_day(device: Device, at: datetime) -> int | None:
    if device.linked_at is None or not device.settings.warmup.enabled:
        return None
    day = (_start(at) - _start(device.linked_at)).days + 1
    return day if 1 <= day <= device.settings.warmup.days else None


def cap_on(device: Device, at: datetime) -> int | None:
    """The device's cap on the UTC day of `at`; None when it has none."""
    caps = [device.settings.daily_limit]
    day = warmup_day(device, at)
    if day is not None:
        caps.append(device.settings.warmup.cap(day))
    caps = [c for c in caps if c is not None]
    return min(caps) if caps else None


def _doc_id(device_id: str, day: str) -> str:
    return f"{device_id}:{METRIC}:{day}"


def today(store: DocumentStore, device: Device, now: datetime) -> DailyCap:
    day = day_of(now)
    doc = UsageCounters(store).doc(_doc_id(device.id, day)) or {}
    return DailyCap(day, max(0, doc.get("count", 0)), cap_on(device, now),
                    warmup_day(device, now), _start(now) + timedelta(days=1))


def take_block(store: DocumentStore, device: Device, now: datetime, size: int) -> int:
    """Count `size` sends today at once (shared/services/quota_leases.py DailyCapLeases;
    1 while it is off), or one where that would pass the cap: the units counted, 0 (nothing
    counted) when today's cap is reached."""
    cap = cap_on(device, now)
    day = day_of(now)
    extra = {"device_id": device.id, "period": day, "metric": METRIC}
    for units in ((size, 1) if size > 1 else (1,)):
        if UsageCounters(store).increment(_doc_id(device.id, day), "count", units, maximum=cap,
                                          extra=extra) is not None:
            return units
    return 0


def give_back_units(store: DocumentStore, device_id: str, day: str, units: int) -> None:
    """Counted sends that did not go out after all (a transient failure), or a block's
    unspent units."""
    UsageCounters(store).increment(_doc_id(device_id, day), "count", -units)


def seconds_to_next_day(now: datetime) -> float:
    return (_start(now) + timedelta(days=1) - now).total_seconds()
