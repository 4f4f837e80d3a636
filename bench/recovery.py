"""Recovery figures of the device runner: how long after a restart every device has its
session again, and how long after the store answers again (it stopped answering for
longer than a lease) the backlog moves."""

from __future__ import annotations

import logging
import threading
import time

LATENCY = 0.002  # seconds per store call: about a Firestore round trip in the region


def _store(latency: float):
    from shared.adapters.memory_store import MemoryStore

    class Remote(MemoryStore):
        """A MemoryStore that answers after `latency`, and not at all while paused."""

        def __init__(self):
            super().__init__()
            self.latency = latency
            self.answering = threading.Event()
            self.answering.set()

        def _wait(self):
            self.answering.wait()
            if self.latency:
                time.sleep(self.latency)

        def get(self, *a, **kw):
            self._wait()
            return super().get(*a, **kw)

        def update(self, *a, **kw):
            self._wait()
            return super().update(*a, **kw)

        def query(self, *a, **kw):
            self._wait()
            return super().query(*a, **kw)

        def create(self, *a, **kw):
            self._wait()
            return super().create(*a, **kw)

        def put(self, *a, **kw):
            self._wait()
            return super().put(*a, **kw)

    return Remote()


def _container(store, shard: str):
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.bootstrap import Container
    from shared.ports import TaskQueue
    from shared.settings import Settings

    class NoTasks(TaskQueue):
        def enqueue(self, *args, **kwargs):
            pass

    return Container(Settings(env="test", default_transport="sandbox", runner_shard=shard),
                     store=store, tasks=NoTasks(), bus=InProcessBus(threaded=False))


def _runner(c, network, lease: float, capacity: int, leases_on: bool = True):
    from device_runner.leases import Leases
    from device_runner.main import build_runner
    from device_runner.sandbox import SandboxTransport

    leases = Leases(c.store, c.clock, shard=c.settings.runner_shard, url="http://runner",
                    capacity=capacity, lease_seconds=lease) if leases_on else None
    return build_runner(c, sandbox=SandboxTransport(network, link_delay=0.05,
                                                    delivered_delay=0.05, read_delay=0.1),
                        leases=leases)


def _connected(runner) -> int:
    return sum(s.connected for s in list(runner.sessions.values()))


def restart(devices: int = 500, lease: float = 3.0, latency: float = LATENCY) -> None:
    """A runner holding `devices` restarts (a new instance of its shard, after the old one
    released): seconds until every device has a live session again. Baseline: the same
    sessions started one after another by a runner without leases on the same store."""
    from device_runner.sandbox import SandboxNetwork
    from device_runner.shards import ShardKeeper
    from shared.domain import Transport
    from shared.services.accounts import create_account
    from shared.services.devices import create_device

    store = _store(0.0)
    c = _container(store, "runner-0")
    account, _, _ = create_account(c, "bench")
    ids = [create_device(c, account.id, transport=Transport.sandbox).id
           for _ in range(devices)]

    def until_all(runner, started: float) -> float:
        deadline = started + 600
        while _connected(runner) < devices and time.monotonic() < deadline:
            time.sleep(0.02)
        return time.monotonic() - started

    store.latency = latency
    bare = _runner(c, SandboxNetwork(), lease, devices, leases_on=False)
    started = time.monotonic()
    bare.resume(ids)
    baseline = until_all(bare, started)
    bare.stop()

    # A resume waits for the lease's renewal now and then (the figure counts the leases);
    # the runner warns of each wait, one line a device: not the bench's output.
    runner_log = logging.getLogger("device_runner.runner")
    level = runner_log.level
    runner_log.setLevel(logging.ERROR)
    try:
        first = ShardKeeper(_runner(c, SandboxNetwork(), lease, devices), renew_seconds=lease / 3)
        first.start()
        until_all(first.runner, time.monotonic())
        first.stop(release=True)
        again = ShardKeeper(_runner(c, SandboxNetwork(), lease, devices), renew_seconds=lease / 3)
        started = time.monotonic()
        again.start()
        took = until_all(again.runner, started)
        got = _connected(again.runner)
        again.stop()
    finally:
        runner_log.setLevel(level)
    print(f"restart resume ({devices} sandbox devices on one shard, lease {lease:.1f} s, "
          f"{latency * 1000:.0f} ms a store call)")
    print(f"  baseline  {devices} sessions started without leases      {baseline:7.2f} s")
    print(f"  utio      restart to {got:4d} of {devices} with a session      {took:7.2f} s   "
          f"ratio {took / baseline:.2f}   ({took / lease:.1f} leases)")


def store_pause(pause: float = 6.0, lease: float = 2.0, backlog: int = 40,
                latency: float = LATENCY) -> None:
    """The store stops answering for `pause` seconds (longer than the lease) while a device
    sends a backlog: seconds from the store answering again to the next send. Baseline:
    the renewal period, the soonest a keeper looks again."""
    from bench.timed_network import TimedNetwork
    from device_runner.shards import ShardKeeper
    from shared.domain import DeviceSettings, Transport
    from shared.services.accounts import create_account
    from shared.services.devices import create_device
    from shared.services.messages import send_message

    store = _store(latency)
    c = _container(store, "runner-0")
    account, _, _ = create_account(c, "bench")
    device = create_device(c, account.id, transport=Transport.sandbox,
                           settings=DeviceSettings(delivery_speed=120))
    network = TimedNetwork()
    renew = lease / 4
    keeper = ShardKeeper(_runner(c, network, lease, 10), renew_seconds=renew)
    keeper.start()
    runner = keeper.runner
    runner.ensure_session(device.id)
    for i in range(backlog):
        message, _ = send_message(c, account.id,
                                  phone="+447911123456", text=f"backlog {i}", device_id=device.id)
        runner.handle_message_task(message.id)
    deadline = time.monotonic() + 30
    while len(network.times) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    store.answering.clear()
    time.sleep(pause)
    answered = time.monotonic()
    store.answering.set()
    deadline = answered + 60
    while time.monotonic() < deadline and not any(t > answered for t in network.times):
        time.sleep(0.01)
    after = [t for t in network.times if t > answered]
    keeper.stop()
    moved = after[0] - answered if after else float("nan")
    print(f"store pause ({pause:.0f} s without answers, lease {lease:.1f} s, renewal every "
          f"{renew:.2f} s; a device sending a backlog at 120 a minute)")
    print(f"  baseline  renewal period                                {renew:6.2f} s")
    print(f"  utio      store answers again to the next send          {moved:6.2f} s   "
          f"ratio {moved / renew:.2f}")
