"""Webhooks on the Firestore emulator: sequence numbers without a counter document, the delivery log's pages,
and a delivering process killed after it POSTed but before it recorded the attempt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import flask
import pytest
from google.cloud import firestore
from werkzeug.serving import make_server

from infra.local_tasks import create_app as tasks_app
from shared.adapters.firestore_store import FirestoreStore
from shared.adapters.local_dispatcher import LocalDispatcher
from shared.bootstrap import Container
from shared.clock import SystemClock
from shared.domain import Event
from shared.ids import new_id
from shared.services.webhooks import delivery as webhook_delivery
from shared.services.webhooks import delivery_log, registration
from shared.services.webhooks import fanout as webhook_fanout
from shared.settings import Settings
from tests.fakes import FakeClock, FakeHttp, FakeTaskQueue, in_threads
from tests.integration.webhooks_emulators import emulator_host, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def firestore_host(request, tmp_path_factory):
    with emulator_host(request, "firestore", tmp_path_factory) as host:
        yield host


@pytest.fixture
def project(firestore_host) -> str:
    return "wh-" + uuid.uuid4().hex[:10]


@pytest.fixture
def store(project) -> FirestoreStore:
    return FirestoreStore(firestore.Client(project=project))


def test_sequence_numbers_are_unique_under_concurrency(store):
    """The production bus over Firestore: numbers of one process never tie, grow in each
    publisher's order, and cost no Firestore write (no hot per-device document)."""
    from shared.adapters.inprocess_bus import InProcessBus

    c = Container(Settings(env="test"), store=store, publisher=InProcessBus(threaded=False))
    per_thread: list[list[int]] = []

    def take():
        mine = []
        for _ in range(25):
            event = Event(id=new_id("evt"), event="message:in:new", created_at=datetime.now(UTC),
                          account="acc", device="dev_1", data={})
            c.bus.publish(event)
            mine.append(event.sequence)
        per_thread.append(mine)

    in_threads(take, 8)
    got = [n for mine in per_thread for n in mine]
    assert len(got) == len(set(got)) == 200  # never equal in a process
    assert all(mine == sorted(mine) for mine in per_thread)  # each publisher's order
    assert store.query("event_sequences") == []


def test_delivery_log_pages_on_firestore(store, project):
    settings = Settings(env="test", allow_private_webhooks=True,
                        webhook_inline_attempts=0)  # attempts from their tasks here
    clock = FakeClock(datetime(2026, 5, 1, tzinfo=UTC))
    tasks, http = FakeTaskQueue(), FakeHttp([500])
    c = Container(settings, store=store, tasks=tasks, clock=clock, http=http)
    webhook = registration.create_webhook(c, "acc_1", url="http://127.0.0.1:1/", events=["*"],
                                          devices=None)
    made = []
    for _ in range(12):
        event = Event(id=new_id("evt"), event="message:in:new", created_at=clock.now(),
                      account="acc_1", device="dev_1", data={})
        made += webhook_fanout.fan_out(c, event)
        clock.advance(0.001)
    seen, cursor = [], None
    while True:
        page, cursor = delivery_log.list_deliveries(c, "acc_1", webhook.id, limit=5,
                                                    after=cursor)
        seen += [d.id for d in page]
        if not cursor:
            break
    assert seen == list(reversed(made))
    # the attempt guard is a conditional update: a second recording of attempt 0 loses
    assert webhook_delivery.deliver(c, made[0], 0) == "pending"
    assert webhook_delivery.deliver(c, made[0], 0) == "pending"
    assert len(http.posts) == 1 and store.get("deliveries", made[0])["attempt_count"] == 1
    assert registration.get_webhook(c, "acc_1", webhook.id).secret == webhook.secret


@pytest.mark.parametrize("answer, status", [(204, "succeeded"), (500, "pending")])
def test_the_inline_first_attempt_on_firestore(store, project, answer, status):
    """Fan-out attempts inline, its task queued first: the task, once due, finds the
    attempt recorded and posts nothing; a failure has the retry queued."""
    settings = Settings(env="test", allow_private_webhooks=True)
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    tasks, http = FakeTaskQueue(), FakeHttp([answer])
    c = Container(settings, store=store, tasks=tasks, clock=clock, http=http)
    registration.create_webhook(c, "acc_1", url="http://127.0.0.1:1/", events=["*"],
                                devices=None)
    event = Event(id=new_id("evt"), event="message:in:new", created_at=clock.now(),
                  account="acc_1", device="dev_1", data={})
    [dlv] = webhook_fanout.fan_out(c, event)
    webhook_fanout.fan_out(c, event)  # the push again
    assert len(http.posts) == 1
    doc = store.get("deliveries", dlv)
    assert doc["status"] == status and doc["attempt_count"] == 1
    names_ = [t.name for t in tasks.tasks]
    assert names_ == ([f"{dlv}-0"] if status == "succeeded" else [f"{dlv}-0", f"{dlv}-1"])
    assert webhook_delivery.deliver(c, dlv, 0) == status  # the first task, once due
    assert len(http.posts) == 1


