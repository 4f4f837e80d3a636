"""The monthly quota taken in blocks (shared/services/quota_leases.py): a device sending
fast costs the counter a write per block; the limit is never passed, however many
processes race; unspent units go back when a lease ends or the process exits; a process
that dies without giving back leaves at most MAX_UNITS - 1 a device; a device near its
limit, or sending slowly, counts one unit at a time."""

from __future__ import annotations

import random
import threading

import pytest

from shared.plans import PLANS, Plan
from shared.services import quota_leases, quotas
from shared.services.quota_leases import QuotaLeases
from tests.fakes import in_threads
from tests.unit.messaging.helpers import PHONE, set_plan
from tests.unit.messaging.test_quotas import CountingWrites, device_of

PERIOD = "2026-01"


class Timer:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timer():
    return Timer()


@pytest.fixture
def leases(c, timer):
    held = QuotaLeases(c.store, timer=timer)
    c.__dict__["quota_leases"] = held  # the API takes its units here
    return held


def plan_of(monkeypatch, limit: int) -> str:
    plan = Plan.model_validate(PLANS["messaging-professional"].model_dump()
                               | {"id": f"p{limit}", "messages_per_month": limit})
    monkeypatch.setitem(PLANS, plan.id, plan)
    return plan.id


def test_a_burst_costs_a_write_a_block_and_counts_exactly_once_given_back(c, api, dev, timer):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    counting = CountingWrites(c.store)
    leases = QuotaLeases(counting, timer=timer)
    got = [leases.reserve(device, c.clock.now(), random.Random(i)) for i in range(200)]
    assert all(got)
    # blocks of 1, 2, 4, 8, 16 and then 16 at a time: 17 writes for 200 messages
    assert sum(counting.writes.values()) <= 20, counting.writes
    assert quotas.used(c.store, dev, PERIOD) == 200 + leases.held()
    assert leases.held() <= quota_leases.MAX_UNITS - 1
    leases.close()
    assert leases.held() == 0
    assert quotas.used(c.store, dev, PERIOD) == 200


def test_unspent_units_go_back_when_the_lease_ends(c, api, dev, timer):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    for _ in range(20):
        leases.reserve(device, c.clock.now())
    assert quotas.used(c.store, dev, PERIOD) > 20  # the last block is partly unspent
    timer.now += quota_leases.LEASE_SECONDS
    leases.give_back_ended()  # (what any later reservation of this process does first)
    assert quotas.used(c.store, dev, PERIOD) == 20


def test_any_later_reservation_gives_back_an_ended_lease(c, api, dev, timer, monkeypatch):
    set_plan(c, dev, "messaging-enterprise")
    other = api.post("/v1/devices", json={"alias": "other"}).get_json()["id"]
    leases = QuotaLeases(c.store, timer=timer)
    for _ in range(20):
        leases.reserve(device_of(c, dev), c.clock.now())
    timer.now += quota_leases.LEASE_SECONDS
    leases.reserve(device_of(c, other), c.clock.now())
    assert quotas.used(c.store, dev, PERIOD) == 20


def test_a_device_sending_slowly_counts_one_unit_a_message(c, api, dev, timer):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    for i in range(1, 6):
        assert leases.reserve(device, c.clock.now())
        assert quotas.used(c.store, dev, PERIOD) == i  # nothing held beyond it
        timer.now += quota_leases.LEASE_SECONDS + 1


def test_racing_processes_never_pass_the_limit(c, api, dev, monkeypatch):
    """8 processes (their own leases) of 8 threads race for 100 units: at most 100 are
    taken; once the leases end, the rest can be taken, exactly up to 100."""
    set_plan(c, dev, plan_of(monkeypatch, 100))
    device = device_of(c, dev)
    processes = [QuotaLeases(c.store) for _ in range(8)]
    barrier = threading.Barrier(64)
    won = []

    def race(seed):
        rng = random.Random(seed)
        leases = processes[seed % 8]
        barrier.wait()
        for _ in range(4):
            if leases.reserve(device, c.clock.now(), rng):
                won.append(1)

    in_threads(race, range(64), timeout=20)
    assert len(won) <= 100
    held = sum(p.held() for p in processes)
    assert quotas.used(c.store, dev, PERIOD) == len(won) + held
    for p in processes:
        p.close()
    assert quotas.used(c.store, dev, PERIOD) == len(won)
    late = QuotaLeases(c.store)
    while late.reserve(device, c.clock.now()):
        won.append(1)
    assert len(won) == 100
    assert late.held() == 0  # near the limit: one unit at a time, none held


