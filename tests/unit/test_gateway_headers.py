"""Behind API Gateway the gateway's identity token takes the Authorization header and the
caller's moves to X-Forwarded-Authorization; the API must still find the caller's key."""

from __future__ import annotations

import pytest

from functions.api.app import create_app
from shared.services.accounts import create_account
from tests.fakes import ADMIN_KEY, make_container

GATEWAY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.gateway-identity-token.signature"


@pytest.fixture
def client_and_key():
    c = make_container()
    _, _, raw = create_account(c, "Acme")
    return create_app(c).test_client(), raw


def test_key_forwarded_by_the_gateway(client_and_key):
    client, key = client_and_key
    answer = client.get("/v1/api-keys", headers={
        "Authorization": f"Bearer {GATEWAY_TOKEN}", "X-Forwarded-Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.json


def test_token_header_behind_the_gateway(client_and_key):
    client, key = client_and_key
    answer = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {GATEWAY_TOKEN}",
                                                 "Token": key})
    assert answer.status_code == 200, answer.json


def test_gateway_token_alone_is_not_a_key(client_and_key):
    client, _ = client_and_key
    answer = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"})
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "unauthorized"


def test_admin_key_forwarded_by_the_gateway():
    client = create_app(make_container()).test_client()
    answer = client.post("/v1/accounts", json={"name": "Beta"}, headers={
        "Authorization": f"Bearer {GATEWAY_TOKEN}",
        "X-Forwarded-Authorization": f"Bearer {ADMIN_KEY}"})
    assert answer.status_code == 201, answer.json


@pytest.mark.parametrize("headers", [
    lambda key: {"Authorization": f"Bearer {key}"},
    lambda key: {"Token": key},
])
def test_direct_calls_unchanged(client_and_key, headers):
    client, key = client_and_key
    assert client.get("/v1/api-keys", headers=headers(key)).status_code == 200
