"""The quota's leases (shared/services/quota_leases.py) in the API as functions-framework
runs it, on the Firestore emulator: an API stopped as Cloud Run stops it (SIGTERM) gives
its unspent units back, so the count is exactly the messages accepted; one killed outright
(SIGKILL) leaves at most MAX_UNITS - 1 counted, and the next process counts on from there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.adapters.firestore_store import FirestoreStore
from shared.bootstrap import Container
from shared.services import quota_leases, quotas
from shared.services.accounts import create_account
from shared.services.devices import create_device
from shared.settings import Settings
from tests.integration.webhooks_emulators import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.emulator


@pytest.fixture
def store(firestore_store) -> FirestoreStore:
    return firestore_store  # (tests/conftest.py: a project of its own on the emulator)


@pytest.fixture
def project(store) -> str:
    return store._client.project


@pytest.fixture
def firestore_host(emulators) -> str:
    return emulators.firestore_host


@pytest.fixture
def sender(store, project):
    """An account with a device on the largest plan, and its API key."""
    c = Container(Settings(env="test", project=project, store_backend="firestore"), store=store)
    account, _, key = create_account(c, "leases")
    device = create_device(c, account.id, transport="sandbox")
    store.update("devices", device.id, {"plan": "messaging-enterprise"})
    return device.id, key


class Api:
    """The api target in its own process (functions-framework, as Cloud Run runs it)."""

    def __init__(self, project: str, firestore_host: str, log: Path):
        self.port = free_port()
        env = dict(os.environ) | {
            "UTIO_ENV": "test", "UTIO_PROJECT": project, "GOOGLE_CLOUD_PROJECT": project,
            "FIRESTORE_EMULATOR_HOST": firestore_host, "UTIO_STORE_BACKEND": "firestore",
            "UTIO_QUOTA_LEASES": "1", "UTIO_DEFAULT_TRANSPORT": "sandbox",
            # no runner here: its tasks go to a port of this test's (nothing listens),
            # never to a runner another test or `make dev` may have on the default one
            "UTIO_RUNNER_URL": f"http://127.0.0.1:{free_port()}",
            "UTIO_MAIL_OUTBOX": str(log.with_suffix(".outbox"))}
        ff = str(Path(sys.executable).with_name("functions-framework"))
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [ff, "--source", "main.py", "--target", "api", "--host", "127.0.0.1",
                 "--port", str(self.port)], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/health", timeout=2)
                return
            except Exception:
                time.sleep(0.2)
        self.stop(signal.SIGKILL)
        raise AssertionError("the API did not start: " + log.read_text(errors="replace")[-2000:])

    def send(self, key: str, device_id: str, text: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/messages", method="POST",
            data=json.dumps({"device": device_id, "phone": "+447911123456",
                             "message": text}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status

    def stop(self, sig: int) -> None:
        os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)


def used(store, device_id: str) -> int:
    period = quotas.period_of(datetime.now(UTC))
    return quotas.used(store, device_id, period)


def test_an_api_stopped_by_sigterm_gives_its_unspent_units_back(store, project,
                                                                 firestore_host, sender,
                                                                 tmp_path):
    device_id, key = sender
    api = Api(project, firestore_host, tmp_path / "api.log")
    try:
        assert [api.send(key, device_id, f"m{i}") for i in range(37)] == [201] * 37
        assert used(store, device_id) > 37  # a block partly unspent, held by the process
    finally:
        api.stop(signal.SIGTERM)
    assert used(store, device_id) == 37, api.log.read_text(errors="replace")[-2000:]
    assert len(store.query("messages", [("device_id", "==", device_id)])) == 37


def test_an_api_killed_leaves_at_most_a_block_less_one(store, project, firestore_host,
                                                        sender, tmp_path):
    device_id, key = sender
    api = Api(project, firestore_host, tmp_path / "api.log")
    try:
        assert [api.send(key, device_id, f"m{i}") for i in range(37)] == [201] * 37
    finally:
        api.stop(signal.SIGKILL)
    leaked = used(store, device_id) - 37
    assert 0 < leaked <= quota_leases.MAX_UNITS - 1
    again = Api(project, firestore_host, tmp_path / "api2.log")  # Cloud Run starts another
    try:
        assert [again.send(key, device_id, f"n{i}") for i in range(5)] == [201] * 5
    finally:
        again.stop(signal.SIGTERM)
    assert used(store, device_id) == 42 + leaked
    assert len(store.query("messages", [("device_id", "==", device_id)])) == 42
