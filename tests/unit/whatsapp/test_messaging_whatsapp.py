"""Messaging part 2 over the WhatsApp adapter (the neonize stand-in, neonize's real
types): polls go out as WhatsApp's poll creation and votes come back decrypted by
neonize into message:poll:vote."""

from __future__ import annotations

import hashlib

from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, PollUpdateMessage

from shared.content import Poll
from shared.services.messages import send_message
from tests.fakes import status_of
from tests.fakes import wait_until as _wait_until
from tests.unit.whatsapp.test_runner_whatsapp import linked_device, setup, world  # noqa: F401


def wait_until(predicate, timeout: float = 15.0, message: str = "condition"):
    """A longer bound than the default: these wait on runner threads, on loaded machines."""
    return _wait_until(predicate, timeout, message)


def _sent_poll(c, runner, account, device, client, multiple=False):
    poll = Poll(question="Which day?", options=["Mon", "Tue", "Wed"], multiple=multiple)
    message, _ = send_message(c, account, phone="+447911123456", content=poll,
                              device_id=device.id)
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent", message="the poll sent")
    return message


def test_a_poll_goes_out_as_whatsapps_poll_and_its_votes_come_back(setup, world):  # noqa: F811
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    message = _sent_poll(c, runner, account, device, client)
    [(to, sent)] = client.sent
    poll = sent.pollCreationMessage
    assert to.User == "447911123456" and poll.name == "Which day?"
    assert [o.optionName for o in poll.options] == ["Mon", "Tue", "Wed"]
    assert poll.selectableOptionsCount == 1  # a single choice
    assert len(sent.messageContextInfo.messageSecret) == 32
    server_id = c.store.get("wa_sent", message.wa_id)["server_id"]

    world.poll_votes["VOTE1"] = [hashlib.sha256(b"Tue").digest()]
    client.deliver(Message(pollUpdateMessage=PollUpdateMessage(
        pollCreationMessageKey=MessageKey(ID=server_id, fromMe=True))),
        sender="+447911123456", wa_id="VOTE1")
    [event] = [e for e in c.bus.published if e.event == "message:poll:vote"]
    assert event.data["message_id"] == message.id and event.data["options"] == ["Tue"]
    assert event.data["phone"] == "+447911123456"
    assert c.store.get("messages", message.id)["poll_results"] == {
        "votes": {"Mon": 0, "Tue": 1, "Wed": 0}, "voters": 1}


def test_a_vote_on_someone_elses_poll_is_ignored(setup, world):  # noqa: F811
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    client.deliver(Message(pollUpdateMessage=PollUpdateMessage(
        pollCreationMessageKey=MessageKey(ID="3EB0THEIRS", fromMe=False))),
        sender="+447911123456", wa_id="VOTE2")
    assert not [e for e in c.bus.published if e.event.startswith("message:")]


def test_edit_and_revoke_go_to_neonize_on_whatsapps_id(setup, world):  # noqa: F811
    from shared.services import message_changes
    from tests.unit.messaging.test_message_changes import InProcessRpc

    c, runner, _ = setup
    c.__dict__["runner_rpc"] = InProcessRpc(runner)
    account, device, client = linked_device(c, runner, world)
    message, _ = send_message(c, account, phone="+447911123456", text="old",
                              device_id=device.id)
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent", message="sent")
    server_id = c.store.get("wa_sent", message.wa_id)["server_id"]
    message_changes.edit(c, account, message.id, "new")
    [(chat, edited_id, new)] = client.edits
    assert (chat.User, edited_id, new.conversation) == ("447911123456", server_id, "new")
    message_changes.revoke(c, account, message.id)
    [(chat, sender, revoked_id)] = client.revokes
    assert (chat.User, revoked_id) == ("447911123456", server_id)
    assert sender.User == "34600555111"  # the device itself


def test_a_contacts_edit_and_deletion_arrive_as_events(setup, world):  # noqa: F811
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ProtocolMessage

    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    client.deliver(Message(conversation="first words"), sender="+447911123456", wa_id="IN1")
    client.deliver(Message(protocolMessage=ProtocolMessage(
        key=MessageKey(ID="IN1"), type=ProtocolMessage.Type.MESSAGE_EDIT,
        editedMessage=Message(conversation="better words"))),
        sender="+447911123456", wa_id="IN1-EDIT")
    client.deliver(Message(protocolMessage=ProtocolMessage(
        key=MessageKey(ID="IN1"), type=ProtocolMessage.Type.REVOKE)),
        sender="+447911123456", wa_id="IN1-REVOKE")
    [edited] = [e for e in c.bus.published if e.event == "message:in:edited"]
    assert edited.data["message"] == "better words" and edited.data["wa_id"] == "IN1"
    assert [e.data["wa_id"] for e in c.bus.published if e.event == "message:in:revoked"] == ["IN1"]
    entry = c.store.get("chat_messages", f"{device.id}:IN1")
    assert entry["message"] == "better words" and entry["edited_at"] and entry["revoked_at"]


