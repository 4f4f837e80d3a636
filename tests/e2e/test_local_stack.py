"""The local stack as a user runs it (`python -m infra.dev`, what `make dev` runs), driven
over HTTP: a webhook on a local receiver, a sandbox device, messages, an inbound message,
and every webhook call verified with standardwebhooks' own verifier."""

from __future__ import annotations

import re
import signal
import socket
import threading

import pytest
import requests
from flask import Flask, request
from standardwebhooks.webhooks import Webhook
from werkzeug.serving import make_server

from tests.e2e.stack import running_stack
from tests.fakes import wait_until

pytestmark = pytest.mark.e2e


class Receiver:
    def __init__(self):
        self.calls: list[tuple[dict, bytes]] = []
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            self.calls.append((dict(request.headers), request.get_data()))
            return "", 204

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str) -> list[dict]:
        verifier = Webhook(secret)
        out = []
        for headers, body in list(self.calls):
            lowered = {k.lower(): v for k, v in headers.items()}
            out.append(verifier.verify(body, lowered))  # raises if the signature is wrong
        return out


@pytest.fixture(params=["emulators", "inprocess"])
def stack(request, tmp_path):
    if request.param == "emulators":
        emu = request.getfixturevalue("emulators")
        overrides = {"FIRESTORE_EMULATOR_HOST": emu.firestore_host,
                     "PUBSUB_EMULATOR_HOST": emu.pubsub_host}
    else:
        overrides = {"UTIO_DEV_INPROCESS": "1", "FIRESTORE_EMULATOR_HOST": None,
                     "PUBSUB_EMULATOR_HOST": None}
    with running_stack(tmp_path, overrides) as running:
        yield {"api": running.api, "key": running.key, "admin": running.admin,
               "process": running.process, "log": running.log, "base": running.base}


def test_message_end_to_end_with_signed_webhooks(stack):
    api, headers = stack["api"], {"Authorization": f"Bearer {stack['key']}"}
    receiver = Receiver()
    s = requests.Session()
    s.headers.update(headers)

    # the banner's key works, and so does the admin key
    assert s.get(f"{api}/devices").status_code == 200
    created = requests.post(f"{api}/accounts", json={"name": "Other"},
                            headers={"Authorization": f"Bearer {stack['admin']}"})
    assert created.status_code == 201

    webhook = s.post(f"{api}/webhooks", json={"url": receiver.url}).json()
    assert webhook["secret"].startswith("whsec_")

    device = s.post(f"{api}/devices", json={"alias": "e2e"}).json()
    assert device["transport"] == "sandbox"
    wait_until(lambda: s.get(f"{api}/devices/{device['id']}").json()["status"] == "connected",
               10, "the sandbox device to link", interval=0.1)

    ok = s.post(f"{api}/messages", json={"phone": "+44 7911 123456", "message": "Hello 👋"}).json()
    bad = s.post(f"{api}/messages", json={"phone": "+14155550000", "message": "Hi"}).json()
    assert ok["status"] == "queued" and ok["phone"] == "+447911123456"

    final = wait_until(lambda: (m := s.get(f"{api}/messages/{ok['id']}").json())["status"] == "read"
                       and m, 30, "the message to be read", interval=0.1)
    assert final["sent_at"] and final["delivered_at"] and final["read_at"]
    failed = wait_until(lambda: (m := s.get(f"{api}/messages/{bad['id']}").json())["status"] == "failed"
                        and m, 30, "the second message to fail", interval=0.1)
    assert failed["failure_reason"] == "number_not_on_whatsapp"

    inbound = s.post(f"{api}/devices/{device['id']}/sandbox/inbound",
                     json={"phone": "+34600100999", "message": "Is my order on its way?"})
    assert inbound.status_code == 202

    def seen():
        names = [(e["event"], e["data"].get("id")) for e in receiver.events(webhook["secret"])]
        wanted = {("message:out:sent", ok["id"]), ("message:out:delivered", ok["id"]),
                  ("message:out:read", ok["id"]), ("message:out:failed", bad["id"])}
        return wanted <= set(names) and any(n == "message:in:new" for n, _ in names)

    wait_until(seen, 40, "every webhook call", interval=0.1)
    events = receiver.events(webhook["secret"])
    inbound_event = next(e for e in events if e["event"] == "message:in:new")
    assert inbound_event["data"]["message"] == "Is my order on its way?"
    assert inbound_event["device"] == device["id"]
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    for event in events:
        assert set(event) == {"id", "event", "created_at", "device", "sequence", "data"}
    sequences = [e["sequence"] for e in events if e["device"] == device["id"]]
    assert len(set(sequences)) == len(sequences) and min(sequences) >= 1  # per device, unique
    # the runner's events of a message, in the order of their sequence numbers
    steps = [name for _, name in sorted((e["sequence"], e["event"]) for e in events
                                        if e["data"].get("id") == ok["id"]
                                        and e["event"] != "message:out:new")]
    assert steps == ["message:out:sent", "message:out:delivered", "message:out:read"]

    deliveries = s.get(f"{api}/webhooks/{webhook['id']}/deliveries").json()["data"]
    assert deliveries and all(d["status"] == "succeeded" for d in deliveries)


def test_ctrl_c_stops_every_process(stack):
    process = stack["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    for port in range(stack["base"], stack["base"] + 10):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def test_people_sign_in_on_the_in_process_stack_too(tmp_path, auth_emulator):
    """Without gcloud (the in-process fallback) the Auth emulator (Node.js) still runs, so
    the banner's development sign-in works, through the API's origin as the web app uses it."""
    overrides = {"UTIO_DEV_INPROCESS": "1", "FIRESTORE_EMULATOR_HOST": None,
                 "PUBSUB_EMULATOR_HOST": None, "UTIO_DEV_AUTH": None,
                 "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.host}
    with running_stack(tmp_path, overrides) as running:
        email, password = re.search(r"Sign in\s+(\S+) / (.+)", running.log.read_text()).groups()
        origin = running.api.removesuffix("/v1")
        signed = requests.post(
            f"{origin}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=local",
            json={"email": email, "password": password.strip(), "returnSecureToken": True},
            timeout=10)
        assert signed.status_code == 200, signed.text
        me = requests.get(f"{running.api}/people/me", timeout=10,
                          headers={"Authorization": f"Bearer {signed.json()['idToken']}"})
        assert me.status_code == 200, me.text
        assert me.json()["role"] == "owner" and me.json()["email"] == email
        devices = requests.get(f"{running.api}/devices", timeout=10,
                               headers={"Authorization": f"Bearer {signed.json()['idToken']}"})
        assert devices.status_code == 200
