"""The event log's figures (docs/events.md): what durability costs in Firestore operations
and publishes per delivered message, beside the bus without the log; and how long an
event takes to reach a long-polling client."""

from __future__ import annotations

import statistics
import threading
import time

from bench.harness import delivered, in_process_stack, message_bodies, wait
from shared.repositories.events import EventLogEntries, EventRelays
from shared.repositories.messages import Messages


def _cost(log: bool, devices: int, count: int) -> tuple[float, float, float, dict, dict]:
    c, client, headers, ids, run = in_process_stack(devices, runner=True, log=log)
    store, bus = c.store, c.publisher
    store.reset()
    bus.published.clear()
    for body in message_bodies(ids, count):
        assert client.post("/v1/messages", data=body, headers=headers).status_code == 201
    wait(lambda: delivered(c) == count and
          len(c.store.inner.query(Messages.name, [("status", "==", "read")])) == count, 120)
    if log:
        c.relay.drain(10)
    time.sleep(0.2)
    run.stop()
    per = float(count)
    return (sum(store.reads.values()) / per, sum(store.writes.values()) / per,
            sum(bus.published.values()) / per, dict(store.reads), dict(store.writes))


def log_cost(devices: int = 10, count: int = 300) -> None:
    before = _cost(False, devices, count)
    after = _cost(True, devices, count)
    print(f"event log: extra Firestore operations per delivered message ({count} text messages "
          "sent, delivered and read; in-process backends, counted as the adapter issues them)")
    print(f"  before (events published, not logged)  reads {before[0]:5.2f}  writes {before[1]:5.2f}"
          f"  publishes {before[2]:4.2f}")
    print(f"  with the event log                     reads {after[0]:5.2f}  writes {after[1]:5.2f}"
          f"  publishes {after[2]:4.2f}")
    print(f"  durability costs                       reads {after[0] - before[0]:+5.2f}  writes "
          f"{after[1] - before[1]:+5.2f}  publishes {after[2] - before[2]:+4.2f}   (events "
          f"{after[4].get(EventLogEntries.name, 0) / count:.2f} writes, event_relays "
          f"{after[4].get(EventRelays.name, 0) / count:.3f})")


