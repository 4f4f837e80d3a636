"""The WhatsApp adapter at neonize's boundary: a stand-in client emits neonize's real
event types; the adapter's state machine, receipts, sends and inbound conversion answer."""

from __future__ import annotations

import io
import random
import threading

import pytest
from neonize.events import (
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import ConnectFailureReason, TemporaryBan
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ImageMessage,
    LocationMessage,
    Message,
    ReactionMessage,
)
from PIL import Image

from device_runner.transport import Listener, SessionDirectory
from device_runner.whatsapp.adapter import WhatsAppTransport
from device_runner.whatsapp.lifecycle import Backoff
from device_runner.whatsapp.sending import SentLedger
from shared.adapters.inbound_media import MediaStore
from shared.adapters.memory_store import MemoryStore
from shared.adapters.storage import DiskStorage
from shared.content import Text
from shared.domain import DeviceStatus, FailureReason
from shared.ports import Receipt
from tests.fakes import ManualTimer, wait_until
from tests.neonize_standin import DELIVERED, READ, StandInWhatsApp

DEVICE = "dev_1"


class RecordingListener(Listener):
    def __init__(self):
        self.statuses: list[tuple] = []
        self.links: list[tuple] = []
        self.receipts: list[tuple] = []
        self.inbound: list = []

    def on_status(self, device_id, status, phone=None, detail=None, code=None):
        self.statuses.append((status, code, phone, detail))

    def on_link(self, device_id, qr=None, pairing_code=None, expires_in=None):
        self.links.append((qr, pairing_code, expires_in))

    def on_receipt(self, device_id, wa_id, receipt):
        self.receipts.append((wa_id, receipt))

    def on_inbound(self, device_id, message):
        self.inbound.append(message)

    @property
    def codes(self) -> list[str]:
        return [code for _, code, _, _ in self.statuses]


class Waits:
    """Records each reconnect wait instead of sleeping."""

    def __init__(self):
        self.delays: list[float] = []

    def __call__(self, event: threading.Event, seconds: float):
        self.delays.append(seconds)


@pytest.fixture
def world():
    return StandInWhatsApp()


@pytest.fixture
def store():
    s = MemoryStore()
    s.put("devices", DEVICE, {"account_id": "acc_1", "status": "pending"})
    return s


@pytest.fixture
def make(world, store, tmp_path):
    made = []

    def build(**kw):
        transport = WhatsAppTransport(world, SessionDirectory(store), SentLedger(store),
                                      media=MediaStore(DiskStorage(tmp_path / "media")),
                                      public_url="https://api.utio.test",
                                      backoff=kw.pop("backoff", Backoff(2, 60, random.Random(7))),
                                      timer=kw.pop("timer", ManualTimer()),
                                      wait=kw.pop("wait", Waits()), **kw)
        made.append(transport)
        return transport

    yield build
    for transport in made:
        for device_id in list(transport.clients):
            transport.disconnect(device_id)


def connected(make, world, phone="+34600555111"):
    transport, listener = make(), RecordingListener()
    transport.connect(DEVICE, listener)
    client = world.client(DEVICE)
    client.show_qr("2@first")
    client.scan(phone)
    return transport, listener, client


# --- linking -----------------------------------------------------------------------------


def test_qr_codes_as_whatsapp_rotates_them_then_the_scan_links_the_device(make, world, store):
    transport, listener = make(), RecordingListener()
    transport.connect(DEVICE, listener)
    client = world.client(DEVICE)
    assert client.saved_jid is None  # a new device: a fresh whatsmeow session
    client.show_qr("2@first,aaa")
    client.show_qr("2@second,bbb")
    assert listener.links == [("2@first,aaa", None, 60.0), ("2@second,bbb", None, 20.0)]
    client.scan("+34600555111")
    assert listener.statuses[0][:2] == (DeviceStatus.linking, "wa-connecting")
    assert listener.statuses[-1] == (DeviceStatus.connected, "wa-connected", "+34600555111", None)
    assert store.get("devices", DEVICE)["wa_jid"] == "34600555111@s.whatsapp.net"


def test_an_unscanned_qr_code_ends_linking_instead_of_looping(make, world):
    timer = ManualTimer()
    transport, listener = make(timer=timer), RecordingListener()
    transport.connect(DEVICE, listener)
    client = world.client(DEVICE)
    client.show_qr("2@first")
    client.show_qr("2@last")
    timer.fire_all()  # both expiry checks: only the last code's counts
    assert listener.statuses[-1][:2] == (DeviceStatus.pending, "wa-link-timeout")
    wait_until(lambda: client.ended.is_set())
    assert len(world.clients[DEVICE]) == 1  # no reconnect loop



