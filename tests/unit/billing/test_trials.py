"""Trials: one trial device at a time, at most 3 in the 24 hours after the first, and
the send path refusing a device whose trial or subscription is over."""

from datetime import timedelta

import pytest

from shared.billing.port import PaymentRequired
from shared.billing.subscriptions import ensure_can_send
from shared.billing.trials import TRIAL_PERIOD
from shared.domain import BillingStatus, Device, Transport


def test_a_new_device_starts_on_a_trial_of_its_chosen_plan(env):
    device_id = env.device("platform-business")
    doc = env.device_doc(device_id)
    assert (doc["plan"], doc["billing_status"]) == ("platform-business", "trialing")
    view = env.call("GET", f"/v1/devices/{device_id}/subscription").json
    assert view["billing_status"] == "trialing" and view["subscription_id"] is None
    assert view["trial_ends_at"].startswith("2026-01-08")
    assert env.standin.calls == []  # a trial costs no call to Stripe


def test_delete_and_recreate_with_another_plan_up_to_three_one_at_a_time(env):
    first = env.device("messaging-professional")
    answer = env.call("POST", "/v1/devices", {"transport": "whatsapp", "plan": "messaging-business"})
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "trial_device_exists"
    assert first in answer.json["error"]["message"]

    for plan in ("messaging-business", "messaging-enterprise"):
        env.c.clock.advance(3600)
        assert env.call("DELETE", f"/v1/devices/{first}").status_code == 204
        first = env.device(plan)
    assert env.device_doc(first)["plan"] == "messaging-enterprise"

    assert env.call("DELETE", f"/v1/devices/{first}").status_code == 204
    fourth = env.call("POST", "/v1/devices", {"transport": "whatsapp", "plan": "platform-business"})
    assert fourth.status_code == 409
    error = fourth.json["error"]
    assert error["code"] == "trial_limit_reached" and error["details"] == {"limit": 3}
    assert "3 trial devices" in error["message"]


def test_after_the_window_a_new_device_starts_unpaid_and_cannot_send(env):
    env.device()
    env.c.clock.advance(timedelta(hours=25).total_seconds())
    second = env.device("messaging-business")
    assert env.device_doc(second)["billing_status"] == "unpaid"
    answer = env.call("POST", "/v1/messages", {"phone": "+447911123456", "message": "hi",
                                               "device": second})
    assert answer.status_code == 402
    assert answer.json["error"]["code"] == "subscription_unpaid"
    assert f"/v1/devices/{second}/subscription" in answer.json["error"]["message"]


def test_a_paid_trial_device_frees_the_slot(env):
    env.details("US")
    first = env.device()
    env.subscribe_paid(first)
    assert env.device_doc(first)["billing_status"] == "active"
    second = env.device("messaging-enterprise")
    assert env.device_doc(second)["billing_status"] == "trialing"


def test_the_trial_ends_and_sending_stops_with_a_clear_error(env):
    device_id = env.device()
    body = {"phone": "+447911123456", "message": "hi", "device": device_id}
    assert env.call("POST", "/v1/messages", body).status_code == 201
    env.c.clock.advance(TRIAL_PERIOD.total_seconds())
    answer = env.call("POST", "/v1/messages", body)
    assert answer.status_code == 402
    assert answer.json["error"]["code"] == "trial_ended"


def test_sandbox_devices_are_not_billed(env):
    for _ in range(5):
        assert env.call("POST", "/v1/devices", {"transport": "sandbox"}).status_code == 201
    assert env.c.store.get("billing_trials", env.account_id) is None


def test_an_unknown_plan_is_refused(env):
    answer = env.call("POST", "/v1/devices", {"transport": "whatsapp", "plan": "gold"})
    assert answer.status_code == 422
    assert answer.json["error"]["details"][0]["field"] == "plan"


@pytest.mark.parametrize(("status", "code"), [
    (BillingStatus.unpaid, "subscription_unpaid"), (BillingStatus.canceled, "subscription_canceled")])
def test_ensure_can_send_after_dunning(status, code):
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    device = Device(id="dev_1", account_id="acc_1", transport=Transport.whatsapp,
                    billing_status=status, created_at=now, updated_at=now)
    with pytest.raises(PaymentRequired) as caught:
        ensure_can_send(device, now)
    assert caught.value.status == 402 and caught.value.code == code
    for fine in (BillingStatus.active, BillingStatus.past_due, BillingStatus.trialing):
        ensure_can_send(device.model_copy(update={"billing_status": fine}), now)
    ensure_can_send(device.model_copy(update={"transport": Transport.sandbox}), now)
