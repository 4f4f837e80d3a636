"""The event log on the local stack with the emulators (docs/events.md): the Pub/Sub
emulator killed and started again while messages are sent and inbound messages injected,
and the runner killed (SIGKILL) mid-backlog; afterwards every message's
message:out:new/sent/delivered/read and every message:in:new reached the webhook receiver
exactly once (one delivery, one event id), signed. And GET /v1/events followed across a
runner restart: each event once, in order per device."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict

import pytest
import requests

from infra import emulators as emu
from shared import names
from tests.e2e.stack import running_stack, wait_until
from tests.e2e.test_faults import kill_runner, wait_restarted
from tests.e2e.test_local_stack import Receiver

pytestmark = pytest.mark.e2e
OUT = ("message:out:new", "message:out:sent", "message:out:delivered", "message:out:read")


class PubSub:
    """A Pub/Sub emulator of this module's own, on a fixed port, to kill and start again."""

    def __init__(self, logs):
        self.port = emu.free_port()
        self.logs = logs
        self.emulator = emu.start_pubsub(self.port, log_path=logs / "pubsub-0.log")
        self.host = self.emulator.host
        self.starts = 1

    def kill(self) -> None:
        self.emulator.stop(timeout=5)

    def start(self, project: str, fanout_port: int) -> None:
        self.emulator = emu.start_pubsub(self.port, log_path=self.logs / f"pubsub-{self.starts}.log")
        self.starts += 1
        # A new emulator has no topic: as an operator would, make it and its push again.
        emu.ensure_push_subscription(self.host, project, names.EVENTS_TOPIC,
                                     names.EVENTS_FANOUT_SUBSCRIPTION,
                                     f"http://127.0.0.1:{fanout_port}/")


@pytest.fixture(scope="module")
def pubsub(tmp_path_factory):
    made = PubSub(tmp_path_factory.mktemp("pubsub"))
    yield made
    made.emulator.stop()


@pytest.fixture(scope="module")
def stack(emulators, pubsub, tmp_path_factory):
    project = "e2e-" + uuid.uuid4().hex[:8]
    env = {"FIRESTORE_EMULATOR_HOST": emulators.firestore_host, "PUBSUB_EMULATOR_HOST": pubsub.host,
           "UTIO_PROJECT": project, "UTIO_EVENT_RELAY_STALE": "6"}
    with running_stack(tmp_path_factory.mktemp("events"), env) as running:
        running.project = project
        yield running


class Client:
    def __init__(self, stack):
        self.base = stack.api
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {stack.key}"
        self.receiver = Receiver()
        made = self.s.post(f"{self.base}/webhooks", json={"url": self.receiver.url})
        assert made.status_code == 201, made.text
        self.webhook, self.secret = made.json()["id"], made.json()["secret"]

    def close(self) -> None:
        self.s.delete(f"{self.base}/webhooks/{self.webhook}")
        self.receiver.server.shutdown()

    def device(self) -> str:
        made = self.s.post(f"{self.base}/devices", json={"alias": "events",
                                                         "settings": {"delivery_speed": 20}})
        assert made.status_code == 201, made.text
        device = made.json()["id"]
        wait_until(lambda: self.get(f"/devices/{device}").get("status") == "connected", 30,
                   "the sandbox device to link")
        return device

    def get(self, path: str, **params) -> dict:
        try:
            answer = self.s.get(f"{self.base}{path}", params=params, timeout=30)
            return answer.json() if answer.ok else {}
        except (requests.RequestException, ValueError):
            return {}

    def send(self, device: str, text: str) -> str:
        """Retried as a client would, with one Idempotency-Key: one message."""
        key = uuid.uuid4().hex
        for _ in range(20):
            try:
                answer = self.s.post(f"{self.base}/messages", timeout=15,
                                     headers={"Idempotency-Key": key},
                                     json={"device": device, "phone": "+447911123456",
                                           "message": text})
            except requests.RequestException:
                time.sleep(0.5)
                continue
            assert answer.status_code in (200, 201), answer.text  # never a 5xx
            return answer.json()["id"]
        raise AssertionError("the API never answered")

    def inbound(self, device: str, text: str) -> None:
        answer = self.s.post(f"{self.base}/devices/{device}/sandbox/inbound", timeout=15,
                             json={"phone": "+34600100999", "message": text})
        assert answer.status_code == 202, answer.text

    def received(self) -> list[tuple[dict, str]]:
        """Each verified body with its webhook-id (a wrong signature raises)."""
        from standardwebhooks.webhooks import Webhook

        verifier, out = Webhook(self.secret), []
        for headers, body in list(self.receiver.calls):
            lowered = {k.lower(): v for k, v in headers.items()}
            out.append((verifier.verify(body, lowered), lowered["webhook-id"]))
        return out

    def wait_read(self, messages: list[str], timeout: float) -> None:
        left = set(messages)

        def done():
            for m in list(left):
                if self.get(f"/messages/{m}").get("status") == "read":
                    left.discard(m)
            return not left

        wait_until(done, timeout, f"every message read ({len(left)} left)")

    def assert_exactly_once(self, messages: list[str], inbound: list[str],
                            timeout: float = 90) -> None:
        wanted = {(m, name) for m in messages for name in OUT} | {(t, "message:in:new")
                                                                  for t in inbound}

        def seen() -> dict[tuple[str, str], set[str]]:
            got: dict[tuple[str, str], set[str]] = defaultdict(set)
            for body, webhook_id in self.received():
                assert body["id"] == webhook_id
                subject = body["data"].get("message") if body["event"] == "message:in:new" \
                    else body["data"].get("id")
                got[(subject, body["event"])].add(body["id"])
            return got

        try:
            wait_until(lambda: wanted <= set(seen()), timeout, "every event at the receiver")
        except AssertionError:
            missing = sorted(wanted - set(seen()))
            raise AssertionError(f"{len(missing)} events never arrived: {missing[:20]}") from None
        time.sleep(3)  # a duplicate would have come by now
        got = seen()
        twice = {k: v for k, v in got.items() if k in wanted and len(v) != 1}
        assert not twice, f"events with more than one id: {twice}"
        deliveries = Counter(webhook_id for _, webhook_id in self.received())
        again = {i: n for i, n in deliveries.items() if n > 1}
        assert not again, f"events delivered more than once: {again}"


