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
