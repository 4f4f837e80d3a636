"""Fixtures for numbers, chats, contacts, labels, groups and agents: the API over fakes,
and a runner on a sandbox network whose timers fire when a test says so."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from device_runner.runner import Runner
from device_runner.sandbox import SandboxNetwork, SandboxTransport
from functions.api.app import create_app
from shared import names
from shared.bootstrap import Container
from tests.fakes import ADMIN_KEY, Caller, ManualTimer, make_container


@pytest.fixture
def c() -> Container:
    return make_container()


@pytest.fixture
def client(c):
    return create_app(c).test_client()


@dataclass
class Account:
    id: str
    api: Caller


@pytest.fixture
def new_account(client):
    def make(name: str = "Acme Ltd") -> Account:
        response = client.post("/v1/accounts", json={"name": name},
                               headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        return Account(body["account"]["id"], Caller(client, body["api_key"]["key"]))

    return make


@pytest.fixture
def account(new_account) -> Account:
    return new_account()


@pytest.fixture
def api(account) -> Caller:
    return account.api


@pytest.fixture
def device(api, c) -> dict:
    """A sandbox device, marked connected (no runner involved)."""
    body = api.post("/v1/devices", json={"alias": "main"}).get_json()
    c.store.update("devices", body["id"], {"status": "connected", "phone": "+34600100001"})
    return body


class Network:
    """A runner on a sandbox network; `drain()` delivers the queued runner-control tasks."""

    def __init__(self, c: Container):
        self.c = c
        self.timer = ManualTimer()
        self.sandbox = SandboxTransport(SandboxNetwork(), timer=self.timer)
        self.runner = Runner(c, {"sandbox": self.sandbox, "whatsapp": self.sandbox})
        self._done = 0

    def drain(self) -> int:
        ran = 0
        while True:
            tasks = self.c.tasks.on(names.RUNNER_CONTROL_QUEUE)[self._done:]
            if not tasks:
                self.timer.fire_all()
                return ran
            for task in tasks:
                self._done += 1
                self.runner.handle_device_task(task.payload)
                ran += 1
            self.timer.fire_all()


@pytest.fixture
def network(c):
    net = Network(c)
    yield net
    net.runner.stop()


@pytest.fixture
def linked(api, network) -> dict:
    """A sandbox device the runner linked."""
    body = api.post("/v1/devices", json={"alias": "linked"}).get_json()
    network.drain()
    linked = api.get(f"/v1/devices/{body['id']}").get_json()
    assert linked["status"] == "connected", linked
    return linked
