"""A shard's restart on the Firestore emulator with many devices: the new instance resumes
every one of them, renewing its lease while it does (the resume takes several leases)."""

from __future__ import annotations

import time

import pytest

from device_runner.leases import Leases
from device_runner.main import build_runner
from device_runner.sandbox import SandboxNetwork, SandboxTransport
from device_runner.shards import ShardKeeper
from shared.adapters.inprocess_bus import InProcessBus
from shared.bootstrap import Container
from shared.clock import SystemClock
from tests.fakes import FakeTaskQueue, make_settings, seed_account, seed_device, wait_until

pytestmark = pytest.mark.emulator
DEVICES = 200
LEASE = 3.0  # seconds: far shorter than resuming 200 devices on the emulator takes


def keeper(c: Container) -> ShardKeeper:
    leases = Leases(c.store, c.clock, shard="runner-0", url="http://runner-0",
                    capacity=500, lease_seconds=LEASE)
    runner = build_runner(c, sandbox=SandboxTransport(SandboxNetwork(), link_delay=0.01),
                          leases=leases)
    return ShardKeeper(runner, renew_seconds=LEASE / 3)


def test_a_restart_with_200_devices_resumes_all_200(firestore_store):
    c = Container(make_settings(runner_shard="runner-0"), store=firestore_store,
                  tasks=FakeTaskQueue(), bus=InProcessBus(threaded=False), clock=SystemClock())
    account = seed_account(c)
    ids = {seed_device(c, account).id for _ in range(DEVICES)}
    for device_id in ids:  # held by an earlier instance of the shard that released it
        c.store.update("devices", device_id, {"shard": "runner-0", "lease_epoch": 1})
    again = keeper(c)
    started = time.monotonic()
    try:
        assert again.start()
        took = time.monotonic() - started
        assert set(again.runner.sessions) == ids
        wait_until(lambda: all(s.connected for s in list(again.runner.sessions.values())),
                   timeout=60, message="every session connected")
        print(f"resumed {DEVICES} devices in {took:.1f} s ({took / LEASE:.1f} leases)")
        assert {c.store.get("devices", d)["lease_epoch"] for d in ids} == {2}
    finally:
        again.stop()
