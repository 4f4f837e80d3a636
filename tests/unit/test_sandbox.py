"""The sandbox transport's rules, and the walking skeleton through it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from device_runner.sandbox import SandboxNetwork, SandboxTransport, exists
from device_runner.transport import Listener
from functions.api.app import create_app
from shared import names
from shared.content import Text
from shared.domain import DeviceStatus, FailureReason
from shared.ports import Inbound, Receipt
from shared.services.accounts import create_api_key
from shared.services.webhooks import delivery as webhook_delivery
from tests.fakes import (
    ADMIN_KEY,
    FakeClock,
    FakeHttp,
    ManualTimer,
    make_container,
    message_events,
    queue_message,
    seed_account,
    seed_device,
    status_of,
    wait_until,
)


@pytest.fixture
def acc(container):
    return seed_account(container)


def connected_runner(c, make_runner, device_id):
    runner, timer = make_runner(c)
    runner.handle_device_task({"device_id": device_id, "action": "start"})
    runner.sessions[device_id].set_speed(60_000)
    timer.fire_all()
    wait_until(lambda: runner.sessions[device_id].connected)
    return runner, timer


# --- the number rule ------------------------------------------------------------------


@pytest.mark.parametrize("phone,on_whatsapp", [
    ("+447911123456", True),
    ("+447911120000", False),
    ("+14155550000", False),
    ("+14155552671", True),
    ("+34612340000", False),
    ("+34612340001", True),
    ("+447911100000", False),
])
def test_numbers_ending_in_0000_are_not_on_whatsapp(phone, on_whatsapp):
    assert exists(phone) is on_whatsapp


@pytest.mark.parametrize("phone", ["+447911120000", "+14155550000"])
def test_message_to_a_number_not_on_whatsapp_fails(container, acc, make_runner, network, phone):
    c = container
    device = seed_device(c, acc)
    runner, timer = connected_runner(c, make_runner, device.id)
    message = queue_message(c, acc, device.id, phone=phone)
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "failed")
    doc = c.store.get("messages", message.id)
    assert doc["failure_reason"] == FailureReason.number_not_on_whatsapp.value
    assert doc["failed_at"] and doc["sent_at"] is None
    assert message_events(c, message.id) == ["message:out:new", "message:out:failed"]
    failed = next(e for e in c.bus.published if e.event == "message:out:failed")
    assert failed.data["failure_reason"] == "number_not_on_whatsapp"
    assert network.delivered == {}
    timer.fire_all()
    assert status_of(c, message.id) == "failed"


def test_message_goes_sent_delivered_read(container, acc, make_runner, network):
    c = container
    device = seed_device(c, acc)
    runner, timer = connected_runner(c, make_runner, device.id)
    c.clock.advance(1)
    message = queue_message(c, acc, device.id, "hello 👋")
    c.clock.advance(1)
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent")
    c.clock.advance(1)
    assert timer.fire_next()
    assert status_of(c, message.id) == "delivered"
    c.clock.advance(1)
    assert timer.fire_next()
    doc = c.store.get("messages", message.id)
    assert doc["status"] == "read"
    assert doc["created_at"] < doc["sent_at"] < doc["delivered_at"] < doc["read_at"]
    assert doc["failed_at"] is None and doc["failure_reason"] is None
    assert message_events(c, message.id) == ["message:out:new", "message:out:sent",
                                             "message:out:delivered", "message:out:read"]
    read = [e for e in c.bus.published if e.event == "message:out:read"][0]
    assert read.data["read_at"] and read.data["delivered_at"] and read.data["sent_at"]
    assert "account_id" not in read.data and "claimed_by" not in read.data
    assert network.delivered[message.wa_id] == (device.id, "+447911123456", "hello 👋")


def test_receipts_repeated_change_nothing(container, acc, make_runner):
    c = container
    device = seed_device(c, acc)
    runner, timer = connected_runner(c, make_runner, device.id)
    message = queue_message(c, acc, device.id)
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent")
    timer.fire_all()
    runner.on_receipt(device.id, message.wa_id, Receipt.delivered)
    runner.on_receipt(device.id, message.wa_id, Receipt.read)
    runner.on_receipt(device.id, "3EB0UNKNOWN", Receipt.read)
    assert message_events(c, message.id) == ["message:out:new", "message:out:sent",
                                             "message:out:delivered", "message:out:read"]


# --- inbound --------------------------------------------------------------------------


def inject_inbound(runner, device_id: str, text: str, phone: str = "+447911123456") -> None:
    """A contact's message to the device, as the sandbox's control task brings it."""
    runner.handle_device_task({"device_id": device_id, "action": "sandbox_inbound",
                               "phone": phone, "message": text})


def inbound_event(c, runner, device_id: str, text: str):
    """The one message:in:new of a contact's message `text`."""
    inject_inbound(runner, device_id, text)
    [event] = [e for e in c.bus.published if e.event == "message:in:new"]
    return event