@pytest.mark.parametrize("event_first", [True, False])
def test_a_qr_code_seen_through_the_event_and_the_callback_counts_once(make, world, event_first):
    """neonize passes the first code on twice: in the QREv event (all codes) and through the
    QR callback. The second sighting changes nothing: the first code keeps its 60 s."""
    timer = ManualTimer()
    transport, listener = make(timer=timer), RecordingListener()
    transport.connect(DEVICE, listener)
    client = world.client(DEVICE)
    if event_first:
        client.qr_event("2@first", "2@second", "2@third")
        client.show_qr("2@first")
    else:
        client.show_qr("2@first")
        client.qr_event("2@first", "2@second", "2@third")
    assert listener.links == [("2@first", None, 60.0)]
    assert [delay for delay, _ in timer.pending] == [65.0]
    assert timer.fire_all() == 1  # 65 s on, the first code unscanned: linking ends
    assert listener.statuses[-1][:2] == (DeviceStatus.pending, "wa-link-timeout")


def test_the_next_code_after_a_duplicate_first_one_lasts_20_s(make, world):
    timer = ManualTimer()
    transport, listener = make(timer=timer), RecordingListener()
    transport.connect(DEVICE, listener)
    client = world.client(DEVICE)
    client.qr_event("2@first", "2@second")
    client.show_qr("2@first")
    client.show_qr("2@second")
    client.show_qr("2@second")
    assert listener.links == [("2@first", None, 60.0), ("2@second", None, 20.0)]
    timer.fire_next()  # the second code's check (25 s) runs first: it is the current one
    assert listener.statuses[-1][:2] == (DeviceStatus.pending, "wa-link-timeout")

def test_a_restarted_runner_resumes_the_session_without_a_scan(make, world, store):
    first, _, _ = connected(make, world)
    first.disconnect(DEVICE)
    again, listener = make(), RecordingListener()
    again.connect(DEVICE, listener)
    client = world.client(DEVICE)
    assert client.saved_jid == "34600555111@s.whatsapp.net"
    client.emit(ConnectedEv(status=True))
    assert listener.links == []
    assert listener.statuses[-1][:3] == (DeviceStatus.connected, "wa-connected", "+34600555111")


def test_pairing_code_by_phone_number(make, world):
    transport, listener = make(), RecordingListener()
    transport.connect(DEVICE, listener)
    client = world.client(DEVICE)
    client.show_qr("2@first")  # the websocket is up
    assert transport.pair_phone(DEVICE, "+34600555111") == "WXYZ-1234"
    assert world.paired == ["34600555111"]
    assert listener.links[-1] == (None, "WXYZ-1234", 160.0)
    client.scan("+34600555111")
    assert listener.statuses[-1][0] == DeviceStatus.connected


def test_change_of_number_logs_out_and_links_again(make, world, store):
    transport, listener, client = connected(make, world)
    transport.link(DEVICE, listener, logout=True)
    assert client.logged_out
    assert store.get("devices", DEVICE)["wa_jid"] is None
    fresh = world.client(DEVICE)
    assert fresh is not client and fresh.saved_jid is None
    fresh.show_qr("2@new")
    fresh.scan("+34600999888")
    assert listener.statuses[-1][:3] == (DeviceStatus.connected, "wa-connected", "+34600999888")


# --- the state machine ---------------------------------------------------------------------


@pytest.mark.parametrize("event,status,code,reconnects", [
    (LoggedOutEv(OnConnect=False, Reason=ConnectFailureReason.LOGGED_OUT),
     DeviceStatus.logged_out, "wa-logged-out", False),
    (LoggedOutEv(Reason=ConnectFailureReason.UNKNOWN_LOGOUT), DeviceStatus.banned, "wa-banned", False),
    (TemporaryBanEv(Code=TemporaryBan.TempBanReason.SEND_TO_TOO_MANY_PEOPLE, Expire=3600),
     DeviceStatus.banned, "wa-temporary-ban", False),
    (ConnectFailureEv(Reason=ConnectFailureReason.SERVICE_UNAVAILABLE, Message="try later"),
     DeviceStatus.disconnected, "wa-connection-failed", True),
    (ConnectFailureEv(Reason=ConnectFailureReason.MAIN_DEVICE_GONE),
     DeviceStatus.logged_out, "wa-logged-out", False),
    (ConnectFailureEv(Reason=ConnectFailureReason.CLIENT_OUTDATED),
     DeviceStatus.disconnected, "wa-client-outdated", False),
    (StreamReplacedEv(), DeviceStatus.disconnected, "wa-stream-replaced", True),
    (KeepAliveTimeoutEv(ErrorCount=3, LastSuccess=1), DeviceStatus.disconnected,
     "wa-keepalive-timeout", True),
    (DisconnectedEv(status=True), DeviceStatus.disconnected, "wa-disconnected", True),
])
def test_each_event_moves_the_state_machine(make, world, event, status, code, reconnects):
    transport, listener, client = connected(make, world)
    before = len(listener.statuses)
    client.emit(event)
    assert listener.statuses[before][:2] == (status, code)
    assert {c for _, c, _, _ in listener.statuses[before:]} == {code}
    assert transport.clients[DEVICE].final is not reconnects
    if code == "wa-temporary-ban":
        assert listener.statuses[-1][3] == "send_to_too_many_people; expires in 3600 s"


