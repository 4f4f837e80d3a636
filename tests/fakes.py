"""Fakes of our own ports, and a helper that builds the composition root with them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.clock import Clock
from shared.ports import HttpAnswer, HttpClient, MessageSender, SendResult, TaskQueue
from shared.settings import Settings


class FakeClock(Clock):
    def __init__(self, start: datetime | None = None):
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


ADMIN_KEY = "test-admin-key"
SECRETS_KEY = "dGVzdC1zZWNyZXRzLWtleS0zMi1ieXRlcy1sb25nISE"  # 32 bytes, URL-safe base64
TEST_RETRY_SCHEDULE = (1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Task:
    queue: str
    target: str
    payload: dict
    name: str | None
    schedule_at: datetime | None


class FakeTaskQueue(TaskQueue):
    """Records tasks; a (queue, name) pair used before is dropped, as Cloud Tasks does."""

    def __init__(self):
        self.calls: list[Task] = []  # every enqueue, duplicates included
        self.tasks: list[Task] = []  # the tasks the queue accepted
        self._names: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def enqueue(self, queue, target, payload, *, name=None, schedule_at=None):
        task = Task(queue, target, dict(payload), name, schedule_at)
        with self._lock:
            self.calls.append(task)
            if name is not None:
                if (queue, name) in self._names:
                    return
                self._names.add((queue, name))
            self.tasks.append(task)

    def on(self, *queues: str) -> list[Task]:
        with self._lock:
            return [t for t in self.tasks if t.queue in queues]


@dataclass(frozen=True)
class Post:
    url: str
    body: bytes
    headers: dict[str, str]
    timeout: float
    address: str | None = None


class FakeHttp(HttpClient):
    """Answers posts from a script of status codes, HttpAnswers or exceptions; 200 once
    it runs out."""

    def __init__(self, script: Iterable[int | HttpAnswer | BaseException] = ()):
        self.script = list(script)
        self.posts: list[Post] = []

    def post(self, url, body, headers, timeout, *, address=None):
        self.posts.append(Post(url, body, dict(headers), timeout, address))
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, HttpAnswer):
            return answer
        return HttpAnswer(answer, f"answer {answer}")


class RecordingSender(MessageSender):
    """A transport's send half that sends at once and records the WhatsApp ids it sent;
    `transient` failures first (retryable), then successes."""

    def __init__(self, transient: int = 0):
        self.sent: list[str] = []
        self.transient = transient
        self._lock = threading.Lock()

    def send(self, device_id, wa_id, to, content, media=None, **context):
        with self._lock:
            if self.transient:
                self.transient -= 1
                return SendResult(False, retryable=True)
            self.sent.append(wa_id)
        return SendResult(True)


class ManualTimer:
    """A sandbox timer that runs nothing until the test says so."""

    def __init__(self):
        self.pending: list[tuple[float, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def __call__(self, delay: float, fn: Callable[[], None]) -> None:
        with self._lock:
            self.pending.append((delay, fn))

    def fire_all(self) -> int:
        """Run the callbacks pending now, shortest delay first. Callbacks that other threads
        add meanwhile wait for the next call, so a test decides when receipts arrive."""
        with self._lock:
            due = sorted(self.pending, key=lambda item: item[0])
            self.pending = []
        for _, fn in due:
            fn()
        return len(due)

    def fire_next(self) -> bool:
        """Run the pending callback with the shortest delay, if any."""
        with self._lock:
            if not self.pending:
                return False
            self.pending.sort(key=lambda item: item[0])
            _, fn = self.pending.pop(0)
        fn()
        return True


def make_settings(**overrides) -> Settings:
    values = dict(env="test", admin_key=ADMIN_KEY, default_transport="sandbox",
                  allow_private_webhooks=True, webhook_retry_schedule=TEST_RETRY_SCHEDULE,
                  runner_shard="runner-test",
                  # nothing listens there: a test whose runner call goes over HTTP never
                  # reaches a `make dev` running on the machine (its runner is at :8081)
                  runner_url="http://127.0.0.1:1",
                  # attempts run from their tasks, to be driven step by step; fan-out's
                  # inline first attempt is tested on its own (test_inline.py)
                  webhook_inline_attempts=0, webhook_secret_key=SECRETS_KEY)
    values.update(overrides)
    return Settings(**values)


def make_container(*, settings: Settings | None = None, fanout: bool = True,
                   clock: Clock | None = None, http: FakeHttp | None = None) -> Container:
    """A Container over in-memory fakes. The bus is the production one (the event
    log, built by the container) over an in-process publisher that runs handlers synchronously
    and records what it published (`c.bus.published`); with `fanout`, it feeds every event
    to the webhook fan-out as Pub/Sub push would."""
    store = MemoryStore()
    tasks = FakeTaskQueue()
    clock = clock or FakeClock()
    publisher = InProcessBus(threaded=False)
    c = Container(settings or make_settings(), store=store, tasks=tasks, publisher=publisher,
                  clock=clock, http=http or FakeHttp())
    if fanout:
        from shared.services.webhooks.fanout import fan_out

        publisher.subscribe(lambda event: fan_out(c, event))
    return c


@contextmanager
def serving(app) -> Iterator[str]:
    """A WSGI app on a loopback port for the block: its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def in_threads(target: Callable[..., object], calls: int | Iterable = 1, *,
               timeout: float | None = None) -> None:
    """Call `target` on threads of its own, all started at once, and wait for every one:
    `calls` times without an argument, or once per item of an iterable (its argument)."""
    args = [()] * calls if isinstance(calls, int) else [(item,) for item in calls]
    threads = [threading.Thread(target=target, args=a) for a in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)


