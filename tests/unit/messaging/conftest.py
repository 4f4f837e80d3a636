from __future__ import annotations

import pytest

from tests.unit.messaging.helpers import make_api, messaging_container


@pytest.fixture
def c(tmp_path):
    return messaging_container(tmp_path)


@pytest.fixture
def api(c):
    return make_api(c)


@pytest.fixture
def dev(api):
    response = api.post("/v1/devices", json={"alias": "main"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]