def test_read_receipts_and_typing_go_through_neonize(setup, world):  # noqa: F811
    from neonize.utils.enum import ChatPresence, ReceiptType

    from shared.services import chat_read
    from tests.unit.messaging.test_message_changes import InProcessRpc

    c, runner, _ = setup
    c.__dict__["runner_rpc"] = InProcessRpc(runner)
    account, device, client = linked_device(c, runner, world)
    client.deliver(Message(conversation="hi"), sender="+447911123456", wa_id="IN_A")
    client.deliver(Message(conversation="anyone?"), sender="+447911123456", wa_id="IN_B")
    chat, marked = chat_read.mark_read(c, account, device.id, "+447911123456")
    assert marked == 2 and chat.unread == 0
    [(jid, sender, ids, receipt)] = client.reads
    assert (jid.User, sender.User, sorted(ids), receipt) == (
        "447911123456", "447911123456", ["IN_A", "IN_B"], ReceiptType.READ)
    message, _ = send_message(c, account, phone="+447911123456", text="typed", typing=2,
                              device_id=device.id)
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent", message="sent")
    assert [state for _, state, _ in client.presences] == [
        ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresence.CHAT_PRESENCE_PAUSED]


def test_forwards_and_replies_carry_their_context_to_neonize(setup, world):  # noqa: F811
    from shared.services import message_forwarding

    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    first, _ = send_message(c, account, phone="+447911123456", text="Which size?",
                            device_id=device.id)
    reply, _ = send_message(c, account, phone="+447911123456", text="Medium",
                            quote=first.id, device_id=device.id)
    copy, _ = message_forwarding.forward(c, account, first.id, phone="+447911123457")
    for message in (first, reply, copy):
        runner.handle_message_task(message.id)
    wait_until(lambda: len(client.sent) == 3, message="all three sent")
    by_text = {m.extendedTextMessage.text or m.conversation: m for _, m in client.sent}
    quoted = by_text["Medium"].extendedTextMessage.contextInfo
    server_id = c.store.get("wa_sent", first.wa_id)["server_id"]  # WhatsApp's id for it
    assert quoted.stanzaID == server_id and quoted.quotedMessage.conversation == "Which size?"
    forwarded = [m for to, m in client.sent if to.User == "447911123457"][0]
    assert forwarded.extendedTextMessage.contextInfo.isForwarded
    assert forwarded.extendedTextMessage.text == "Which size?"


def test_a_text_status_goes_to_status_broadcast_on_its_colour(setup, world):  # noqa: F811
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    post, _ = send_message(c, account, text="Open on Sunday", device_id=device.id,
                           status_post=True, background="#128C7E")
    runner.handle_message_task(post.id)
    wait_until(lambda: status_of(c, post.id) == "sent", message="posted")
    [(to, sent)] = client.sent
    assert (to.User, to.Server) == ("status", "broadcast")
    assert sent.extendedTextMessage.text == "Open on Sunday"
    assert sent.extendedTextMessage.backgroundArgb == 0xFF128C7E
    assert world.number_checks == []  # no number to check


def test_lids_from_neonize_keep_one_chat_and_can_be_sent_to(setup, world):  # noqa: F811
    c, runner, _ = setup
    account, device, client = linked_device(c, runner, world)
    lid, phone = "207435312347202@lid", "+447911123456"
    client.deliver(Message(conversation="with my number"), sender=phone, wa_id="L1", lid=lid)
    client.deliver(Message(conversation="by my lid alone"), sender=phone, wa_id="L2", lid=lid,
                   hide_number=True)
    world.lid_numbers["5550001112223"] = "+447911123499"  # only whatsmeow knows this one
    client.deliver(Message(conversation="whatsmeow knows me"), sender="+447911123499",
                   wa_id="L3", lid="5550001112223@lid", hide_number=True)
    client.deliver(Message(conversation="nobody knows me"), sender="+447911123498",
                   wa_id="L4", lid="999888777666@lid", hide_number=True)
    events = [e.data for e in c.bus.published if e.event == "message:in:new"]
    assert [(e["phone"], e["lid"]) for e in events] == [
        (phone, lid), (phone, lid), ("+447911123499", "5550001112223@lid"),
        ("999888777666@lid", "999888777666@lid")]
    message, _ = send_message(c, account, phone="999888777666@lid", text="hello stranger",
                              device_id=device.id)
    runner.handle_message_task(message.id)
    wait_until(lambda: status_of(c, message.id) == "sent", message="sent")
    [(to, _)] = client.sent
    assert (to.User, to.Server) == ("999888777666", "lid")
