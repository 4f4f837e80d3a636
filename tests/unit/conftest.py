from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from device_runner.main import build_runner
from device_runner.runner import Runner
from device_runner.sandbox import SandboxNetwork, SandboxTransport
from functions.api.app import create_app
from shared.bootstrap import Container
from tests.fakes import ADMIN_KEY, Caller, ManualTimer, make_container


@pytest.fixture
def container() -> Container:
    return make_container()


@pytest.fixture
def client(container):
    return create_app(container).test_client()


@dataclass
class AccountHandle:
    id: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def make_account(client) -> Callable[..., AccountHandle]:
    def make(name: str = "Acme Ltd") -> AccountHandle:
        response = client.post("/v1/accounts", json={"name": name},
                               headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        return AccountHandle(body["account"]["id"], body["api_key"]["key"], body["api_key"]["id"])

    return make


@pytest.fixture
def account(make_account) -> AccountHandle:
    return make_account("Acme Ltd")


@pytest.fixture
def other_account(make_account) -> AccountHandle:
    return make_account("Other Ltd")


@pytest.fixture
def api(client, account) -> Caller:
    return Caller(client).as_(account)


@pytest.fixture
def device(api) -> dict:
    response = api.post("/v1/devices", json={"alias": "main"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- device runners ----------------------------------------------------------------


@pytest.fixture
def network() -> SandboxNetwork:
    return SandboxNetwork()


@pytest.fixture
def make_runner(network):
    """Builds runners through the production builder, with a sandbox on a ManualTimer
    (links and receipts happen when the test fires the timer); stops them all at the end."""
    made: list[Runner] = []

    def make(c: Container, *, shard: str | None = None,
             net: SandboxNetwork | None = None) -> tuple[Runner, ManualTimer]:
        if shard is not None:
            c = Container(replace(c.settings, runner_shard=shard), store=c.store, tasks=c.tasks,
                          bus=c.bus, clock=c.clock, http=c.http)
        timer = ManualTimer()
        runner = build_runner(c, sandbox=SandboxTransport(net or network, timer=timer))
        made.append(runner)
        return runner, timer

    yield make
    for runner in made:
        runner.stop()
