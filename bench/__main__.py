"""`make bench`: figures, never pass/fail. Each figure is a ratio against a baseline run
in the same command, because these machines are noisy."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.node()} · {cpu} · {os.cpu_count()} cores · "
            f"Python {platform.python_version()} · {platform.system()} {platform.release()}")


def _import_time(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - started


def cold_start(rounds: int = 7) -> None:
    baseline, ours, app = [], [], []
    for _ in range(rounds):  # interleaved, so drift hits both alike
        baseline.append(_import_time("import flask, functions_framework"))
        ours.append(_import_time("import main"))
        app.append(_import_time("import functions.main as m; m._api_app()"))
    b, o, a = (statistics.median(x) for x in (baseline, ours, app))
    print(f"cold start (median of {rounds} fresh interpreters, wall time)")
    print(f"  baseline  import flask, functions_framework   {b * 1000:8.1f} ms")
    print(f"  utio      import main (the api target)        {o * 1000:8.1f} ms   ratio {o / b:.2f}")
    print(f"  utio      import main + build the Flask app   {a * 1000:8.1f} ms   ratio {a / b:.2f}")


def api_overhead(seconds: float = 3.0) -> None:
    import json

    from flask import Flask, request

    from functions.api.app import create_app
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.adapters.memory_store import MemoryStore
    from shared.bootstrap import Container
    from shared.ports import TaskQueue
    from shared.services.accounts import create_account
    from shared.services.devices import create_device
    from shared.settings import Settings

    class CountingQueue(TaskQueue):
        def __init__(self):
            self.count = 0

        def enqueue(self, queue, target, payload, *, name=None, schedule_at=None):
            self.count += 1

    c = Container(Settings(env="test", default_transport="sandbox"), store=MemoryStore(),
                  tasks=CountingQueue(), bus=InProcessBus(threaded=False))
    _, _, key = create_account(c.store, c.clock, "bench")
    account = c.store.query("accounts")[0]["id"]
    device = create_device(c.store, c.tasks, c.clock, account, transport="sandbox")
    # the largest monthly quota: thousands of requests a second would spend a smaller one
    c.store.update("devices", device.id, {"plan": "platform-enterprise"})
    client = create_app(c).test_client()
    body = json.dumps({"phone": "+447911123456", "message": "Your order has shipped 🚚",
                       "priority": "high", "reference": "order-1"})
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    bare = Flask("bare")

    @bare.post("/v1/messages")
    def parse_only():
        data = json.loads(request.get_data())
        return {"id": "x", "status": "queued", "phone": data["phone"]}, 201

    bare_client = bare.test_client()

    def rate(call) -> float:
        for _ in range(50):
            call()
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            call()
            n += 1
        return n / (time.perf_counter() - started)

    def ours():
        assert client.post("/v1/messages", data=body, headers=headers).status_code == 201

    def baseline():
        assert bare_client.post("/v1/messages", data=body, headers=headers).status_code == 201

    b1, o1, b2, o2 = rate(baseline), rate(ours), rate(baseline), rate(ours)
    b, o = (b1 + b2) / 2, (o1 + o2) / 2
    print(f"API overhead (Flask test client, in-process backends, {seconds:.0f} s x2 each, interleaved)")
    print(f"  baseline  bare Flask endpoint parsing the JSON   {b:8.0f} req/s")
    print(f"  utio      POST /v1/messages                      {o:8.0f} req/s   ratio {o / b:.2f}"
          f"  ({1000 / o:.2f} ms vs {1000 / b:.2f} ms a request)")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    print(f"machine: {machine()}\n")
    cold_start()
    print()
    api_overhead()
    from bench import messaging

    for figure in (messaging.priority_positions, messaging.pacing,
                   messaging.pipeline_throughput, messaging.cost_per_message):
        print()
        figure()


if __name__ == "__main__":
    main()
