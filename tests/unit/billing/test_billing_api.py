"""The billing API against the real stripe SDK and the stand-in: tax details, Checkout,
plan changes with proration, cancellation, invoices, the portal."""

from shared.billing.stripe_adapter import StripeBilling
from shared.plans import PLANS, stripe_agent_lookup_key, stripe_lookup_key


def price_id(env, lookup_key: str) -> str:
    return next(p["id"] for p in env.standin.table("price").values()
                if p["lookup_key"] == lookup_key)


def rate_id(env, country: str) -> str:
    return next(r["id"] for r in env.standin.table("tax_rate").values()
                if r["country"] == country and r["active"])


def checkout_call(env):
    return [c for c in env.standin.posts("/v1/checkout/sessions")
            if c.path == "/v1/checkout/sessions"][-1]


def customer(env) -> dict:
    doc = env.c.store.get("billing_customers", env.account_id)
    return env.standin.table("customer")[doc["customer_id"]]


def test_plans_are_public(env):
    answer = env.api.get("/v1/plans")
    assert answer.status_code == 200
    plans = {p["id"]: p for p in answer.json["data"]}
    assert set(plans) == set(PLANS) and answer.json["trial_days"] == 7
    enterprise = plans["platform-enterprise"]
    assert (enterprise["agents_included"], enterprise["extra_agent_eur_cents"]) == (10, 1900)
    assert plans["messaging-enterprise"]["media"]["video"] == 30 * 1024 * 1024


def test_outside_the_eu_no_tax(env):
    details = env.details("US")
    assert (details["tax_treatment"], details["vat_rate"]) == ("none", None)
    assert customer(env)["address"] == {"country": "US"} and customer(env)["tax_exempt"] == "none"
    device_id = env.device()
    env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-business"})
    assert "default_tax_rates" not in checkout_call(env).params["subscription_data"]


def test_eu_with_a_vat_number_reverse_charge_and_a_tax_id(env):
    details = env.details("DE", "de 123456789")
    assert (details["vat_number"], details["tax_treatment"]) == ("DE123456789", "reverse_charge")
    cus = customer(env)
    assert cus["tax_exempt"] == "reverse"
    tax_ids = [t for t in env.standin.table("tax_id").values() if t["customer"] == cus["id"]]
    assert [(t["type"], t["value"]) for t in tax_ids] == [("eu_vat", "DE123456789")]
    device_id = env.device()
    env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-business"})
    assert "default_tax_rates" not in checkout_call(env).params["subscription_data"]
    # the same details again keep the one tax id
    env.details("DE", "DE123456789")
    assert len([t for t in env.standin.table("tax_id").values() if t["customer"] == cus["id"]]) == 1


def test_eu_without_a_vat_number_pays_its_standard_rate(env):
    details = env.details("FR")
    assert (details["tax_treatment"], details["vat_rate"]) == ("standard", "20")
    device_id = env.device()
    answer = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-business"})
    assert answer.status_code == 200 and answer.json["action"] == "checkout"
    assert checkout_call(env).params["subscription_data"]["default_tax_rates"] == [rate_id(env, "FR")]


def test_tax_follows_a_change_of_details_on_live_subscriptions(env):
    env.details("FR")
    device_id = env.device()
    sub = env.subscribe_paid(device_id)
    assert [r["id"] for r in sub["default_tax_rates"]] == [rate_id(env, "FR")]
    env.details("FR", "FRXX123456789")
    live = env.standin.table("subscription")[sub["id"]]
    assert live["default_tax_rates"] == []
    assert customer(env)["tax_exempt"] == "reverse"
    env.details("NL")
    assert [r["id"] for r in live["default_tax_rates"]] == [rate_id(env, "NL")]
    assert not [t for t in env.standin.table("tax_id").values() if t["customer"] == customer(env)["id"]]


def test_bad_tax_details_are_refused_in_the_error_shape(env):
    cases = [({"country": "DE", "vat_number": "DE12"}, "invalid_vat_number"),
             ({"country": "US", "vat_number": "123456789"}, "invalid_vat_number"),
             ({"country": "XX"}, "validation_error"),
             ({"country": "DE", "extra": 1}, "validation_error")]
    for body, code in cases:
        answer = env.call("PUT", "/v1/billing/details", body)
        assert answer.status_code == 422, body
        assert answer.json["error"]["code"] == code
    assert env.standin.calls == []


