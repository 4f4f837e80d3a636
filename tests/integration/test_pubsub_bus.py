"""PubSubBus on the Pub/Sub emulator: pull and push delivery of a published event."""

from __future__ import annotations

import base64
import queue
import threading
import uuid
from datetime import UTC, datetime

import pytest
from flask import Flask, request
from google.cloud import pubsub_v1
from werkzeug.serving import make_server

from functions.webhook_fanout import handle_fanout
from infra.emulators import ensure_push_subscription, ensure_topic
from shared.adapters.memory_store import MemoryStore
from shared.adapters.pubsub_bus import PubSubBus, decode
from shared.bootstrap import Container
from shared.domain import Event
from shared.ports import TaskQueue
from shared.settings import Settings

pytestmark = pytest.mark.emulator


def make_event(**overrides) -> Event:
    fields = {
        "id": "evt_" + uuid.uuid4().hex,
        "event": "message:out:sent",
        "created_at": datetime(2025, 5, 4, 3, 2, 1, 123000, tzinfo=UTC),
        "account": "acc_1",
        "device": "dev_1",
        "data": {"id": "msg_1", "status": "sent", "phone": "+447700900123"},
    }
    return Event(**fields | overrides)


@pytest.fixture
def project() -> str:
    return "test-" + uuid.uuid4().hex[:12]


@pytest.fixture
def publisher(emulators):
    client = pubsub_v1.PublisherClient()  # PUBSUB_EMULATOR_HOST is set by `emulators`
    yield client
    client.stop()


def test_published_event_arrives_on_a_pull_subscription(emulators, publisher, project):
    ensure_topic(emulators.pubsub_host, project, "events")
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.subscription_path(project, "events-pull")
    subscriber.create_subscription(name=subscription, topic=publisher.topic_path(project, "events"))
    try:
        event = make_event()
        PubSubBus(publisher, project, "events").publish(event)
        PubSubBus(publisher, project, "events").publish(make_event(device=None, event="x:y"))

        received = []
        for _ in range(20):
            response = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
            received += [m.message for m in response.received_messages]
            if len(received) >= 2:
                break
        by_id = {decode(m.data).id: m for m in received}
        assert decode(by_id[event.id].data) == event
        assert dict(by_id[event.id].attributes) == {
            "event": "message:out:sent", "account": "acc_1", "device": "dev_1"}
        other = next(m for key, m in by_id.items() if key != event.id)
        assert dict(other.attributes) == {"event": "x:y", "account": "acc_1", "device": ""}
        assert decode(other.data).device is None
    finally:
        subscriber.close()


class RecordingTasks(TaskQueue):
    def __init__(self):
        self.tasks: list[tuple] = []

    def enqueue(self, queue, target, payload, *, name=None, schedule_at=None):
        self.tasks.append((queue, target, payload, name, schedule_at))


class PushReceiver:
    """A loopback HTTP server that records Pub/Sub push requests and hands each to
    functions/webhook_fanout.handle_fanout (over an empty in-memory store)."""

    def __init__(self):
        self.requests: queue.Queue[tuple[dict, int, dict]] = queue.Queue()
        container = Container(Settings(), store=MemoryStore(), tasks=RecordingTasks())
        app = Flask("push-receiver")

        @app.post("/push")
        def push():
            body, status = handle_fanout(container, request)
            self.requests.put((request.get_json(force=True), status, body.get_json()))
            return body, status

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/push"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = PushReceiver()
    yield made
    made.close()


def test_push_subscription_delivers_a_push_envelope(emulators, publisher, project, receiver):
    host = emulators.pubsub_host
    ensure_push_subscription(host, project, "events", "events-fanout", "http://127.0.0.1:9/old")
    # a second call moves the endpoint: the first one answers nothing
    ensure_push_subscription(host, project, "events", "events-fanout", receiver.url)
    ensure_push_subscription(host, project, "events", "events-fanout", receiver.url)

    event = make_event()
    PubSubBus(publisher, project, "events").publish(event)

    envelope, status, answer = receiver.requests.get(timeout=20)
    assert (status, answer) == (200, {"deliveries": []})  # handle_fanout decoded it
    assert envelope["subscription"] == f"projects/{project}/subscriptions/events-fanout"
    message = envelope["message"]
    # what functions/webhook_fanout.handle_fanout does with the body
    assert decode(base64.b64decode(message["data"])) == event
    assert message["attributes"] == {"event": event.event, "account": "acc_1", "device": "dev_1"}
