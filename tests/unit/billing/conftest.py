"""Billing tests: the real stripe SDK against the local stand-in, the API through its
Flask test client, and the stripe_webhook target through functions-framework."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import functions_framework
import pytest

from functions.api.app import create_app
from infra.local_stripe import StripeStandIn, event, sign
from shared.adapters.mailers import FileOutboxMailer
from shared.bootstrap import Container, set_container
from shared.services import accounts
from tests.fakes import make_container
from tests.fakes import make_settings as test_settings

ROOT = Path(__file__).resolve().parents[3]
API_KEY = "sk_test_utio"
WEBHOOK_SECRET = "whsec_test_c2VjcmV0"


@pytest.fixture(scope="session")
def standin():
    server = StripeStandIn(API_KEY).start()
    from shared.billing.catalog_sync import sync
    from shared.billing.stripe_adapter import StripeBilling

    sync(StripeBilling(API_KEY, "", api_base=server.url).client)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def webhook_app():
    return functions_framework.create_app(target="stripe_webhook", source=str(ROOT / "main.py"))


@dataclass
class Env:
    c: Container
    api: object
    webhook_client: object
    standin: StripeStandIn
    outbox: FileOutboxMailer
    account_id: str
    headers: dict

    def call(self, method: str, path: str, body=None, headers=None):
        return self.api.open(path, method=method, json=body, headers=headers or self.headers)

    def new_account(self, email: str = "other@acme.example") -> tuple[str, dict]:
        account, _, raw = accounts.create_account(self.c, "Other", email)
        return account.id, {"Authorization": f"Bearer {raw}"}

    def device(self, plan: str = "messaging-professional", headers=None) -> str:
        answer = self.call("POST", "/v1/devices", {"transport": "whatsapp", "plan": plan},
                           headers)
        assert answer.status_code == 201, answer.json
        return answer.json["id"]

    def device_doc(self, device_id: str) -> dict:
        return self.c.store.get("devices", device_id)

    def details(self, country: str, vat_number: str | None = None):
        body = {"country": country} | ({"vat_number": vat_number} if vat_number else {})
        answer = self.call("PUT", "/v1/billing/details", body)
        assert answer.status_code == 200, answer.json
        return answer.json

    def post_event(self, payload: dict | bytes, *, secret: str = WEBHOOK_SECRET,
                   timestamp: int | None = None, signature: str | None = None):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        header = signature if signature is not None else sign(raw, secret, timestamp)
        return self.webhook_client.post("/", data=raw, content_type="application/json",
                                        headers={"Stripe-Signature": header})

    def send(self, kind: str, obj: dict, created: int | None = None, event_id: str | None = None):
        created = self.standin.now() if created is None else created
        answer = self.post_event(event(kind, obj, created, event_id))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.json["outcome"]

    def subscribe_paid(self, device_id: str, plan: str = "messaging-business",
                       extra_agents: int = 0) -> dict:
        """Checkout, paid, and Stripe's checkout.session.completed delivered."""
        answer = self.call("POST", f"/v1/devices/{device_id}/subscription",
                           {"plan": plan, "extra_agents": extra_agents})
        assert answer.status_code == 200, answer.json
        session_id = answer.json["checkout_session_id"]
        sub = self.standin.complete_checkout(session_id)
        session = self.standin.table("checkout.session")[session_id]
        obj = {k: v for k, v in session.items() if not k.startswith("_")}
        assert self.send("checkout.session.completed", obj) == "applied"
        return sub

    def emails(self) -> list[dict]:
        return self.outbox.messages()


@pytest.fixture
def env(standin, webhook_app, tmp_path):
    standin.reset_calls()
    settings = test_settings(stripe_secret_key=API_KEY, stripe_webhook_secret=WEBHOOK_SECRET,
                             stripe_api_base=standin.url, public_url="https://api.utio.test")
    c = make_container(settings=settings, fanout=False)
    c.mailer = FileOutboxMailer(tmp_path / "outbox.jsonl")
    account, _, raw = accounts.create_account(c, "Acme", "billing@acme.example")
    set_container(c)
    try:
        yield Env(c, create_app(c).test_client(), webhook_app.test_client(), standin, c.mailer,
                  account.id, {"Authorization": f"Bearer {raw}"})
    finally:
        set_container(None)