def test_checkout_needs_billing_details_first(env):
    device_id = env.device()
    answer = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-business"})
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "billing_details_required"


def test_checkout_for_a_device_without_a_paid_plan(env):
    env.details("US")
    device_id = env.device()
    answer = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-enterprise"})
    body = answer.json
    assert body["action"] == "checkout"
    assert body["checkout_url"].startswith(f"{env.standin.url}/c/pay/cs_test_")
    params = checkout_call(env).params
    assert params["mode"] == "subscription" and params["customer"] == customer(env)["id"]
    assert params["line_items"] == [{"price": price_id(env, stripe_lookup_key("messaging-enterprise")),
                                     "quantity": "1"}]
    assert params["subscription_data"]["metadata"] == {
        "utio_device": device_id, "utio_account": env.account_id, "utio_plan": "messaging-enterprise"}
    assert params["success_url"].startswith("https://api.utio.test/v1/billing/return?checkout=success")
    # one customer per account, one open checkout per device
    second = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-business"})
    assert env.standin.table("checkout.session")[body["checkout_session_id"]]["status"] == "expired"
    assert len([c for c in env.standin.posts("/v1/customers") if c.path == "/v1/customers"]) == 1
    env.standin.complete_checkout(second.json["checkout_session_id"])
    assert env.api.get("/v1/billing/return?checkout=success").status_code == 200


def test_plan_change_at_once_with_proration_upgrade_and_downgrade(env):
    env.details("US")
    device_id = env.device()
    sub = env.subscribe_paid(device_id, "messaging-business")
    item = sub["items"]["data"][0]["id"]
    for plan in ("messaging-enterprise", "messaging-professional"):
        env.standin.reset_calls()
        answer = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": plan})
        assert answer.status_code == 200 and answer.json["action"] == "changed"
        update = env.standin.posts(f"/v1/subscriptions/{sub['id']}")[0]
        assert update.params["proration_behavior"] == "create_prorations"
        assert update.params["items"] == [{"id": item, "price": price_id(env, stripe_lookup_key(plan)),
                                           "quantity": "1"}]
        assert env.device_doc(device_id)["plan"] == plan  # limits follow at once
        assert answer.json["subscription"]["plan"] == plan
    same = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-professional"})
    assert same.json["action"] == "unchanged"


def test_extra_agents_are_a_quantity_on_platform_enterprise(env):
    env.details("US")
    device_id = env.device("platform-enterprise")
    answer = env.call("POST", f"/v1/devices/{device_id}/subscription",
                      {"plan": "platform-enterprise", "extra_agents": 5})
    agent_price = price_id(env, stripe_agent_lookup_key("platform-enterprise"))
    assert checkout_call(env).params["line_items"][1] == {"price": agent_price, "quantity": "5"}
    sub = env.standin.complete_checkout(answer.json["checkout_session_id"])
    env.send("customer.subscription.created", sub)
    view = env.call("GET", f"/v1/devices/{device_id}/subscription").json
    assert (view["plan"], view["extra_agents"], view["billing_status"]) == (
        "platform-enterprise", 5, "active")

    agent_item = sub["items"]["data"][1]["id"]
    env.standin.reset_calls()
    env.call("POST", f"/v1/devices/{device_id}/subscription",
             {"plan": "platform-enterprise", "extra_agents": 7})
    items = env.standin.posts(f"/v1/subscriptions/{sub['id']}")[0].params["items"]
    assert items[1] == {"id": agent_item, "quantity": "7"}
    env.standin.reset_calls()
    env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "platform-business"})
    items = env.standin.posts(f"/v1/subscriptions/{sub['id']}")[0].params["items"]
    assert items[1] == {"id": agent_item, "deleted": "true"}
    assert env.call("GET", f"/v1/devices/{device_id}/subscription").json["extra_agents"] == 0

    refused = env.call("POST", f"/v1/devices/{device_id}/subscription",
                       {"plan": "messaging-business", "extra_agents": 1})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "extra_agents_not_sold"


