"""Benchmarks of the send queue: priority positions, pacing, pipeline throughput and the
queue listing, on the in-process stack of bench/harness.py."""

from __future__ import annotations

import threading
import time

from bench.harness import in_process_stack, message_bodies, wait, wait_delivered

# --- priority -----------------------------------------------------------------------------


def priority_positions(backlog: int = 300, urgent: int = 10, speed: int = 6000) -> None:
    from device_runner.send_queue import SendQueue
    from shared.domain import Priority

    sent: list[str] = []
    lock = threading.Lock()

    def send(message_id: str) -> bool:
        with lock:
            sent.append(message_id)
        return True

    session = SendQueue("dev_bench", send, delivery_speed=speed)
    for i in range(backlog):
        session.push(f"low-{i}", Priority.low, created=i)
    session.set_connected(True)
    wait(lambda: len(sent) >= 5, 10)
    for i in range(urgent):
        session.push(f"urgent-{i}", Priority.urgent, created=backlog + i)
    before = len(sent)
    wait(lambda: len(sent) == backlog + urgent, 60)
    session.stop()
    positions = [sent.index(f"urgent-{i}") + 1 for i in range(urgent)]
    lows_after = sum(1 for m in sent[positions[-1]:] if m.startswith("low"))
    print(f"priority: {urgent} urgent queued behind {backlog} low on one device "
          f"({speed}/min, real session)")
    print(f"  lows sent when the urgent ones arrived  {before}")
    print(f"  send positions of the urgent ones       {positions}")
    print(f"  lows still waiting behind them          {lows_after} of {backlog}")


# --- pacing -------------------------------------------------------------------------------


def pacing(cases: tuple[tuple[int, int], ...] = ((60, 11), (120, 16), (600, 51), (3000, 201)),
           send_time: float = 0.005) -> None:
    """Configured against measured messages a minute, on the real session thread, with a
    send that takes `send_time` seconds (the gap runs from the start of a send)."""
    from device_runner.send_queue import SendQueue
    from shared.domain import Priority

    print(f"pacing: configured vs measured, real time, each send taking {send_time * 1000:.0f} ms")
    print("  configured/min   messages   measured/min   error   gap min..max (nominal)")
    for speed, count in cases:
        times: list[float] = []

        def send(message_id: str, times=times) -> bool:
            times.append(time.monotonic())
            time.sleep(send_time)
            return True

        session = SendQueue("dev_pace", send, delivery_speed=speed)
        for i in range(count):
            session.push(f"m{i}", Priority.normal, created=i)
        session.set_connected(True)
        wait(lambda times=times, count=count: len(times) == count, count * 60 / speed * 2 + 5)
        session.stop()
        measured = (count - 1) / (times[-1] - times[0]) * 60
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        print(f"  {speed:>14} {count:>10} {measured:>14.1f} {100 * (measured / speed - 1):>+6.1f}%"
              f"   {min(gaps):.3f}..{max(gaps):.3f} s ({60 / speed:.3f})")


def pipeline_throughput(devices: int = 100, count: int = 2000) -> None:
    # the API alone: the same requests, the tasks only counted
    c, client, headers, ids, _ = in_process_stack(devices, runner=False)
    bodies = message_bodies(ids, count)
    started = time.perf_counter()
    for body in bodies:
        assert client.post("/v1/messages", data=body, headers=headers).status_code == 201
    api_rate = count / (time.perf_counter() - started)

    c, client, headers, ids, run = in_process_stack(devices, runner=True)
    bodies = message_bodies(ids, count)
    started = time.perf_counter()
    for body in bodies:
        assert client.post("/v1/messages", data=body, headers=headers).status_code == 201
    posted = time.perf_counter() - started
    wait_delivered(c, count, 300)
    total = time.perf_counter() - started
    run.stop()
    pipe_rate = count / total
    print(f"pipeline throughput: {count} text messages over {devices} sandbox devices, "
          "in-process backends, pacing lifted, one process (API, task workers, runner)")
    print(f"  API alone: POST /v1/messages             {api_rate:8.0f} msg/s")
    print(f"  POST -> delivered (whole pipeline)        {pipe_rate:8.0f} msg/s   ratio "
          f"{pipe_rate / api_rate:.2f}  (posting took {posted:.1f} s of {total:.1f} s)")


# --- the queue listing ---------------------------------------------------------------


def queue_listing(sizes: tuple[int, ...] = (100, 10_000), rounds: int = 5) -> None:
    """GET /v1/devices/{id}/queue (its first 100, with positions and expected times) on a
    device with 100 queued messages, the baseline, and with 10 000; in-process store, so
    the time is our code and the in-process store's scans (it filters every document of
    the collection for each query), and the documents the page read, which is what
    Firestore would bill and wait for."""
    import statistics
    from datetime import timedelta

    from shared.content import Text
    from shared.domain import Message, Priority

    c, client, headers, ids, _ = in_process_stack(len(sizes), runner=False)
    now = c.clock.now()
    priorities = list(Priority)
    for device_id, size in zip(ids, sizes, strict=True):
        account = c.repos.devices.doc(device_id)["account_id"]
        for i in range(size):
            c.repos.messages.add(Message(
                id=f"msg_{device_id[-8:]}{i:012d}", account_id=account, device_id=device_id,
                phone="+447911123456", message=f"m{i}", content=Text(text=f"m{i}"),
                priority=priorities[i % 4], created_at=now + timedelta(microseconds=i),
                deliver_at=now + timedelta(minutes=i % 50) if i % 10 == 0 else None,
                expires_at=now + timedelta(hours=1) if i % 7 == 0 else None))
    print("queue listing: GET /v1/devices/{id}/queue (first 100 with positions and expected "
          f"times), median of {rounds}, in-process store")
    base = None
    for device_id, size in zip(ids, sizes, strict=True):
        times = []
        for _ in range(rounds):
            c.store.reads.clear()
            started = time.perf_counter()
            answer = client.get(f"/v1/devices/{device_id}/queue", headers=headers)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.get_json()["total"] == size
        median = statistics.median(times)
        base = base or median
        print(f"  {size:6d} queued   {median * 1000:8.1f} ms   ratio {median / base:6.1f}"
              f"   {sum(c.store.reads.values()):6d} Firestore reads for the page")
