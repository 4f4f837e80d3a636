from __future__ import annotations

import hashlib

import pytest

from tests.fakes import Caller, assert_error
from tests.unit.inbox.helpers import inbound


@pytest.fixture
def platform(api, c, account):
    """Two paid WhatsApp devices on the Platform Professional plan: 3 agents each, 6 in
    all (sandbox devices grant no agents)."""
    devices = [api.post("/v1/devices", json={"alias": f"d{n}"}).get_json() for n in range(2)]
    for d in devices:
        c.store.update("devices", d["id"], {"plan": "platform-professional",
                                            "transport": "whatsapp", "billing_status": "active"})
    return [d | {"account_id": account.id} for d in devices]


def new_agent(api, client, **body) -> tuple[dict, Caller]:
    body = {"name": "Ana", "email": "ana@acme.example"} | body
    response = api.post("/v1/agents", json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    return created, Caller(client, created["token"])


def test_messaging_plans_include_no_agents(api):
    api.post("/v1/devices", json={})
    error = assert_error(api.post("/v1/agents", json={"name": "Ana", "email": "ana@acme.example"}),
                         403, "agent_limit_reached")
    assert error["details"] == {"agents": 0, "seats": 0}


def test_the_plans_cap_agents(api, client, c, account, platform):
    for n in range(6):
        new_agent(api, client, email=f"agent{n}@acme.example")
    assert_error(api.post("/v1/agents", json={"name": "x", "email": "x@acme.example"}), 403,
                 "agent_limit_reached")
    listed = api.get("/v1/agents").get_json()
    assert listed["seats"] == {"used": 6, "included": 6}
    # billing records one extra agent bought on the first device's subscription
    c.store.update("accounts", account.id, {"extra_agent_seats": {platform[0]["id"]: 1}})
    new_agent(api, client, email="seventh@acme.example")
    api.delete(f"/v1/agents/{listed['data'][0]['id']}")
    new_agent(api, client, email="eighth@acme.example")


def test_the_token_is_shown_once_and_stored_hashed(api, client, c, platform):
    created, _ = new_agent(api, client)
    assert created["token"].startswith("utio_agt_") and created["token_prefix"] == created["token"][:13]
    doc = c.store.get("agents", created["id"])
    assert doc["token_hash"] == hashlib.sha256(created["token"].encode()).hexdigest()
    assert created["token"] not in repr(c.store._data)
    fetched = api.get(f"/v1/agents/{created['id']}").get_json()
    assert "token" not in fetched and "token_hash" not in fetched


def test_an_agent_sees_only_its_granted_devices(api, client, c, platform):
    granted, other = platform
    inbound(c, granted, "+447400123456")
    inbound(c, other, "+447400123456")
    _, agent = new_agent(api, client, devices=[granted["id"]])
    assert [d["id"] for d in agent.get("/v1/devices").get_json()["data"]] == [granted["id"]]
    assert agent.get(f"/v1/devices/{granted['id']}").status_code == 200
    assert agent.get(f"/v1/devices/{granted['id']}/chats").status_code == 200
    for path in ("", "/chats", "/chats/+447400123456", "/chats/+447400123456/messages",
                 "/contacts", "/contacts/+447400123456", "/groups", "/chats/+447400123456/link"):
        assert_error(agent.get(f"/v1/devices/{other['id']}{path}"), 404, "not_found")
    assert_error(agent.patch(f"/v1/devices/{other['id']}/contacts/+447400123456",
                             json={"name": "x"}), 404)
    assert_error(agent.post(f"/v1/devices/{other['id']}/chats/+447400123456/messages",
                            json={"message": "x"}), 404)
    # On the granted device it works the inbox: reads, labels, contacts, replies.
    label = api.post("/v1/labels", json={"name": "VIP"}).get_json()
    assert agent.get("/v1/labels").get_json()["data"][0]["id"] == label["id"]
    chat = f"/v1/devices/{granted['id']}/chats/+447400123456"
    assert agent.patch(chat, json={"labels": [label["id"]], "read": True}).status_code == 200
    assert agent.post(chat + "/messages", json={"message": "On its way!"}).status_code == 201
    assert agent.patch(f"/v1/devices/{granted['id']}/contacts/+447400123456",
                       json={"metadata": {"crm": "1"}}).status_code == 200
    assert agent.post("/v1/numbers/validate", json={"numbers": ["+447400123456"]}).status_code == 200


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/devices"), ("PATCH", "/v1/devices/{d}"), ("DELETE", "/v1/devices/{d}"),
    ("POST", "/v1/messages"), ("GET", "/v1/messages"), ("GET", "/v1/webhooks"),
    ("GET", "/v1/api-keys"), ("GET", "/v1/agents"), ("POST", "/v1/agents"), ("POST", "/v1/labels"),
    ("DELETE", "/v1/devices/{d}/chats/+447400123456"), ("POST", "/v1/devices/{d}/groups"),
])
def test_an_agent_cannot_administer(api, client, platform, method, path):
    _, agent = new_agent(api, client, devices=[platform[0]["id"]])
    response = agent.call(method, path.format(d=platform[0]["id"]), json={})
    assert_error(response, 403, "agent_forbidden")


