"""Faults on the local stack as `make dev` runs it: Firestore stops answering, the runner
is killed (with a backlog, right after a send), the stack is stopped and started with
messages in flight. Every accepted message is sent exactly once, and reaches delivered
and read; nothing is left queued. "Exactly once" is what a customer sees: one
message:out:sent event (one event id) per message on a signed webhook."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
import requests

from tests.e2e.stack import running_stack, wait_until
from tests.e2e.test_local_stack import Receiver

pytestmark = pytest.mark.e2e
SPEED = 20  # messages a minute: the Professional plan's cap
DONE = ("delivered", "read")


class Api:
    def __init__(self, stack, receiver: Receiver):
        self.base, self.stack, self.receiver = stack.api, stack, receiver
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {stack.key}"
        self.secret: str | None = None

    def webhook(self) -> None:
        made = self.s.post(f"{self.base}/webhooks", json={"url": self.receiver.url,
                                                          "events": ["message:out:sent"]})
        assert made.status_code == 201, made.text
        self.secret = made.json()["secret"]

    def device(self, alias: str) -> str:
        made = self.s.post(f"{self.base}/devices", json={
            "alias": alias, "settings": {"delivery_speed": SPEED}})
        assert made.status_code == 201, made.text
        device = made.json()["id"]
        wait_until(lambda: self.status_of_device(device) == "connected", 30,
                   "the sandbox device to link")
        return device

    def status_of_device(self, device: str) -> str | None:
        try:
            return self.s.get(f"{self.base}/devices/{device}", timeout=5).json()["status"]
        except (requests.RequestException, KeyError, ValueError):
            return None

    def send(self, device: str, text: str, timeout: float = 10) -> dict | None:
        try:
            answer = self.s.post(f"{self.base}/messages", timeout=timeout, json={
                "device": device, "phone": "+447911123456", "message": text})
        except requests.RequestException:
            return None
        assert answer.status_code in (201, 503, 500, 504), answer.text
        return answer.json() if answer.status_code == 201 else None

    def status(self, message_id: str) -> str | None:
        try:
            return self.s.get(f"{self.base}/messages/{message_id}", timeout=5).json()["status"]
        except (requests.RequestException, KeyError, ValueError):
            return None

    def wait_done(self, messages: list[dict], timeout: float) -> None:
        left = {m["id"] for m in messages}

        def done():
            for message_id in list(left):
                if self.status(message_id) in DONE:
                    left.discard(message_id)
            return not left

        try:
            wait_until(done, timeout, "every accepted message delivered")
        except AssertionError:
            raise AssertionError(f"{len(left)} of {len(messages)} not delivered: "
                                 f"{[(m, self.status(m)) for m in sorted(left)]}") from None

    def sent_events(self) -> dict[str, set[str]]:
        """message id -> the ids of its message:out:sent events."""
        seen: dict[str, set[str]] = defaultdict(set)
        for event in self.receiver.events(self.secret):
            if event["event"] == "message:out:sent":
                seen[event["data"]["id"]].add(event["id"])
        return seen

    def assert_sent_once(self, messages: list[dict], timeout: float = 30) -> None:
        ids = {m["id"] for m in messages}
        wait_until(lambda: ids <= set(self.sent_events()), timeout, "every sent event")
        time.sleep(2)  # a second send would be announced by now
        twice = {k: v for k, v in self.sent_events().items() if k in ids and len(v) != 1}
        assert not twice, f"sent more than once: {twice}"


def runner_group(base: int) -> int:
    """The process group of the stack's runner (the supervisor starts it in its own)."""
    wanted = [b"device_runner.main", b"--port", str(base + 1).encode()]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if all(w in argv for w in wanted):
            return os.getpgid(int(cmdline.parent.name))
    raise AssertionError("no runner process")


def kill_runner(stack) -> int:
    group = runner_group(stack.base)
    os.killpg(group, signal.SIGKILL)
    return group


def wait_restarted(stack, old_group: int, timeout: float = 30) -> None:
    def restarted():
        try:
            return runner_group(stack.base) != old_group
        except AssertionError:
            return False

    wait_until(restarted, timeout, "the supervisor to start the runner again")
    assert "runner exited" in stack.log.read_text()


@pytest.fixture(scope="module")
def stack(emulators, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("faults"), dict(emulators.env)) as running:
        yield running


@pytest.fixture
def api(stack):
    receiver = Receiver()
    made = Api(stack, receiver)
    made.webhook()
    yield made
    receiver.server.shutdown()


def test_firestore_paused_during_sends_every_accepted_message_is_delivered(api, emulators):
    devices = [api.device(f"pause-{i}") for i in range(3)]
    accepted = [m for d in devices for m in (api.send(d, f"before {i}") for i in range(3)) if m]
    during: list[dict] = []

    def send_during(device: str, i: int):
        message = api.send(device, f"during {i}", timeout=60)
        if message:
            during.append(message)

    group = emulators.firestore.process.pid
    os.killpg(group, signal.SIGSTOP)  # Firestore stops answering
    try:
        threads = [threading.Thread(target=send_during, args=(d, i))
                   for d in devices for i in range(3)]
        for thread in threads:
            thread.start()
            time.sleep(0.3)
        time.sleep(15 - 0.3 * len(threads))
    finally:
        os.killpg(group, signal.SIGCONT)
    for thread in threads:
        thread.join(timeout=70)
    accepted += during
    assert len(accepted) >= 9
    api.wait_done(accepted, 120)
    api.assert_sent_once(accepted)


