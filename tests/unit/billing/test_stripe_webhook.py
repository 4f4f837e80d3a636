"""The stripe_webhook target through functions-framework: signatures checked on the raw
body with Stripe's scheme, events applied once each and in any order."""

import json
import time

import pytest

from infra.local_stripe import event, sign
from shared.billing.stripe_events import CLAIM_TIMEOUT


@pytest.fixture
def paid(env):
    """A device on a paid messaging-business subscription."""
    env.details("US")
    device_id = env.device()
    sub = env.subscribe_paid(device_id)
    return device_id, sub


def test_bad_signatures_get_400_and_change_nothing(env, paid):
    device_id, sub = paid
    before = (env.device_doc(device_id), env.c.store.query("stripe_events"))
    canceled = event("customer.subscription.deleted", sub | {"status": "canceled"},
                     env.standin.now() + 60)
    raw = json.dumps(canceled).encode()
    cases = {
        "wrong secret": sign(raw, "whsec_other"),
        "stale": sign(raw, "whsec_test_c2VjcmV0", int(time.time()) - 600),
        "no v1": f"t={int(time.time())}",
        "garbage": "nonsense",
        "missing": "",
    }
    for name, header in cases.items():
        answer = env.post_event(raw, signature=header)
        assert answer.status_code == 400, name
        assert answer.json["error"]["code"] == "invalid_signature", name
    tampered = env.post_event(raw.replace(b"canceled", b"active__"),
                              signature=sign(raw, "whsec_test_c2VjcmV0"))
    assert tampered.status_code == 400
    assert (env.device_doc(device_id), env.c.store.query("stripe_events")) == before


def test_a_signed_body_that_is_not_an_event_is_a_400(env):
    for raw in (b"not json", b"\xff\xfe"):
        answer = env.post_event(raw)
        assert answer.status_code == 400
        assert answer.json["error"]["code"] in ("invalid_event", "invalid_signature")
    assert env.webhook_client.get("/").status_code == 405


def test_checkout_completion_makes_the_device_paid(env):
    env.details("US")
    device_id = env.device()
    assert env.device_doc(device_id)["billing_status"] == "trialing"
    sub = env.subscribe_paid(device_id, "messaging-enterprise")
    doc = env.device_doc(device_id)
    assert (doc["plan"], doc["billing_status"]) == ("messaging-enterprise", "active")
    record = env.c.store.get("billing_subscriptions", device_id)
    assert record["subscription_id"] == sub["id"] and record["status"] == "active"


def test_a_replay_changes_nothing(env, paid):
    device_id, sub = paid
    env.standin.set_subscription(sub["id"], status="past_due")
    failed = event("invoice.payment_failed", env.standin.add_invoice(
        sub["customer"], sub, status="open", next_payment_attempt=env.standin.now() + 86400),
        env.standin.now())
    assert env.post_event(failed).json["outcome"] == "applied"
    assert env.device_doc(device_id)["billing_status"] == "past_due"
    env.standin.reset_calls()
    again = env.post_event(failed)
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert env.standin.calls == []
    assert len(env.emails()) == 1  # told once


def test_payment_failure_emails_and_dunning_end_stops_sending(env, paid):
    device_id, sub = paid
    env.standin.set_subscription(sub["id"], status="past_due")
    invoice = env.standin.add_invoice(sub["customer"], sub, status="open", subtotal=5900,
                                      next_payment_attempt=env.standin.now() + 3 * 86400)
    env.send("invoice.payment_failed", invoice)
    [mail] = env.emails()
    assert mail["to"] == "billing@acme.example" and "Payment failed" in mail["subject"]
    assert "59.00 EUR" in mail["body"] and invoice["hosted_invoice_url"] in mail["body"]
    message = {"phone": "+447911123456", "message": "still fine", "device": device_id}
    assert env.call("POST", "/v1/messages", message).status_code == 201  # retries go on

    unpaid = env.standin.set_subscription(sub["id"], status="unpaid")
    env.send("customer.subscription.updated", unpaid)
    assert env.device_doc(device_id)["billing_status"] == "unpaid"
    answer = env.call("POST", "/v1/messages", message)
    assert answer.status_code == 402 and answer.json["error"]["code"] == "subscription_unpaid"
    assert "stopped sending" in env.emails()[-1]["subject"]

    paid_again = env.standin.set_subscription(sub["id"], status="active")
    env.send("invoice.paid", env.standin.add_invoice(sub["customer"], sub))
    assert env.device_doc(device_id)["billing_status"] == "active"
    assert paid_again["status"] == "active"
    assert env.call("POST", "/v1/messages", message).status_code == 201


