"""The runner with the WhatsApp adapter over the neonize stand-in: linking, sends moving
to delivered and read by receipts, inbound stored and published, and the non-operative
rule with its one email and its recovery."""

from __future__ import annotations

import random

import pytest
from neonize.events import ConnectedEv, ConnectFailureEv
from neonize.proto.Neonize_pb2 import ConnectFailureReason
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage, Message, ReactionMessage

from device_runner.main import build_runner
from device_runner.transport import SessionDirectory
from device_runner.whatsapp.adapter import WhatsAppTransport
from device_runner.whatsapp.lifecycle import Backoff
from device_runner.whatsapp.sending import SentLedger
from shared.adapters.inbound_media import MediaStore
from shared.adapters.mailers import FileOutboxMailer
from shared.adapters.storage import DiskStorage
from shared.services.linking import connection
from shared.services.linking.codes import current
from tests.fakes import ManualTimer, queue_message, seed_account, seed_device, status_of, wait_until
from tests.neonize_standin import DELIVERED, READ, StandInWhatsApp


@pytest.fixture
def world():
    return StandInWhatsApp()


@pytest.fixture
def setup(container, world, tmp_path):
    c = container
    c.__dict__["mailer"] = FileOutboxMailer(tmp_path / "outbox.jsonl")
    transport = WhatsAppTransport(world, SessionDirectory(c.store), SentLedger(c.store),
                                  media=MediaStore(DiskStorage(tmp_path / "media")),
                                  public_url="https://api.utio.test",
                                  backoff=Backoff(1, 2, random.Random(3)), timer=ManualTimer(),
                                  wait=lambda event, seconds: None)
    runner = build_runner(c, whatsapp=transport)
    yield c, runner, transport
    runner.stop()


def linked_device(c, runner, world):
    account = seed_account(c)
    c.store.update("accounts", account, {"email": "ops@acme.example"})
    device = seed_device(c, account, transport="whatsapp")
    runner.handle_device_task({"device_id": device.id, "action": "start"})
    client = world.client(device.id)
    client.show_qr("2@abc,def")
    assert current(c.store, c.clock, device.id)["qr"] == "2@abc,def"
    assert c.store.get("devices", device.id)["status_code"] == "wa-qr"
    client.scan("+34600555111")
    doc = c.store.get("devices", device.id)
    assert (doc["status"], doc["phone"]) == ("connected", "+34600555111")
    assert current(c.store, c.clock, device.id) is None  # linked: no code to show
    runner.sessions[device.id].set_speed(60_000)
    return account, device, client


def test_a_message_goes_sent_delivered_read_on_whatsapps_receipts(setup, world):
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    message = queue_message(c, account, device.id, "Your order shipped")
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent")
    [(to, sent)] = client.sent
    assert (to.User, sent.conversation) == ("447911123456", "Your order shipped")
    server_id = c.store.get("wa_sent", message.wa_id)["server_id"]
    client.receipt([server_id], DELIVERED, "+447911123456")
    assert status_of(c, message.id) == "delivered"
    client.receipt([server_id], READ, "+447911123456")
    assert status_of(c, message.id) == "read"
    runner.handle_message_task(message.id)  # a late duplicate task sends nothing
    assert len(client.sent) == 1


def test_inbound_media_is_stored_in_its_chat_and_published(setup, world, tmp_path):
    c, runner, _ = setup
    _, device, client = linked_device(c, runner, world)
    client.deliver(Message(imageMessage=ImageMessage(mimetype="image/png", caption="my order")),
                   sender="+447911123456", wa_id="WIN1")
    [event] = [e for e in c.bus.published if e.event == "message:in:new"]
    assert event.data["type"] == "image" and event.data["message"] == "my order"
    assert event.data["content"]["url"] == f"https://api.utio.test/v1/devices/{device.id}/media/WIN1.png"
    assert (tmp_path / "media" / "inbound" / device.id / "WIN1.png").exists()
    [stored] = c.store.query("chat_messages")
    assert (stored["chat"], stored["type"], stored["message"]) == ("+447911123456", "image", "my order")


