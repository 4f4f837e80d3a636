"""Every operation of the OpenAPI document, sent with its request example to the local
stack (`python -m infra.dev` with a sandbox device and a Stripe stand-in), gets the status
the document gives for success and a body that validates against that answer's schema;
every event the webhook receiver got validates against the document's `webhooks` section.

The examples' placeholder ids (dev_…, lbl_…, the example URLs) are swapped for the real
ones the scenario made. Two operations cannot succeed on the sandbox and are checked
against the documented error instead: scanning (sandbox devices link by themselves, so
there is never a QR code: 409) and inbound media (the sandbox receives no media: 404)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import requests
from flask import Flask, request
from werkzeug.serving import make_server

from infra.local_stripe import StripeStandIn, event, sign
from infra.openapi_json import document
from shared.billing.catalog_sync import sync
from shared.billing.stripe_adapter import StripeBilling
from tests.e2e.stack import running_stack, wait_until
from tests.unit.test_openapi_examples import check

pytestmark = pytest.mark.e2e

DOC = document()
OPERATIONS = {op["operationId"]: (method.upper(), path, op)
              for path, ops in DOC["paths"].items() for method, op in ops.items()}
EXAMPLE_DEVICE = "dev_5e6f7a8b9c0d1a2b3c4d"
EXAMPLE_LABEL = "lbl_0a1b2c3d4e5f6a7b8c9d"
STRIPE_WEBHOOK_SECRET = "whsec_e2e_docs_examples"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
# Not reachable with a sandbox device; the documented error status instead.
UNREACHABLE = {"scan": 409, "inbound_media": 404}


class Receiver:
    """A webhook receiver that also serves the file the POST /v1/files example fetches."""

    def __init__(self):
        self.bodies: list[dict] = []
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            self.bodies.append(json.loads(request.get_data()))
            return "", 204

        @app.get("/catalogue.pdf")
        def catalogue():
            return PDF, 200, {"Content-Type": "application/pdf"}

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Scenario:
    def __init__(self, api: str, admin: str, receiver: Receiver):
        self.api, self.admin, self.key = api, admin, None
        self.subs = {"https://hooks.acme.example/utio": receiver.base + "/hook",
                     "https://acme.example/catalogue.pdf": receiver.base + "/catalogue.pdf"}
        self.done: set[str] = set()

    def raw(self, method: str, path: str, body=None, key: str | None = None, **params):
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return requests.request(method, self.api.removesuffix("/v1") + path, json=body,
                                params=params or None, headers=headers, timeout=30)

    def call(self, op_id: str, params: dict | None = None, body=None, key: str | None = None,
             query: dict | None = None):
        """Sends the operation with its request example (or `body`) and checks the answer."""
        method, path, op = OPERATIONS[op_id]
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None and content is not None:
            text = json.dumps(content["example"])
            for placeholder, real in self.subs.items():
                text = text.replace(placeholder, real)
            body = json.loads(text)
        if op.get("security") == []:
            key = "none"
        answer = self.raw(method, path, body, key=key, **(query or {}))
        expected = UNREACHABLE.get(op_id) or int(next(s for s in op["responses"]
                                                     if s.startswith("2")))
        assert answer.status_code == expected, (op_id, answer.status_code, answer.text[:500])
        documented = op["responses"][str(expected)].get("content", {})
        if "application/json" in documented:
            check(documented["application/json"]["schema"], answer.json())
        elif documented:
            assert answer.headers["Content-Type"].split(";")[0] in documented, op_id
        self.done.add(op_id)
        return answer.json() if answer.content and "json" in answer.headers.get(
            "Content-Type", "") else None


def wait_connected(s: Scenario, device: str):
    wait_until(lambda: s.raw("GET", f"/v1/devices/{device}").json()["status"] == "connected",
               60, f"{device} to connect")


def stripe_completes_checkout(standin: StripeStandIn, stack, session_id: str):
    """What Stripe does when the customer pays: the subscription, then its event."""
    standin.complete_checkout(session_id)
    session = {k: v for k, v in standin.table("checkout.session")[session_id].items()
               if not k.startswith("_")}
    raw = json.dumps(event("checkout.session.completed", session, standin.now())).encode()
    answer = requests.post(f"http://127.0.0.1:{stack.base + 4}/", data=raw, timeout=30,
                           headers={"Stripe-Signature": sign(raw, STRIPE_WEBHOOK_SECRET),
                                    "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


@pytest.mark.timeout(600)
def test_every_request_example_gets_its_documented_answer(tmp_path, auth_emulator):
    standin = StripeStandIn().start()
    sync(StripeBilling(standin.api_key, "", api_base=standin.url).client)  # the catalogue
    receiver = Receiver()
    env = {"UTIO_STRIPE_SECRET_KEY": standin.api_key, "UTIO_STRIPE_API_BASE": standin.url,
           "UTIO_STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
           # people's sign-in (the web app's) against the session's Auth emulator
           "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.host, "UTIO_DEV_AUTH": None}
    try:
        with running_stack(tmp_path, env) as stack:
            run(Scenario(stack.api, stack.admin, receiver), standin, stack, receiver,
                auth_emulator.host)
    finally:
        standin.stop()
        receiver.server.shutdown()


def run(s: Scenario, standin: StripeStandIn, stack, receiver: Receiver, auth_host: str):
    s.call("health")
    s.call("auth_config")
    person = requests.post(  # a person signs up with Identity Platform (the emulator)
        f"http://{auth_host}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key",
        json={"email": f"docs-{time.time_ns()}@acme.example", "password": "a long password 1",
              "returnSecureToken": True}, timeout=30).json()["idToken"]
    s.call("sign_up", key=person)
    s.call("people_me", key=person)
    s.key = s.call("create_account", key=s.admin)["api_key"]["key"]
    s.call("list_plans")
    s.call("list_webhook_events")
    hook = s.call("create_webhook")["id"]
    s.call("update_webhook", {"webhook_id": hook}, body={"events": ["*"]})

    # One platform device first (agents need its seats; messages need a single device).
    device = s.raw("POST", "/v1/devices", {"transport": "sandbox",
                                            "plan": "platform-professional"}).json()["id"]
    s.subs[EXAMPLE_DEVICE] = device
    wait_connected(s, device)
    dev = {"device_id": device}

    key_id = s.call("create_api_key")["id"]
    s.call("list_api_keys")

    s.call("get_account_settings")
    s.call("update_account_settings")
    s.call("validate_numbers")
    s.call("numbers_exist")
    message = s.call("send_message")["id"]
    s.call("get_message", {"message_id": message})
    wait_until(lambda: s.raw("GET", f"/v1/messages/{message}").json()["status"] != "queued",
               30, "the message to be sent")
    s.call("edit_message", {"message_id": message})
    s.call("forward_message", {"message_id": message})
    s.call("revoke_message", {"message_id": message})
    s.call("list_messages")
    in_a_week = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    later = s.raw("POST", "/v1/messages", {"phone": "+447911123456", "message": "later",
                                           "deliver_at": in_a_week}).json()["id"]
    s.call("cancel_message", {"message_id": later})
    poll = s.raw("POST", "/v1/messages", {"phone": "+447911123456", "poll": {
        "question": "Which day?", "options": ["Monday", "Tuesday"]}}).json()["id"]
    wait_until(lambda: s.raw("GET", f"/v1/messages/{poll}").json()["status"] != "queued", 30,
               "the poll to be sent")
    s.call("sandbox_poll_vote", dev, body={"message": poll, "phone": "+447911123457",
                                           "options": ["Tuesday"]})
    file_id = s.call("upload_file")["id"]
    s.call("get_file", {"file_id": file_id})
    s.call("file_content", {"file_id": file_id})
    s.call("sandbox_inbound_media", dev, body={"phone": "+447911123458", "file": file_id})

    label = s.call("create_label")["id"]
    s.subs[EXAMPLE_LABEL] = label
    s.call("list_labels")
    s.call("get_label", {"label_id": label})
    s.call("update_label", {"label_id": label})

    s.call("sandbox_inbound", dev)
    chat = "+447911123457"  # the sender of the sandbox_inbound example
    wait_until(lambda: s.raw("GET", f"/v1/devices/{device}/chats/{quote(chat)}").ok, 20,
               "the inbound message's chat")
    in_chat = dev | {"chat_id": chat}
    s.call("list_chats", dev)
    s.call("get_chat", in_chat)
    s.call("update_chat", in_chat)
    s.call("read_chat", in_chat)
    s.call("list_chat_messages", in_chat)
    received = next(m["id"] for m in s.raw(
        "GET", f"/v1/devices/{device}/chats/{quote(chat)}/messages").json()["data"]
        if m["direction"] == "inbound")
    s.call("sandbox_inbound_edit", dev, body={"message": received, "text": "Order #1042?"})
    s.call("sandbox_inbound_revoke", dev, body={"message": received})
    s.call("send_to_chat", in_chat)
    s.call("chat_link", dev | {"phone": chat})
    contact = dev | {"phone": chat}
    s.call("list_contacts", dev)
    s.call("get_contact", contact)
    s.call("update_contact", contact)

    group = s.call("create_group", dev)["group"]["id"]
    in_group = dev | {"group_id": group}
    wait_until(lambda: s.raw("GET", f"/v1/devices/{device}/groups/{group}").json()["status"]
               == "active", 20, "the group to be made")
    s.call("list_groups", dev)
    s.call("sync_groups", dev)
    s.call("get_group", in_group)
    operation = s.call("update_group", in_group)["id"]
    for kind in ("add", "promote", "demote", "remove"):
        s.call(f"{kind}_participants", in_group)
    s.call("get_operation", in_group | {"operation_id": operation})
    s.call("invite_link", in_group)
    s.call("reset_invite", in_group)

    # Seats come from billed devices (a sandbox device grants none): a WhatsApp device on
    # a platform plan's trial, never linked, provides them.
    seats = s.raw("POST", "/v1/devices", {"transport": "whatsapp",
                                           "plan": "platform-professional"})
    assert seats.status_code == 201, seats.text
    agent = s.call("create_agent")["id"]
    s.call("list_agents")
    s.call("get_agent", {"agent_id": agent})
    s.call("update_agent", {"agent_id": agent})
    s.call("grant_device", {"agent_id": agent} | dev)
    s.call("revoke_device", {"agent_id": agent} | dev)
    s.call("rotate_token", {"agent_id": agent})
    s.call("device_agents", dev)
    s.call("me")

    s.call("update_profile", dev)
    s.call("device_usage", dev)
    s.call("pause_queue", dev)
    s.call("get_queue", dev)
    s.call("resume_queue", dev)
    s.call("clear_queue", dev)
    s.call("post_status", dev)
    s.call("inbound_media", dev | {"name": "nothing.jpg"})

    # The example device: read, change, link, bill and delete it.
    other = s.call("create_device")["id"]
    wait_connected(s, other)
    s.call("list_devices")
    s.call("get_device", {"device_id": other})
    s.call("update_device", {"device_id": other})
    s.call("scan", {"device_id": other})
    s.call("relink", {"device_id": other})
    wait_connected(s, other)

    s.call("get_details")
    s.call("put_details")
    s.call("get_subscription", {"device_id": other})
    checkout = s.call("subscribe", {"device_id": other})
    assert checkout["action"] == "checkout" and checkout["checkout_url"]
    stripe_completes_checkout(standin, stack, checkout["checkout_session_id"])
    wait_until(lambda: s.raw("GET", f"/v1/devices/{other}/subscription").json()["status"]
               == "active", 20, "the subscription to be active")
    s.call("list_invoices")
    s.call("portal")
    s.call("billing_return")
    s.call("cancel_subscription", {"device_id": other})

    on_hook = {"webhook_id": hook}
    s.call("list_webhooks")
    s.call("get_webhook", on_hook)
    s.call("get_webhook_secret", on_hook)
    s.call("rotate_webhook_secret", on_hook)
    delivery = s.call("send_webhook_test", on_hook)["id"]
    seen_delivery = lambda: s.raw("GET", f"/v1/webhooks/{hook}/deliveries/{delivery}").json()  # noqa: E731
    try:
        wait_until(lambda: seen_delivery()["status"] == "succeeded", 30, "the test event")
    except AssertionError as exc:
        raise AssertionError(f"the test event was not delivered: {seen_delivery()}") from exc
    s.call("list_webhook_deliveries", on_hook)
    s.call("get_webhook_delivery", on_hook | {"delivery_id": delivery})
    s.call("retry_webhook_delivery", on_hook | {"delivery_id": delivery})
    s.call("recover_webhook_deliveries", on_hook)

    # Every event received so far fits the webhooks section of the document.
    wait_until(lambda: any(b["event"] == "webhook:test" for b in receiver.bodies), 30,
               "the test event")
    time.sleep(1)
    seen = set()
    for body in list(receiver.bodies):
        schema = DOC["webhooks"][body["event"]]["post"]["requestBody"]["content"][
            "application/json"]["schema"]
        check(schema, body)
        seen.add(body["event"])
    assert {"message:out:new", "message:out:sent", "message:in:new", "device:status",
            "message:poll:vote", "device:queue:paused", "message:out:edited",
            "message:in:edited", "message:in:revoked",
            "chat:update", "contact:update", "group:update", "webhook:test"} <= seen, seen

    page = s.call("list_events")
    s.call("get_event", {"event_id": page["data"][0]["id"]})
    method, path, op = OPERATIONS["stream_events"]  # an SSE stream: its status and type
    with requests.get(s.api.removesuffix("/v1") + path, stream=True, timeout=30,
                      headers={"Authorization": f"Bearer {s.key}"}) as answer:
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["Content-Type"].startswith("text/event-stream")
    s.done.add("stream_events")

    s.call("delete_chat", in_chat)
    s.call("delete_label", {"label_id": label})
    s.call("delete_agent", {"agent_id": agent})
    s.call("delete_device", {"device_id": other})
    s.call("delete_webhook", on_hook)
    s.call("delete_api_key", {"key_id": key_id})
    assert s.done == set(OPERATIONS), sorted(set(OPERATIONS) - s.done)
