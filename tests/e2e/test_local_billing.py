"""Billing under `make dev` without Stripe keys: the local Stripe (infra/local_stripe.py)
takes the calls, its checkout page takes the test card, and the signed Stripe webhook
reaches the stripe_webhook function, which makes the subscription active."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.stack import wait_until

pytestmark = pytest.mark.e2e


def _new_account(stack) -> dict:
    made = requests.post(f"{stack.api}/accounts", json={"name": "Billing e2e"}, timeout=10,
                         headers={"Authorization": f"Bearer {stack.admin}"})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['api_key']['key']}"}


def test_checkout_with_the_test_card_makes_the_subscription_active(shared_stack):
    stack = shared_stack
    headers = _new_account(stack)
    details = requests.put(f"{stack.api}/billing/details", json={"country": "DE"},
                           headers=headers, timeout=10)
    assert details.status_code == 200, details.text
    device = requests.post(f"{stack.api}/devices", json={"alias": "billed",
                                                         "transport": "whatsapp"},
                           headers=headers, timeout=10).json()
    started = requests.post(f"{stack.api}/devices/{device['id']}/subscription",
                            json={"plan": "messaging-enterprise"}, headers=headers, timeout=30)
    assert started.status_code in (200, 201), started.text
    url = started.json()["checkout_url"]
    assert url.startswith(f"http://127.0.0.1:{stack.base + 8}/c/pay/"), url

    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "4242 4242 4242 4242" in page.text
    assert re.search(r"<label>Card number <input name=\"card\"", page.text)
    declined = requests.post(url, data={"card": "4000 0000 0000 0002"}, timeout=10,
                             allow_redirects=False)
    assert declined.status_code == 402 and "declined" in declined.text
    assert _subscription(stack, headers, device["id"])["subscription_id"] is None

    paid = requests.post(url, data={"card": "4242 4242 4242 4242"}, timeout=60,
                         allow_redirects=False)
    assert paid.status_code == 303, paid.text
    assert paid.headers["Location"].startswith(f"http://127.0.0.1:{stack.base}/v1/billing/return")
    # only the signed webhook, verified by the stripe_webhook function, makes it active
    active = wait_until(lambda: (s := _subscription(stack, headers, device["id"]))["status"]
                        == "active" and s, 30, "the webhook to make the subscription active")
    assert active["plan"] == "messaging-enterprise" and active["subscription_id"]
    invoices = requests.get(f"{stack.api}/billing/invoices", headers=headers, timeout=10).json()
    assert len(invoices["data"]) == 1 and invoices["data"][0]["tax"] > 0  # German VAT


def _subscription(stack, headers, device_id) -> dict:
    answer = requests.get(f"{stack.api}/devices/{device_id}/subscription", headers=headers,
                          timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()
