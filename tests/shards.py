"""Runners with leases for tests: several runners over one store, clock and sandbox
network, with a monotonic clock the test moves, and forwarding between their apps."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from device_runner.app import create_app
from device_runner.forwarding import Forwarder
from device_runner.leases import Leases
from device_runner.main import build_runner
from device_runner.runner import Runner
from device_runner.sandbox import SandboxNetwork, SandboxTransport
from device_runner.shards import ShardKeeper
from shared.bootstrap import Container
from shared.services.chat_filing import OutboundFiling
from tests.fakes import ManualTimer, in_threads, queue_message, seed_device, status_of, wait_until


class Monotonic:
    def __init__(self):
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def race_to_claim(racers: list[Leases], device_id: str) -> list[str]:
    """Every racer claims the device at the same moment (one thread each, released
    together); the shards whose claim won."""
    barrier = threading.Barrier(len(racers))
    won = []

    def race(racer):
        barrier.wait()
        if racer.claim(device_id) is not None:
            won.append(racer.shard)

    in_threads(race, racers)
    return won


class AppForwarder(Forwarder):
    """Forwards to the Flask test client of the runner at that URL, as HTTP would."""

    def __init__(self):
        self.apps: dict[str, object] = {}
        self.calls: list[tuple[str, str]] = []

    def forward(self, url, path, body, sender):
        self.calls.append((url, path))
        client = self.apps.get(url)
        if client is None:
            raise OSError(f"connection refused: {url}")
        response = client.post(path, json=body, headers={"X-Utio-Forwarded-By": sender})
        return response.status_code, response.get_json(silent=True)


@dataclass
class Shard:
    name: str
    runner: Runner
    keeper: ShardKeeper
    timer: ManualTimer
    client: object

    @property
    def leases(self) -> Leases:
        return self.runner.leases

    def link_all(self) -> None:
        """Let the sandbox link every device that is connecting, at full speed."""
        self.timer.fire_all()
        for session in list(self.runner.sessions.values()):
            session.set_speed(60_000)


class Cluster:
    def __init__(self, c: Container, network: SandboxNetwork, *, lease: float = 9.0,
                 capacity: int = 100):
        self.c, self.network, self.lease, self.capacity = c, network, lease, capacity
        self.mono = Monotonic()
        self.forwarder = AppForwarder()
        self.shards: list[Shard] = []

    def add(self, name: str, *, start: bool = True, capacity: int | None = None) -> Shard:
        c = Container(replace(self.c.settings, runner_shard=name), store=self.c.store,
                      tasks=self.c.tasks, bus=self.c.bus, clock=self.c.clock, http=self.c.http,
                      mailer=self.c.mailer)
        leases = Leases(c.store, c.clock, shard=name, url=f"http://{name}.test",
                        capacity=capacity or self.capacity, lease_seconds=self.lease,
                        monotonic=self.mono)
        timer = ManualTimer()
        runner = build_runner(c, sandbox=SandboxTransport(self.network, timer=timer),
                              leases=leases)
        keeper = ShardKeeper(runner, renew_seconds=self.lease / 3)
        client = create_app(runner, self.forwarder).test_client()
        self.forwarder.apps[leases.url] = client
        shard = Shard(name, runner, keeper, timer, client)
        self.shards.append(shard)
        if start:
            assert keeper.start(loop=False, timeout=0)
        return shard

    def pass_time(self, seconds: float) -> None:
        self.mono.advance(seconds)
        self.c.clock.advance(seconds)

    def stop(self) -> None:
        for shard in self.shards:
            shard.keeper.stop(release=False)


class Frozen:
    """A monotonic clock that never moves: an OutboundFiling on it never files what waits,
    as in a runner killed with entries waiting (shared/services/chat_filing.py)."""

    def __call__(self) -> float:
        return 0.0


def die_with_filing_waiting(cluster: Cluster, holder: Shard, account_id: str, count: int,
                            *, timeout: float = 10):
    """`holder` sends `count` messages to one recipient with coalesced filing (a burst is
    filed, the rest wait), then dies before filing the rest. The device and the messages."""
    holder.runner.c.outbound_filing = OutboundFiling(holder.runner.c.store,
                                                     holder.runner.c.clock, timer=Frozen())
    device = seed_device(holder.runner.c, account_id)
    messages = [queue_message(holder.runner.c, account_id, device.id, f"m{i}")
                for i in range(count)]
    holder.runner.resume([device.id])
    holder.link_all()
    wait_until(lambda: all(status_of(holder.runner.c, m.id) in ("sent", "delivered", "read")
                           for m in messages),
               timeout=timeout, message="every message sent")
    holder.keeper.kill()
    return device, messages
