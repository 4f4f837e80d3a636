"""Groups on a real WhatsApp device: the adapter over neonize's group calls, driven by the
neonize stand-in answering neonize's real GroupInfo / GroupParticipant protobufs."""

from __future__ import annotations

import pytest
from neonize.proto.Neonize_pb2 import JID, GroupInfo, GroupName, GroupParticipant, GroupTopic

from device_runner import groups
from device_runner.transport import GroupAction, GroupError, ParticipantChange
from device_runner.whatsapp import group_convert, jids
from shared.inbox import GroupFailure, GroupRole, ParticipantFailure
from tests.neonize_standin import user
from tests.unit.whatsapp.test_adapter import (  # noqa: F401 (fixtures)
    DEVICE,
    RecordingListener,
    connected,
    make,
    store,
    world,
)

ME = "+34600555111"
ANN, BOB, NOBODY = "+447911123456", "+447911654321", "+447911120000"  # ...0000: not on WhatsApp


def test_converting_neonizes_group_info_to_the_ports():
    raw = GroupInfo(
        JID=JID(User="120363000000000001", Server="g.us"),
        OwnerJID=JID(User="99887766", Server="lid"), OwnerPN=user(ME),
        GroupName=GroupName(Name="Anvils"), GroupTopic=GroupTopic(Topic="Heavy things"),
        Participants=[
            GroupParticipant(JID=user(ME), IsAdmin=True, IsSuperAdmin=True),
            GroupParticipant(JID=JID(User="123", Server="lid"), PhoneNumber=user(ANN), IsAdmin=True),
            GroupParticipant(JID=user(BOB)),
            GroupParticipant(JID=JID(User="456", Server="lid")),  # no phone known: by its LID
        ])
    raw.GroupAnnounce.IsAnnounce = True
    info = group_convert.group_info(raw, invite="https://chat.whatsapp.com/AbCd123")
    assert info.wa_id == "120363000000000001@g.us"
    assert (info.subject, info.description, info.announce, info.owner) == (
        "Anvils", "Heavy things", True, ME)
    assert info.participants == ((ME, GroupRole.superadmin), (ANN, GroupRole.admin),
                                 (BOB, GroupRole.member), ("456@lid", GroupRole.member))
    assert info.lids == ((ANN, "123@lid"), ("456@lid", "456@lid"))
    assert groups.state(info)["participants"][1:] == [
        {"phone": ANN, "lid": "123@lid", "role": "admin"},
        {"phone": BOB, "lid": None, "role": "member"},
        {"phone": None, "lid": "456@lid", "role": "member"}]
    assert info.invite_code == "AbCd123"
    deleted = GroupInfo(JID=raw.JID, GroupTopic=GroupTopic(Topic="old", TopicDeleted=True))
    assert group_convert.group_info(deleted).description is None


def test_participant_outcomes_and_errors_from_whatsapps_answer():
    answered = [GroupParticipant(JID=user(ANN)), GroupParticipant(JID=user(BOB), Error=409),
                GroupParticipant(JID=user("+447911000001"), Error=403)]
    assert group_convert.participant_changes([ANN, BOB, "+447911000001", "+447911000002", ANN], answered) == [
        ParticipantChange(ANN, True),
        ParticipantChange(BOB, False, ParticipantFailure.already_participant),
        ParticipantChange("+447911000001", False, ParticipantFailure.not_allowed),
        ParticipantChange("+447911000002", False, ParticipantFailure.not_allowed),  # not answered
    ]
    assert group_convert.group_failure(RuntimeError("info query returned status 404: item-not-found")) \
        == GroupFailure.group_not_found
    assert group_convert.group_failure(RuntimeError("status 403: forbidden")) == GroupFailure.not_group_admin
    assert group_convert.group_failure(RuntimeError("websocket closed")) == GroupFailure.transport_error


def test_create_a_group_then_read_it_and_list_joined_groups(make, world):  # noqa: F811
    transport, _, _ = connected(make, world)
    world.participant_errors["447911654321"] = 403  # Bob's privacy settings refuse the add
    info, changes = transport.create_group(DEVICE, "Anvils", [ANN, BOB, NOBODY, ME])
    assert world.group_calls[0] == ("create_group", "Anvils", ["447911123456", "447911654321"])
    assert changes == [ParticipantChange(ANN, True),
                       ParticipantChange(BOB, False, ParticipantFailure.not_allowed),
                       ParticipantChange(NOBODY, False, ParticipantFailure.not_on_whatsapp)]
    assert info.wa_id.endswith("@g.us") and info.subject == "Anvils" and info.owner == ME
    assert info.participants == ((ME, GroupRole.superadmin), (ANN, GroupRole.member))
    assert info.invite_code == "FIRST0001"  # the device is an admin: its invite code
    assert transport.get_group(DEVICE, info.wa_id) == info
    assert transport.list_groups(DEVICE) == [info]