def test_runner_killed_mid_backlog_is_restarted_and_sends_the_backlog_once(api, stack):
    device = api.device("backlog")
    backlog = [api.send(device, f"backlog {i}") for i in range(6)]
    assert all(backlog)
    wait_until(lambda: sum(api.status(m["id"]) != "queued" for m in backlog) >= 2, 30,
               "the first sends")
    group = kill_runner(stack)
    wait_restarted(stack, group)
    api.wait_done(backlog, 90)
    api.assert_sent_once(backlog)


def test_a_sandbox_message_sent_right_before_the_runner_dies_still_reaches_read(api, stack):
    device = api.device("receipts")
    caught = None
    for attempt in range(5):
        message = api.send(device, f"receipt {attempt}")
        assert message
        wait_until(lambda m=message: api.status(m["id"]) != "queued", 30, "the send")
        group = kill_runner(stack)  # within the receipts' second
        if api.status(message["id"]) == "sent":
            caught = message
            break
        wait_restarted(stack, group)  # too late: the receipts came first; again
        wait_until(lambda: api.status_of_device(device) == "connected", 30, "reconnected")
    assert caught, "could not kill the runner between a send and its receipts"
    wait_restarted(stack, group)
    wait_until(lambda: api.status(caught["id"]) == "read", 60, "the receipts after the restart")
    doc = api.s.get(f"{api.base}/messages/{caught['id']}").json()
    assert doc["sent_at"] and doc["delivered_at"] and doc["read_at"]


@pytest.mark.timeout(480)  # two starts of the stack with emulators of its own
def linking_events(api, device: str) -> list[str]:
    statuses = api.s.get(f"{api.base}/events", params={
        "device": device, "type": "device:status", "limit": 100}).json()["data"]
    return [e["id"] for e in statuses if e["data"]["status"] == "linking"]


def test_stop_and_start_of_the_stack_with_messages_in_flight_sends_each_once(tmp_path):
    """The stack's own emulators, whose data is exported at the stop and imported at the
    start (as `make dev` keeps data between runs). A send that the export missed would be
    made again after the start: a second message:out:sent event, and a new sent_at."""
    keys = {"UTIO_DEV_API_KEY": "utio_e2e_" + uuid.uuid4().hex,
            "UTIO_ADMIN_KEY": "adm_e2e_" + uuid.uuid4().hex,
            "UTIO_PROJECT": "e2e-" + uuid.uuid4().hex[:8],
            "FIRESTORE_EMULATOR_HOST": None, "PUBSUB_EMULATOR_HOST": None}
    receiver = Receiver()
    sent_at: dict[str, str] = {}  # as the API showed it before the stop
    watching = threading.Event()

    def watch(api, messages):
        while not watching.is_set():
            for m in messages:
                try:
                    doc = api.s.get(f"{api.base}/messages/{m['id']}", timeout=2).json()
                except (requests.RequestException, ValueError):
                    continue
                if doc.get("sent_at"):
                    sent_at[m["id"]] = doc["sent_at"]

    try:
        with running_stack(tmp_path, keys) as first:
            api = Api(first, receiver)
            api.webhook()
            device = api.device("restart")
            phone = api.s.get(f"{api.base}/devices/{device}").json()["phone"]
            linked_once = linking_events(api, device)
            messages = [api.send(device, f"in flight {i}") for i in range(5)]
            assert all(messages)
            watcher = threading.Thread(target=watch, args=(api, messages), daemon=True)
            watcher.start()
            wait_until(lambda: len(sent_at) >= 2, 30, "the first sends")
            first.process.send_signal(signal.SIGINT)  # Ctrl-C with messages in flight
            assert first.process.wait(timeout=120) == 0
            watching.set()
            watcher.join()
        assert "data saved" in first.log.read_text()
        before = dict(sent_at)
        with running_stack(tmp_path, keys) as second:
            secret, api = api.secret, Api(second, receiver)
            api.secret = secret
            api.wait_done(messages, 90)
            after = {m["id"]: api.s.get(f"{api.base}/messages/{m['id']}").json()["sent_at"]
                     for m in messages}
            assert {k: after[k] for k in before} == before, "a message was sent again"
            time.sleep(3)
            twice = {k: v for k, v in api.sent_events().items() if len(v) > 1}
            assert not twice, f"sent more than once: {twice}"
            # The sandbox session survived too: the same number, and no second QR linking.
            again = api.s.get(f"{api.base}/devices/{device}").json()
            assert (again["status"], again["phone"]) == ("connected", phone)
            assert linking_events(api, device) == linked_once
    finally:
        receiver.server.shutdown()
