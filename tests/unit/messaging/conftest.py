from __future__ import annotations

import pytest

from tests.unit.messaging.helpers import Timer, make_api, messaging_container


@pytest.fixture
def c(tmp_path):
    return messaging_container(tmp_path)


@pytest.fixture
def network():
    from device_runner.sandbox import SandboxNetwork

    return SandboxNetwork()


@pytest.fixture
def runner_for(c, network):
    """Makes runners over `network` (or over a given transport): (runner, its timer);
    each is stopped at the end."""
    from device_runner.main import build_runner
    from device_runner.sandbox import SandboxTransport

    made = []

    def make(transport=None):
        timer = Timer()
        runner = build_runner(c, sandbox=transport or SandboxTransport(network, timer=timer))
        made.append(runner)
        return runner, timer

    yield make
    for runner in made:
        runner.stop()


@pytest.fixture
def api(c):
    return make_api(c)


@pytest.fixture
def dev(api):
    response = api.post("/v1/devices", json={"alias": "main"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]