def long_poll_latency(samples: int = 40) -> None:
    """A client waits on GET /v1/events?after=…&wait=10; an event is logged; the time until
    its answer. Same process: the log wakes the waiting request. Another process (the
    runner, in production): the event is committed straight to the store, so the request
    finds it at its next read of the log (every POLL_EVERY seconds: the memory store has no
    listener; on Firestore one wakes it, tests/integration/test_event_log_watch.py)."""
    from shared.events import EventName
    from shared.ports import Write
    from shared.services import event_feed
    from shared.services.event_log import to_doc

    c, client, headers, ids, _ = in_process_stack(1, runner=False)
    account = c.repos.devices.docs()[0]["account_id"]

    def sample(other_process: bool) -> float:
        cursor = client.get("/v1/events?after=now", headers=headers).get_json()["next_cursor"]
        got: dict = {}
        ready = threading.Event()

        def long_poll():
            ready.set()
            answer = client.get(f"/v1/events?after={cursor}&wait=10", headers=headers)
            got["at"] = time.perf_counter()
            got["n"] = len(answer.get_json()["data"])

        waiter = threading.Thread(target=long_poll)
        waiter.start()
        ready.wait()
        time.sleep(0.05)  # the request is waiting
        event = c.bus.event(EventName.device_status, account, ids[0], {"status": "connected"})
        started = time.perf_counter()
        if other_process:
            c.store.commit([Write.create(EventLogEntries.name, event.id, to_doc(event, "other"))])
        else:
            c.bus.publish(event)
        waiter.join()
        assert got["n"] == 1
        return got["at"] - started

    same = [sample(False) for _ in range(samples)]
    other = [sample(True) for _ in range(max(4, samples // 4))]
    print(f"long poll: an event logged to a client waiting on GET /v1/events?after=…&wait=10 "
          f"(in-process backends, no listener: the log is read every {event_feed.POLL_EVERY} s "
          "while waiting)")
    print(f"  logged by the same process   p50 {statistics.median(same) * 1000:7.1f} ms")
    print(f"  logged by another process    p50 {statistics.median(other) * 1000:7.1f} ms")


def firestore_long_poll(samples: int = 10) -> None:
    """The same on the Firestore emulator, the event committed by another client (as the
    runner does): with the account's listener (event_feed.Watches), beside the poll that
    finds it by reading the log every POLL_EVERY s (no listener)."""
    import uuid
    from datetime import UTC, datetime

    from infra import emulators
    from shared.clock import SystemClock
    from shared.domain import Event
    from shared.ports import Write
    from shared.services import event_feed
    from shared.services.event_log import EVENTS, Waker, to_doc

    print("long poll on Firestore (the emulator): an event another client commits, to a "
          "client waiting on it")
    if samples <= 0:
        print("  skipped at smoke sizes: it starts the Firestore emulator")
        return
    if not emulators.gcloud_available():
        print("  needs gcloud's Firestore emulator")
        return
    with emulators.serving(emulators.start_firestore(), "FIRESTORE_EMULATOR_HOST"):
        from google.cloud import firestore

        from shared.adapters.firestore_store import FirestoreStore

        project = "bench-" + uuid.uuid4().hex[:8]
        store, writer = (FirestoreStore(firestore.Client(project=project)) for _ in range(2))
        clock = SystemClock()

        class Unwatched(event_feed.Watches):
            def hold(self, store, account_id):
                return None

        def sample(watches: event_feed.Watches) -> float:
            cursor = event_feed.encode_position(event_feed.resolve_after(store, "acc_b", "now", clock))
            got: dict = {}

            def poll():
                found = event_feed.follow(store, clock, "acc_b", cursor, wait=10,
                                          waker=watches.waker, watches=watches)
                got["at"], got["n"] = time.perf_counter(), len(found.events)

            waiter = threading.Thread(target=poll)
            waiter.start()
            time.sleep(0.3)  # the request waits (and holds the account's listener)
            event = Event(id="evt_" + uuid.uuid4().hex[:20], event="device:status",
                          created_at=datetime.now(UTC), account="acc_b", device="dev_b",
                          sequence=1, data={"status": "connected"})
            started = time.perf_counter()
            writer.commit([Write.create(EVENTS, event.id, to_doc(event, "runner"))])
            waiter.join()
            assert got["n"] == 1
            return got["at"] - started

        waker = Waker()
        unwatched = [sample(Unwatched(waker)) for _ in range(samples)]
        watches = event_feed.Watches(waker)  # one listener, lingering between polls
        watched = [sample(watches) for _ in range(samples)]
        b, u = statistics.median(unwatched), statistics.median(watched)
        print(f"  baseline  reading the log every {event_feed.POLL_EVERY} s     p50 "
              f"{b * 1000:7.1f} ms")
        print(f"  utio      woken by the account's listener    p50 {u * 1000:7.1f} ms   "
              f"ratio {u / b:.2f}   (median of {samples})")


def stack_inbound_latency(samples: int = 40) -> None:
    """Sandbox inbound message to the webhook receiver on the local stack as `make dev`
    runs it with the emulators (separate processes: API, task dispatcher, runner, Pub/Sub
    emulator push, fan-out, deliver), beside one signed POST straight to the receiver."""
    import requests

    from bench.__main__ import smoke
    from bench.webhooks import _direct_post_latency, _Receiver, print_latency
    from infra import emulators
    from tests.e2e.stack import running_stack, wait_until

    if smoke():  # the smoke run (make test) does not start a second stack with emulators
        print("inbound -> webhook latency on the emulator stack: measured at full size only")
        return
    if not emulators.gcloud_available():
        print("inbound -> webhook latency on the emulator stack: gcloud is not installed, "
              "not measured")
        return
    import tempfile
    from pathlib import Path

    data = Path(tempfile.mkdtemp(prefix="utio-bench-"))
    firestore = emulators.start_firestore(log_path=data / "firestore.log")
    pubsub = emulators.start_pubsub(log_path=data / "pubsub.log")
    receiver = _Receiver()
    try:
        env = {"FIRESTORE_EMULATOR_HOST": firestore.host, "PUBSUB_EMULATOR_HOST": pubsub.host}
        with running_stack(data / "stack", env) as stack:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {stack.key}"
            device = s.post(f"{stack.api}/devices", json={"alias": "bench"}).json()["id"]
            wait_until(lambda: s.get(f"{stack.api}/devices/{device}").json()["status"]
                       == "connected", 30, "the device to link")
            s.post(f"{stack.api}/webhooks", json={"url": receiver.url(),
                                                  "events": ["message:in:new"]})
            ours = []
            for n in range(samples + 5):
                text = f"stack {n}"
                started = time.perf_counter()
                assert s.post(f"{stack.api}/devices/{device}/sandbox/inbound",
                              json={"phone": "+34600100999", "message": text}).status_code == 202
                arrived = receiver.arrival_of(text, 20)
                if n >= 5:  # warm-up
                    ours.append(arrived - started)
            base = _direct_post_latency(receiver, samples)
    finally:
        receiver.close()
        pubsub.stop()
        firestore.stop()
    print_latency(f"inbound message -> webhook latency on the emulator stack ({samples} "
                  "sequential samples; API, dispatcher, runner, Pub/Sub emulator, fan-out, "
                  "deliver as processes)", "POST sandbox/inbound -> receiver", ours, base)
    print("  (one Pub/Sub push on the path, the emulator's: its push loop sleeps a fixed "
          "100 ms when it finds nothing, so\n   sequential samples wait about half of it; "
          "7 Firestore round trips of 3-7 ms each before the POST)")