@pytest.fixture
def client(stack):
    made = Client(stack)
    yield made
    made.close()


@pytest.mark.timeout(420)
def test_pubsub_killed_and_started_again_while_messages_flow(stack, pubsub, client):
    devices = [client.device() for _ in range(3)]
    messages, inbound = [], []
    lock = threading.Lock()

    def traffic():
        for n in range(4):
            for device in devices:
                message = client.send(device, f"out {n} {uuid.uuid4().hex[:6]}")
                text = f"in {n} {uuid.uuid4().hex[:6]}"
                client.inbound(device, text)
                with lock:
                    messages.append(message)
                    inbound.append(text)
            time.sleep(0.5)

    worker = threading.Thread(target=traffic)
    worker.start()
    time.sleep(1.5)
    pubsub.kill()  # topics, subscriptions and what it held are gone with it
    time.sleep(4)
    pubsub.start(stack.project, stack.base + 2)
    worker.join(timeout=120)
    assert not worker.is_alive()
    client.wait_read(messages, 120)
    client.assert_exactly_once(messages, inbound)


@pytest.mark.timeout(420)
def test_runner_killed_mid_backlog(stack, client):
    devices = [client.device() for _ in range(2)]
    messages = [client.send(d, f"backlog {n}") for n in range(5) for d in devices]
    inbound = []
    for n, device in enumerate(devices):
        inbound.append(f"before {n} {uuid.uuid4().hex[:6]}")
        client.inbound(device, inbound[-1])
    time.sleep(4)  # some sent, some receipts pending, most of the backlog queued
    old = kill_runner(stack)
    wait_restarted(stack, old)
    for n, device in enumerate(devices):
        inbound.append(f"after {n} {uuid.uuid4().hex[:6]}")
        client.inbound(device, inbound[-1])
    client.wait_read(messages, 150)
    client.assert_exactly_once(messages, inbound)


@pytest.mark.timeout(420)
def test_following_the_log_across_a_runner_restart_sees_each_event_once_in_order(stack, client):
    device = client.device()
    cursor = client.get("/events", after="now")["next_cursor"]
    got: list[dict] = []
    woke = threading.Event()

    def follow(until: float):
        nonlocal cursor
        while time.monotonic() < until:
            body = client.get("/events", after=cursor, wait=5, device=device)
            if not body:
                continue
            got.extend(body["data"])
            cursor = body["next_cursor"]  # what a client saves
            if body["data"]:
                woke.set()

    follower = threading.Thread(target=follow, args=(time.monotonic() + 25,))
    follower.start()
    time.sleep(1)
    client.inbound(device, "wake up")
    assert woke.wait(15), "the long poll never returned the event"
    follower.join()
    saved = cursor
    kill_runner_group = kill_runner(stack)
    wait_restarted(stack, kill_runner_group)
    texts = [f"resumed {n}" for n in range(3)]
    for text in texts:
        client.inbound(device, text)
    message = client.send(device, "after the restart")
    later: list[dict] = []

    def caught_up() -> bool:
        later[:] = client.get("/events", after=saved, limit=500).get("data", [])
        return ({e["data"].get("message") for e in later} >= set(texts)
                and sum(e["data"].get("id") == message for e in later) == len(OUT))

    wait_until(caught_up, 60, "the events after the saved cursor")
    everything = got + later
    ids = [e["id"] for e in everything]
    assert len(ids) == len(set(ids)), "an event came twice"
    inbound = [e["data"]["message"] for e in everything if e["event"] == "message:in:new"]
    assert inbound[0] == "wake up" and sorted(inbound[1:]) == texts
    # the log's order is the order the device's changes happened in
    assert [e["event"] for e in later if e["data"].get("id") == message] == list(OUT)