def test_cancel_at_period_end_and_resume(env):
    env.details("US")
    device_id = env.device()
    sub = env.subscribe_paid(device_id)
    answer = env.call("DELETE", f"/v1/devices/{device_id}/subscription")
    assert answer.status_code == 200
    assert answer.json["cancel_at_period_end"] is True and answer.json["billing_status"] == "active"
    assert answer.json["current_period_end"] is not None
    assert env.standin.posts(f"/v1/subscriptions/{sub['id']}")[-1].params == {
        "cancel_at_period_end": "true"}
    resumed = env.call("POST", f"/v1/devices/{device_id}/subscription", {"plan": "messaging-business"})
    assert resumed.json["action"] == "resumed"
    assert resumed.json["subscription"]["cancel_at_period_end"] is False


def test_cancel_without_a_subscription_is_a_conflict(env):
    device_id = env.device()
    answer = env.call("DELETE", f"/v1/devices/{device_id}/subscription")
    assert answer.status_code == 409 and answer.json["error"]["code"] == "no_subscription"


def test_deleting_a_device_ends_its_subscription(env):
    env.details("US")
    device_id = env.device()
    sub = env.subscribe_paid(device_id)
    assert env.call("DELETE", f"/v1/devices/{device_id}").status_code == 204
    assert env.standin.table("subscription")[sub["id"]]["status"] == "canceled"
    assert env.c.store.get("billing_subscriptions", device_id) is None


def test_another_accounts_device_is_not_found(env):
    env.details("US")
    device_id = env.device()
    _, other = env.new_account()
    for method, body in (("GET", None), ("POST", {"plan": "messaging-business"}), ("DELETE", None)):
        answer = env.call(method, f"/v1/devices/{device_id}/subscription", body, headers=other)
        assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"


def test_invoices_and_the_portal(env):
    assert env.call("GET", "/v1/billing/invoices").json == {"data": [], "has_more": False}
    assert env.standin.calls == []
    env.details("FR")
    device_id = env.device()
    sub = env.subscribe_paid(device_id)
    cus = customer(env)["id"]
    for _ in range(3):
        env.standin.add_invoice(cus, sub, subtotal=5900, tax=1180)
    page = env.call("GET", "/v1/billing/invoices?limit=2").json
    assert len(page["data"]) == 2 and page["has_more"] is True
    first = page["data"][0]
    assert (first["subtotal"], first["tax"], first["total"], first["device_id"]) == (
        5900, 1180, 7080, device_id)
    rest = env.call("GET", f"/v1/billing/invoices?starting_after={page['data'][1]['id']}").json
    assert len(rest["data"]) == 1 and rest["has_more"] is False
    assert env.call("GET", "/v1/billing/invoices?limit=0").status_code == 422

    portal = env.call("POST", "/v1/billing/portal")
    assert portal.status_code == 200 and portal.json["url"].startswith(f"{env.standin.url}/p/session/")
    assert env.standin.posts("/v1/billing_portal/sessions")[-1].params == {
        "customer": cus, "return_url": "https://api.utio.test/v1/billing/return"}


def test_stripe_down_is_a_503_in_the_error_shape(env):
    env.c.billing = StripeBilling("sk_test_utio", "", api_base="http://127.0.0.1:9", max_retries=0)
    answer = env.call("PUT", "/v1/billing/details", {"country": "US"})
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "billing_unavailable"


def test_openapi_documents_billing(env):
    doc = env.api.get("/v1/openapi.json").json
    assert {"/v1/plans", "/v1/billing/details", "/v1/billing/invoices", "/v1/billing/portal",
            "/v1/devices/{device_id}/subscription"} <= set(doc["paths"])
    put = doc["paths"]["/v1/billing/details"]["put"]
    assert put["requestBody"]["content"]["application/json"]["example"]["country"] == "DE"


def test_bad_subscription_requests_are_4xx_in_the_error_shape(env):
    device_id = env.device()
    path = f"/v1/devices/{device_id}/subscription"
    cases = [{"plan": "gold"}, {"plan": "messaging-business", "extra_agents": -1},
             {"plan": "messaging-business", "success_url": "javascript:alert(1)"},
             {"plan": "messaging-business", "coupon": "FREE"}, {}]
    for body in cases:
        answer = env.call("POST", path, body)
        assert answer.status_code == 422, body
        assert set(answer.json["error"]) == {"code", "message", "details"}
    empty = env.api.post(path, data=b"", headers=env.headers)
    assert empty.status_code == 400 and empty.json["error"]["code"] == "invalid_json"
    missing = env.call("POST", "/v1/devices/dev_nope/subscription", {"plan": "messaging-business"})
    assert missing.status_code == 404
    assert env.standin.calls == []
