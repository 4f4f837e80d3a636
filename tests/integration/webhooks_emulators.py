"""Emulator hosts for the webhook integration tests: the session's `emulators` fixture
where tests/conftest.py has one, else an emulator of their own for the module."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def own_emulator(kind: str, log_path) -> Iterator[str]:
    if not (shutil.which("gcloud") and shutil.which("java")):
        pytest.fail("needs gcloud with the Firestore and Pub/Sub emulators, and Java: install "
                    "the Google Cloud SDK with its emulator components")
    port = free_port()
    command = {"firestore": ["gcloud", "emulators", "firestore", "start"],
               "pubsub": ["gcloud", "beta", "emulators", "pubsub", "start"]}[kind]
    with open(log_path, "wb") as log:
        process = subprocess.Popen([*command, f"--host-port=127.0.0.1:{port}"], stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError as exc:
                if getattr(exc, "code", None):  # an HTTP answer: it is up
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} emulator did not start; see {log_path}") from exc
                time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


@contextmanager
def emulator_host(request, kind: str, tmp_path_factory) -> Iterator[str]:
    """Sets FIRESTORE_EMULATOR_HOST or PUBSUB_EMULATOR_HOST while the module runs."""
    variable = {"firestore": "FIRESTORE_EMULATOR_HOST", "pubsub": "PUBSUB_EMULATOR_HOST"}[kind]
    saved = os.environ.get(variable)
    try:
        shared = request.getfixturevalue("emulators")
        host = shared.firestore_host if kind == "firestore" else shared.pubsub_host
        context = None
    except pytest.FixtureLookupError:
        context = own_emulator(kind, tmp_path_factory.mktemp(kind) / "emulator.log")
        host = context.__enter__()
    os.environ[variable] = host
    try:
        yield host
    finally:
        if saved is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved
        if context is not None:
            context.__exit__(None, None, None)