def test_sandbox_inbound_publishes_and_stores_once(container, acc, make_runner):
    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    event = inbound_event(c, runner, device.id, "Hi there 🙂")
    assert event.account == acc and event.device == device.id
    assert event.data["message"] == "Hi there 🙂"
    assert event.data["phone"] == "+447911123456"
    assert event.data["direction"] == "inbound"
    stored = c.store.query("chat_messages", [("device_id", "==", device.id)])
    assert len(stored) == 1 and stored[0]["message"] == "Hi there 🙂"
    chat = c.store.get("chats", f"{device.id}:+447911123456")
    assert chat["account_id"] == acc


def test_an_inbound_message_while_a_taken_over_session_connects_is_retried_not_dropped(
        container, acc, make_runner):
    # A runner that has just taken a device over holds its session before the transport
    # connects; a sandbox inbound task in that moment was answered 200 and dropped (the
    # e2e runner-kill test lost 'message:in:new'). Now it is 503 (retried) until connected.
    from shared.runner_rpc import RunnerUnavailable

    c = container
    device = seed_device(c, acc)
    c.repos.devices.update(device.id, {"status": DeviceStatus.connected.value})  # linked before
    runner, timer = make_runner(c)
    sandbox = runner.transports["sandbox"]
    connects = []
    real_connect, sandbox.connect = sandbox.connect, lambda d, listener: connects.append((d, listener))
    runner.handle_device_task({"device_id": device.id, "action": "start"})
    assert device.id in runner.sessions and connects  # the session is up; its transport is not yet
    with pytest.raises(RunnerUnavailable):
        inject_inbound(runner, device.id, "are you there?")
    assert c.store.query("chat_messages") == []
    real_connect(*connects[0])  # the transport connects
    inject_inbound(runner, device.id, "are you there?")  # the task's next attempt
    assert [e["message"] for e in c.store.query("chat_messages")] == ["are you there?"]
    assert [e.event for e in c.bus.published if e.event == "message:in:new"] == ["message:in:new"]


def test_an_inbound_message_to_a_device_never_linked_is_dropped(container, acc, make_runner):
    c = container
    device = seed_device(c, acc)  # pending: never linked
    runner, _ = make_runner(c)
    sandbox = runner.transports["sandbox"]
    sandbox.connect = lambda d, listener: None  # it never connects
    inject_inbound(runner, device.id, "hello?")  # answered, not retried for ever
    assert c.store.query("chat_messages") == []


def test_a_redelivered_inbound_message_is_stored_and_published_once(container, acc, make_runner):
    c = container
    device = seed_device(c, acc)
    runner, _ = make_runner(c)
    inbound = Inbound(wa_id="3EB0ABC", sender="+447911123456", text="once",
                      at=datetime(2026, 1, 1, tzinfo=UTC))
    runner.on_inbound(device.id, inbound)
    runner.on_inbound(device.id, inbound)
    assert len(c.store.query("chat_messages")) == 1
    assert [e.event for e in c.bus.published if e.event == "message:in:new"] == ["message:in:new"]


def test_two_inbound_messages_are_two_records(container, acc, make_runner):
    c = container
    device = seed_device(c, acc)
    runner, _ = make_runner(c)
    for text in ("one", "two"):
        inject_inbound(runner, device.id, text)
    assert sorted(d["message"] for d in c.store.query("chat_messages")) == ["one", "two"]


# --- the transport on its own -------------------------------------------------------


class RecordingListener(Listener):
    def __init__(self):
        self.seen: list[tuple] = []

    def on_status(self, device_id, status, phone=None, detail=None):
        self.seen.append(("status", device_id, status, phone))

    def on_receipt(self, device_id, wa_id, receipt):
        self.seen.append(("receipt", device_id, wa_id, receipt))

    def on_inbound(self, device_id, message):
        self.seen.append(("inbound", device_id, message.text))


def test_transport_links_once_and_reports_a_phone():
    timer = ManualTimer()
    transport = SandboxTransport(SandboxNetwork(), timer=timer)
    listener = RecordingListener()
    transport.connect("dev_1", listener)
    transport.connect("dev_1", listener)
    assert listener.seen == [("status", "dev_1", DeviceStatus.linking, None)]
    timer.fire_all()
    assert listener.seen[-1] == ("status", "dev_1", DeviceStatus.connected,
                                 SandboxTransport.phone_of("dev_1"))
    assert timer.fire_all() == 0


