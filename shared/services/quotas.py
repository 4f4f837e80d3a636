"""Plan limits on messaging: the monthly message quota of a device, media sizes, and the
delivery speed a plan allows.

The monthly count is a sharded counter: SHARDS documents per device and period, each
allowed its share of the plan's limit (shard i may hold limit // SHARDS, plus one for
the first limit % SHARDS shards). A message reserves one unit in one shard, chosen at
random, inside a transaction that refuses to pass the shard's share; when a shard is
full the next one is tried. So:

- no document takes more than a share of the writes: at 1000 messages a minute on one
  device, each shard sees about 1000 / 60 / SHARDS = 0.5 writes a second (releases of
  failed messages at most double that), under Firestore's one a second per document;
- the count never passes the limit, however many API instances race (the bound is 0
  over the limit, within the issue's "at most the number of shards"); the price is that
  a request at the limit may read every shard before it is refused.

A message is counted when it is accepted (so an over-limit message is never created)
and released when it fails or is cancelled: failed messages do not count. The message
remembers the period and shard it holds, so a release in the next month still frees
the right unit. Periods are calendar months in UTC.

The API takes units through shared/services/quota_leases.py, which takes several in one
increment for a device sending fast (what that allows is stated there).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.clock import Clock
from shared.domain import Device
from shared.errors import PayloadTooLarge, QuotaExceeded
from shared.plans import MB, Plan, get_plan
from shared.ports import DocumentStore, Mailer
from shared.repositories.usage import LimitNotices, UsageCounters
from shared.services.owner_mail import mail_owner

log = logging.getLogger(__name__)

SHARDS = 32
COUNTERS = UsageCounters.name
MESSAGES = "messages_per_month"


@dataclass(frozen=True)
class Reservation:
    period: str
    shard: int


def period_of(now: datetime) -> str:
    at = now if now.tzinfo is UTC else now.astimezone(UTC)
    return f"{at.year:04d}-{at.month:02d}"  # (strftime took thrice as long, every send)


def period_end(period: str) -> datetime:
    year, month = (int(part) for part in period.split("-"))
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def share(limit: int, shard: int) -> int:
    return limit // SHARDS + (1 if shard < limit % SHARDS else 0)


def _shard_id(device_id: str, period: str, shard: int) -> str:
    return f"{device_id}:{MESSAGES}:{period}:{shard:02d}"


def plan_of(device: Device) -> Plan:
    return get_plan(device.plan)


def reserve(store: DocumentStore, device: Device, now: datetime,
            rng: random.Random | None = None) -> Reservation | None:
    """Count one message against the device's monthly quota; None when it is used up."""
    taken = reserve_block(store, device, now, 1, rng)
    return None if taken is None else taken[0]


def reserve_block(store: DocumentStore, device: Device, now: datetime, size: int,
                  rng: random.Random | None = None) -> tuple[Reservation, int] | None:
    """Count `size` messages in one shard (shared/services/quota_leases.py), or one where
    a shard cannot take them all: the reservation and the units counted; None when the
    quota is used up."""
    limit = plan_of(device).messages_per_month
    period = period_of(now)
    extra = {"device_id": device.id, "period": period, "metric": MESSAGES}
    counters = UsageCounters(store)
    first = (rng or random).randrange(SHARDS)  # spread writers; then try the others in turn
    for shard in (*range(first, SHARDS), *range(first)):
        cap = share(limit, shard)
        if cap == 0:
            continue
        doc_id = _shard_id(device.id, period, shard)
        for units in ((size, 1) if size > 1 else (1,)):
            if counters.increment(doc_id, "count", units, maximum=cap,
                                  extra=extra | {"shard": shard}) is not None:
                return Reservation(period, shard), units
    return None


def release(store: DocumentStore, device_id: str, period: str | None, shard: int | None) -> None:
    if period is not None and shard is not None:
        release_units(store, device_id, period, shard, 1)


def release_units(store: DocumentStore, device_id: str, period: str, shard: int,
                  units: int) -> None:
    UsageCounters(store).increment(_shard_id(device_id, period, shard), "count", -units)


def release_many(store: DocumentStore, device_id: str,
                 units: list[tuple[str | None, int | None]]) -> None:
    """Give back many units (period, shard) at once: one increment per counter shard."""
    from collections import Counter

    for (period, shard), count in Counter(u for u in units
                                          if u[0] is not None and u[1] is not None).items():
        UsageCounters(store).increment(_shard_id(device_id, period, shard), "count", -count)


