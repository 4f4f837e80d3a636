"""What a user does to the terminal that runs `make dev`: closing it (SIGHUP to its process
group) stops every process of the stack and keeps the data for the next start; killing
the supervisor outright (SIGKILL) leaves no process of it behind either."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
import requests

from tests.e2e.stack import processes_of, running_stack
from tests.fakes import wait_until

pytestmark = pytest.mark.e2e


def _gone(project: str) -> bool:
    return not processes_of(project)


def _own_emulators(kind: str) -> tuple[str, dict]:
    """A project and the settings of a stack that runs its own emulators (no
    FIRESTORE_EMULATOR_HOST), with fixed keys so that a second start opens the same data."""
    project = f"e2e-{kind}-" + uuid.uuid4().hex[:6]
    return project, {"UTIO_DEV_API_KEY": "utio_e2e_" + uuid.uuid4().hex,
                     "UTIO_ADMIN_KEY": "adm_e2e_" + uuid.uuid4().hex,
                     "FIRESTORE_EMULATOR_HOST": None, "PUBSUB_EMULATOR_HOST": None}


def _kept_device(stack) -> dict:
    return requests.post(f"{stack.api}/devices", json={"alias": "kept"}, timeout=10,
                         headers={"Authorization": f"Bearer {stack.key}"}).json()


def test_closing_the_terminal_stops_everything_and_keeps_the_data(tmp_path):
    """The stack's own emulators (no FIRESTORE_EMULATOR_HOST): their data is what must
    survive the hang-up."""
    project, keys = _own_emulators("hup")
    with running_stack(tmp_path, keys, project=project) as stack:
        headers = {"Authorization": f"Bearer {stack.key}"}
        device = _kept_device(stack)
        wait_until(lambda: requests.get(f"{stack.api}/devices/{device['id']}", headers=headers,
                                        timeout=5).json()["status"] == "connected", 30, "link", interval=0.1)
        sent = requests.post(f"{stack.api}/messages", headers=headers, timeout=10, json={
            "phone": "+447911123456", "message": "before the hang-up"}).json()
        wait_until(lambda: requests.get(f"{stack.api}/messages/{sent['id']}", headers=headers,
                                        timeout=5).json()["status"] == "read", 30, "read", interval=0.1)
        assert len(processes_of(project)) >= 6
        os.killpg(stack.process.pid, signal.SIGHUP)  # what the terminal does as it closes
        stack.process.wait(timeout=90)
        wait_until(lambda: _gone(project), 30, "every process of the stack to end", interval=0.1)
        assert "data saved" in stack.log.read_text()
    with running_stack(tmp_path, keys, project=project) as again:
        headers = {"Authorization": f"Bearer {again.key}"}
        kept = requests.get(f"{again.api}/devices/{device['id']}", headers=headers, timeout=10)
        assert kept.status_code == 200 and kept.json()["alias"] == "kept", kept.text
        message = requests.get(f"{again.api}/messages/{sent['id']}", headers=headers, timeout=10)
        assert message.json()["status"] == "read", message.text  # not queued to go out again
    wait_until(lambda: _gone(project), 30, "every process of the stack to end", interval=0.1)


def test_killing_the_supervisor_outright_leaves_no_process(emulators, tmp_path):
    project = "e2e-kill-" + uuid.uuid4().hex[:6]
    with running_stack(tmp_path, {"FIRESTORE_EMULATOR_HOST": emulators.firestore_host,
                                  "PUBSUB_EMULATOR_HOST": emulators.pubsub_host},
                       project=project) as stack:
        assert len(processes_of(project)) >= 6
        stack.process.kill()  # SIGKILL: no handler runs
        stack.process.wait(timeout=10)
        wait_until(lambda: _gone(project), 30, "every child of the supervisor to end", interval=0.1)


def test_killing_the_supervisor_of_its_own_emulators_saves_their_data(tmp_path):
    project, keys = _own_emulators("kill9")
    with running_stack(tmp_path, keys, project=project) as stack:
        device = _kept_device(stack)
        stack.process.kill()
        stack.process.wait(timeout=10)
        wait_until(lambda: _gone(project), 60, "every process of the stack to end", interval=0.1)
    with running_stack(tmp_path, keys, project=project) as again:
        kept = requests.get(f"{again.api}/devices/{device['id']}",
                            headers={"Authorization": f"Bearer {again.key}"}, timeout=10)
        assert kept.status_code == 200, kept.text
    wait_until(lambda: _gone(project), 30, "every process of the stack to end", interval=0.1)