def wait_until(predicate: Callable[[], object], timeout: float = 5.0,
               message: str = "condition", *, interval: float = 0.005):
    """Poll until `predicate()` is truthy and return its value; AssertionError after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
    return value


@dataclass
class Caller:
    """The API's test client with one key (an API key or an agent token; None: none) on
    every call."""

    client: object
    key: str | None = None
    account_id: str | None = None

    def as_(self, account) -> Caller:
        """The same client with another account's key (an AccountHandle; None: no key)."""
        return Caller(self.client, account.key if account else None,
                      account.id if account else None)

    def call(self, method: str, path: str, **kwargs):
        headers = ({"Authorization": f"Bearer {self.key}"} if self.key else {}) \
            | (kwargs.pop("headers", None) or {})
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.call("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.call("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)

    def send(self, **body):
        """POST /v1/messages."""
        return self.post("/v1/messages", json=body)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is an error of the contract's shape, with this status (and code)."""
    body = response.get_json(silent=True)
    assert response.status_code == status, (response.status_code, body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# --- building blocks for service and runner tests ------------------------------------


def seed_account(c: Container, name: str = "Acme Ltd") -> str:
    from shared.services.accounts import create_account

    account, _, _ = create_account(c, name)
    return account.id


def seed_device(c: Container, account_id: str, *, speed: int = 120, transport: str = "sandbox"):
    from shared.domain import DeviceSettings, Transport
    from shared.services.devices import create_device

    return create_device(c, account_id, transport=Transport(transport),
                         settings=DeviceSettings(delivery_speed=speed))


def queue_message(c: Container, account_id: str, device_id: str, text: str = "hello", *,
                  phone: str = "+447911123456", priority: str = "normal", deliver_at=None):
    from shared.domain import Priority
    from shared.services.messages import send_message

    message, _ = send_message(c, account_id, phone=phone, text=text,
                              device_id=device_id, priority=Priority(priority),
                              deliver_at=deliver_at)
    return message


def as_tasked(c: Container, message_id: str):
    """The message as its send task brings it to the runner: at the version the API's
    create answered (shared.services.message_transitions)."""
    from shared.domain import Message

    task = next(t for t in c.tasks.tasks if t.payload.get("message_id") == message_id)
    return Message.model_validate(task.payload["message"]).at_version(task.payload["version"])


def message_events(c: Container, message_id: str, name: str | None = None) -> list[str]:
    return [e.event for e in list(c.bus.published)
            if e.data.get("id") == message_id and (name is None or e.event == name)]


def logged_docs(store, name: str | None = None) -> list[dict]:
    """Every event the log holds (of `name`), as log documents, in log order: those of
    the log's collection and those living in their message's document
    (shared.services.event_log.HOMES)."""
    from shared.services import event_log

    docs = [stream.shaped(d) for stream in event_log.STREAMS
            for d in store.query(stream.collection, order_by=[(stream.at, "asc")])]
    return sorted((d for d in docs if name in (None, d["event"])),
                  key=lambda d: (d["logged_at"], d["id"]))


def status_of(c: Container, message_id: str) -> str:
    return c.store.get("messages", message_id)["status"]