def test_down_too_long_becomes_non_operative_with_one_email_then_recovers(setup, world, tmp_path):
    c, runner, _ = setup
    _, device, client = linked_device(c, runner, world)
    client.emit(ConnectFailureEv(Reason=ConnectFailureReason.SERVICE_UNAVAILABLE))
    assert c.store.get("devices", device.id)["status"] == "disconnected"
    sweep = lambda: connection.sweep_non_operative(c.store, c.bus, c.clock, c.mailer,  # noqa: E731
                                                   [device.id], after=600)
    c.clock.advance(599)
    assert sweep() == []
    c.clock.advance(2)
    assert sweep() == [device.id]
    assert sweep() == []
    client.emit(ConnectFailureEv(Reason=ConnectFailureReason.SERVICE_UNAVAILABLE))
    assert c.store.get("devices", device.id)["status"] == "non_operative"  # still down
    [mail] = c.mailer.messages()
    assert mail["to"] == "ops@acme.example" and device.id in mail["body"]
    client.emit(ConnectedEv(status=True))
    events = [e.data for e in c.bus.published if e.event == "device:status"]
    assert (events[-1]["status"], events[-1]["previous"], events[-1]["recovered"]) == (
        "connected", "non_operative", True)
    assert [e["status"] for e in events][-3:] == ["disconnected", "non_operative", "connected"]
    # a later outage emails again
    client.emit(ConnectFailureEv(Reason=ConnectFailureReason.SERVICE_UNAVAILABLE))
    c.clock.advance(601)
    assert sweep() == [device.id]
    assert len(c.mailer.messages()) == 2


def test_logged_out_device_is_relinked_to_another_number_keeping_its_id(setup, world):
    from neonize.events import LoggedOutEv

    c, runner, _ = setup
    _, device, client = linked_device(c, runner, world)
    client.emit(LoggedOutEv(Reason=ConnectFailureReason.LOGGED_OUT))
    assert c.store.get("devices", device.id)["status"] == "logged_out"
    runner.handle_device_task({"device_id": device.id, "action": "link"})
    fresh = world.client(device.id)
    assert fresh.saved_jid is None
    fresh.show_qr("2@new")
    fresh.scan("+34600999000")
    events = [e.data for e in c.bus.published if e.event == "device:status"]
    assert events[-1]["phone"] == "+34600999000" and events[-1]["previous_phone"] == "+34600555111"
    assert c.store.get("devices", device.id)["phone"] == "+34600999000"


def test_an_inbound_reaction_is_published_as_message_reaction_and_kept_in_its_chat(setup, world):
    """Through the neonize stand-in: a reaction to a message the device sent, then to one
    it received, then one taken back."""
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    message = queue_message(c, account, device.id, "Your order shipped")
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent")
    server_id = c.store.get("wa_sent", message.wa_id)["server_id"]
    client.deliver(Message(conversation="Thanks!"), sender="+447911123456", wa_id="WIN1")

    def react(wa_id, on, from_me, emoji):
        client.deliver(Message(reactionMessage=ReactionMessage(
            key=MessageKey(remoteJID="447911123456@s.whatsapp.net", fromMe=from_me, ID=on),
            text=emoji)), sender="+447911123456", wa_id=wa_id)

    react("WR1", server_id, True, "👍")
    react("WR2", "WIN1", False, "❤️")
    react("WR3", server_id, True, "")
    [received] = [e.data for e in c.bus.published if e.event == "message:in:new"]
    assert received["wa_id"] == "WIN1"  # reactions are not announced as new messages
    reactions = [e for e in c.bus.published if e.event == "message:reaction"]
    assert all(e.device == device.id and e.account == account for e in reactions)
    first, second, removed = (e.data for e in reactions)
    assert {k: first[k] for k in ("wa_id", "message_id", "message_wa_id", "from_me", "emoji",
                                  "phone")} == {
        "wa_id": "WR1", "message_id": message.id, "message_wa_id": message.wa_id,
        "from_me": True, "emoji": "👍", "phone": "+447911123456"}
    assert first["id"].startswith("msg_") and first["push_name"] == "Ann" and first["at"]
    assert (second["message_id"], second["from_me"], second["emoji"]) == (
        received["id"], False, "❤️")
    assert (removed["message_id"], removed["emoji"]) == (message.id, None)
    kept = {d["wa_id"]: d for d in c.store.query("chat_messages")}
    assert kept["WR1"]["type"] == "reaction" and kept["WR1"]["message_id"] == first["id"]
    assert kept["WR1"]["content"]["target"] == {"wa_id": message.wa_id, "from_me": True}
    assert {"WR2", "WR3", "WIN1"} <= set(kept)
