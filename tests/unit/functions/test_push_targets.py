"""The push and scheduled targets (webhook_fanout, webhook_deliver, stripe_webhook,
chat_cleanup) through functions-framework's own app and test client, as Cloud Functions
runs them from main.py. Each case is a recorded request in data/<target>/<case>.input.json
beside the answer it must get in <case>.expected.json.

input: {"method": "POST" (default), "headers": {...}, "json": <body>, "sign": true (a
Stripe signature made with the test secret)}; "{{delivery}}" anywhere in the body stands
for a delivery made for the case. expected: {"status": ..., "body": ...}, where the body
is matched as a subset (every key given must be there with that value; error messages are
free to change) and "<dlv>" matches any delivery id."""

from __future__ import annotations

import json
from pathlib import Path

import functions_framework
import pytest

from infra.local_stripe import sign
from shared.bootstrap import set_container
from shared.domain import Event
from shared.services import accounts
from shared.services.webhooks import fanout as webhook_fanout
from shared.services.webhooks import registration
from tests.fakes import make_container, make_settings

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parent / "data"
WEBHOOK_SECRET = "whsec_test_c2VjcmV0"
RECORDED_ACCOUNT = "acc_recorded"  # the account of the recorded Pub/Sub event


def cases(target: str) -> list[str]:
    return sorted(p.name.removesuffix(".input.json") for p in (DATA / target).glob("*.input.json"))


def load(target: str, case: str) -> tuple[dict, dict]:
    def read(kind: str) -> dict:
        return json.loads((DATA / target / f"{case}.{kind}.json").read_text(encoding="utf-8"))
    return read("input"), read("expected")


def matches(expected, actual) -> bool:
    if expected == "<dlv>":
        return isinstance(actual, str) and actual.startswith("dlv_")
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            matches(e, a) for e, a in zip(expected, actual, strict=True))
    return expected == actual and type(expected) is type(actual)


@pytest.fixture(scope="module")
def apps():
    return {}


@pytest.fixture
def c():
    c = make_container(settings=make_settings(stripe_secret_key="sk_test_utio",
                                              stripe_webhook_secret=WEBHOOK_SECRET),
                       fanout=False)
    set_container(c)
    yield c
    set_container(None)


def client_for(apps: dict, target: str):
    if target not in apps:
        apps[target] = functions_framework.create_app(target=target, source=str(ROOT / "main.py"))
    return apps[target].test_client()


def call(apps, target: str, request: dict, substitutions: dict[str, str]):
    raw = json.dumps(request.get("json"))
    for name, value in substitutions.items():
        raw = raw.replace("{{" + name + "}}", value)
    headers = dict(request.get("headers") or {})
    if request.get("sign"):
        headers["Stripe-Signature"] = sign(raw.encode(), WEBHOOK_SECRET)
    method = request.get("method", "POST")
    body = raw.encode() if "json" in request else None
    return client_for(apps, target).open("/", method=method, data=body, headers=headers,
                                         content_type="application/json")


def check(response, expected: dict) -> None:
    body = response.get_json(silent=True)
    assert response.status_code == expected["status"], (response.status_code, body)
    assert matches(expected["body"], body), body


@pytest.mark.parametrize("case", cases("webhook_fanout"))
def test_webhook_fanout(apps, c, case):
    request, expected = load("webhook_fanout", case)
    hook = registration.create_webhook(c, RECORDED_ACCOUNT,
                                   url="https://example.com/hook", events=["*"], devices=None)
    response = call(apps, "webhook_fanout", request, {})
    check(response, expected)
    made = [t.payload["delivery_id"] for t in c.tasks.tasks]
    assert made == (response.get_json().get("deliveries") or [])  # one task per delivery
    for delivery_id in made:
        assert c.store.get("deliveries", delivery_id)["webhook_id"] == hook.id


@pytest.mark.parametrize("case", cases("webhook_deliver"))
def test_webhook_deliver(apps, c, case):
    request, expected = load("webhook_deliver", case)
    hook = registration.create_webhook(c, "acc_1",
                                   url="https://example.com/hook", events=["*"], devices=None)
    event = Event(id="evt_1", event="webhook:test", account="acc_1", device=None,
                  created_at=c.clock.now(), data={})
    delivery_id = webhook_fanout.enqueue_delivery(c, hook, event)
    check(call(apps, "webhook_deliver", request, {"delivery": delivery_id}), expected)
    posted = len(c.http.posts)
    assert posted == (1 if expected["body"].get("status") == "succeeded" else 0)


@pytest.mark.parametrize("case", cases("stripe_webhook"))
def test_stripe_webhook(apps, c, case):
    request, expected = load("stripe_webhook", case)
    check(call(apps, "stripe_webhook", request, {}), expected)
    applied = c.store.get("stripe_events", (request.get("json") or {}).get("id", "-"))
    assert (applied is not None) == (expected["status"] == 200)


@pytest.mark.parametrize("case", cases("chat_cleanup"))
def test_chat_cleanup(apps, c, case):
    request, expected = load("chat_cleanup", case)
    accounts.create_account(c, "Acme", "owner@acme.example")
    check(call(apps, "chat_cleanup", request, {}), expected)


def test_every_target_with_a_request_body_has_recorded_cases():
    assert {p.name for p in DATA.iterdir() if p.is_dir()} == {
        "webhook_fanout", "webhook_deliver", "stripe_webhook", "chat_cleanup"}
    for target in ("webhook_fanout", "webhook_deliver", "stripe_webhook", "chat_cleanup"):
        for case in cases(target):
            assert (DATA / target / f"{case}.expected.json").exists(), (target, case)