def test_update_subject_description_and_announcement_mode(make, world):  # noqa: F811
    transport, _, _ = connected(make, world)
    info, _ = transport.create_group(DEVICE, "Anvils", [ANN])
    world.group_calls.clear()
    updated = transport.update_group(DEVICE, info.wa_id, subject="Big anvils",
                                     description="Heavy things", announce=True)
    assert (updated.subject, updated.description, updated.announce) == (
        "Big anvils", "Heavy things", True)
    group = info.wa_id.split("@")[0]
    calls = [c for c in world.group_calls if c[0].startswith("set_")]
    assert calls == [("set_group_name", group, "Big anvils"),
                     ("set_group_topic", group, "", "", "Heavy things"),
                     ("set_group_announce", group, True)]
    world.group_calls.clear()
    transport.update_group(DEVICE, info.wa_id, subject="Big anvils")  # unchanged: no call
    assert not [c for c in world.group_calls if c[0].startswith("set_")]
    cleared = transport.update_group(DEVICE, info.wa_id, description="")
    assert cleared.description is None


def test_add_remove_promote_demote_with_whatsapps_rules(make, world):  # noqa: F811
    transport, _, _ = connected(make, world)
    info, _ = transport.create_group(DEVICE, "Anvils", [ANN])
    wa_id = info.wa_id
    assert transport.change_participants(DEVICE, wa_id, GroupAction.add, [BOB, ANN, NOBODY]) == [
        ParticipantChange(BOB, True),
        ParticipantChange(ANN, False, ParticipantFailure.already_participant),
        ParticipantChange(NOBODY, False, ParticipantFailure.not_on_whatsapp)]
    assert transport.change_participants(DEVICE, wa_id, GroupAction.promote, [ANN, ME]) == [
        ParticipantChange(ANN, True), ParticipantChange(ME, False, ParticipantFailure.not_allowed)]
    assert transport.change_participants(DEVICE, wa_id, GroupAction.promote, [ANN]) == [
        ParticipantChange(ANN, False, ParticipantFailure.already_admin)]
    assert transport.change_participants(DEVICE, wa_id, GroupAction.demote, [ANN, BOB]) == [
        ParticipantChange(ANN, True), ParticipantChange(BOB, False, ParticipantFailure.not_admin)]
    assert transport.change_participants(DEVICE, wa_id, GroupAction.remove, [BOB, NOBODY]) == [
        ParticipantChange(BOB, True),
        ParticipantChange(NOBODY, False, ParticipantFailure.not_participant)]
    actions = [c[2:] for c in world.group_calls if c[0] == "update_group_participants"]
    assert actions == [(["447911654321"], "add"), (["447911123456"], "promote"),
                       (["447911123456"], "demote"), (["447911654321"], "remove")]
    assert dict(transport.get_group(DEVICE, wa_id).participants) == {
        ANN: GroupRole.member, ME: GroupRole.superadmin}


def test_reset_the_invite_link(make, world):  # noqa: F811
    transport, _, _ = connected(make, world)
    info, _ = transport.create_group(DEVICE, "Anvils", [])
    code = transport.reset_invite(DEVICE, info.wa_id)
    assert code.startswith("NEW") and code != info.invite_code
    assert transport.get_group(DEVICE, info.wa_id).invite_code == code


def test_group_failures(make, world):  # noqa: F811
    transport, _, client = connected(make, world)
    with pytest.raises(GroupError) as missing:
        transport.get_group(DEVICE, "120363999999999999@g.us")
    assert missing.value.reason == GroupFailure.group_not_found
    other = world.create_group(user(ANN), "Not ours", [client.me])  # we are a member only
    wa_id = jids.jid_text(other.JID)
    assert transport.get_group(DEVICE, wa_id).invite_code is None
    for call in (lambda: transport.update_group(DEVICE, wa_id, subject="x"),
                 lambda: transport.change_participants(DEVICE, wa_id, GroupAction.add, [BOB]),
                 lambda: transport.reset_invite(DEVICE, wa_id)):
        with pytest.raises(GroupError) as refused:
            call()
        assert refused.value.reason == GroupFailure.not_group_admin
    transport.disconnect(DEVICE)
    with pytest.raises(GroupError) as offline:
        transport.list_groups(DEVICE)
    assert offline.value.reason == GroupFailure.device_not_connected
