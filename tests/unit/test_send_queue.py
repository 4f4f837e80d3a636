"""The per-device send queue: priority order, FIFO within a priority, pacing (on a fake
monotonic clock), and retries with backoff."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from device_runner import send_queue as send_queue_module
from device_runner.send_queue import Retry, SendQueue, backoff
from shared.domain import WEB_CHAT_RANK, Message, MessageSource, Priority
from tests.fakes import wait_until

NOW = datetime(2026, 12, 1, tzinfo=UTC)

FAST = 10**6  # messages per minute: a gap of 60 µs, so pacing does not slow these tests


class Recorder:
    def __init__(self, answer: bool = True):
        self.sent: list[str] = []
        self.answer = answer
        self.lock = threading.Lock()

    def __call__(self, message_id: str) -> bool:
        with self.lock:
            self.sent.append(message_id)
        return self.answer


class RecordingRng(random.Random):
    def __init__(self, seed):
        super().__init__(seed)
        self.calls: list[tuple[float, float, float]] = []

    def uniform(self, a, b):
        value = super().uniform(a, b)
        self.calls.append((a, b, value))
        return value


class FakeMonotonic:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def sessions():
    made: list[SendQueue] = []

    def make(send, **kwargs) -> SendQueue:
        kwargs.setdefault("delivery_speed", FAST)
        session = SendQueue("dev_test", send, **kwargs)
        made.append(session)
        return session

    yield make
    for session in made:
        session.stop()


@pytest.fixture
def fake_time(monkeypatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(send_queue_module, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


@pytest.fixture
def paced():
    """Queues at a real pace (60 a minute unless told) with a seeded jitter."""
    made = []

    def build(send, speed=60, seed=3):
        queue = SendQueue("dev_t", send, delivery_speed=speed, rng=random.Random(seed))
        made.append(queue)
        return queue

    yield build
    for queue in made:
        queue.stop()


def next_send(session: SendQueue) -> float:
    """When the next send may go; read under the session's lock, which also covers the
    rng call that computes it."""
    with session._cond:
        return session._next_send


def retrying(session: SendQueue) -> int:
    """How many entries wait for a retry: a failed send's entry is back in the queue only
    once this counts it (`pending` counts it all along, even while its send runs, and the
    retry's time is taken from the clock when it is put back)."""
    with session._cond:
        return len(session._delayed)


def poke(session: SendQueue) -> None:
    """Wake the send loop after the fake time moved."""
    session.set_connected(session.connected)


def test_urgent_messages_jump_the_queue(sessions):
    send = Recorder()
    session = sessions(send)
    low = [f"low-{i}" for i in range(30)]
    urgent = [f"urgent-{i}" for i in range(5)]
    for i, message_id in enumerate(low):
        session.push(message_id, Priority.low, created=i)
    for i, message_id in enumerate(urgent):
        session.push(message_id, Priority.urgent, created=100 + i)
    assert send.sent == []  # not connected yet
    session.set_connected(True)
    wait_until(lambda: len(send.sent) == 35, message="35 sends")
    assert send.sent == urgent + low


def test_all_priorities_in_rank_order_fifo_within_each(sessions):
    send = Recorder()
    session = sessions(send)
    pushes = []
    order = [Priority.low, Priority.normal, Priority.high, Priority.urgent]
    for i in range(20):
        priority = order[i % 4]
        pushes.append((f"{priority.value}-{i}", priority))
        session.push(f"{priority.value}-{i}", priority, created=i)
    session.set_connected(True)
    wait_until(lambda: len(send.sent) == 20)
    expected = [mid for p in sorted(order, key=lambda p: p.rank) for mid, q in pushes if q == p]
    assert send.sent == expected


def test_web_chat_messages_go_ahead_of_urgent_ones(sessions):
    """A person in the web chat waits for the answer: their message goes next, ahead of
    what the API queued (urgent included), first in first out among themselves."""
    send = Recorder()
    session = sessions(send)
    for i in range(10):
        session.push(f"urgent-{i}", Priority.urgent, created=i)
    web = Message(id="web-1", account_id="a", device_id="d", content={"type": "text", "text": "hi"},
                  source=MessageSource.web_chat, priority=Priority.low, created_at=NOW)
    session.push("web-2", WEB_CHAT_RANK, created=300)
    session.push(web.id, web.send_rank, created=200)
    session.set_connected(True)
    wait_until(lambda: len(send.sent) == 12)
    assert send.sent[:2] == ["web-1", "web-2"]
    assert send.sent[2:] == [f"urgent-{i}" for i in range(10)]


def test_web_chat_messages_keep_the_device_pace(paced, fake_time):
    """Going first is not going faster: the gap after a send holds for the web chat too."""
    send = Recorder()
    session = paced(send, speed=60)
    session.push("api-1", Priority.normal, created=1)
    session.set_connected(True)
    wait_until(lambda: send.sent == ["api-1"])
    session.push("web-1", WEB_CHAT_RANK, created=2)
    poke(session)
    assert send.sent == ["api-1"]  # within the gap: it waits its turn at the device's speed
    fake_time.now = next_send(session)
    poke(session)
    wait_until(lambda: send.sent == ["api-1", "web-1"])


def test_fifo_follows_creation_time_not_push_order(sessions):
    """A runner reloading queued messages after a restart may push them in any order."""
    send = Recorder()
    session = sessions(send)
    session.push("newer", Priority.normal, created=200.0)
    session.push("older", Priority.normal, created=100.0)
    session.push("oldest-low", Priority.low, created=1.0)
    session.set_connected(True)
    wait_until(lambda: len(send.sent) == 3)
    assert send.sent == ["older", "newer", "oldest-low"]


def test_a_repeated_push_is_ignored(sessions):
    send = Recorder()
    session = sessions(send)
    assert session.push("m1", Priority.normal, created=1) is True
    assert session.push("m1", Priority.urgent, created=1) is False
    assert session.pending() == 1
    session.set_connected(True)
    wait_until(lambda: send.sent == ["m1"])
    wait_until(lambda: session.pending() == 0)


def test_nothing_is_sent_while_disconnected(sessions, fake_time):
    send = Recorder()
    session = sessions(send)
    session.push("m1", Priority.urgent, created=1)
    fake_time.now += 3600
    poke(session)
    session.set_connected(False)
    assert send.sent == [] and session.pending() == 1


def test_gap_between_sends_is_60_over_speed_with_jitter(sessions, fake_time):
    send = Recorder()
    rng = RecordingRng(7)
    speed = 30
    session = sessions(send, delivery_speed=speed, rng=rng)
    for i in range(3):
        session.push(f"m{i}", Priority.normal, created=i)
    session.set_connected(True)

    expected_factor = random.Random(7).uniform(0.85, 1.15)
    wait_until(lambda: rng.calls, message="the gap after the first send")
    assert send.sent == ["m0"]
    assert rng.calls == [(0.85, 1.15, expected_factor)]
    first_gap = 60 / speed * expected_factor
    assert next_send(session) == pytest.approx(1000.0 + first_gap)

    # just before the gap ends: still one send
    fake_time.now = 1000.0 + first_gap - 0.001
    poke(session)
    assert send.sent == ["m0"]
    # at the end of the gap the next message goes
    fake_time.now = 1000.0 + first_gap
    poke(session)
    wait_until(lambda: len(send.sent) == 2)
    assert send.sent == ["m0", "m1"]
    wait_until(lambda: len(rng.calls) == 2)
    second_gap = 60 / speed * rng.calls[1][2]
    assert next_send(session) == pytest.approx(fake_time.now + second_gap)


@pytest.mark.parametrize("speed", [1, 15, 120])
def test_jitter_stays_within_15_percent(sessions, fake_time, speed):
    send = Recorder()
    rng = RecordingRng(speed)
    session = sessions(send, delivery_speed=speed, rng=rng)
    for i in range(20):
        session.push(f"m{i}", Priority.normal, created=i)
    session.set_connected(True)
    gaps = []
    for n in range(1, 21):
        wait_until(lambda n=n: len(rng.calls) == n)
        gaps.append(next_send(session) - fake_time.now)
        fake_time.now = next_send(session)
        poke(session)
    wait_until(lambda: len(send.sent) == 20)
    nominal = 60 / speed
    assert all(0.85 * nominal <= gap <= 1.15 * nominal for gap in gaps), gaps
    assert len(set(gaps)) > 1  # there is jitter


def test_speed_change_applies_to_the_next_gap(sessions, fake_time):
    send = Recorder()
    rng = RecordingRng(1)
    session = sessions(send, delivery_speed=1, rng=rng)
    session.push("m0", Priority.normal, created=0)
    session.push("m1", Priority.normal, created=1)
    session.set_connected(True)
    wait_until(lambda: len(rng.calls) == 1)
    assert next_send(session) - fake_time.now == pytest.approx(60 * rng.calls[0][2])
    session.set_speed(120)
    fake_time.now = next_send(session)
    poke(session)
    wait_until(lambda: len(rng.calls) == 2)
    assert next_send(session) - fake_time.now == pytest.approx(0.5 * rng.calls[1][2])


def test_a_send_that_was_not_ours_costs_no_gap(sessions, fake_time):
    send = Recorder(answer=False)  # e.g. the message was cancelled meanwhile
    session = sessions(send, delivery_speed=1)
    for i in range(5):
        session.push(f"m{i}", Priority.normal, created=i)
    session.set_connected(True)
    wait_until(lambda: len(send.sent) == 5)  # fake time never moved: no pacing applied


def test_delayed_message_waits_for_its_time(sessions, fake_time):
    send = Recorder()
    session = sessions(send)
    session.push("later", Priority.urgent, created=0, ready_in=60)
    session.push("now", Priority.low, created=1)
    session.set_connected(True)
    wait_until(lambda: send.sent == ["now"])
    fake_time.now += 59
    poke(session)
    assert send.sent == ["now"]
    fake_time.now += 1
    poke(session)
    wait_until(lambda: send.sent == ["now", "later"])


def test_a_failing_send_is_retried_later(sessions, fake_time):
    calls = []

    def flaky(message_id):
        calls.append(message_id)
        if len(calls) == 1:
            raise RuntimeError("transport hiccup")
        return True

    session = sessions(flaky)
    session.push("m1", Priority.normal, created=0)
    session.set_connected(True)
    wait_until(lambda: session.pending() == 1 and calls == ["m1"])
    fake_time.now += 5
    poke(session)
    wait_until(lambda: calls == ["m1", "m1"])
    wait_until(lambda: session.pending() == 0)


def test_stop_leaves_queued_messages_unsent(sessions, fake_time):
    send = Recorder()
    session = sessions(send, delivery_speed=1)
    for i in range(3):
        session.push(f"m{i}", Priority.normal, created=i)
    session.set_connected(True)
    wait_until(lambda: send.sent == ["m0"])
    session.stop()
    fake_time.now += 3600
    poke(session)
    assert send.sent == ["m0"]
    assert session.pending() == 2


# --- pacing and retries ---------------------------------------------------------------


def connect(session):
    """Connect the queue's device (also wakes the send loop after the fake time moved)."""
    session.set_connected(True)


def test_backoff_doubles_up_to_five_minutes():
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 7, 10)] == [5, 10, 20, 40, 80, 160, 300, 300]


