"""`make bench` at token sizes (UTIO_BENCH_SMOKE=1), so that a change to a port or a
service cannot break the bench unnoticed: every figure must run and print."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

from bench import __main__ as bench_main
from bench.harness import CountingStore
from shared.adapters.memory_store import MemoryStore
from shared.ports import DocumentStore, Guard

ROOT = Path(__file__).resolve().parents[2]

HEADERS = ("cold start", "API overhead", "number validation", "number validation over HTTP",
           "Pub/Sub emulator push latency",
           "webhook fan-out",
           "inbound message -> webhook latency", "priority:", "pacing:", "pipeline throughput",
           "cost per delivered message", "hottest document", "fan-out:", "listing:",
           "queue listing", "runner memory", "runner send CPU", "take-over",
           "restart resume", "store pause", "web app size", "first render", "documentation page",
           "web chat")


def test_bench_runs_every_figure_at_smoke_sizes():
    # the bench's own sizes keep it short; the timeout only stops a hang (never a speed check)
    done = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=os.environ | {"UTIO_BENCH_SMOKE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    for header in HEADERS:
        assert header in done.stdout, (header, done.stdout)
    assert "Traceback" not in done.stderr


def test_every_figure_has_smoke_sizes_its_function_accepts():
    figures = {f.__name__: f for f in (
        bench_main.cold_start, bench_main.api_overhead, bench_main.number_validation,
        bench_main.number_validation_http, bench_main.pubsub_push_floor,
        bench_main.runner_memory, bench_main.runner_send_cpu, bench_main.runner_takeover,
        bench_main.runner_restart,
        bench_main.store_pause, bench_main.docs_page)}
    from bench import chat, cost, events, messaging, web, webhooks
    for module in (messaging, webhooks, web, events, chat, cost):
        for name in bench_main.SMOKE_SIZES:
            if hasattr(module, name):
                figures[name] = getattr(module, name)
    assert set(figures) == set(bench_main.SMOKE_SIZES)
    for name, sizes in bench_main.SMOKE_SIZES.items():
        inspect.signature(figures[name]).bind(**sizes)


def test_counting_store_passes_every_port_parameter_through():
    store = CountingStore(MemoryStore())
    store.put("devices", "d1", {"lease": 3})
    store.put("messages", "m1", {"status": "queued"})
    assert store.update("messages", "m1", {"status": "sent"}, when={"status": "queued"},
                        guard=Guard("devices", "d1", {"lease": 3}))
    assert not store.update("messages", "m1", {"status": "x"},
                            guard=Guard("devices", "d1", {"lease": 4}))
    assert store.increment("counters", "c", "n", 2, maximum=5, extra={"k": 1}) == 2
    assert store.query("messages", where=[("status", "==", "sent")], limit=1)[0]["id"] == "m1"
    assert store.writes == {"devices": 1, "messages": 2, "counters": 1}
    assert store.reads == {"messages": 3, "devices": 2, "counters": 1}
    # every method of the port is counted here, not inherited from the port's defaults
    for name, _ in inspect.getmembers(DocumentStore, inspect.isfunction):
        if not name.startswith("_"):
            assert name in vars(CountingStore), name


def test_counting_store_counts_a_write_on_a_version_as_no_read():
    from shared.ports import Write

    store = CountingStore(MemoryStore())
    store.put("devices", "d1", {"lease": 3})
    v1 = store.commit([Write.put("messages", "m1", {"status": "queued"})]).version("messages", "m1")
    store.reset()
    done = store.commit([Write.update("messages", "m1", {"status": "sent"}, version=v1)])
    assert done and done.version("messages", "m1") != v1  # the answer passes through
    assert store.reads == {} and store.writes == {"messages": 1}
    # stale: refused, nothing read or written (the caller's fallback counts its own read)
    assert store.commit([Write.update("messages", "m1", {"status": "x"}, version=v1)]) is False
    # with a guard: the guard's document is read (the transaction), the message is not
    store.commit([Write.update("messages", "m1", {"status": "read"},
                               version=done.version("messages", "m1"))],
                 guard=Guard("devices", "d1", {"lease": 3}))
    assert store.reads == {"devices": 1} and store.writes == {"messages": 2}


def test_cost_bench_counts_through_the_production_bus():
    from bench.harness import CountingBus, in_process_stack
    from shared.services.event_log import EventLog

    c, *_ = in_process_stack(1, runner=False)
    assert isinstance(c.bus, EventLog) and isinstance(c.publisher, CountingBus)
    assert c.bus.transport is c.publisher
