"""The runner sends every content type through the transport, retries transient failures,
fails permanent ones with a reason (releasing their quota), paces at the plan-capped
speed, and keeps far-future messages with the task queue rather than in memory."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest

from device_runner import send_queue as send_queue_module
from device_runner.sandbox import SandboxTransport
from shared import names
from shared.content import Buttons, Contacts, ListMessage, Location, Media, Reaction, Text
from shared.domain import FailureReason
from shared.ports import SendResult
from shared.services import quotas
from tests.fakes import wait_until
from tests.unit.messaging import helpers as h
from tests.unit.messaging.helpers import GROUP, PHONE, Timer, connect, first_text, status

SENT = ("sent", "delivered", "read")


def run(runner, c, bodies):
    for body in bodies:
        runner.handle_message_task(body["id"])
    wait_until(lambda: all(status(c, b["id"]) in SENT + ("failed",) for b in bodies),
               message="every message sent or failed")


def test_every_content_type_reaches_the_network(api, dev, c, runner_for, network):
    upload = api.post("/v1/files", data={"file": (io.BytesIO(h.jpeg()), "p.jpg")},
                      content_type="multipart/form-data").get_json()
    text = first_text(api, dev, {"phone": PHONE})
    bodies = [text] + [api.send(phone=PHONE, **content).get_json() for content in (
        {"media": {"file": upload["id"], "caption": "A photo"}},
        {"location": {"latitude": 40.4168, "longitude": -3.7038, "name": "Madrid"}},
        {"contacts": [{"name": "Ana", "phone": "+34612345678"}]},
        {"buttons": {"text": "OK?", "items": [{"type": "reply", "id": "y", "text": "Yes"}]}},
        {"list": {"text": "Pick", "button": "Open", "sections": [
            {"title": "S", "rows": [{"id": "r1", "title": "Row"}]}]}},
        {"reaction": {"message": text["id"], "emoji": "❤️"}},
        {"message": "quoting", "quote": text["id"]},
    )] + [api.send(group=GROUP, message="hello group").get_json()]
    runner, timer = runner_for()
    connect(runner, timer, dev)
    run(runner, c, bodies)
    kinds = [type(network.contents[c.store.get("messages", b["id"])["wa_id"]]) for b in bodies]
    assert kinds == [Text, Media, Location, Contacts, Buttons, ListMessage, Reaction, Text, Text]
    group_wa = c.store.get("messages", bodies[-1]["id"])["wa_id"]
    assert network.delivered[group_wa] == (dev, GROUP, "hello group")
    timer.fire()
    assert all(status(c, b["id"]) == "read" for b in bodies)


def test_media_whose_file_is_gone_fails_and_frees_its_quota(api, dev, c, runner_for):
    c.fetcher.files["https://x.example/a.pdf"] = h.pdf()
    body = api.send(phone=PHONE, media={"url": "https://x.example/a.pdf"}).get_json()
    c.storage.blobs.clear()  # expired
    runner, timer = runner_for()
    connect(runner, timer, dev)
    run(runner, c, [body])
    doc = c.store.get("messages", body["id"])
    assert doc["status"] == "failed" and doc["failure_reason"] == "media_unavailable"
    assert quotas.used(c.store, dev, "2026-01") == 0


def test_unknown_group_fails_with_its_reason(api, dev, c, runner_for):
    body = api.send(group="120363025246120000@g.us", message="hi").get_json()
    runner, timer = runner_for()
    connect(runner, timer, dev)
    run(runner, c, [body])
    assert c.store.get("messages", body["id"])["failure_reason"] == "group_not_found"


class Flaky(SandboxTransport):
    """The sandbox, with the first `failures` sends failing transiently."""

    def __init__(self, network, timer, failures):
        super().__init__(network, timer=timer)
        self.failures = failures
        self.calls = 0

    def send(self, device_id, wa_id, to, content, media=None):
        self.calls += 1
        if self.calls <= self.failures:
            return SendResult(False, FailureReason.transport_error, retryable=True)
        return super().send(device_id, wa_id, to, content, media)


def flaky_send(api, dev, runner_for, network, failures: int):
    """A text handed to a runner whose first `failures` sends fail transiently."""
    body = api.send(phone=PHONE, message="x").get_json()
    timer = Timer()
    flaky = Flaky(network, timer, failures=failures)
    runner, _ = runner_for(flaky)
    connect(runner, timer, dev)
    runner.handle_message_task(body["id"])
    return body, flaky, runner


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(send_queue_module, "RETRY_BASE", 0.01)


def test_transient_failures_are_retried(api, dev, c, runner_for, network, fast_retries):
    body, flaky, runner = flaky_send(api, dev, runner_for, network, 3)
    wait_until(lambda: status(c, body["id"]) == "sent")
    assert flaky.calls == 4
    assert c.store.get("messages", body["id"])["claimed_by"] == runner.shard


def test_a_message_waiting_for_a_retry_can_be_cancelled(api, dev, c, runner_for, network,
                                                        monkeypatch):
    monkeypatch.setattr(send_queue_module, "RETRY_BASE", 60)
    body, flaky, runner = flaky_send(api, dev, runner_for, network, 1)
    wait_until(lambda: flaky.calls == 1)
    wait_until(lambda: c.store.get("messages", body["id"])["claimed_by"] is None)
    assert api.delete(f"/v1/messages/{body['id']}").status_code == 200


def test_too_many_transient_failures_fail_for_good(api, dev, c, runner_for, network,
                                                   fast_retries):
    from shared.services.outbound import MAX_SEND_ATTEMPTS

    body, flaky, runner = flaky_send(api, dev, runner_for, network, 100)
    wait_until(lambda: status(c, body["id"]) == "failed")
    assert flaky.calls == MAX_SEND_ATTEMPTS
    assert c.store.get("messages", body["id"])["failure_reason"] == "transport_error"
    assert quotas.used(c.store, dev, "2026-01") == 0
    events = [e.event for e in c.bus.published if e.data.get("id") == body["id"]]
    assert events == ["message:out:new", "message:out:failed"]


class Raising(SandboxTransport):
    """A transport whose send raises (a bug or a library error), every time."""

    def __init__(self, network, timer):
        super().__init__(network, timer=timer)
        self.calls = 0

    def send(self, device_id, wa_id, to, content, media=None):
        self.calls += 1
        raise RuntimeError("the library broke")


def test_a_transport_that_raises_hits_the_retry_cap_and_fails(api, dev, c, runner_for, network,
                                                              fast_retries):
    from shared.services.outbound import MAX_SEND_ATTEMPTS

    body = api.send(phone=PHONE, message="x").get_json()
    timer = Timer()
    raising = Raising(network, timer)
    runner, _ = runner_for(raising)
    connect(runner, timer, dev)
    runner.handle_message_task(body["id"])
    wait_until(lambda: status(c, body["id"]) == "failed")
    assert raising.calls == MAX_SEND_ATTEMPTS
    doc = c.store.get("messages", body["id"])
    assert doc["failure_reason"] == "transport_error"


def test_number_not_on_whatsapp_is_not_retried(api, dev, c, runner_for, network):
    body = api.send(phone="+14155550000", message="x").get_json()
    runner, timer = runner_for()
    connect(runner, timer, dev)
    run(runner, c, [body])
    assert c.store.get("messages", body["id"])["failure_reason"] == "number_not_on_whatsapp"
    assert network.send_attempts == []


def test_the_plan_caps_the_session_speed(api, dev, c, runner_for):
    api.call("PATCH", f"/v1/devices/{dev}", json={"settings": {"delivery_speed": 90}})
    runner, timer = runner_for()
    runner.handle_device_task({"device_id": dev, "action": "start"})
    assert runner.sessions[dev].delivery_speed == 20  # Professional
    h.set_plan(c, dev, "platform-enterprise")  # billing changes the plan, then refreshes
    runner.handle_device_task({"device_id": dev, "action": "refresh"})
    assert runner.sessions[dev].delivery_speed == 90


def test_a_message_due_within_the_hour_waits_in_the_session(api, dev, c, runner_for):
    due = (c.clock.now() + timedelta(minutes=30)).isoformat()
    body = api.send(phone=PHONE, message="soon", deliver_at=due).get_json()
    runner, timer = runner_for()
    runner.handle_message_task(body["id"])
    assert runner.sessions[dev].pending() == 1


def test_a_message_due_later_goes_back_to_the_task_queue(api, dev, c, runner_for):
    due = c.clock.now() + timedelta(days=45)
    body = api.send(phone=PHONE, message="much later", deliver_at=due.isoformat()).get_json()
    runner, timer = runner_for()
    runner.handle_message_task(body["id"])  # Cloud Tasks delivered it 30 days early
    runner.handle_message_task(body["id"])  # and again: one follow-up task
    assert runner.sessions[dev].pending() == 0
    follow = [t for t in c.tasks.tasks if t.name and t.name.startswith(body["id"] + "-")]
    assert len(follow) == 1
    assert follow[0].queue == names.MESSAGE_QUEUES["normal"] and follow[0].schedule_at == due
    runner.stop()
    again, _ = runner_for()
    again.start()  # a restart does not hold it either
    assert again.sessions[dev].pending() == 0


def test_cloud_tasks_schedule_times_stop_at_its_horizon():
    from datetime import UTC, datetime

    from google.cloud import tasks_v2

    from shared.adapters.cloud_tasks import HORIZON, CloudTasksQueue

    queue = CloudTasksQueue(tasks_v2.CloudTasksClient.__new__(tasks_v2.CloudTasksClient),
                            "p", "r", {"t": "https://runner.example/tasks"}, "sa@p.iam")
    far = datetime.now(UTC) + timedelta(days=200)
    task = queue.build_task("q", "t", {}, schedule_at=far)
    scheduled = task.schedule_time.timestamp()
    assert scheduled <= (datetime.now(UTC) + HORIZON).timestamp() + 1
    assert scheduled > (datetime.now(UTC) + HORIZON - timedelta(minutes=1)).timestamp()


def test_ten_urgent_overtake_a_backlog_of_300_low(api, dev, c, runner_for, network):
    from shared.domain import Priority
    from shared.services import messages as service

    h.set_plan(c, dev, "messaging-enterprise")
    low = []
    for i in range(300):
        c.clock.advance(0.001)
        low.append(service.send_message(c, api.account_id,
                                        phone=PHONE, text=f"low {i}", priority=Priority.low)[0])
    runner, timer = runner_for()
    session = connect(runner, timer, dev, speed=3000)  # a send every 20 ms
    for m in low:
        runner.handle_message_task(m.id)
    wait_until(lambda: len(network.send_attempts) >= 5)
    urgent = []
    for i in range(10):
        c.clock.advance(0.001)
        m = service.send_message(c, api.account_id, phone=PHONE,
                                 text=f"urgent {i}", priority=Priority.urgent)[0]
        urgent.append(m)
        runner.handle_message_task(m.id)
    wait_until(lambda: len(network.send_attempts) >= 40, timeout=10)
    session.set_speed(60_000)
    wait_until(lambda: len(network.send_attempts) == 310, timeout=10)
    order = list(network.send_attempts)
    positions = [order.index(m.wa_id) for m in urgent]
    assert positions == list(range(positions[0], positions[0] + 10)), positions  # together, FIFO
    assert positions[0] <= 10  # right after the few lows already on their way
    assert order[positions[-1] + 1:] == [m.wa_id for m in low][positions[0]:]


def test_concurrent_tasks_for_many_devices(api, c, runner_for, network):
    """Each device has its own session: 5 devices x 20 messages, all sent once."""
    devices = [api.post("/v1/devices", json={"alias": f"d{i}"}).get_json()["id"] for i in range(5)]
    bodies = [api.send(phone=PHONE, message=f"{d}-{i}", device=d).get_json()
              for d in devices for i in range(20)]
    runner, timer = runner_for()
    for d in devices:
        connect(runner, timer, d)
    threads = [threading.Thread(target=lambda b=b: runner.handle_message_task(b["id"]))
               for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: all(status(c, b["id"]) in SENT for b in bodies))
    assert sorted(network.send_attempts) == sorted(network.delivered)
