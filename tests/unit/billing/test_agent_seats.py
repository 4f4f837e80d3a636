"""The agent cap follows billing: extra agents bought on a Platform Enterprise
subscription raise it (whatever order Stripe's events come in), and only billed devices
that are paid, past due or on a running trial grant their plan's agents."""

import json

from shared.services import agents


def seats(env) -> int:
    return agents.seats(env.c.store, env.account_id, env.c.clock.now())


def with_agents(sub: dict, quantity: int) -> dict:
    changed = json.loads(json.dumps(sub))
    changed["items"]["data"][1]["quantity"] = quantity
    return changed


def test_bought_extra_agents_raise_the_cap_in_any_event_order(env):
    env.details("US")
    device_id = env.device("platform-enterprise")
    assert seats(env) == 10  # on trial: the plan's 10
    sub = env.subscribe_paid(device_id, "platform-enterprise", extra_agents=5)
    assert seats(env) == 15
    assert env.c.store.get("accounts", env.account_id)["extra_agent_seats"] == {device_id: 5}

    t = env.standin.now() + 10
    assert env.send("customer.subscription.updated", with_agents(sub, 8), t + 2) == "applied"
    assert seats(env) == 18
    # an older event (5 seats) arriving late, or a replay, changes nothing
    late = with_agents(sub, 5)
    assert env.send("customer.subscription.updated", late, t + 1, "evt_late") == "older"
    assert env.send("customer.subscription.updated", late, t + 1, "evt_late") == "duplicate"
    assert seats(env) == 18

    # the subscription ends: neither the plan's agents nor the extras count any more
    ended = with_agents(sub, 8) | {"status": "canceled"}
    assert env.send("customer.subscription.deleted", ended, t + 3) == "applied"
    assert seats(env) == 0
    assert env.c.store.get("accounts", env.account_id)["extra_agent_seats"] == {}


def test_creating_agents_uses_the_bought_seats(env):
    env.details("US")
    device_id = env.device("platform-enterprise")
    env.subscribe_paid(device_id, "platform-enterprise", extra_agents=1)
    for n in range(11):
        answer = env.call("POST", "/v1/agents", {"name": f"a{n}", "email": f"a{n}@acme.example"})
        assert answer.status_code == 201, answer.json
    refused = env.call("POST", "/v1/agents", {"name": "x", "email": "x@acme.example"})
    assert refused.status_code == 403 and refused.json["error"]["details"]["seats"] == 11


def test_sandbox_and_stopped_devices_grant_no_agents(env):
    for _ in range(4):
        answer = env.call("POST", "/v1/devices", {"transport": "sandbox",
                                                  "plan": "platform-enterprise"})
        assert answer.status_code == 201
    assert seats(env) == 0
    device_id = env.device("platform-enterprise")
    assert seats(env) == 10
    for status, expected in (("past_due", 10), ("unpaid", 0), ("canceled", 0), ("active", 10)):
        env.c.store.update("devices", device_id, {"billing_status": status})
        assert seats(env) == expected, status
    env.c.store.update("devices", device_id, {"billing_status": "trialing"})
    env.c.clock.advance(8 * 86400)  # the trial is over and was not paid
    assert seats(env) == 0


def test_a_deleted_device_takes_its_extra_agents_with_it(env):
    env.details("US")
    device_id = env.device("platform-enterprise")
    env.subscribe_paid(device_id, "platform-enterprise", extra_agents=3)
    assert seats(env) == 13
    assert env.call("DELETE", f"/v1/devices/{device_id}").status_code == 204
    assert seats(env) == 0
    assert env.c.store.get("accounts", env.account_id)["extra_agent_seats"] == {}


def test_the_agent_cap_mails_the_owner_once_a_month(env):
    body = {"name": "Ana", "email": "ana@acme.example"}
    for _ in range(2):
        refused = env.call("POST", "/v1/agents", body)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "agent_limit_reached"
    [mail] = env.emails()
    assert mail["to"] == "billing@acme.example" and "agent limit" in mail["subject"]
    assert "ana@acme.example" in mail["body"]
    env.c.clock.advance(32 * 86400)
    assert env.call("POST", "/v1/agents", body).status_code == 403
    assert len(env.emails()) == 2
