"""Fan-out behind a real Pub/Sub push subscription (the emulator): a push that is not
acknowledged comes again and still makes one delivery per webhook; a fan-out that keeps
failing ends on the dead-letter topic."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import flask
import pytest
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.types import PushConfig
from werkzeug.serving import make_server

from functions.webhook_fanout import handle_fanout
from infra.dead_letter import ensure_dead_letter
from shared import names
from shared.adapters.memory_store import MemoryStore
from shared.adapters.pubsub_bus import PubSubBus
from shared.bootstrap import Container
from shared.domain import Event
from shared.ids import new_id
from shared.services.webhooks import registration
from shared.settings import Settings
from tests.fakes import FakeHttp, FakeTaskQueue
from tests.integration.webhooks_emulators import emulator_host

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def pubsub_host(request, tmp_path_factory):
    with emulator_host(request, "pubsub", tmp_path_factory) as host:
        yield host


class Fanout:
    """webhook_fanout on a local port; `fail_first` pushes of each message answer 500
    after doing the work (an acknowledgement lost on the way back)."""

    def __init__(self, c: Container, fail_first: int):
        self.c, self.fail_first = c, fail_first
        self.pushes: Counter = Counter()
        app = flask.Flask("fanout")

        @app.post("/")
        def push():
            message_id = (flask.request.get_json(silent=True) or {}).get(
                "message", {}).get("messageId")
            self.pushes[message_id] += 1
            result = handle_fanout(self.c, flask.request)
            if self.pushes[message_id] <= self.fail_first:
                return "lost", 500
            return result

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"


def subscribe(project: str, endpoint: str) -> None:
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=publisher.topic_path(project, names.EVENTS_TOPIC)).name
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, names.EVENTS_FANOUT_SUBSCRIPTION),
        "topic": topic, "push_config": PushConfig(push_endpoint=endpoint),
        "ack_deadline_seconds": 10})
    ensure_dead_letter(project, max_attempts=5, min_backoff=0, max_backoff=1)


def event(account: str) -> Event:
    return Event(id=new_id("evt"), event="message:in:new", created_at=datetime.now(UTC),
                 account=account, device="dev_1", data={"message": "hi"})


def test_a_push_that_comes_again_makes_one_delivery_per_webhook(pubsub_host):
    project = "wh-" + uuid.uuid4().hex[:8]
    http = FakeHttp()  # every receiver answers 200
    c = Container(Settings(env="test", allow_private_webhooks=True), store=MemoryStore(),
                  tasks=FakeTaskQueue(), http=http)
    hooks = [registration.create_webhook(c, "acc_1",
                                     url=f"http://127.0.0.1:9/{n}", events=["*"], devices=None)
             for n in range(3)]
    fanout = Fanout(c, fail_first=2)
    subscribe(project, fanout.url)
    bus = PubSubBus(pubsub_v1.PublisherClient(), project, names.EVENTS_TOPIC)
    sent = [event("acc_1") for _ in range(4)]
    for e in sent:
        bus.publish(e)
    # Each message is pushed, not acknowledged, pushed again... (the emulator sometimes
    # holds a message's third push back for long: the test needs the repeats, not that)
    for pushes, wait in ((2, 30), (3, 10)):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (len(fanout.pushes) < 4
                                               or min(fanout.pushes.values()) < pushes):
            time.sleep(0.2)
    fanout.server.shutdown()
    assert len(fanout.pushes) == 4 and all(n >= 2 for n in fanout.pushes.values())
    assert sum(fanout.pushes.values()) >= 10
    deliveries = c.store.query("deliveries")
    assert Counter((d["event_id"], d["webhook_id"]) for d in deliveries) == Counter(
        {(e.id, w.id): 1 for e in sent for w in hooks})
    # the first push of each attempted its deliveries inline; the repeats, nothing
    assert sorted(p.headers["webhook-id"] for p in http.posts) == sorted(
        e.id for e in sent for _ in hooks)
    assert all(d["attempt_count"] == 1 and d["status"] == "succeeded" for d in deliveries)
    assert len(c.tasks.on(names.WEBHOOK_QUEUE)) == 12  # each first attempt's, queued before it


def test_a_fanout_that_keeps_failing_goes_to_the_dead_letter_topic(pubsub_host):
    project = "wh-" + uuid.uuid4().hex[:8]
    store = MemoryStore()
    real_query = store.query

    def query(collection, where=(), *args, **kwargs):
        if ("account_id", "==", "acc_broken") in list(where):
            raise RuntimeError("this account's webhooks cannot be read")
        return real_query(collection, where, *args, **kwargs)

    store.query = query
    c = Container(Settings(env="test", allow_private_webhooks=True), store=store,
                  tasks=FakeTaskQueue())
    registration.create_webhook(c, "acc_ok", url="http://127.0.0.1:9/",
                            events=["*"], devices=None)
    fanout = Fanout(c, fail_first=0)
    subscribe(project, fanout.url)
    bus = PubSubBus(pubsub_v1.PublisherClient(), project, names.EVENTS_TOPIC)
    broken, fine = event("acc_broken"), event("acc_ok")
    bus.publish(broken)
    bus.publish(fine)

    subscriber = pubsub_v1.SubscriberClient()
    hold = subscriber.subscription_path(project, names.EVENTS_DEAD_LETTER_SUBSCRIPTION)
    dead = []
    deadline = time.monotonic() + 60
    while not dead and time.monotonic() < deadline:
        dead = subscriber.pull(subscription=hold, max_messages=10, timeout=5).received_messages
        time.sleep(0.5)
    fanout.server.shutdown()
    assert len(dead) == 1
    message = dead[0].message
    assert Event.model_validate_json(message.data).id == broken.id
    assert message.attributes["account"] == "acc_broken"
    assert int(message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"]) >= 5
    assert [d["event_id"] for d in c.store.query("deliveries")] == [fine.id]
