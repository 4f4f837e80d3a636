from __future__ import annotations

import hashlib

import pytest

from functions.api.app import create_app
from tests.fakes import ADMIN_KEY, assert_error, make_container, make_settings


def test_health_needs_no_key(client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_create_account_without_admin_key_is_401(client):
    assert_error(client.post("/v1/accounts", json={"name": "Acme"}), 401, "unauthorized")


def test_create_account_with_wrong_admin_key_is_401(client):
    response = client.post("/v1/accounts", json={"name": "Acme"},
                           headers={"Authorization": "Bearer not-the-admin-key"})
    assert_error(response, 401, "unauthorized")


def test_create_account_with_an_account_key_is_403(client, account):
    response = client.post("/v1/accounts", json={"name": "Acme"}, headers=account.headers)
    assert_error(response, 403, "forbidden")


def test_create_account_with_admin_key_returns_a_usable_key(client):
    response = client.post("/v1/accounts", json={"name": "Acme", "email": "ops@acme.example"},
                           headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["account"]["name"] == "Acme"
    assert body["account"]["email"] == "ops@acme.example"
    key = body["api_key"]["key"]
    assert key.startswith(body["api_key"]["prefix"])
    listed = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200
    assert [k["id"] for k in listed.get_json()["data"]] == [body["api_key"]["id"]]


def test_admin_key_is_not_an_account_key(client, account):
    assert_error(client.get("/v1/devices", headers={"Authorization": f"Bearer {ADMIN_KEY}"}),
                 401)


def test_admin_calls_are_refused_when_no_admin_key_is_configured():
    client = create_app(make_container(settings=make_settings(admin_key=""))).test_client()
    response = client.post("/v1/accounts", json={"name": "Acme"},
                           headers={"Authorization": "Bearer "})
    assert_error(response, 401)


@pytest.mark.parametrize("header", ["Authorization", "Token"])
def test_both_auth_headers_work(client, account, header):
    value = f"Bearer {account.key}" if header == "Authorization" else account.key
    assert client.get("/v1/api-keys", headers={header: value}).status_code == 200


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer utio_not_a_key"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Token": "utio_not_a_key"},
    {"Token": ""},
])
def test_missing_or_wrong_key_is_401(client, account, headers):
    for path in ("/v1/devices", "/v1/messages", "/v1/webhooks", "/v1/api-keys"):
        assert_error(client.get(path, headers=headers), 401, "unauthorized")


def test_api_keys_create_list_delete(api, container, account):
    created = api.post("/v1/api-keys", json={"name": "backend"})
    assert created.status_code == 201
    new = created.get_json()
    assert new["name"] == "backend" and new["key"].startswith("utio_")

    listed = api.get("/v1/api-keys").get_json()["data"]
    assert {k["id"] for k in listed} == {account.key_id, new["id"]}
    assert all("key" not in k and "hash" not in k for k in listed)

    # the new key works, then stops working once deleted
    as_new = {"Token": new["key"]}
    assert api.client.get("/v1/devices", headers=as_new).status_code == 200
    assert api.delete(f"/v1/api-keys/{new['id']}").status_code == 204
    assert_error(api.client.get("/v1/devices", headers=as_new), 401)
    assert [k["id"] for k in api.get("/v1/api-keys").get_json()["data"]] == [account.key_id]


def test_raw_keys_are_never_stored(api, container, account):
    new = api.post("/v1/api-keys", json={"name": "backend"}).get_json()
    docs = container.store.query("api_keys")
    assert len(docs) == 2
    for raw in (account.key, new["key"]):
        assert any(d["hash"] == hashlib.sha256(raw.encode()).hexdigest() for d in docs)
        for doc in docs:
            assert raw not in repr(doc)
    for collection in ("accounts",):
        for doc in container.store.query(collection):
            assert account.key not in repr(doc)


def test_another_accounts_api_key_is_404(api, other_account):
    assert_error(api.delete(f"/v1/api-keys/{other_account.key_id}"), 404, "not_found")
    # and the other account's key still works
    assert api.client.get("/v1/api-keys", headers=other_account.headers).status_code == 200


def test_unknown_api_key_id_is_404(api):
    assert_error(api.delete("/v1/api-keys/key_nope"), 404)


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 3}, {"name": "x", "extra": 1}])
def test_bad_api_key_body_is_422(api, body):
    assert_error(api.post("/v1/api-keys", json=body), 422, "validation_error")


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "A", "email": "not-an-email"},
                                  {"name": "A", "plan": "gold"}])
def test_bad_account_body_is_422(client, body):
    response = client.post("/v1/accounts", json=body,
                           headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert_error(response, 422, "validation_error")
