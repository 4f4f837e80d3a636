"""A device's queue, page by page (GET /v1/devices/{id}/queue with limit and cursor),
without reading every queued message: the runner's rules (shared.services.device_queue)
replayed on streams read as far as the page needs.

The send order is the smallest (priority rank, created_at, id) among what is due. What is
due is every unscheduled message (one stream per priority, oldest first: the smallest
key is the head of the highest priority's stream) and every scheduled one whose
deliver_at has come (a stream soonest first; released into a heap when the replayed
clock passes its time). A page reads each stream ahead by at most a page, and the
cursor carries where the replay stopped: the next slot's time, the day's count, the
position, each stream's last key and the scheduled messages released but not yet
placed (their ids; at most MAX_RELEASED, past which the cursor replays from the start
instead, reading everything, so the answer stays exact).

A cursor continues the plan made for the first page: messages sent or cancelled since
are left out, and the times are those of that plan. A message that would come up only
after its expires_at is listed at that turn with position null (it takes no slot)."""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.deps import Deps
from shared.domain import Device, Message, Priority
from shared.encoding import b64url, unb64url
from shared.services import daily_caps

MAX_RELEASED = 200


@dataclass
class Replay:
    """Where a replay stopped: what a cursor carries."""

    t: datetime  # the next slot
    day: datetime  # the UTC day t is in, and the sends counted on it
    used: int
    position: int
    ready: dict[str, list] = field(default_factory=dict)  # priority -> [created_at, id]
    later: list | None = None  # [deliver_at, id] of the last scheduled one released
    released: list[str] = field(default_factory=list)  # released, not yet placed
    answered: int = 0  # rows answered before this page
    skip: bool = False  # too many released to carry: replay from the start instead


def day_start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def key(m: Message) -> tuple:
    return (m.priority.rank, m.created_at, m.id)


class _Stream:
    """One query's messages in order, read `chunk` at a time after the last one taken."""

    def __init__(self, fetch, after, chunk: int, key_of):
        self.fetch, self.after, self.chunk, self.key_of = fetch, after, chunk, key_of
        self.buffer: list[Message] = []
        self.ended = False

    def peek(self) -> Message | None:
        if not self.buffer and not self.ended:
            self.buffer = self.fetch(after=self.after, limit=self.chunk)
            self.ended = len(self.buffer) < self.chunk
        return self.buffer[0] if self.buffer else None

    def pop(self) -> Message:
        m = self.buffer.pop(0)
        self.after = self.key_of(m)
        return m


def page(deps: Deps, device: Device, now: datetime, speed: int, limit: int,
         state: Replay | None, cap_of) -> tuple[list[tuple[Message, int | None, datetime | None]],
                                                Replay | None]:
    """Up to `limit` rows (message, position, expected time) from where `state` stopped
    (None: the head of the queue), and the state after them (None: the queue's end)."""
    if state is not None and state.skip:
        return _replay_all(deps, device, now, speed, limit, state.answered, cap_of)
    messages = deps.repos.messages
    state = state or Replay(t=now, day=day_start(now), used=daily_caps.today(
        deps.store, device, now).used, position=0)
    chunk = limit + 1
    ready = {p: _Stream(lambda after, limit, p=p: messages.queued_unscheduled(
        device.id, p.value, limit=limit, after=after), _key(state.ready.get(p.value)), chunk,
        lambda m: (m.created_at, m.id)) for p in sorted(Priority, key=lambda p: p.rank)}
    later = _Stream(lambda after, limit: messages.queued_scheduled(
        device.id, limit=limit, after=after), _key(state.later), chunk,
        lambda m: (m.deliver_at, m.id))
    released: list[tuple[tuple, Message]] = []
    for message_id in state.released:
        m = messages.get(message_id)
        if m is not None and m.status.value == "queued":
            heapq.heappush(released, (key(m), m))
    gap = timedelta(seconds=60.0 / max(1, speed))
    cap = cap_of(state.day)
    rows: list[tuple[Message, int | None, datetime | None]] = []
    t, day, used, position = state.t, state.day, state.used, state.position
    while len(rows) < limit:
        while (nxt := later.peek()) is not None and nxt.deliver_at <= t:  # type: ignore[operator]
            m = later.pop()
            heapq.heappush(released, (key(m), m))
        head = next((s for s in ready.values() if s.peek() is not None), None)
        if head is None and not released:
            nxt = later.peek()
            if nxt is None:
                return rows, None
            t = max(t, nxt.deliver_at)  # type: ignore[type-var]
            continue
        if day_start(t) != day:
            day, used = day_start(t), 0
            cap = cap_of(day)
        if cap is not None and used >= cap:
            t = day + timedelta(days=1)  # the rest waits for the next day
            continue
        if head is not None and (not released or key(head.peek()) < released[0][0]):  # type: ignore[arg-type]
            m = head.pop()
        else:
            m = heapq.heappop(released)[1]
        if m.expires_at is not None and m.expires_at <= t:
            rows.append((m, None, None))
            continue
        position += 1
        rows.append((m, position, t))
        used += 1
        t += gap
    if not any(s.peek() is not None for s in ready.values()) and not released and \
            later.peek() is None:
        return rows, None
    answered = state.answered + len(rows)
    if len(released) > MAX_RELEASED:
        return rows, Replay(t=now, day=day_start(now), used=0, position=0, answered=answered,
                            skip=True)
    return rows, Replay(t=t, day=day, used=used, position=position,
                        ready={p.value: _raw(s.after) for p, s in ready.items() if s.after},
                        later=_raw(later.after), released=[m.id for _, m in sorted(released)],
                        answered=answered)


def _replay_all(deps, device, now, speed, limit, skip, cap_of):
    """The exact fallback: every queued message read, the plan replayed from the head."""
    from shared.services.device_queue import plan_sends

    queued = deps.repos.messages.queued_for_device(device.id)
    plan = plan_sends(queued, now, speed, cap_of=cap_of,
                      used_today=daily_caps.today(deps.store, device, now).used)
    positions, n = {}, 0
    for m, at in plan:
        if at is not None:
            n += 1
            positions[m.id] = n
    rows = [(m, positions.get(m.id), at) for m, at in plan[skip:skip + limit]]
    more = skip + limit < len(plan)
    return rows, (Replay(t=now, day=day_start(now), used=0, position=0, answered=skip + limit,
                         skip=True) if more else None)


def _key(raw: list | None):
    if not raw:
        return None
    return (datetime.fromisoformat(raw[0]), raw[1])


def _raw(value) -> list | None:
    return [value[0].isoformat(), value[1]] if value else None


def encode(state: Replay) -> str:
    return b64url(json.dumps({
        "t": state.t.isoformat(), "day": state.day.isoformat(), "used": state.used,
        "position": state.position, "ready": state.ready, "later": state.later,
        "released": state.released, "answered": state.answered, "skip": state.skip},
        separators=(",", ":")).encode())


def decode(raw: str) -> Replay:
    from shared.cursor import invalid, timestamp

    try:
        d = json.loads(unb64url(raw))
        replay = Replay(t=timestamp(d["t"]), day=timestamp(d["day"]),
                        used=int(d["used"]), position=int(d["position"]),
                        ready={str(k): [str(v[0]), str(v[1])] for k, v in d["ready"].items()},
                        later=[str(d["later"][0]), str(d["later"][1])] if d["later"] else None,
                        released=[str(i) for i in d["released"]],
                        answered=int(d["answered"]), skip=bool(d["skip"]))
        for place in [replay.later, *replay.ready.values()]:  # the times they resume after
            if place:
                timestamp(place[0])
        return replay
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise invalid() from None