def test_keepalive_restored_is_connected_again(make, world):
    transport, listener, client = connected(make, world)
    client.emit(KeepAliveTimeoutEv(ErrorCount=2))
    client.emit(KeepAliveRestoredEv())
    assert listener.codes[-2:] == ["wa-keepalive-timeout", "wa-connected"]


def test_reconnect_with_capped_exponential_backoff_and_jitter(make, world):
    waits = Waits()
    world.outcomes = [OSError("dial tcp: no route")] * 5 + ["block"]
    transport, listener = make(wait=waits, backoff=Backoff(2, 10, random.Random(1))), RecordingListener()
    transport.connect(DEVICE, listener)
    wait_until(lambda: len(world.clients.get(DEVICE, [])) == 6)
    client = world.client(DEVICE)
    caps = [2, 4, 8, 10, 10]
    assert len(waits.delays) == 5
    assert all(cap / 2 <= d <= cap for d, cap in zip(waits.delays, caps, strict=True))
    assert len(set(waits.delays)) == 5  # jittered
    assert listener.codes[1:6] == ["wa-connection-failed"] * 5
    assert "reconnect attempt 5" in listener.statuses[5][3]
    client.show_qr("2@x")
    client.scan("+34600555111")
    assert transport.clients[DEVICE].attempts == 0


# --- sends and receipts ----------------------------------------------------------------------


def test_receipts_move_our_message_to_delivered_and_read(make, world, store):
    transport, listener, client = connected(make, world)
    assert transport.send(DEVICE, "3EB0OURS", "+447911123456", Text(text="hi")).ok
    [(to, message)] = client.sent
    assert (to.User, to.Server, message.conversation) == ("447911123456", "s.whatsapp.net", "hi")
    server_id = store.get("wa_sent", "3EB0OURS")["server_id"]
    client.receipt([server_id], DELIVERED, "+447911123456")
    client.receipt([server_id], READ, "+447911123456")
    client.receipt([server_id], READ, "+34600555111", from_me=True)  # our own phone read it
    assert listener.receipts == [("3EB0OURS", Receipt.delivered), ("3EB0OURS", Receipt.read)]
    # after a restart, receipts are still translated (the ledger is in the store)
    fresh = SentLedger(store)
    assert fresh.ours(server_id) == "3EB0OURS"


def test_a_wa_id_is_sent_once_and_unknown_numbers_fail(make, world):
    transport, _, client = connected(make, world)
    assert transport.send(DEVICE, "3EB0A", "+447911123456", Text(text="x")).ok
    assert transport.send(DEVICE, "3EB0A", "+447911123456", Text(text="x")).ok
    assert len(client.sent) == 1
    result = transport.send(DEVICE, "3EB0B", "+447911120000", Text(text="x"))
    assert not result.ok and result.reason == FailureReason.number_not_on_whatsapp
    transport.send(DEVICE, "3EB0C", "+447911123456", Text(text="y"))
    assert world.number_checks == [("+447911123456",), ("+447911120000",)]  # cached a day


def test_sending_while_disconnected_is_a_transport_error(make, world):
    transport, listener = make(), RecordingListener()
    transport.connect(DEVICE, listener)
    result = transport.send(DEVICE, "3EB0A", "+447911123456", Text(text="x"))
    assert not result.ok and result.reason == FailureReason.transport_error


def test_media_is_uploaded_then_sent(make, world):
    transport, _, client = connected(make, world)
    from shared.content import Media

    content = Media.model_validate({"type": "image", "caption": "Receipt", "file": {
        "id": "file_1", "mime": "image/png", "size": 72, "sha256": "ab", "filename": "r.png"}})
    assert transport.send(DEVICE, "3EB0IMG", "+447911123456", content, media=b"png-bytes").ok
    [(_, message)] = client.sent
    assert client.uploads == [b"png-bytes"]
    assert message.imageMessage.caption == "Receipt"
    assert message.imageMessage.fileLength == len(b"png-bytes")


