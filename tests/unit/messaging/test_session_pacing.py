"""The session's pacing and retries, on a fake monotonic clock."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from device_runner import session as session_module
from device_runner.session import DeviceSession, Retry, backoff
from shared.domain import Priority
from tests.fakes import wait_until


class FakeTime:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(session_module, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


@pytest.fixture
def make():
    made = []

    def build(send, speed=60, seed=3):
        s = DeviceSession("dev_t", send, delivery_speed=speed, rng=random.Random(seed))
        made.append(s)
        return s

    yield build
    for s in made:
        s.stop()


def poke(session):
    session.set_connected(True)


def test_backoff_doubles_up_to_five_minutes():
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 7, 10)] == [5, 10, 20, 40, 80, 160, 300, 300]


def test_the_gap_runs_from_the_start_of_a_send(make, clock):
    """A send that takes 0.8 s does not push the next one back by 0.8 s."""
    sent = []

    def slow(message_id):
        sent.append(clock.now)
        clock.now += 0.8
        return True

    session = make(slow, speed=60)
    for i in range(3):
        session.push(f"m{i}", Priority.normal, created=i)
    poke(session)
    wait_until(lambda: len(sent) == 1)
    factor = random.Random(3).uniform(0.85, 1.15)
    wait_until(lambda: session._last_send is not None)
    assert session._next_send == pytest.approx(1000.0 + 1.0 * factor)


def test_a_new_speed_shortens_the_gap_under_way(make, clock):
    sent = []
    session = make(lambda m: sent.append(m) or True, speed=1)
    session.push("a", Priority.normal, created=0)
    session.push("b", Priority.normal, created=1)
    poke(session)
    wait_until(lambda: session._last_send is not None)
    assert session._next_send - 1000.0 > 50  # a minute away
    session.set_speed(600)
    assert session._next_send - 1000.0 < 0.2
    clock.now += 0.2
    poke(session)
    wait_until(lambda: sent == ["a", "b"])


def test_retry_goes_back_after_backoff_and_costs_no_gap(make, clock):
    answers = {"flaky": [Retry(), True], "other": [True]}
    calls = []

    def send(message_id):
        calls.append(message_id)
        return answers[message_id].pop(0)

    session = make(send, speed=60_000)
    session.push("flaky", Priority.urgent, created=0)
    session.push("other", Priority.low, created=1)
    poke(session)
    wait_until(lambda: calls == ["flaky", "other"])  # the retry did not hold up the queue
    assert session.pending() == 1
    clock.now += 4.9
    poke(session)
    assert calls == ["flaky", "other"]
    clock.now += 0.2
    poke(session)
    wait_until(lambda: calls == ["flaky", "other", "flaky"])
    wait_until(lambda: session.pending() == 0)


def test_retry_with_an_explicit_delay(make, clock):
    outcomes = [Retry(after=30), True]
    calls = []
    session = make(lambda m: calls.append(m) or outcomes.pop(0), speed=60_000)
    session.push("m", Priority.normal, created=0)
    poke(session)
    wait_until(lambda: calls == ["m"])
    clock.now += 29
    poke(session)
    assert calls == ["m"]
    clock.now += 1
    poke(session)
    wait_until(lambda: calls == ["m", "m"])


def test_repeated_exceptions_back_off_further(make, clock):
    calls = []

    def broken(message_id):
        calls.append(clock.now)
        raise RuntimeError("down")

    session = make(broken, speed=60_000)
    session.push("m", Priority.normal, created=0)
    poke(session)
    wait_until(lambda: len(calls) == 1 and session.pending() == 1)
    for n, expected_gap in enumerate((5, 10, 20), start=1):
        clock.now += expected_gap - 0.5
        poke(session)
        assert len(calls) == n
        clock.now += 0.5
        poke(session)
        wait_until(lambda n=n: len(calls) == n + 1 and session.pending() == 1)
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert gaps == [5, 10, 20]