def test_disconnect_before_link_reports_nothing_more():
    timer = ManualTimer()
    transport = SandboxTransport(SandboxNetwork(), timer=timer)
    listener = RecordingListener()
    transport.connect("dev_1", listener)
    transport.disconnect("dev_1")
    timer.fire_all()
    assert [s[2] for s in listener.seen] == [DeviceStatus.linking]


def test_send_without_a_session_is_a_transport_error():
    transport = SandboxTransport(SandboxNetwork(), timer=ManualTimer())
    result = transport.send("dev_1", "3EB0A", "+447911123456", Text(text="x"))
    assert not result.ok and result.reason == FailureReason.transport_error


def test_same_wa_id_is_delivered_once_with_one_set_of_receipts():
    timer = ManualTimer()
    network = SandboxNetwork()
    transport = SandboxTransport(network, timer=timer)
    listener = RecordingListener()
    transport.connect("dev_1", listener)
    timer.fire_all()
    assert transport.send("dev_1", "3EB0A", "+447911123456", Text(text="x")).ok
    assert transport.send("dev_1", "3EB0A", "+447911123456", Text(text="x")).ok
    assert network.send_attempts == ["3EB0A", "3EB0A"]
    assert list(network.delivered) == ["3EB0A"]
    timer.fire_all()
    receipts = [s[3] for s in listener.seen if s[0] == "receipt"]
    assert receipts == [Receipt.delivered, Receipt.read]


class LinkListener(RecordingListener):
    def on_link(self, device_id, qr=None, pairing_code=None, expires_in=None):
        self.seen.append(("link", device_id, "qr" if qr else "code"))


def restarted(store, link):
    """A sandbox linked by `link`, then another one (the runner after a restart) over the
    same device documents: what the second one's listener saw."""
    from device_runner.transport import SessionDirectory

    timer = ManualTimer()
    first = SandboxTransport(SandboxNetwork(), timer=timer, sessions=SessionDirectory(store))
    listener = LinkListener()
    first.connect("dev_1", listener)
    link(first, listener)
    timer.fire_all()
    linked = listener.seen[-1]
    assert linked[:3] == ("status", "dev_1", DeviceStatus.connected)
    second = SandboxTransport(SandboxNetwork(), timer=timer, sessions=SessionDirectory(store))
    again = LinkListener()
    second.connect("dev_1", again)
    timer.fire_all()
    return linked[3], again.seen


@pytest.mark.parametrize("how", ["qr", "pairing code", "change of number"])
def test_a_linked_device_keeps_its_number_across_a_restart_without_a_qr(how):
    from shared.adapters.memory_store import MemoryStore

    store = MemoryStore()
    store.put("devices", "dev_1", {"status": "linking"})

    def link(transport, listener):
        if how == "pairing code":
            transport.pair_phone("dev_1", "+447911123456")
        elif how == "change of number":  # "scanned" with another phone
            transport.link("dev_1", listener, logout=True)

    number, seen = restarted(store, link)
    assert number == {"qr": SandboxTransport.phone_of("dev_1"), "pairing code": "+447911123456"}.get(
        how, number)
    if how == "change of number":
        assert number != SandboxTransport.phone_of("dev_1")
    assert seen == [("status", "dev_1", DeviceStatus.connected, number)]
    assert store.get("devices", "dev_1")["wa_jid"] == number.lstrip("+") + "@s.whatsapp.net"


def test_inbound_needs_a_connected_device():
    transport = SandboxTransport(SandboxNetwork(), timer=ManualTimer())
    with pytest.raises(LookupError):
        transport.inject_inbound("dev_1", "+447911123456", "hi")


# --- the walking skeleton, in one process ----------------------------------------------