def test_out_of_order_events_never_apply_an_older_state(env, paid):
    device_id, sub = paid
    t = env.standin.now() + 10
    past_due = sub | {"status": "past_due"}
    assert env.send("customer.subscription.updated", past_due, t + 20) == "applied"
    assert env.send("customer.subscription.updated", sub | {"status": "active"}, t + 10) == "older"
    assert env.device_doc(device_id)["billing_status"] == "past_due"

    assert env.send("customer.subscription.deleted", sub | {"status": "canceled"}, t + 30) == "applied"
    assert env.device_doc(device_id)["billing_status"] == "canceled"
    # a late update, even a newer-looking one, never revives an ended subscription
    assert env.send("customer.subscription.updated", sub | {"status": "active"}, t + 40) == "ended"
    assert env.device_doc(device_id)["billing_status"] == "canceled"
    answer = env.call("POST", "/v1/messages", {"phone": "+447911123456", "message": "hi",
                                               "device": device_id})
    assert answer.status_code == 402 and answer.json["error"]["code"] == "subscription_canceled"


def test_plan_follows_events_and_an_older_plan_is_not_restored(env, paid):
    device_id, sub = paid
    t = env.standin.now() + 10
    enterprise_price = next(p for p in env.standin.table("price").values()
                            if p["lookup_key"] == "utio_plan_messaging-enterprise")
    upgraded = json.loads(json.dumps(sub))
    upgraded["items"]["data"][0]["price"] = enterprise_price
    assert env.send("customer.subscription.updated", upgraded, t + 2) == "applied"
    assert env.device_doc(device_id)["plan"] == "messaging-enterprise"
    assert env.send("customer.subscription.updated", sub, t + 1) == "older"
    assert env.device_doc(device_id)["plan"] == "messaging-enterprise"


def test_a_tie_reads_the_subscription_afresh(env, paid):
    device_id, sub = paid
    t = env.standin.now() + 10
    assert env.send("customer.subscription.updated", sub | {"status": "past_due"}, t) == "applied"
    env.standin.set_subscription(sub["id"], status="active")
    env.standin.clock_offset = 10  # Stripe's clock when it is read again
    env.standin.reset_calls()
    try:
        assert env.send("customer.subscription.updated", sub | {"status": "active"}, t) == "applied"
    finally:
        env.standin.clock_offset = 0
    assert [c.path for c in env.standin.calls] == [f"/v1/subscriptions/{sub['id']}"]
    assert env.device_doc(device_id)["billing_status"] == "active"


def test_events_of_an_old_subscription_do_not_touch_the_new_one(env, paid):
    device_id, old = paid
    env.send("customer.subscription.deleted", old | {"status": "canceled"}, env.standin.now() + 1)
    answer = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-enterprise"})
    assert answer.json["action"] == "checkout"
    env.standin.clock_offset = 5
    try:
        new = env.standin.complete_checkout(answer.json["checkout_session_id"])
        assert env.send("customer.subscription.created", new) == "applied"
    finally:
        env.standin.clock_offset = 0
    assert env.device_doc(device_id)["billing_status"] == "active"
    assert env.send("customer.subscription.updated", old | {"status": "canceled"},
                    env.standin.now() + 100) == "old_subscription"
    assert env.device_doc(device_id)["plan"] == "messaging-enterprise"


def test_unknown_events_are_acknowledged(env):
    assert env.send("customer.created", {"id": "cus_x", "object": "customer"}) == "ignored"
    assert env.send("customer.subscription.updated", {"id": "sub_nobody", "status": "active",
                                                      "items": {"data": []}}) == "unknown_subscription"
    assert env.send("customer.subscription.updated", {"object": "subscription"}) == "malformed"


def test_a_delivery_while_another_is_processing_is_retried_later(env, paid):
    device_id, sub = paid
    late = event("customer.subscription.updated", sub | {"status": "past_due"}, env.standin.now() + 50)
    env.c.store.create("stripe_events", late["id"], {"type": late["type"], "status": "processing",
                                                     "claimed_at": env.c.clock.now()})
    answer = env.post_event(late)
    assert answer.status_code == 409 and answer.json["error"]["code"] == "in_progress"
    assert env.device_doc(device_id)["billing_status"] == "active"
    env.c.clock.advance(CLAIM_TIMEOUT.total_seconds() + 1)  # the first one crashed
    assert env.post_event(late).json["outcome"] == "applied"
    assert env.device_doc(device_id)["billing_status"] == "past_due"


def test_a_failure_while_applying_lets_stripe_retry(env):
    env.details("US")
    device_id = env.device()
    completed = event("checkout.session.completed", {
        "id": "cs_x", "object": "checkout.session", "mode": "subscription",
        "subscription": "sub_missing", "client_reference_id": device_id,
        "metadata": {"utio_device": device_id}}, env.standin.now())
    answer = env.post_event(completed)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "billing_rejected"
    assert env.c.store.get("stripe_events", completed["id"]) is None  # not marked done
