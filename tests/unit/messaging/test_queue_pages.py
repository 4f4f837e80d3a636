"""The queue listing page by page (shared/services/queue_pages.py) is the whole plan
(device_queue.plan_sends over every queued message) cut into pages: on random queues of
every priority, scheduled and expiring messages, with and without a daily cap, whatever
the page size, and when too many scheduled messages wait to fit a cursor (then it
replays from the head); and a page reads about what it lists, not the whole queue."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from shared.content import Text
from shared.domain import DeviceSettings, Message, Priority, Transport
from shared.services import daily_caps, device_queue, queue_pages
from shared.services.devices import create_device
from tests.fakes import seed_account


def fill(c, device_id, account, n, seed):
    rng, now = random.Random(seed), c.clock.now()
    for i in range(n):
        c.repos.messages.add(Message(
            id=f"msg_{seed:04d}{i:016d}", account_id=account, device_id=device_id,
            phone="+447911123456", message=f"m{i}", content=Text(text=f"m{i}"),
            priority=rng.choice(list(Priority)),
            created_at=now - timedelta(seconds=rng.randrange(600)),
            deliver_at=now + timedelta(seconds=rng.randrange(-60, 900))
            if rng.random() < 0.3 else None,
            expires_at=now + timedelta(seconds=rng.randrange(1, 600))
            if rng.random() < 0.15 else None))


def whole(c, device):
    now = c.clock.now()
    plan = device_queue.plan_sends(
        c.repos.messages.queued_for_device(device.id), now, 15,
        cap_of=lambda day: daily_caps.cap_on(device, day),
        used_today=daily_caps.today(c.store, device, now).used)
    rows, n = [], 0
    for m, at in plan:
        n += at is not None
        rows.append((m.id, n if at is not None else None, at))
    return rows


def paged(c, device, limit):
    rows, state = [], None
    for _ in range(10_000):
        page, state = queue_pages.page(c, device, c.clock.now(), 15, limit, state,
                                       lambda day: daily_caps.cap_on(device, day))
        rows += [(m.id, position, at) for m, position, at in page]
        if state is None:
            return rows
        state = queue_pages.decode(queue_pages.encode(state))  # as a client carries it
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("seed, limit, daily", [(1, 7, None), (2, 1, None), (3, 50, 40),
                                                (4, 13, 25), (5, 1000, None)])
def test_pages_make_the_whole_plan(c, seed, limit, daily):
    account = seed_account(c)
    device = create_device(c, account, transport=Transport.sandbox,
                           settings=DeviceSettings(daily_limit=daily))
    fill(c, device.id, account, 300, seed)
    assert paged(c, device, limit) == whole(c, device)


def test_too_many_waiting_scheduled_messages_replay_from_the_head(c, monkeypatch):
    monkeypatch.setattr(queue_pages, "MAX_RELEASED", 3)
    account = seed_account(c)
    device = create_device(c, account, transport=Transport.sandbox)
    now = c.clock.now()
    for i in range(40):  # urgent now, and low ones due at once: they wait behind
        c.repos.messages.add(Message(
            id=f"msg_{i:020d}", account_id=account, device_id=device.id, phone="+447911123456",
            message=f"m{i}", content=Text(text=f"m{i}"),
            priority=Priority.urgent if i % 2 else Priority.low, created_at=now,
            deliver_at=None if i % 2 else now))
    assert paged(c, device, 6) == whole(c, device)


def test_a_page_reads_about_what_it_lists(c):
    account = seed_account(c)
    device = create_device(c, account, transport=Transport.sandbox)
    fill(c, device.id, account, 2000, 9)
    read, query = [], c.store.query

    def counting(collection, *args, **kwargs):
        found = query(collection, *args, **kwargs)
        if collection == "messages":
            read.append(len(found))
        return found

    c.store.query = counting
    rows, state = queue_pages.page(c, device, c.clock.now(), 15, 100, None,
                                   lambda day: daily_caps.cap_on(device, day))
    assert len(rows) == 100 and state is not None
    assert sum(read) <= 5 * 101  # each stream at most a page ahead, not 2000
