"""Device runner figures: resident memory per session, and how long a runner's devices
stay silent after it dies (beside the lease time)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_MEMORY_CHILD = r"""
import json, sys, time
from device_runner.main import build_runner
from device_runner.sandbox import SandboxTransport
from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.domain import Transport
from shared.ports import TaskQueue
from shared.services.accounts import create_account
from shared.services.devices import create_device
from shared.settings import Settings

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

class NoTasks(TaskQueue):
    def enqueue(self, *args, **kwargs):
        pass

count = int(sys.argv[1])
c = Container(Settings(env="test", default_transport="sandbox"), store=MemoryStore(),
              tasks=NoTasks(), bus=InProcessBus(threaded=False))
account, _, _ = create_account(c, "bench")
runner = build_runner(c, sandbox=SandboxTransport(link_delay=0.05))
before = rss_kib()
for _ in range(count):
    device = create_device(c, account.id, transport=Transport.sandbox)
    runner.ensure_session(device.id)
deadline = time.monotonic() + 30
while sum(s.connected for s in runner.sessions.values()) < count and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
print(json.dumps({"before": before, "after": rss_kib(),
                  "connected": sum(s.connected for s in runner.sessions.values())}))
"""


def _memory(count: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(count)], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def memory(counts: tuple[int, ...] = (1, 100, 500)) -> None:
    print("runner memory (resident set of one runner process, sandbox devices, each with its "
          "send queue and thread)")
    base = _memory(0)
    print(f"  baseline  runner built, no device                 {base['after'] / 1024:8.1f} MiB")
    for count in counts:
        got = _memory(count)
        grown = got["after"] - base["after"]
        print(f"  utio      {count:4d} device(s), {got['connected']:4d} connected      "
              f"{got['after'] / 1024:8.1f} MiB   +{grown / 1024:6.1f} MiB   "
              f"{grown / max(count, 1):6.1f} KiB a session   ratio {got['after'] / base['after']:.2f}")


def _send_cpu_child(devices: int, count: int, idle: float) -> None:
    """In a fresh process (no other figure's threads): the process's CPU time over `idle`
    seconds with `devices` sandbox sessions connected and nothing to send, then while the
    runner takes `count` queued messages (created beforehand, their tasks held back) to
    read: sent, delivered and read, with their events and the chats' filing."""
    from bench.harness import in_process_stack, message_bodies, wait

    c, client, headers, ids, run = in_process_stack(devices, runner=True)
    c.tasks.open.clear()
    for body in message_bodies(ids, count):
        assert client.post("/v1/messages", data=body, headers=headers).status_code == 201
    time.sleep(0.5)  # (the posts' own events settle)
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(idle)
    idle_cpu, idle_wall = time.process_time() - cpu, time.perf_counter() - wall
    published = c.publisher.published
    cpu, wall = time.process_time(), time.perf_counter()
    c.tasks.open.set()
    wait(lambda: published["message:out:read"] >= count, 300)
    busy_cpu, busy_wall = time.process_time() - cpu, time.perf_counter() - wall
    run.stop()
    print(json.dumps({"idle_cpu": idle_cpu, "idle_wall": idle_wall, "busy_cpu": busy_cpu,
                      "busy_wall": busy_wall}))


def send_cpu(devices: int = 100, count: int = 2000, idle: float = 3.0) -> None:
    code = f"from bench.runner import _send_cpu_child; _send_cpu_child({devices}, {count}, {idle})"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    idle_rate = got["idle_cpu"] / got["idle_wall"]  # CPU seconds a second
    per_message = (got["busy_cpu"] - idle_rate * got["busy_wall"]) / count
    print(f"runner send CPU ({devices} sandbox sessions connected, {count} queued messages "
          "taken to read, pacing lifted, in-process store and bus; process CPU time)")
    print(f"  baseline  idle runner                          {idle_rate * 1000:8.1f} ms CPU a second")
    print(f"  utio      send loop, queued -> read            {per_message * 1000:8.2f} ms CPU a message"
          f"   ({count / got['busy_wall']:.0f} msg/s, {got['busy_cpu'] / got['busy_wall']:.0%} "
          "of a core; the idle rate subtracted)")


def takeover(lease: float = 2.0, rounds: int = 3) -> None:
    """Two runners with leases; the holder dies (no release) while messages keep coming;
    seconds until the other one sends again."""
    from dataclasses import replace

    from bench.timed_network import TimedNetwork
    from device_runner.app import create_app
    from device_runner.forwarding import Forwarder
    from device_runner.leases import Leases
    from device_runner.main import build_runner
    from device_runner.sandbox import SandboxTransport
    from device_runner.shards import ShardKeeper
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.adapters.memory_store import MemoryStore
    from shared.bootstrap import Container
    from shared.domain import DeviceSettings, Transport
    from shared.ports import TaskQueue
    from shared.services.accounts import create_account
    from shared.services.devices import create_device
    from shared.services.messages import send_message
    from shared.settings import Settings

    class NoTasks(TaskQueue):
        def enqueue(self, *args, **kwargs):
            pass

    class Apps(Forwarder):
        def __init__(self):
            self.apps = {}

        def forward(self, url, path, body, sender):
            if url not in self.apps:
                raise OSError("connection refused")
            response = self.apps[url].post(path, json=body, headers={"X-Utio-Forwarded-By": sender})
            return response.status_code, response.get_json(silent=True)

    renew = lease / 4

    def one_round() -> float:
        base = Container(Settings(env="test", default_transport="sandbox"), store=MemoryStore(),
                         tasks=NoTasks(), bus=InProcessBus(threaded=False))
        network, apps = TimedNetwork(), Apps()
        account, _, _ = create_account(base, "bench")
        device = create_device(base, account.id,
                               transport=Transport.sandbox,
                               settings=DeviceSettings(delivery_speed=120))
        keepers, clients = [], []
        for name in ("runner-a", "runner-b"):
            c = Container(replace(base.settings, runner_shard=name), store=base.store,
                          tasks=base.tasks, bus=base.bus, clock=base.clock)
            leases = Leases(c.store, c.clock, shard=name, url=f"http://{name}", capacity=10,
                            lease_seconds=lease)
            runner = build_runner(c, sandbox=SandboxTransport(network, link_delay=0.05),
                                  leases=leases)
            keeper = ShardKeeper(runner, renew_seconds=renew)
            clients.append(create_app(runner, apps).test_client())
            apps.apps[leases.url] = clients[-1]
            keeper.start()
            keepers.append(keeper)
        keepers[0].runner.ensure_session(device.id)
        stop = threading.Event()

        def feed():
            while not stop.is_set():
                message, _ = send_message(base, account.id,
                                          phone="+447911123456", text="tick", device_id=device.id)
                clients[1].post("/tasks/messages", json={"message_id": message.id,
                                                         "device_id": device.id})
                time.sleep(0.05)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(0.5)
        killed = time.monotonic()
        keepers[0].kill()
        del apps.apps["http://runner-a"]
        deadline = killed + lease * 4
        while time.monotonic() < deadline and not any(t > killed for t in network.times):
            time.sleep(0.01)
        after = [t for t in network.times if t > killed]
        stop.set()
        feeder.join()
        for keeper in keepers:
            keeper.stop(release=False)
        return after[0] - killed if after else float("nan")

    results = [one_round() for _ in range(rounds)]
    print(f"take-over (two runners, lease {lease:.1f} s, renewal every {renew:.2f} s; the holder "
          "dies while messages keep coming)")
    print(f"  baseline  lease time                                  {lease:6.2f} s")
    for i, seconds in enumerate(results, 1):
        print(f"  utio      round {i}: death to the first send elsewhere  {seconds:6.2f} s   "
              f"ratio {seconds / lease:.2f}")