def test_an_admin_agent_sees_everything_but_api_keys(api, client, c, platform):
    _, admin = new_agent(api, client, role="admin")
    assert len(admin.get("/v1/devices").get_json()["data"]) == 2
    assert admin.post("/v1/labels", json={"name": "VIP"}).status_code == 201
    assert admin.get("/v1/agents").status_code == 200
    new_agent(admin, client, email="bob@acme.example")
    assert_error(admin.get("/v1/api-keys"), 403, "agent_forbidden")
    assert_error(admin.post("/v1/api-keys", json={"name": "x"}), 403, "agent_forbidden")


def test_grants_deactivation_and_token_rotation(api, client, platform):
    granted, other = platform
    created, agent = new_agent(api, client, devices=[granted["id"]])
    base = f"/v1/agents/{created['id']}"
    assert_error(agent.get(f"/v1/devices/{other['id']}"), 404)
    assert api.put(f"{base}/devices/{other['id']}").get_json()["devices"] == [granted["id"], other["id"]]
    assert agent.get(f"/v1/devices/{other['id']}").status_code == 200
    assert api.delete(f"{base}/devices/{granted['id']}").get_json()["devices"] == [other["id"]]
    assert_error(agent.get(f"/v1/devices/{granted['id']}"), 404)
    assert_error(api.delete(f"{base}/devices/{granted['id']}"), 404)
    assert_error(api.put(f"{base}/devices/dev_nope"), 422, "unknown_device")
    assert api.patch(base, json={"active": False}).get_json()["active"] is False
    assert_error(agent.get("/v1/devices"), 401, "agent_inactive")
    api.patch(base, json={"active": True})
    rotated = api.post(f"{base}/token").get_json()
    assert_error(agent.get("/v1/devices"), 401)
    assert Caller(client, rotated["token"]).get("/v1/devices").status_code == 200


def test_me(api, client, platform):
    assert api.get("/v1/agents/me").get_json()["agent"] is None
    created, agent = new_agent(api, client, devices=[platform[0]["id"]])
    me = agent.get("/v1/agents/me").get_json()
    assert me["agent"]["id"] == created["id"] and me["devices"] == [platform[0]["id"]]


def test_agent_validation(api, client, platform, new_account):
    new_agent(api, client)
    assert_error(api.post("/v1/agents", json={"name": "A", "email": "ANA@acme.example"}), 409,
                 "agent_exists")
    for body in ({"name": "A", "email": "nope"}, {"name": "", "email": "a@b.c"},
                 {"name": "A", "email": "a@b.c", "role": "owner"}, {"email": "a@b.c"},
                 {"name": "A", "email": "a@b.c", "password": "x"}):
        assert_error(api.post("/v1/agents", json=body), 422)
    assert_error(api.post("/v1/agents", json={"name": "A", "email": "a@b.c",
                                              "devices": ["dev_nope"]}), 422, "unknown_device")
    other = new_account("Other").api
    their_device = other.post("/v1/devices", json={}).get_json()
    assert_error(api.post("/v1/agents", json={"name": "A", "email": "a@b.c",
                                              "devices": [their_device["id"]]}), 422, "unknown_device")


def test_agents_of_another_account_are_not_found(api, client, platform, new_account):
    created, _ = new_agent(api, client)
    other = new_account("Other").api
    assert other.get("/v1/agents").get_json()["data"] == []
    for method in ("GET", "PATCH", "DELETE"):
        assert_error(other.call(method, f"/v1/agents/{created['id']}", json={}), 404)


def test_a_bad_agent_token_is_401(client):
    assert_error(Caller(client, "utio_agt_nope").get("/v1/devices"), 401)


@pytest.mark.parametrize("role", ["admin", None])
def test_an_agents_token_on_a_persons_routes_is_401(api, client, platform, role):
    # (an admin agent's token reached the person's handler and answered 500)
    _, agent = new_agent(api, client, **({"role": role} if role else {}))
    assert_error(agent.get("/v1/people/me"), 401, "unauthorized")
    assert_error(agent.post("/v1/signup", json={"account_name": "Acme Ltd"}), 401, "unauthorized")


def test_a_deleted_device_leaves_the_agents_it_was_granted_to(api, client, c, platform):
    # (GET /v1/agents still listed it: found by a fuzzing pass)
    kept, deleted = platform[0]["id"], platform[1]["id"]
    both, _ = new_agent(api, client, devices=[kept, deleted])
    only, _ = new_agent(api, client, email="bob@acme.example", devices=[deleted])
    assert api.delete(f"/v1/devices/{deleted}").status_code == 204
    agents = {a["id"]: a for a in api.get("/v1/agents").get_json()["data"]}
    assert agents[both["id"]]["devices"] == [kept]
    assert agents[only["id"]]["devices"] == []


def test_ungranting_a_deleted_device_writes_on_the_grants_as_they_are_now(api, client, c, platform):
    from shared.services import devices as device_service

    kept, deleted = platform[0]["id"], platform[1]["id"]
    agent, _ = new_agent(api, client, devices=[deleted])
    agents = c.repos.agents
    read = agents.docs_of_account

    def changed_meanwhile(account_id):  # a grant added after the read, before the write
        docs = read(account_id)
        c.store.update("agents", agent["id"], {"devices": [deleted, kept]})
        return docs

    agents.docs_of_account = changed_meanwhile
    try:
        device_service._ungrant(c, platform[1]["account_id"], deleted)
    finally:
        agents.docs_of_account = read
    assert agents.doc(agent["id"])["devices"] == [kept]  # the later grant is kept
