"""`make bench`: figures, never pass/fail. Each figure is a ratio against a baseline run
in the same command, because these machines are noisy."""

from __future__ import annotations

import os
import platform
import statistics
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


def cold_start(rounds: int = 9) -> None:
    from bench.speed import cold_start as figure

    figure(rounds=rounds)


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

        def enqueue(self, queue, target, payload, *args, **kwargs):
            self.count += 1

    # the caches and quota leases on, as in production (env "test" alone turns them off)
    c = Container(Settings(env="test", default_transport="sandbox", caches=True, quota_leases=True),
                  store=MemoryStore(),
                  tasks=CountingQueue(), bus=InProcessBus(threaded=False))
    _, _, key = create_account(c, "bench")
    account = c.repos.accounts.docs()[0]["id"]
    device = create_device(c, account, transport="sandbox")
    # the largest monthly quota: thousands of requests a second would spend a smaller one
    c.repos.devices.update(device.id, {"plan": "platform-enterprise"})
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


def mixed_numbers(count: int = 500) -> list[str]:
    """Valid and invalid numbers of many countries, in international and national formats
    (the national ones British, read with the default country GB)."""
    import random

    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    rng = random.Random(6)
    pool = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                pool.append(phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL))
    numbers = []
    for n in range(count):
        text = rng.choice(pool)
        shape = n % 10
        if shape == 0:
            text = text[:-3]  # too short
        elif shape == 1:
            text = text + "99"  # too long
        elif shape == 2:
            text = "07400 " + f"{rng.randrange(10**6):06d}"  # national, GB
        elif shape == 3:
            text = "not a number"
        elif shape == 4:
            text = "00" + text.lstrip("+")
        numbers.append(text)
    return numbers


def count_valid(numbers: list[str]) -> int:
    """The baseline of the number benches: libphonenumber alone over `numbers` (default
    country GB), no API."""
    import phonenumbers

    valid = 0
    for text in numbers:
        try:
            valid += phonenumbers.is_valid_number(phonenumbers.parse(text, "GB"))
        except phonenumbers.NumberParseException:
            pass
    return valid


def number_validation(rounds: int = 40) -> None:
    import json

    import phonenumbers

    from functions.api.app import create_app
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.adapters.memory_store import MemoryStore
    from shared.bootstrap import Container
    from shared.services.accounts import create_account
    from shared.settings import Settings

    numbers = mixed_numbers()
    c = Container(Settings(env="test"), store=MemoryStore(), bus=InProcessBus(threaded=False))
    _, _, key = create_account(c, "bench")
    client = create_app(c).test_client()
    body = json.dumps({"numbers": numbers, "country": "GB"})
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def through_api():
        response = client.post("/v1/numbers/validate", data=body, headers=headers)
        assert response.status_code == 200 and len(response.get_json()["data"]) == len(numbers)

    def bare_loop():
        return count_valid(numbers)

    def p50(fn) -> float:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    # libphonenumber as it comes, before the API turns its pattern cache on in this process.
    bare_loop()
    default = p50(bare_loop) if phonenumbers.re_util._COMPILED_PATTERNS is None else None
    api_times, bare_times = [], []
    for _ in range(3):
        through_api()
        bare_loop()
    for _ in range(rounds):  # interleaved, so drift hits both alike
        started = time.perf_counter()
        bare_loop()
        bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        through_api()
        api_times.append(time.perf_counter() - started)
    b, a = statistics.median(bare_times), statistics.median(api_times)
    print(f"number validation, {len(numbers)} mixed numbers (p50 of {rounds}, interleaved)")
    print(f"  baseline  phonenumbers.parse + is_valid_number loop  {b * 1000:8.1f} ms")
    print(f"  utio      POST /v1/numbers/validate (test client)   {a * 1000:8.1f} ms   ratio {a / b:.2f}")
    if default is not None:
        print(f"  (the same loop before the API enabled phonenumbers' pattern cache: "
              f"{default * 1000:.1f} ms; ratio of the API to it {a / default:.2f})")


SMOKE_ENV = "UTIO_BENCH_SMOKE"


def smoke() -> bool:
    """UTIO_BENCH_SMOKE=1: every figure at a token size, only to prove that the bench
    still runs end to end (tests/unit/test_bench_smoke.py); the figures mean nothing."""
    return os.environ.get(SMOKE_ENV, "") not in ("", "0")