# --- inbound -----------------------------------------------------------------------------


def test_inbound_text_media_location_reaction_and_groups(make, world, tmp_path):
    transport, listener, client = connected(make, world)
    client.deliver(Message(conversation="Hello"), sender="+447911123456", wa_id="W1")
    client.deliver(Message(imageMessage=ImageMessage(mimetype="image/png", caption="look",
                                                     fileLength=72, fileSHA256=b"\x01\x02")),
                   sender="+447911123456", wa_id="W2")
    client.deliver(Message(locationMessage=LocationMessage(degreesLatitude=51.5,
                                                           degreesLongitude=-0.12, name="Eye")),
                   sender="+447911123456", wa_id="W3")
    client.deliver(Message(reactionMessage=ReactionMessage(
        key=MessageKey(remoteJID="447911123456@s.whatsapp.net", fromMe=True, ID="3EB0OURS"),
        text="👍")), sender="+447911123456", wa_id="W4")
    client.deliver(Message(conversation="hi all"), sender="+447911123457", wa_id="W5",
                   group="120363025246125486@g.us")
    client.deliver(Message(conversation="hidden"), sender="+447911123458", wa_id="W6",
                   sender_alt="+447911123458")
    client.deliver(Message(conversation="from my phone"), sender="+34600555111", wa_id="W7",
                   from_me=True)
    got = {m.wa_id: m for m in listener.inbound}
    assert sorted(got) == ["W1", "W2", "W3", "W4", "W5", "W6"]
    assert (got["W1"].type, got["W1"].text, got["W1"].sender) == ("text", "Hello", "+447911123456")
    image = got["W2"]
    assert image.type == "image" and image.text == "look"
    assert image.content["url"] == "https://api.utio.test/v1/devices/dev_1/media/W2.png"
    assert (tmp_path / "media" / "inbound" / DEVICE / "W2.png").read_bytes() == world.media
    assert got["W3"].content["latitude"] == 51.5 and got["W3"].text == "Eye"
    assert got["W4"].type == "reaction"
    assert got["W4"].content == {"emoji": "👍", "target": {"wa_id": "3EB0OURS", "from_me": True}}
    assert got["W5"].group == "120363025246125486@g.us" and got["W5"].sender == "+447911123457"
    assert got["W6"].sender == "+447911123458"  # a lid sender, with its phone alongside


# --- numbers and profile ---------------------------------------------------------------------


def test_numbers_and_profile_through_the_session(make, world):
    transport, _, client = connected(make, world)
    assert transport.check_numbers(DEVICE, ["+447911123456", "+447911120000"]) == {
        "+447911123456": True, "+447911120000": False}
    png = io.BytesIO()
    Image.new("RGB", (800, 400), "red").save(png, format="PNG")
    transport.set_profile(DEVICE, name="Acme", about="We sell anvils", image=png.getvalue())
    assert client.profile["name"] == "Acme" and client.profile["about"] == "We sell anvils"
    with Image.open(io.BytesIO(client.profile["photo"])) as photo:
        assert (photo.format, photo.size) == ("JPEG", (640, 640))


def test_a_replaced_stream_ends_the_client_and_reconnects_after_the_backoff(make, world):
    waits = Waits()
    transport, listener = make(wait=waits), RecordingListener()
    transport.connect(DEVICE, listener)
    first = world.client(DEVICE)
    first.show_qr("2@x")
    first.scan("+34600555111")
    first.emit(StreamReplacedEv())
    wait_until(lambda: len(world.clients[DEVICE]) == 2)
    assert first.ended.is_set() and len(waits.delays) == 1
    assert world.client(DEVICE).saved_jid == "34600555111@s.whatsapp.net"  # same session


def test_the_messaging_content_models_are_sent_as_their_whatsapp_messages(make, world):
    from shared.content import Buttons, Location, ReplyButton

    transport, _, client = connected(make, world)
    buttons = Buttons(text="Arrived?", items=[ReplyButton(id="yes", text="Yes")])
    assert transport.send(DEVICE, "3EB0BTN", "+447911123456", buttons).ok
    assert transport.send(DEVICE, "3EB0LOC", "120363025246125486@g.us",
                          Location(latitude=1.0, longitude=2.0)).ok
    (to1, first), (to2, second) = client.sent
    assert first.interactiveMessage.nativeFlowMessage.buttons[0].name == "quick_reply"
    assert (to2.Server, second.locationMessage.degreesLatitude) == ("g.us", 1.0)
    assert world.number_checks == [("+447911123456",)]  # groups are not looked up