def test_walking_skeleton(make_runner, network):
    """API → task queue → runner → sandbox → events → fan-out → signed webhook delivery."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    c = make_container(clock=clock, http=FakeHttp())
    client = create_app(c).test_client()
    runner, timer = make_runner(c)
    dispatched: set[int] = set()

    def run_tasks():
        """Hand the runner its tasks, as Cloud Tasks would."""
        for i, task in enumerate(list(c.tasks.tasks)):
            if i in dispatched:
                continue
            if task.target == names.TARGET_RUNNER_DEVICES:
                dispatched.add(i)
                runner.handle_device_task(task.payload)
            elif task.target == names.TARGET_RUNNER_MESSAGES:
                dispatched.add(i)
                runner.handle_message_task(task.payload["message_id"])

    key = client.post("/v1/accounts", json={"name": "Acme"},
                      headers={"Authorization": f"Bearer {ADMIN_KEY}"}).get_json()["api_key"]["key"]
    auth = {"Authorization": f"Bearer {key}"}
    hook = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook",
                                             "events": ["message:out:*"]}, headers=auth)
    assert hook.status_code == 201, hook.get_json()
    hook = hook.get_json()
    device = client.post("/v1/devices", json={"alias": "main"}, headers=auth).get_json()
    run_tasks()
    timer.fire_all()
    assert client.get(f"/v1/devices/{device['id']}", headers=auth).get_json()["status"] == "connected"

    message = client.post("/v1/messages", json={"phone": "+44 7911 123456", "message": "Hi"},
                          headers=auth).get_json()
    run_tasks()
    wait_until(lambda: status_of(c, message["id"]) == "sent")
    timer.fire_all()
    shown = client.get(f"/v1/messages/{message['id']}", headers=auth).get_json()
    assert shown["status"] == "read"
    assert shown["sent_at"] and shown["delivered_at"] and shown["read_at"]

    deliveries = [t for t in c.tasks.tasks if t.target == names.TARGET_WEBHOOK_DELIVER]
    for task in deliveries:
        assert webhook_delivery.deliver(c, task.payload["delivery_id"]) == "succeeded"
    received = [Verifier(hook["secret"]).verify(p.body, p.headers) for p in c.http.posts]
    assert [r["event"] for r in received] == ["message:out:new", "message:out:sent",
                                              "message:out:delivered", "message:out:read"]
    assert {r["data"]["id"] for r in received} == {message["id"]}
    assert len({r["id"] for r in received}) == 4


def test_an_inbound_event_says_where_the_message_is(container, acc, make_runner, client):
    """message:in:new carries the chat's messages URL and a Z timestamp; GET
    /v1/messages/{its id} says the message was received and where it is."""
    from shared.services.accounts import create_api_key

    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    event = inbound_event(c, runner, device.id, "Where is it?")
    assert event.data["received_at"].endswith("Z")
    url = f"/v1/devices/{device.id}/chats/+447911123456/messages"
    assert event.data["url"] == url and event.data["group"] is None
    _, raw = create_api_key(c, acc, "t")
    headers = {"Authorization": f"Bearer {raw}"}
    body = client.get(f"/v1/messages/{event.data['id']}", headers=headers).get_json()
    assert body["error"]["code"] == "message_is_inbound" and body["error"]["details"] == {"url": url}
    assert url in body["error"]["message"]
    listed = client.get(url, headers=headers).get_json()["data"]
    assert [m["id"] for m in listed] == [event.data["id"]]


def test_event_examples_carry_every_field_real_bodies_carry(container, acc, make_runner, client):
    """GET /v1/webhooks/events: each example body has at least the fields of a real one
    (outbound messages, an inbound message, a device's status)."""
    from shared.events import CATALOG, EventName

    c = container
    device = seed_device(c, acc)
    runner, timer = make_runner(c)
    runner.handle_device_task({"device_id": device.id, "action": "start"})
    timer.fire_all()  # linked: device:status
    _, raw = create_api_key(c, acc, "t")
    headers = {"Authorization": f"Bearer {raw}"}
    sent = client.post("/v1/messages", json={"phone": "+447911123456", "message": "Hi"},
                       headers=headers)
    assert sent.status_code == 201, sent.get_json()
    inject_inbound(runner, device.id, "Hello")
    seen = {e.event: set(e.data) for e in c.bus.published}
    for name in (EventName.message_out_new, EventName.message_in_new, EventName.device_status):
        assert name.value in seen, sorted(seen)
        missing = seen[name.value] - set(CATALOG[name].data)
        assert not missing, (name.value, missing)
    examples = client.get("/v1/webhooks/events").get_json()["data"]
    inbound = next(e for e in examples if e["name"] == "message:in:new")["example"]["data"]
    assert {"content", "group", "url"} <= set(inbound)
    outbound = next(e for e in examples if e["name"] == "message:out:new")["example"]["data"]
    assert {"content", "group", "quote"} <= set(outbound)
    status = next(e for e in examples if e["name"] == "device:status")["example"]["data"]
    assert {"code", "message"} <= set(status)


def test_a_null_phone_beside_a_lid_is_accepted_and_neither_is_a_422(container, acc, client):
    """Found by the fuzzer: `"phone": null` with a lid answered 500."""
    from shared.services.accounts import create_api_key

    device = seed_device(container, acc)
    _, raw = create_api_key(container, acc, "t")
    auth = {"Authorization": f"Bearer {raw}"}
    url = f"/v1/devices/{device.id}/sandbox/inbound"
    assert client.post(url, json={"lid": "123456@lid", "phone": None, "message": "hi"},
                       headers=auth).status_code == 202
    neither = client.post(url, json={"phone": None, "message": "hi"}, headers=auth)
    assert neither.status_code == 422 and neither.get_json()["error"]["code"] == "validation_error"