# Arguments of each figure in a smoke run; a real run (`make bench`) uses their defaults.
SMOKE_SIZES: dict[str, dict] = {
    "cold_start": {"rounds": 1},
    "api_overhead": {"seconds": 0.05},
    "number_validation": {"rounds": 2},
    "number_validation_http": {"rounds": 2},
    "pubsub_push_floor": {},
    "fanout_throughput": {"events": 30, "delivered_events": 5, "rounds": 1},
    "inbound_latency": {"samples": 3},
    "priority_positions": {"backlog": 20, "urgent": 2},
    "pacing": {"cases": ((6000, 4),)},
    "pipeline_throughput": {"devices": 3, "count": 20},
    "cost_per_message": {"devices": 2, "count": 10},
    "hottest_document": {"count": 10, "speed": 6000},
    "fanout_cost": {"webhooks": 30, "matching": 3, "events": 5},
    "listing_page": {"sizes": (60, 200), "page": 10, "rounds": 3},
    "queue_listing": {"sizes": (10, 100), "rounds": 1},
    "log_cost": {"devices": 2, "count": 10},
    "long_poll_latency": {"samples": 4},
    "firestore_long_poll": {"samples": 0},
    "stack_inbound_latency": {},
    "runner_memory": {"counts": (1,)},
    "runner_send_cpu": {"devices": 2, "count": 10},
    "runner_takeover": {"lease": 0.5, "rounds": 1},
    "runner_restart": {"devices": 5, "lease": 1.0},
    "store_pause": {"pause": 1.0, "lease": 0.5, "backlog": 5},
    "web_size": {},
    "first_render": {"rounds": 0},
    "docs_page": {"rounds": 1},
    "web_chat": {"messages": 0},
}


def _run(figure) -> None:
    figure(**(SMOKE_SIZES[figure.__name__] if smoke() else {}))


def main() -> None:
    sys.path.insert(0, str(ROOT))
    print(f"machine: {machine()}" + ("  (SMOKE SIZES: figures meaningless)" if smoke() else "")
          + "\n")
    from bench import chat, cost, events, messaging, web, webhooks

    figures = (cold_start, web.web_size, web.first_render, api_overhead, number_validation,
               number_validation_http,
               webhooks.fanout_throughput,
               webhooks.inbound_latency, messaging.priority_positions, messaging.pacing,
               messaging.pipeline_throughput, cost.cost_per_message,
               cost.hottest_document, cost.fanout_cost, cost.listing_page,
               messaging.queue_listing, events.log_cost,
               events.long_poll_latency, events.firestore_long_poll,
               events.stack_inbound_latency, pubsub_push_floor, runner_memory,
               runner_send_cpu, runner_takeover, runner_restart, store_pause, docs_page, chat.web_chat)
    for i, figure in enumerate(figures):
        if i:
            print()
        _run(figure)


def number_validation_http(rounds: int = 40) -> None:
    from bench.speed import number_validation_http as figure

    figure(rounds=rounds)


def pubsub_push_floor(samples: int = 30) -> None:
    from bench.speed import pubsub_push_floor as figure

    figure(samples=samples)


def runner_memory(counts: tuple[int, ...] = (1, 100, 500, 5000)) -> None:
    from bench.runner import memory

    memory(counts)


def runner_send_cpu(devices: int = 100, count: int = 2000) -> None:
    from bench.runner import send_cpu

    send_cpu(devices=devices, count=count)


def runner_takeover(lease: float = 2.0, rounds: int = 3) -> None:
    from bench.runner import takeover

    takeover(lease=lease, rounds=rounds)


def runner_restart(devices: int = 500, lease: float = 3.0) -> None:
    from bench.recovery import restart

    restart(devices=devices, lease=lease)


def store_pause(pause: float = 6.0, lease: float = 2.0, backlog: int = 40) -> None:
    from bench.recovery import store_pause as figure

    figure(pause=pause, lease=lease, backlog=backlog)


def docs_page(rounds: int = 5) -> None:
    from bench.docs import docs_page as figure

    figure(rounds=rounds)


if __name__ == "__main__":
    main()
