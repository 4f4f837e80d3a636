"""The monthly quota taken in blocks (shared/services/quota_leases.py): a device sending
fast costs the counter a write per block; the limit is never passed, however many
processes race; unspent units go back when a lease ends or the process exits; a process
that dies without giving back leaves at most MAX_UNITS - 1 a device; a device near its
limit, or sending slowly, counts one unit at a time."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

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
    # blocks of 1, 2, 4, 8 and 16 (31 units), then 11 of 16: 16 writes for 200 messages
    assert sum(counting.writes.values()) == 16, counting.writes
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
    """Once a shard refuses a block, every reservation of the month takes one unit: none
    is held where another process might need it."""
    set_plan(c, dev, plan_of(monkeypatch, 64))  # two units a shard
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    got = []
    for i in range(70):
        got.append(leases.reserve(device, c.clock.now(), random.Random(i)))
        if i >= 4 and got[-1] is not None:  # blocks of 1 and 2, then 4 is refused
            assert leases.held() == 0, i
    assert sum(1 for g in got if g) == 64 and got[64:] == [None] * 6
    assert quotas.used(c.store, dev, PERIOD) == 64


def test_month_boundary_each_period_its_own_lease(c, api, dev, timer):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    january, february = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC), \
        datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC)
    jan = [leases.reserve(device, january) for _ in range(10)]
    feb = [leases.reserve(device, february) for _ in range(7)]
    assert {r.period for r in jan} == {"2026-01"} and {r.period for r in feb} == {"2026-02"}
    leases.put_back(dev, jan[-1])  # a January unit after February began: January's
    leases.close()
    assert quotas.used(c.store, dev, "2026-01") == 9
    assert quotas.used(c.store, dev, "2026-02") == 7


def test_threads_spending_putting_back_and_leases_ending_lose_nothing(c, api, dev):
    """Real time, leases of 2 ms: 8 threads reserve, some put back, while leases end and
    are given back; afterwards the count is exactly what was kept."""
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, seconds=0.002)
    kept = []

    def worker(seed):
        rng = random.Random(seed)
        for _ in range(150):
            held = leases.reserve(device, c.clock.now(), rng)
            if rng.random() < 0.2:
                leases.put_back(dev, held)
            else:
                kept.append(held)
            if rng.random() < 0.1:
                leases.give_back_ended()

    in_threads(worker, range(8), timeout=60)
    leases.close()
    assert quotas.used(c.store, dev, PERIOD) == len(kept)


def test_a_background_thread_gives_back_what_ended(c, api, dev):
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, seconds=0.05, background=True)
    for _ in range(20):
        leases.reserve(device, c.clock.now())
    deadline = time.monotonic() + 5
    while quotas.used(c.store, dev, PERIOD) != 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert quotas.used(c.store, dev, PERIOD) == 20 and leases.held() == 0


def test_any_api_request_gives_back_what_ended(c, api, dev, leases, timer):
    """Where a process gets no CPU between requests, the next request of any kind does."""
    set_plan(c, dev, "messaging-enterprise")
    for i in range(20):
        assert api.send(phone=PHONE, message=str(i)).status_code == 201
    assert leases.held() > 0
    timer.now += quota_leases.LEASE_SECONDS
    assert api.get("/v1/health").status_code == 200
    assert quotas.used(c.store, dev, PERIOD) == 20


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
    for _ in range(4):  # blocks of 1 and 2, then one of 4 taken by the fourth
        leases.reserve(device, c.clock.now())
    reservation = leases.reserve(device, c.clock.now())  # spends from that block
    writes = sum(counting.writes.values())
    leases.put_back(dev, reservation)
    assert sum(counting.writes.values()) == writes
    leases.close()
    assert quotas.used(c.store, dev, PERIOD) == 4
    # after its lease ended, a unit goes back to its shard
    late = leases.reserve(device, c.clock.now())
    timer.now += quota_leases.LEASE_SECONDS
    leases.put_back(dev, late)
    leases.close()
    assert quotas.used(c.store, dev, PERIOD) == 4


def test_a_give_back_the_store_failed_leaves_the_count_high_never_low(c, api, dev, timer,
                                                                      monkeypatch):
    """A give-back is an increment: one that failed may have been applied, so it is not
    tried again (the count stays high, as for a killed process; never below what was
    used, which would let the limit be passed)."""
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    for _ in range(10):
        leases.reserve(device, c.clock.now())
    real = quotas.release_units
    calls = []

    def applied_then_lost(*args):
        real(*args)
        calls.append(args)
        raise TimeoutError("deadline exceeded")

    monkeypatch.setattr(quotas, "release_units", applied_then_lost)
    leases.close()
    leases.give_back_ended()
    timer.now += quota_leases.LEASE_SECONDS
    leases.reserve(device, c.clock.now())
    monkeypatch.setattr(quotas, "release_units", real)
    leases.close()
    assert len(calls) == 1
    assert quotas.used(c.store, dev, PERIOD) == 11


def test_a_unit_put_back_never_raises_a_lease_past_a_block_less_one(c, api, dev, timer):
    """The first unit of a block is its taker's: put back, it goes to its shard, so what a
    killed process can leave stays within MAX_UNITS - 1."""
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    leases = QuotaLeases(c.store, timer=timer)
    for _ in range(15):  # blocks of 1, 2, 4 and 8, all spent
        leases.reserve(device, c.clock.now())
    first = leases.reserve(device, c.clock.now())  # a block of 16: 15 left
    leases.put_back(dev, first)
    assert leases.held() == quota_leases.MAX_UNITS - 1
    assert quotas.used(c.store, dev, PERIOD) - 15 <= quota_leases.MAX_UNITS - 1


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


# --- the daily cap, counted the same way by the runner -----------------------------------


def capped_device(c, dev, limit: int):
    from shared.domain import DeviceSettings

    c.store.update("devices", dev, {"settings": DeviceSettings(daily_limit=limit).model_dump()})
    return device_of(c, dev)


def test_the_daily_cap_in_blocks_costs_a_write_a_block_and_never_passes_the_cap(c, api, dev,
                                                                               timer):
    from shared.services import daily_caps
    from shared.services.quota_leases import DailyCapLeases

    device = capped_device(c, dev, 100)
    counting = CountingWrites(c.store)
    leases = DailyCapLeases(counting, timer=timer)
    got = [leases.reserve(device, c.clock.now()) for _ in range(105)]
    assert sum(1 for g in got if g) == 100 and got[100:] == [None] * 5
    day = counting.writes  # (the counting store counts the usage collection's writes)
    # blocks of 1, 2, 4, 8, then 16 five times (95), then one at a time: 14 writes, not 100
    assert sum(day.values()) == 14, day
    assert leases.held() == 0
    assert daily_caps.today(c.store, device, c.clock.now()).used == 100
    leases.put_back(dev, got[0])  # a send that did not go out after all
    assert daily_caps.today(c.store, device, c.clock.now()).used == 99


def test_a_burst_under_the_daily_cap_gives_back_what_it_did_not_send(c, api, dev, timer):
    from shared.services import daily_caps
    from shared.services.quota_leases import DailyCapLeases

    device = capped_device(c, dev, 1000)
    leases = DailyCapLeases(c.store, timer=timer)
    for _ in range(40):
        assert leases.reserve(device, c.clock.now())
    assert daily_caps.today(c.store, device, c.clock.now()).used == 40 + leases.held()
    leases.give_back_device(dev)  # the runner lets the device go
    assert daily_caps.today(c.store, device, c.clock.now()).used == 40


def _sending_under_a_daily_cap(c, api, dev, runner_for, limit: int, count: int):
    """`count` messages queued on a device capped at `limit` a day, the runner's daily
    leases on, its session linked and every task handed to it: (runner, message ids)."""
    from shared.services.quota_leases import DailyCapLeases
    from tests.unit.messaging.helpers import connect

    c.__dict__["daily_leases"] = DailyCapLeases(c.store)
    assert api.patch(f"/v1/devices/{dev}", json={"settings": {
        "daily_limit": limit, "warmup": {"enabled": False}}}).status_code == 200
    ids = [api.send(phone=PHONE, message=f"m{i}").get_json()["id"] for i in range(count)]
    runner, timer = runner_for()
    connect(runner, timer, dev)
    for message_id in ids:
        runner.handle_message_task(message_id)
    return runner, ids


def test_the_runner_sends_up_to_the_daily_cap_through_the_leases(c, api, dev, runner_for,
                                                                 network):
    """The send loop with the daily cap's leases on: exactly the cap goes out, the rest
    waits for the next day; letting the device go leaves the counter at what was sent."""
    from shared.services import daily_caps
    from tests.fakes import wait_until

    runner, ids = _sending_under_a_daily_cap(c, api, dev, runner_for, 30, 35)
    wait_until(lambda: len(network.send_attempts) >= 30, 15, "the day's 30")
    wait_until(lambda: sum(c.store.get("messages", m)["status"] == "queued" and
                           c.store.get("messages", m).get("claimed_by") is None
                           for m in ids) == 5, 15, "five given back to wait")
    assert len(network.send_attempts) == 30
    runner.drop_session(dev)
    assert daily_caps.today(c.store, device_of(c, dev), c.clock.now()).used == 30


def test_a_lowered_daily_cap_ends_the_block_held(c, api, dev, timer):
    """A block taken under a cap of 100; the cap becomes 10: the next send gives the block
    back and counts under 10 (before leases, the 11th send was refused: still so)."""
    from shared.services.quota_leases import DailyCapLeases

    device = capped_device(c, dev, 100)
    leases = DailyCapLeases(c.store, timer=timer)
    sent = sum(1 for _ in range(8) if leases.reserve(device, c.clock.now()))
    lowered = capped_device(c, dev, 10)
    sent += sum(1 for _ in range(20) if leases.reserve(lowered, c.clock.now()))
    assert sent == 10


def test_a_reservation_waits_for_a_give_back_in_flight(c, api, dev, monkeypatch):
    """The background giver has taken an ended lease out and is writing its units back
    when the device's next send comes: that send waits for the write, so it finds the
    units free instead of the counter full (which would park messages until tomorrow)."""
    from shared.services import daily_caps
    from shared.services.quota_leases import DailyCapLeases

    device = capped_device(c, dev, 15)
    timer = Timer()
    leases = DailyCapLeases(c.store, timer=timer)
    for _ in range(8):  # blocks of 1, 2, 4 and then 8 (15 counted, 7 of the 8 unspent)
        assert leases.reserve(device, c.clock.now())
    assert leases.held() == 7
    timer.now += quota_leases.LEASE_SECONDS
    writing, go_on = threading.Event(), threading.Event()
    real = daily_caps.give_back_units

    def slow(*args):
        writing.set()
        go_on.wait(5)
        real(*args)

    monkeypatch.setattr(daily_caps, "give_back_units", slow)
    giver = threading.Thread(target=leases.give_back_ended)
    giver.start()
    assert writing.wait(5)
    got = []
    sender = threading.Thread(target=lambda: got.append(leases.reserve(device, c.clock.now())))
    sender.start()
    time.sleep(0.05)
    go_on.set()
    giver.join(5)
    sender.join(5)
    assert got and got[0] is not None


def test_a_runner_stopping_gives_its_daily_units_back(c, api, dev, runner_for, network):
    from shared.services import daily_caps
    from tests.fakes import wait_until

    runner, _ = _sending_under_a_daily_cap(c, api, dev, runner_for, 100, 10)
    wait_until(lambda: len(network.send_attempts) >= 10, 15, "the ten sent")
    runner.stop()
    assert daily_caps.today(c.store, device_of(c, dev), c.clock.now()).used == 10