# --- a delivering process dies mid-way -------------------------------------------------------


class DeliverProcess:
    """The webhook_deliver function in its own process, as functions-framework runs it;
    restarted whenever it dies, like Cloud Run starts a new instance."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.env, self.port, self.log_path = env, port, log_path
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._keep_running, daemon=True)

    def _spawn(self) -> None:
        ff = str(Path(sys.executable).with_name("functions-framework"))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [ff, "--source", "main.py", "--target", "webhook_deliver", "--host", "127.0.0.1",
                 "--port", str(self.port)], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    def _keep_running(self) -> None:
        while not self._stop.is_set():
            if self.process.poll() is not None:
                self._spawn()
            time.sleep(0.2)

    def start(self) -> None:
        self._spawn()
        self._watch.start()

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        self._stop.set()
        self._watch.join()
        self.kill()
        self.process.wait()


def test_none_lost_when_the_deliverer_dies_after_posting(project, firestore_host, tmp_path):
    deliver_port = free_port()
    deliver_url = f"http://127.0.0.1:{deliver_port}/"
    dispatcher = LocalDispatcher({"webhook_deliver": deliver_url}, workers=1, backoff_min=0.3,
                                 backoff_max=1.0, timeout=10).start()
    tasks_server = make_server("127.0.0.1", 0, tasks_app(dispatcher), threaded=True)
    threading.Thread(target=tasks_server.serve_forever, daemon=True).start()
    env = dict(os.environ) | {
        "UTIO_ENV": "test", "UTIO_PROJECT": project, "GOOGLE_CLOUD_PROJECT": project,
        "FIRESTORE_EMULATOR_HOST": firestore_host, "UTIO_STORE_BACKEND": "firestore",
        "UTIO_TASKS_BACKEND": "local",
        "UTIO_LOCAL_TASKS_URL": f"http://127.0.0.1:{tasks_server.server_port}",
        "UTIO_ALLOW_PRIVATE_WEBHOOKS": "1", "UTIO_WEBHOOK_RETRY_SCHEDULE": "0.5,1,1,1,1",
        "UTIO_MAIL_OUTBOX": str(tmp_path / "outbox")}
    deliverer = DeliverProcess(env, deliver_port, tmp_path / "deliver.log")

    received: list[tuple[str, dict]] = []
    kill_on = set()  # event ids whose first POST kills the deliverer before it can record
    app = flask.Flask("receiver")

    @app.post("/hook")
    def hook():
        body = flask.request.get_json()
        received.append((flask.request.headers["webhook-id"], body))
        if body["id"] in kill_on:
            kill_on.discard(body["id"])
            deliverer.kill()  # the process that POSTed dies before it hears the answer
        return "", 200

    receiver = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()

    settings = Settings(env="test", project=project, allow_private_webhooks=True,
                        store_backend="firestore",
                        webhook_inline_attempts=0)  # every attempt in the deliverer
    c = Container(settings, store=FirestoreStore(firestore.Client(project=project)),
                  tasks=dispatcher, clock=SystemClock())
    webhook = registration.create_webhook(c, "acc_1",
                                          url=f"http://127.0.0.1:{receiver.server_port}/hook",
                                          events=["*"], devices=None)
    events = [Event(id=new_id("evt"), event="message:in:new", created_at=c.clock.now(),
                    account="acc_1", device="dev_1", data={"n": n}) for n in range(6)]
    kill_on.update({events[0].id, events[3].id})
    deliverer.start()
    try:
        for event in events:
            webhook_fanout.fan_out(c, event)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            docs = c.store.query("deliveries", [("webhook_id", "==", webhook.id)])
            if len(docs) == len(events) and all(d["status"] == "succeeded" for d in docs):
                break
            time.sleep(0.2)
    finally:
        deliverer.stop()
        dispatcher.stop()
        tasks_server.shutdown()
        receiver.shutdown()

    log = (tmp_path / "deliver.log").read_text(errors="replace")[-3000:]
    docs = {d["event_id"]: d for d in c.store.query("deliveries",
                                                     [("webhook_id", "==", webhook.id)])}
    assert {e.id for e in events} == set(docs), log
    assert all(d["status"] == "succeeded" for d in docs.values()), log
    assert deliverer.starts >= 3  # killed twice, started again each time
    for event in events:
        ids = [wid for wid, body in received if body["id"] == event.id]
        assert set(ids) == {event.id}  # one webhook-id across attempts
        killed = event.id in (events[0].id, events[3].id)
        assert len(ids) == (2 if killed else 1)  # at least once: again after the crash
        assert docs[event.id]["attempt_count"] == 1  # the unrecorded attempt is not in the log
