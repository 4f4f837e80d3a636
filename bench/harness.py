"""What the benchmarks measure through: the API and a runner over in-process backends,
with ports that count what Firestore, Cloud Tasks and Pub/Sub would bill (the counting
store, bus and task queue), and the requests they send."""

from __future__ import annotations

import inspect
import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable

from shared.ports import DocumentStore, EventBus, TaskQueue
from shared.repositories.messages import Messages


def wait(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        time.sleep(0.002)


class Tally:
    """Counts by collection, kept per thread and summed when read. Not one Counter under
    a lock: every store call of every thread took that lock, and in the pipeline figure
    (100 send threads, the task workers and the API in one interpreter) the threads waited
    12 s on it, holding it for moments each, while the holder waited for its turn at the
    GIL. The bench measured its own counting."""

    def __init__(self):
        self._local = threading.local()
        self._all: list[Counter] = []  # every thread's, the dead ones' included

    def add(self, collection: str, n: int) -> None:
        mine = getattr(self._local, "counts", None)
        if mine is None:
            mine = self._local.counts = Counter()
            self._all.append(mine)
        mine[collection] += n

    def total(self) -> Counter:
        out: Counter = Counter()
        for counts in list(self._all):
            out.update(dict(counts))  # (a copy in one step: its thread may be adding)
        return +out

    def clear(self) -> None:  # (when nothing is counting: the figures reset between runs)
        for counts in list(self._all):
            counts.clear()


class CountingStore(DocumentStore):
    """Counts operations as Firestore bills them, for the adapter in shared/adapters:
    a conditional update or a capped increment reads before it writes; a guarded update
    reads the guard document too; an update of a commit on a version (Write.version) reads
    nothing (a precondition), and when the version no longer matches the caller's own
    read that follows is counted as it comes; a query costs one read per document
    returned (at least one).

    Every call goes to `inner` with exactly the arguments it was given (*args/**kwargs),
    so a parameter added to the DocumentStore port later passes through untouched; the
    arguments are bound against the port's own signature only to see what to count."""

    def __init__(self, inner: DocumentStore):
        self.inner = inner
        self._reads, self._writes = Tally(), Tally()

    @property
    def reads(self) -> Counter:
        return self._reads.total()

    @property
    def writes(self) -> Counter:
        return self._writes.total()

    def _count(self, kind: Tally, collection: str, n: int = 1) -> None:
        kind.add(collection, n)

    def reset(self) -> None:
        self._reads.clear()
        self._writes.clear()

    @staticmethod
    def _args(method: str, args: tuple, kwargs: dict) -> dict:
        """The call's arguments by name, defaults filled in. By hand rather than with
        Signature.bind, which cost the pipeline figure a tenth of its CPU: the counting is
        the bench's, not the product's. (A call the port's signature would refuse still
        reaches `inner`, which refuses it.)"""
        names, defaults = _PORT_PARAMETERS[method]
        return defaults | dict(zip(names, args, strict=False)) | kwargs

    def get(self, *args, **kwargs):
        self._count(self._reads, self._args("get", args, kwargs)["collection"])
        return self.inner.get(*args, **kwargs)

    def get_many(self, *args, **kwargs):  # a batched get: a read per document asked for
        a = self._args("get_many", args, kwargs)
        self._count(self._reads, a["collection"], len(a["doc_ids"]))
        return self.inner.get_many(*args, **kwargs)

    def create(self, *args, **kwargs):
        self._count(self._writes, self._args("create", args, kwargs)["collection"])
        return self.inner.create(*args, **kwargs)

    def put(self, *args, **kwargs):
        self._count(self._writes, self._args("put", args, kwargs)["collection"])
        return self.inner.put(*args, **kwargs)

    def update(self, *args, **kwargs):
        a = self._args("update", args, kwargs)
        done = self.inner.update(*args, **kwargs)
        if a.get("when") or a.get("guard") is not None:
            self._count(self._reads, a["collection"])
        if a.get("guard") is not None:
            self._count(self._reads, a["guard"].collection)
        if done:
            self._count(self._writes, a["collection"])
        return done

    def commit(self, *args, **kwargs):
        a = self._args("commit", args, kwargs)
        writes = list(a["writes"])
        done = self.inner.commit(writes, guard=a.get("guard"))
        for w in writes:
            if w.op == "update" and w.when:
                self._count(self._reads, w.collection)
        if a.get("guard") is not None:
            self._count(self._reads, a["guard"].collection)
        if done:
            for w in writes:
                self._count(self._writes, w.collection)
        return done

    def delete(self, *args, **kwargs):
        self._count(self._writes, self._args("delete", args, kwargs)["collection"])
        return self.inner.delete(*args, **kwargs)

    def increment(self, *args, **kwargs):
        a = self._args("increment", args, kwargs)
        value = self.inner.increment(*args, **kwargs)
        if a.get("maximum") is not None:
            self._count(self._reads, a["collection"])
        if value is not None:
            self._count(self._writes, a["collection"])
        return value

    def query(self, *args, **kwargs):
        docs = self.inner.query(*args, **kwargs)
        self._count(self._reads, self._args("query", args, kwargs)["collection"], max(1, len(docs)))
        return docs

    def count(self, collection, where=()):
        found = self.inner.count(collection, where)  # an aggregation: a read per 1000
        self._count(self._reads, collection, max(1, -(-found // 1000)))
        return found

    def watch(self, *args, **kwargs):
        a = self._args("watch", args, kwargs)
        collection, on_change = a["collection"], a["on_change"]

        def counted():  # a listener is billed a read per change it is sent
            self._count(self._reads, collection)
            on_change()

        return self.inner.watch(collection, a["where"], a["order_by"], a["limit"], counted)

    def __getattr__(self, name):  # the inner store's extras
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _parameters(method: str) -> tuple[tuple[str, ...], dict]:
    """The port method's parameter names after self, and the defaults of those that have one."""
    params = list(inspect.signature(getattr(DocumentStore, method)).parameters.values())[1:]
    return (tuple(p.name for p in params),
            {p.name: p.default for p in params if p.default is not inspect.Parameter.empty})


_PORT_PARAMETERS = {name: _parameters(name)
                    for name in ("get", "get_many", "create", "put", "update", "delete", "increment",
                                 "query", "commit", "watch")}


class IndexedMemoryStore:
    """MemoryStore with an index on messages.wa_id, so that the receipts' look-up does not
    scan every message (Firestore answers it from an index too)."""

    def __new__(cls):
        from shared.adapters.memory_store import MemoryStore

        class Indexed(MemoryStore):
            def __init__(self):
                super().__init__()
                self.by_wa: dict[str, str] = {}

            def put(self, collection, doc_id, data):
                super().put(collection, doc_id, data)
                if collection == Messages.name and data.get("wa_id"):
                    self.by_wa[data["wa_id"]] = doc_id

            def commit(self, writes, *, guard=None):
                done = super().commit(writes, guard=guard)
                for w in writes if done else ():
                    if w.collection == Messages.name and w.op != "update" and w.data.get("wa_id"):
                        self.by_wa[w.data["wa_id"]] = w.doc_id
                return done

            def query(self, collection, where=(), order_by=(), limit=None, start_after=None):
                if collection == Messages.name and len(where) == 1 and where[0][:2] == ("wa_id", "=="):
                    doc = self.get(collection, self.by_wa.get(where[0][2], ""))
                    return [doc] if doc else []
                return super().query(collection, where, order_by, limit, start_after)

        return Indexed()


class CountingBus(EventBus):
    """The transport under the production bus (Pub/Sub's place): counts each publish, then
    hands the event to `subscriber` (the webhook fan-out, as the push subscription does)."""

    publishes_at_once = True  # (the subscriber, in this thread, never waits on a network)

    def __init__(self, subscriber: Callable | None = None):
        self.published: Counter = Counter()
        self.subscriber = subscriber
        self._lock = threading.Lock()

    def publish(self, event, *args, **kwargs):
        with self._lock:
            self.published[event.event] += 1
        if self.subscriber is not None:
            self.subscriber(event)


class DirectTasks(TaskQueue):
    """Delivers message tasks to the runner on worker threads, like Cloud Tasks' push;
    counts every enqueue."""

    def __init__(self, workers: int = 4):
        self.count: Counter = Counter()
        self.runner = None
        self.open = threading.Event()  # cleared: tasks wait (to count the API's share alone)
        self.open.set()
        self._queue: queue.Queue = queue.Queue()
        for i in range(workers):
            threading.Thread(target=self._work, daemon=True, name=f"bench-tasks-{i}").start()

    def enqueue(self, queue_name, target, payload, *args, **kwargs):
        self.count[queue_name] += 1
        self._queue.put((target, payload))

    def _work(self) -> None:
        from shared import names

        while True:
            target, payload = self._queue.get()
            self.open.wait()
            if self.runner is None:
                continue
            if target == names.TARGET_RUNNER_MESSAGES:
                self.runner.handle_message_task(payload["message_id"], payload.get("message"),
                                                payload.get("version"))
            elif target == names.TARGET_RUNNER_DEVICES:
                self.runner.handle_device_task(payload)


class SerialTimer:
    """The sandbox's receipts on one worker thread, in order, at once."""

    def __init__(self):
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="bench-timer").start()

    def __call__(self, delay, fn):
        self._queue.put(fn)

    def _work(self):
        while True:
            self._queue.get()()


def in_process_stack(devices: int, *, runner: bool, log: bool = True, caches: bool = True,
                     inner=None):
    """The API and (optionally) a runner over in-process backends, with `devices` sandbox
    devices on the Enterprise plan, pacing lifted (the benchmark measures the machinery);
    the caches (shared/caches.py) and the chats' coalesced filing on, as in production.
    `inner`: the store under the counting one (else an IndexedMemoryStore)."""
    from device_runner.main import build_runner
    from device_runner.sandbox import SandboxTransport
    from functions.api.app import create_app
    from shared.adapters.mailers import FileOutboxMailer
    from shared.adapters.storage import MemoryStorage
    from shared.bootstrap import Container
    from shared.domain import Transport
    from shared.services.accounts import create_account
    from shared.services.devices import create_device
    from shared.services.webhooks.fanout import fan_out
    from shared.settings import Settings

    store = CountingStore(inner if inner is not None else IndexedMemoryStore())
    tasks = DirectTasks()
    # the transport only: the container wraps it as production does (SequencedBus), and
    # the fan-out reads the account's webhooks for each event, as its subscription does
    publisher = CountingBus(lambda event: fan_out(c, event))
    # log=False: the bus without the event log (numbered events straight to the transport),
    # the design before it, for the bench's figure of what durability costs
    from shared.services.sequence import SequencedBus

    c = Container(Settings(env="test", default_transport="sandbox", caches=caches,
                           coalesce_chats=True, quota_leases=True),
                  store=store, tasks=tasks,
                  publisher=publisher, storage=MemoryStorage(),
                  mailer=FileOutboxMailer("/dev/null"),
                  bus=None if log else SequencedBus(publisher))
    account, _, key = create_account(c, "bench")
    device_ids = [create_device(c, account.id,
                                transport=Transport.sandbox).id for _ in range(devices)]
    for device_id in device_ids:
        c.repos.devices.update(device_id, {"plan": "messaging-enterprise"})
    run = None
    if runner:
        run = build_runner(c, sandbox=SandboxTransport(timer=SerialTimer()))
        tasks.runner = run
        for device_id in device_ids:
            run.ensure_session(device_id)
        wait(lambda: all(s.connected for s in run.sessions.values()), 30)
        for session in run.sessions.values():
            session.set_speed(10**7)
    client = create_app(c).test_client()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return c, client, headers, device_ids, run


def message_bodies(device_ids: list[str], count: int) -> list[bytes]:
    return [json.dumps({"device": device_ids[i % len(device_ids)], "phone": "+447911123456",
                        "message": f"Your order {i} has shipped 🚚", "reference": f"o-{i}"}).encode()
            for i in range(count)]


def delivered(c) -> int:
    return sum(1 for d in c.store.inner.query(Messages.name, [("status", "in", ["delivered", "read"])]))


def wait_delivered(c, count: int, timeout: float) -> None:
    """Until `count` messages are delivered, for a timed figure: watched through the count
    of message:out:delivered publishes (one per message: its transition's event), then
    checked once in the store. Not by polling `delivered`: a scan of every message in
    memory each 2 ms, which took more of the interpreter than the runner it waited for
    (the pipeline figure's drain: 2.4-2.8 s of CPU polling, 1.1 s without)."""
    wait(lambda: c.publisher.published["message:out:delivered"] >= count, timeout)
    assert delivered(c) == count