def used(store: DocumentStore, device_id: str, period: str) -> int:
    docs = UsageCounters(store).of_period(device_id, period, MESSAGES)
    return sum(max(0, d.get("count", 0)) for d in docs)


def effective_speed(device: Device) -> int:
    """The device's delivery speed, capped by its plan."""
    return max(1, min(device.settings.delivery_speed, plan_of(device).max_delivery_speed))


def media_limit(device: Device, limit_name: str) -> int:
    return getattr(plan_of(device).media, limit_name)


def _mb(size: int) -> str:
    return f"{size / MB:.1f}".rstrip("0").rstrip(".") + " MB"


# --- refusing, and telling the owner once a period ------------------------------------


def refuse_messages(store: DocumentStore, mailer: Mailer | None, clock: Clock,
                    device: Device) -> QuotaExceeded:
    plan = plan_of(device)
    now = clock.now()
    period = period_of(now)
    resets = period_end(period)
    message = (f"monthly message limit reached: device {device.id} has sent or queued "
               f"{plan.messages_per_month} messages in {period}, the limit of the {plan.name} "
               f"plan; upgrade the plan, or wait until {resets:%Y-%m-%d} (UTC)")
    notify_limit(store, mailer, clock, device, MESSAGES, period,
                 subject=f"Utio: device {device.alias or device.id} reached its monthly "
                         "message limit",
                 body=f"{message}.\n\nMessages over the limit are refused with HTTP 429 "
                      "and are not queued.")
    return QuotaExceeded(message, details={
        "limit": MESSAGES, "value": plan.messages_per_month, "plan": plan.id,
        "plan_name": plan.name, "period": period, "resets_at": resets.isoformat(),
        "device": device.id})


def media_too_large(store: DocumentStore, mailer: Mailer | None, clock: Clock, device: Device,
                    limit_name: str, size: int) -> PayloadTooLarge:
    plan = plan_of(device)
    limit = media_limit(device, limit_name)
    message = (f"media: the {limit_name} is {_mb(size)}; the {plan.name} plan allows "
               f"{_mb(limit)} for {limit_name} files")
    notify_limit(store, mailer, clock, device, f"media_{limit_name}", period_of(clock.now()),
                 subject=f"Utio: a {limit_name} over the size limit of the {plan.name} plan",
                 body=f"A message from device {device.alias or device.id} was refused: "
                      f"{message}. A larger plan allows larger files.")
    return PayloadTooLarge(message, code="media_too_large", details={
        "limit": f"media.{limit_name}", "value": limit, "size": size, "plan": plan.id,
        "plan_name": plan.name, "device": device.id})


def notify_limit(store: DocumentStore, mailer: Mailer | None, clock: Clock, device: Device,
                 limit: str, period: str, *, subject: str, body: str) -> bool:
    """Email the account owner about a device's limit, once per device, limit and period
    (the notice document's creation decides, so racing requests send one mail)."""
    return notify_once(store, mailer, clock, device.account_id, device.id, limit, period,
                       subject=subject, body=body)


def notify_account_limit(store: DocumentStore, mailer: Mailer | None, clock: Clock,
                         account_id: str, limit: str, *, subject: str, body: str) -> bool:
    """The same for a limit of the whole account (its agents): once per calendar month."""
    return notify_once(store, mailer, clock, account_id, None, limit, period_of(clock.now()),
                       subject=subject, body=body)


def notify_once(store: DocumentStore, mailer: Mailer | None, clock: Clock, account_id: str,
                device_id: str | None, limit: str, period: str, *, subject: str,
                body: str) -> bool:
    notice_id = f"{device_id or account_id}:{limit}:{period}"
    notices = LimitNotices(store)
    if not notices.create_doc(notice_id, {"device_id": device_id, "account_id": account_id,
                                          "limit": limit, "period": period,
                                          "created_at": clock.now()}):
        return False
    try:
        mail_owner(store, mailer, account_id, subject, body)
    except Exception:  # the refusal stands; the next refusal tries the mail again
        log.exception("could not send the limit notice %s", notice_id)
        notices.delete(notice_id)
        return False
    return True
