"""A plan change reaches the running session: every change of a device's plan or
billing status, by the API or a Stripe event, enqueues the runner's `refresh`, and the
runner applies the new plan's speed cap."""

import json

from shared import names


def control_tasks(env) -> list[dict]:
    return [t.payload for t in env.c.tasks.on(names.RUNNER_CONTROL_QUEUE)]


def run_new_control_tasks(env, runner, seen: int) -> int:
    tasks = control_tasks(env)
    for payload in tasks[seen:]:
        runner.handle_device_task(payload)
    return len(tasks)


def test_plan_changes_refresh_the_running_session(env, make_runner):
    env.details("US")
    device_id = env.device("platform-enterprise")
    env.call("PATCH", f"/v1/devices/{device_id}", {"settings": {"delivery_speed": 100}})
    sub = env.subscribe_paid(device_id, "platform-enterprise")
    runner, _ = make_runner(env.c)
    seen = run_new_control_tasks(env, runner, 0)
    assert runner.sessions[device_id].delivery_speed == 100  # Platform Enterprise: 120/min

    # downgrade through the API: messaging-professional caps at 20/min
    answer = env.call("POST", f"/v1/devices/{device_id}/subscription",
                      {"plan": "messaging-professional"})
    assert answer.json["action"] == "changed"
    assert {"device_id": device_id, "action": "refresh"} in control_tasks(env)[seen:]
    seen = run_new_control_tasks(env, runner, seen)
    assert runner.sessions[device_id].delivery_speed == 20

    # an upgrade made in Stripe (the portal) arrives as an event
    business_price = next(p for p in env.standin.table("price").values()
                          if p["lookup_key"] == "utio_plan_messaging-business")
    upgraded = json.loads(json.dumps(sub))
    upgraded["items"]["data"][0]["price"] = business_price
    assert env.send("customer.subscription.updated", upgraded, env.standin.now() + 60) == "applied"
    assert control_tasks(env)[seen:] == [{"device_id": device_id, "action": "refresh"}]
    seen = run_new_control_tasks(env, runner, seen)
    assert runner.sessions[device_id].delivery_speed == 40

    # a replay changes nothing and refreshes nothing
    before = len(control_tasks(env))
    env.send("customer.subscription.updated", upgraded, env.standin.now() + 60)
    assert len(control_tasks(env)) == before


def test_a_billing_status_change_refreshes_the_session(env):
    env.details("US")
    device_id = env.device()
    sub = env.subscribe_paid(device_id, "messaging-professional")
    seen = len(control_tasks(env))
    env.send("customer.subscription.updated", sub | {"status": "past_due"},
             env.standin.now() + 5)
    assert control_tasks(env)[seen:] == [{"device_id": device_id, "action": "refresh"}]