def test_the_gap_runs_from_the_start_of_a_send(paced, fake_time):
    """A send that takes 0.8 s does not push the next one back by 0.8 s."""
    sent = []

    def slow(message_id):
        sent.append(fake_time.now)
        fake_time.now += 0.8
        return True

    session = paced(slow, speed=60)
    for i in range(3):
        session.push(f"m{i}", Priority.normal, created=i)
    connect(session)
    wait_until(lambda: len(sent) == 1)
    factor = random.Random(3).uniform(0.85, 1.15)
    wait_until(lambda: session._last_send is not None)
    assert session._next_send == pytest.approx(1000.0 + 1.0 * factor)


def test_a_new_speed_shortens_the_gap_under_way(paced, fake_time):
    sent = []
    session = paced(lambda m: sent.append(m) or True, speed=1)
    session.push("a", Priority.normal, created=0)
    session.push("b", Priority.normal, created=1)
    connect(session)
    wait_until(lambda: session._last_send is not None)
    assert session._next_send - 1000.0 > 50  # a minute away
    session.set_speed(600)
    assert session._next_send - 1000.0 < 0.2
    fake_time.now += 0.2
    connect(session)
    wait_until(lambda: sent == ["a", "b"])


def test_retry_goes_back_after_backoff_and_costs_no_gap(paced, fake_time):
    answers = {"flaky": [Retry(), True], "other": [True]}
    calls = []

    def send(message_id):
        calls.append(message_id)
        return answers[message_id].pop(0)

    session = paced(send, speed=60_000)
    session.push("flaky", Priority.urgent, created=0)
    session.push("other", Priority.low, created=1)
    connect(session)
    wait_until(lambda: calls == ["flaky", "other"])  # the retry did not hold up the queue
    assert session.pending() == 1
    fake_time.now += 4.9
    connect(session)
    assert calls == ["flaky", "other"]
    fake_time.now += 0.2
    connect(session)
    wait_until(lambda: calls == ["flaky", "other", "flaky"])
    wait_until(lambda: session.pending() == 0)


def test_retry_with_an_explicit_delay(paced, fake_time):
    outcomes = [Retry(after=30), True]
    calls = []
    session = paced(lambda m: calls.append(m) or outcomes.pop(0), speed=60_000)
    session.push("m", Priority.normal, created=0)
    connect(session)
    wait_until(lambda: calls == ["m"])
    fake_time.now += 29
    connect(session)
    assert calls == ["m"]
    fake_time.now += 1
    connect(session)
    wait_until(lambda: calls == ["m", "m"])


def test_repeated_exceptions_back_off_further(paced, fake_time):
    calls = []

    def broken(message_id):
        calls.append(fake_time.now)
        raise RuntimeError("down")

    session = paced(broken, speed=60_000)
    session.push("m", Priority.normal, created=0)
    connect(session)
    wait_until(lambda: len(calls) == 1 and retrying(session) == 1)
    for n, expected_gap in enumerate((5, 10, 20), start=1):
        fake_time.now += expected_gap - 0.5
        connect(session)
        assert len(calls) == n
        fake_time.now += 0.5
        connect(session)
        wait_until(lambda n=n: len(calls) == n + 1 and retrying(session) == 1)
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert gaps == [5, 10, 20]
