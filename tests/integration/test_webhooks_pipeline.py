"""Events through the real pieces in one process: the bus with sequence numbers, fan-out,
the local task dispatcher (Cloud Tasks' stand-in) calling the deliver endpoint over
HTTP, the pinned HTTP client, and a receiver that is down for a while and then back."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import flask
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from werkzeug.serving import make_server

from functions.webhook_deliver import handle_deliver
from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.local_dispatcher import LocalDispatcher
from shared.adapters.mailers import FileOutboxMailer
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.services.events import publish
from shared.services.sequence import SequencedBus
from shared.services.webhooks import fanout as webhook_fanout
from shared.services.webhooks import registration
from shared.settings import Settings
from tests.integration.webhooks_emulators import free_port


class Receiver:
    """Answers 503 until `up`, then 2xx; records every request it sees."""

    def __init__(self, port: int):
        self.port = port
        self.requests: list[tuple[dict, bytes, int]] = []
        self.up = False
        self.lock = threading.Lock()
        app = flask.Flask("receiver")

        @app.post("/hook")
        def hook():
            status = 204 if self.up else 503
            with self.lock:
                self.requests.append((dict(flask.request.headers), flask.request.get_data(),
                                      status))
            return "", status

        self.app = app
        self.server = None

    def start(self):
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def serve(app) -> tuple[object, int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


@pytest.fixture
def stack(tmp_path):
    holder: dict = {}
    deliver_app = flask.Flask("deliver")
    deliver_app.add_url_rule("/", methods=["POST"],
                             view_func=lambda: handle_deliver(holder["c"], flask.request))
    deliver_server, deliver_port = serve(deliver_app)
    settings = Settings(env="test", allow_private_webhooks=True,
                        webhook_retry_schedule=(0.3, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
                        webhook_deliver_url=f"http://127.0.0.1:{deliver_port}/")
    store = MemoryStore()
    dispatcher = LocalDispatcher({"webhook_deliver": settings.webhook_deliver_url}, workers=4,
                                 backoff_min=0.1, backoff_max=1.0).start()
    from shared.clock import SystemClock

    clock = SystemClock()
    bus = SequencedBus(InProcessBus([lambda event: webhook_fanout.fan_out(c, event)]))
    c = Container(settings, store=store, tasks=dispatcher, bus=bus, clock=clock,
                  mailer=FileOutboxMailer(tmp_path / "outbox.jsonl"))
    holder["c"] = c
    yield c
    dispatcher.stop()
    deliver_server.shutdown()


def test_receiver_down_then_back_gets_every_event_under_one_webhook_id(stack):
    c = stack
    receiver = Receiver(free_port())  # not listening yet: connections are refused
    webhook = registration.create_webhook(c, "acc_1",
                                      url=f"http://127.0.0.1:{receiver.port}/hook",
                                      events=["*"], devices=None)
    sent = [publish(c.bus, c.clock, "message:in:new", "acc_1", f"dev_{n % 2}", {"n": n})
            for n in range(30)]
    try:
        time.sleep(1.0)
        receiver.start()  # back, but answering 503 for a while
        time.sleep(1.0)
        receiver.up = True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = [d for d in c.store.query("deliveries") if d["status"] == "succeeded"]
            if len(done) == len(sent):
                break
            time.sleep(0.1)
    finally:
        receiver.stop()

    verifier = Verifier(webhook.secret)
    by_event: dict[str, list[int]] = defaultdict(list)
    for headers, body, status in receiver.requests:
        lowered = {k.lower(): v for k, v in headers.items()}
        payload = verifier.verify(body, lowered)  # every attempt signed, also the 503 ones
        assert lowered["webhook-id"] == payload["id"]  # the same id on every attempt
        by_event[payload["id"]].append(status)
    assert set(by_event) == {e.id for e in sent}, "an event was lost"
    assert all(statuses[-1] == 204 for statuses in by_event.values())
    assert sum(len(s) for s in by_event.values()) > len(sent)  # there were retries

    deliveries = c.store.query("deliveries")
    assert len(deliveries) == len(sent) and {d["status"] for d in deliveries} == {"succeeded"}
    refused = [a for d in deliveries for a in d["attempts"] if a["status_code"] is None]
    assert refused and all(a["error"] for a in refused)  # the down time is in the log
    for device in ("dev_0", "dev_1"):
        by_id = {d["event"]["id"]: d["event"]["sequence"] for d in deliveries
                 if d["event"]["device"] == device}
        numbers = [by_id[e.id] for e in sent if e.device == device]  # in publishing order
        assert len(numbers) == 15 and numbers == sorted(set(numbers))
    assert c.store.get("webhooks", webhook.id)["failing_since"] is None  # recovered
