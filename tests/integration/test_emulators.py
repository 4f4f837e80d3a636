"""infra/emulators: `make dev` keeps Firestore data between runs by exporting on stop and
importing on start."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest
from google.cloud import firestore

from infra import emulators as emu

pytestmark = pytest.mark.emulator


@pytest.fixture
def started():
    if not emu.gcloud_available():
        pytest.fail("gcloud and java are needed (install the Google Cloud SDK)", pytrace=False)
    running: list[emu.Emulator] = []
    yield running
    for emulator in running:
        emulator.stop()


def assert_gone(emulator: emu.Emulator) -> None:
    assert emulator.process.poll() is not None
    listed = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(emulator.process.pid)],
                            capture_output=True, text=True).stdout
    assert [line for line in listed.splitlines() if " Z" not in line] == [], listed


def test_exported_documents_come_back_after_a_restart(started, tmp_path, monkeypatch):
    project = "persist-test"
    export_dir = tmp_path / "firestore"
    first = emu.start_firestore(import_dir=export_dir, log_path=tmp_path / "first.log")  # none yet
    started.append(first)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", first.host)
    client = firestore.Client(project=project)
    at = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    client.collection("devices").document("dev_1").set({"alias": "old", "at": at})
    emu.export_firestore(first.host, project, export_dir)
    client.collection("devices").document("dev_1").set({"alias": "main", "at": at})
    emu.export_firestore(first.host, project, export_dir)  # replaces the first export
    client.close()
    first.stop()
    assert_gone(first)
    assert len(list(export_dir.glob("firestore_export_*"))) == 1
    assert not (export_dir / ".incoming").exists()

    second = emu.start_firestore(import_dir=export_dir, log_path=tmp_path / "second.log")
    started.append(second)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", second.host)
    client = firestore.Client(project=project)
    assert client.collection("devices").document("dev_1").get().to_dict() == {"alias": "main", "at": at}
    client.close()
    second.stop()
    assert_gone(second)


def test_a_failed_start_says_why(started, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.overall_export_metadata").write_bytes(b"not an export")
    with pytest.raises(RuntimeError, match="firestore emulator exited") as caught:
        emu.start_firestore(import_dir=broken, log_path=tmp_path / "broken.log")
    assert "metadata" in str(caught.value)  # the log tail names the problem


def test_emulator_env_names_both_hosts(emulators):
    env = emu.emulator_env(emulators.firestore, emulators.pubsub)
    assert env == {"FIRESTORE_EMULATOR_HOST": emulators.firestore_host,
                   "PUBSUB_EMULATOR_HOST": emulators.pubsub_host}
    assert all(host.startswith("127.0.0.1:") for host in env.values())


def test_the_auth_emulators_accounts_come_back_after_a_restart_even_a_kill(tmp_path):
    # make dev keeps the Firestore data between runs; the people who signed up were lost
    # (found by a new user's walkthrough: every sign-in gone, an invited agent locked out).
    import json
    import os
    import signal
    import time
    import urllib.request

    if not emu.auth_available():
        pytest.fail("needs Node.js and firebase-tools (make test installs them)", pytrace=False)

    def call(host: str, action: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:{action}?key=local",
            data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    data = tmp_path / "auth"
    person = {"email": "ana@kept.example", "password": "a long secret", "returnSecureToken": True}
    first = emu.start_auth(log_path=tmp_path / "first.log", data_dir=data)
    try:
        uid = call(first.host, "signUp", person)["localId"]
        deadline = time.monotonic() + 10
        while not (data / "accounts.json").exists() or uid not in (data / "accounts.json").read_text():
            assert time.monotonic() < deadline, "the accounts were not written"
            time.sleep(0.1)
    finally:
        os.killpg(first.process.pid, signal.SIGKILL)  # no handler runs: what was written stays
        first.process.wait(timeout=10)
    again = emu.start_auth(log_path=tmp_path / "again.log", data_dir=data)
    try:
        assert call(again.host, "signInWithPassword", person)["localId"] == uid
    finally:
        again.stop()
    assert "saved the accounts" in (tmp_path / "again.log").read_text()
