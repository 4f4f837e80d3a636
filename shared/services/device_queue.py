"""A device's send queue as its owner sees and steers it: what is waiting, in the order it
will go out and when (GET /v1/devices/{id}/queue), pause and resume, and clear.

The order and the times are the runner's own rules replayed on the queued messages:
highest priority first, oldest first within a priority, a scheduled message only from
its deliver_at, one message per gap of 60 / speed seconds, at most the day's cap a UTC
day (shared.services.daily_caps), and nothing while paused. A message that would come
up only after its expires_at is shown as expiring at that turn, and takes no slot. The
listing is paged without reading the whole queue (shared.services.queue_pages).

Pausing is a field of the device (queue_paused_at), so it survives restarts; the runner
claims a message for sending only while the field is unset (the claim is one atomic
write with that check: shared.services.message_transitions.claim), so nothing leaves a
paused device, even in the moment before the runner hears of the pause. Clearing
cancels each queued message with the same conditional write as DELETE /v1/messages/{id},
CLEAR_BATCH of them a commit: a message the runner has claimed (being sent at that
moment) is not cancelled and is reported as in flight; every other one is cancelled with
its own event, and their quota units are given back one increment per counter shard."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import names
from shared.deps import Deps
from shared.domain import Device, Message, MessageStatus
from shared.events import EventName
from shared.ports import Write
from shared.services import daily_caps, event_log, queue_pages, quotas
from shared.services.events import message_status_event


@dataclass(frozen=True)
class Slot:
    message: Message
    position: int | None  # 1 = next to go out; None: it expires first
    expected_at: datetime | None  # None: paused, or it expires first


@dataclass(frozen=True)
class QueueView:
    device: Device
    paused: bool
    speed: int
    total: int
    slots: list[Slot]
    daily: daily_caps.DailyCap
    next_cursor: str | None = None


def _day_start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def plan_sends(messages: list[Message], now: datetime, speed: int, *,
               cap_of=None, used_today: int = 0) -> list[tuple[Message, datetime | None]]:
    """The runner's order and times for these queued messages: (message, expected time)
    in send order, those that expire before their turn at it with time None. `cap_of(day_start)` is
    the cap of that UTC day (None: no cap); `used_today` the sends counted today."""
    gap = timedelta(seconds=60.0 / max(1, speed))
    ready: list[tuple[int, datetime, str, int]] = []
    later = sorted(((m.deliver_at, i) for i, m in enumerate(messages)
                    if m.deliver_at is not None and m.deliver_at > now))
    for i, m in enumerate(messages):
        if m.deliver_at is None or m.deliver_at <= now:
            ready.append((m.priority.rank, m.created_at, m.id, i))
    heapq.heapify(ready)
    planned: list[tuple[Message, datetime | None]] = []
    t, nxt = now, 0
    day, used = _day_start(now), used_today
    cap = cap_of(day) if cap_of else None
    while ready or nxt < len(later):
        while nxt < len(later) and later[nxt][0] <= t:
            m = messages[later[nxt][1]]
            heapq.heappush(ready, (m.priority.rank, m.created_at, m.id, later[nxt][1]))
            nxt += 1
        if not ready:
            t = later[nxt][0]
            continue
        if _day_start(t) != day:
            day, used = _day_start(t), 0
            cap = cap_of(day) if cap_of else None
        if cap is not None and used >= cap:
            t = day + timedelta(days=1)  # the rest waits for the next day
            continue
        m = messages[heapq.heappop(ready)[3]]
        if m.expires_at is not None and m.expires_at <= t:
            planned.append((m, None))  # at its turn, which it will not see: no slot
            continue
        planned.append((m, t))
        used += 1
        t += gap
    return planned


def view(deps: Deps, account_id: str, device_id: str, *, limit: int = 100,
         cursor: str | None = None) -> QueueView:
    """A page of the queue (shared.services.queue_pages): `limit` rows from `cursor`."""
    device = deps.repos.devices.owned(account_id, device_id)
    state = queue_pages.decode(cursor) if cursor else None
    now = deps.clock.now()
    speed = quotas.effective_speed(device)
    cap = daily_caps.today(deps.store, device, now)
    rows, after = queue_pages.page(deps, device, now, speed, limit, state,
                                   lambda day: daily_caps.cap_on(device, day))
    paused = device.queue_paused_at is not None
    slots = [Slot(m, position, None if paused else at) for m, position, at in rows]
    return QueueView(device, paused, speed, deps.repos.messages.queued_count(device_id), slots,
                     cap, queue_pages.encode(after) if after else None)


def _set_paused(deps: Deps, account_id: str, device_id: str, paused: bool) -> Device:
    devices = deps.repos.devices
    device = devices.owned(account_id, device_id)
    if (device.queue_paused_at is not None) == paused:
        return device  # already so: nothing changes, no event
    now = deps.clock.now()
    value = now if paused else None
    name = EventName.device_queue_paused if paused else EventName.device_queue_resumed
    event = event_log.new_event(deps.bus, deps.clock, name, account_id, device_id,
                                {"paused": paused, "at": now.isoformat().replace("+00:00", "Z"),
                                 "queued": deps.repos.messages.queued_count(device_id)})
    # Conditional on the state we read, so two racing pauses make one event.
    was = device.queue_paused_at
    if not event_log.commit(deps.bus, deps.store, [Write.update(
            devices.name, device_id, {"queue_paused_at": value, "updated_at": now},
            when={"queue_paused_at": was})], [event]):
        return devices.owned(account_id, device_id)
    deps.tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES,
                       {"device_id": device_id, "action": "refresh"})
    return device.model_copy(update={"queue_paused_at": value})


def pause(deps: Deps, account_id: str, device_id: str) -> Device:
    return _set_paused(deps, account_id, device_id, True)


def resume(deps: Deps, account_id: str, device_id: str) -> Device:
    return _set_paused(deps, account_id, device_id, False)


@dataclass(frozen=True)
class Cleared:
    cancelled: list[str]
    in_flight: list[str]  # claimed by the runner at that moment: being sent


# Each cancelled message is two writes of one commit (its update, its event's log
# document); Firestore takes at most 500 writes a commit.
CLEAR_BATCH = 200


def clear(deps: Deps, account_id: str, device_id: str) -> Cleared:
    deps.repos.devices.owned(account_id, device_id)
    queued = deps.repos.messages.queued_for_device(device_id)
    cancelled: list[Message] = []
    in_flight = [m.id for m in queued if m.claimed_by is not None]
    unclaimed = [m for m in queued if m.claimed_by is None]
    for start in range(0, len(unclaimed), CLEAR_BATCH):
        batch = unclaimed[start:start + CLEAR_BATCH]
        if _cancel(deps, batch):
            cancelled += batch
            continue
        # A message of the batch was claimed (or changed) since it was read: one by one,
        # so the others are still cancelled and that one is reported.
        for message in batch:
            if _cancel(deps, [message]):
                cancelled.append(message)
            elif (deps.repos.messages.doc(message.id) or {}).get("status") == \
                    MessageStatus.queued.value:
                in_flight.append(message.id)
    quotas.release_many(deps.store, device_id,
                        [(m.quota_period, m.quota_shard) for m in cancelled])
    return Cleared([m.id for m in cancelled], in_flight)


def _cancel(deps: Deps, batch: list[Message]) -> bool:
    """Cancel these queued, unclaimed messages, each with its event, in one commit: all or
    (one was claimed or changed meanwhile) none. The same condition as a single cancel."""
    name = deps.repos.messages.name
    now = deps.clock.now()
    writes, events = [], []
    for message in batch:
        writes.append(Write.update(name, message.id, {"status": MessageStatus.cancelled.value,
                                                      "cancelled_at": now},
                                   when={"status": MessageStatus.queued.value,
                                         "claimed_by": None}))
        done = message.model_copy(update={"status": MessageStatus.cancelled,
                                          "cancelled_at": now})
        events.append(message_status_event(deps.bus, deps.clock, done))
    return event_log.commit(deps.bus, deps.store, writes, events)