def test_near_the_limit_one_unit_at_a_time(c, api, dev, monkeypatch, timer):
    set_plan(c, dev, plan_of(monkeypatch, 64))  # two units a shard
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    got = [leases.reserve(device, c.clock.now(), random.Random(i)) for i in range(70)]
    assert sum(1 for g in got if g) == 64 and got[64:] == [None] * 6
    assert leases.held() == 0 and quotas.used(c.store, dev, PERIOD) == 64


def test_a_process_that_dies_leaves_at_most_a_block_less_one(c, api, dev, timer):
    """Dropped without close (SIGKILL): what it held stays counted, within the bound.
    tests/integration/test_quota_leases.py kills a real process."""
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    dead = QuotaLeases(c.store, timer=timer)
    for _ in range(37):
        dead.reserve(device, c.clock.now())
    leaked = quotas.used(c.store, dev, PERIOD) - 37
    assert 0 < leaked <= quota_leases.MAX_UNITS - 1
    del dead
    alive = QuotaLeases(c.store, timer=timer)  # the next process counts on from there
    alive.reserve(device, c.clock.now())
    alive.close()
    assert quotas.used(c.store, dev, PERIOD) == 38 + leaked


def test_a_message_not_created_puts_its_unit_back_without_a_write(c, api, dev, timer):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    counting = CountingWrites(c.store)
    leases = QuotaLeases(counting, timer=timer)
    for _ in range(3):
        leases.reserve(device, c.clock.now())
    reservation = leases.reserve(device, c.clock.now())
    writes = sum(counting.writes.values())
    leases.put_back(dev, reservation)
    assert sum(counting.writes.values()) == writes
    leases.close()
    assert quotas.used(c.store, dev, PERIOD) == 3
    # after its lease ended, a unit goes back to its shard
    late = leases.reserve(device, c.clock.now())
    timer.now += quota_leases.LEASE_SECONDS
    leases.put_back(dev, late)
    leases.close()
    assert quotas.used(c.store, dev, PERIOD) == 3


def test_a_store_out_of_reach_keeps_what_it_owes_for_the_next_try(c, api, dev, timer):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    for _ in range(10):
        leases.reserve(device, c.clock.now())
    real = quotas.release_units
    calls = []

    def down(*args):
        calls.append(args)
        raise ConnectionError("store unreachable")

    quotas.release_units = down
    try:
        leases.close()
    finally:
        quotas.release_units = real
    assert calls and quotas.used(c.store, dev, PERIOD) > 10
    leases.give_back_ended()
    assert quotas.used(c.store, dev, PERIOD) == 10


def test_the_api_counts_through_the_leases(c, api, dev, leases):
    """Sent through POST /v1/messages; a cancelled message gives its unit back as before."""
    set_plan(c, dev, "messaging-enterprise")
    ids = [api.send(phone=PHONE, message=str(i)).get_json()["id"] for i in range(30)]
    assert quotas.used(c.store, dev, PERIOD) == 30 + leases.held() and leases.held() > 0
    assert api.delete(f"/v1/messages/{ids[0]}").status_code == 200
    leases.close()
    assert quotas.used(c.store, dev, PERIOD) == 29


def test_over_the_limit_through_the_leases_is_429(c, api, dev, leases, monkeypatch):
    set_plan(c, dev, plan_of(monkeypatch, 40))
    codes = [api.send(phone=PHONE, message=str(i)).status_code for i in range(45)]
    assert codes == [201] * 40 + [429] * 5
    assert len(c.store.query("messages")) == 40


def test_off_it_is_one_increment_a_message(c, api, dev, timer):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    counting = CountingWrites(c.store)
    leases = QuotaLeases(counting, enabled=False, timer=timer)
    for _ in range(10):
        leases.reserve(device, c.clock.now())
    assert sum(counting.writes.values()) == 10 and leases.held() == 0


def test_a_lease_that_ended_unseen_is_given_back_by_the_devices_next_message(c, api, dev,
                                                                             timer):
    """Its end passed between the scan and the device's next reservation: that one gives
    its unspent units back before it takes a new block (none is dropped)."""
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    for _ in range(20):
        leases.reserve(device, c.clock.now())
    leases.give_back_ended = lambda: None  # the scan missed it
    timer.now += quota_leases.LEASE_SECONDS
    leases.reserve(device, c.clock.now())
    assert quotas.used(c.store, dev, PERIOD) == 21 + leases.held()
