"""Fixtures shared by integration and end-to-end tests. The emulators start only when a
test asks for them (directly or through `firestore_store`), once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from infra import emulators as emu


@dataclass
class Emulators:
    firestore: emu.Emulator
    pubsub: emu.Emulator

    @property
    def firestore_host(self) -> str:
        return self.firestore.host

    @property
    def pubsub_host(self) -> str:
        return self.pubsub.host

    @property
    def env(self) -> dict[str, str]:
        return emu.emulator_env(self.firestore, self.pubsub)


@pytest.fixture(scope="session")
def emulators(tmp_path_factory) -> Iterator[Emulators]:
    if not emu.gcloud_available():
        pytest.fail("these tests need the Google Cloud SDK (`gcloud` on PATH, with the "
                    "cloud-firestore-emulator and pubsub-emulator components) and Java 11+; "
                    "install them, or run only tests/unit", pytrace=False)
    logs = tmp_path_factory.mktemp("emulators")
    with ThreadPoolExecutor(2) as pool:
        firestore = pool.submit(emu.start_firestore, log_path=logs / "firestore.log")
        pubsub = pool.submit(emu.start_pubsub, log_path=logs / "pubsub.log",
                             data_dir=logs / "pubsub-data")
    started = [f.result() for f in (firestore, pubsub) if f.exception() is None]
    errors = [f.exception() for f in (firestore, pubsub) if f.exception() is not None]
    if errors:
        for emulator in started:
            emulator.stop()
        pytest.fail(f"could not start the emulators: {errors[0]}", pytrace=False)
    running = Emulators(*started)
    saved = {name: os.environ.get(name) for name in running.env}
    os.environ.update(running.env)
    try:
        yield running
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(emu.Emulator.stop, (running.firestore, running.pubsub)))


@pytest.fixture
def firestore_store(emulators):
    """A FirestoreStore on the emulator, in a project of its own: tests share no data."""
    from google.cloud import firestore

    from shared.adapters.firestore_store import FirestoreStore

    client = firestore.Client(project="test-" + uuid.uuid4().hex[:12])
    yield FirestoreStore(client)
    client.close()


@pytest.fixture(scope="session")
def auth_emulator(tmp_path_factory) -> Iterator[emu.Emulator]:
    """The Firebase Auth emulator (firebase-tools), once per session; every test and local
    stack shares it, each with emails of its own. It sets FIREBASE_AUTH_EMULATOR_HOST,
    which firebase-admin reads."""
    if not emu.auth_available():
        pytest.fail("these tests need Node.js and firebase-tools: `make test` installs it "
                    f"(npm ci in {emu.FIREBASE_DIR})", pytrace=False)
    emulator = emu.start_auth(log_path=tmp_path_factory.mktemp("auth") / "auth.log")
    with emu.serving(emulator, "FIREBASE_AUTH_EMULATOR_HOST"):
        yield emulator
