from __future__ import annotations

import pytest

from device_runner.runner import Runner
from device_runner.sandbox import SandboxTransport
from device_runner.unavailable import UnavailableTransport
from shared import names
from shared.events import EventName
from tests.fakes import assert_error

ALICE, BOB, NOBODY = "+447400123401", "+447400123402", "+447400120000"  # NOBODY: not on WhatsApp


def create(api, device, **body) -> dict:
    body = {"subject": "Order 1042", "participants": [ALICE, BOB]} | body
    response = api.post(f"/v1/devices/{device['id']}/groups", json=body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


@pytest.fixture
def group(api, network, linked) -> dict:
    created = create(api, linked)
    network.drain()
    return api.get(f"/v1/devices/{linked['id']}/groups/{created['group']['id']}").get_json()


def test_create_group_answers_at_once_and_the_runner_makes_it(api, c, network, linked):
    created = create(api, linked, participants=[ALICE, BOB, NOBODY], description="Questions",
                     announce=True)
    group, op = created["group"], created["operation"]
    assert group["status"] == "creating" and group["wa_id"] is None
    assert op["status"] == "pending" and op["kind"] == "create" and op["group_id"] == group["id"]
    task = c.tasks.on(names.RUNNER_CONTROL_QUEUE)[-1]
    assert task.payload == {"device_id": linked["id"], "action": "group_operation",
                            "operation_id": op["id"]}
    network.drain()
    made = api.get(f"/v1/devices/{linked['id']}/groups/{group['id']}").get_json()
    me = SandboxTransport.phone_of(linked["id"])
    assert made["status"] == "active" and made["wa_id"].endswith("@g.us")
    assert (made["subject"], made["description"], made["announce"]) == ("Order 1042", "Questions", True)
    assert made["owner"] == me
    assert {(p["phone"], p["role"]) for p in made["participants"]} == {
        (me, "superadmin"), (ALICE, "member"), (BOB, "member")}
    assert made["invite_link"].startswith("https://chat.whatsapp.com/")
    done = api.get(f"/v1/devices/{linked['id']}/groups/{group['id']}/operations/{op['id']}").get_json()
    assert done["status"] == "succeeded" and done["completed_at"]
    assert done["participants"] == [{"phone": ALICE, "ok": True, "reason": None},
                                    {"phone": BOB, "ok": True, "reason": None},
                                    {"phone": NOBODY, "ok": False, "reason": "not_on_whatsapp"}]
    event = [e for e in c.bus.published if e.event == EventName.group_update][-1]
    assert event.data["operation"]["id"] == op["id"] and event.data["group"]["wa_id"] == made["wa_id"]
    # By its WhatsApp id too.
    assert api.get(f"/v1/devices/{linked['id']}/groups/{made['wa_id']}").get_json() == made


def test_a_repeated_task_applies_an_operation_once(api, c, network, linked):
    create(api, linked)
    network.drain()
    payload = c.tasks.on(names.RUNNER_CONTROL_QUEUE)[-1].payload
    network.runner.handle_device_task(payload)
    assert len(network.sandbox.network.groups.list(SandboxTransport.phone_of(linked["id"]))) == 1


def test_update_subject_description_and_announcement(api, network, linked, group):
    path = f"/v1/devices/{linked['id']}/groups/{group['id']}"
    op = api.patch(path, json={"subject": "Order 1042 (closed)", "announce": True})
    assert op.status_code == 202 and op.get_json()["kind"] == "update"
    network.drain()
    after = api.get(path).get_json()
    assert (after["subject"], after["announce"]) == ("Order 1042 (closed)", True)
    api.patch(path, json={"description": "Read only now"})
    network.drain()
    assert api.get(path).get_json()["description"] == "Read only now"
    api.patch(path, json={"description": ""})
    network.drain()
    assert api.get(path).get_json()["description"] is None


def test_participants_add_remove_promote_demote(api, network, linked, group):
    base = f"/v1/devices/{linked['id']}/groups/{group['id']}"
    me = SandboxTransport.phone_of(linked["id"])
    carol = "+447400123403"

    def run(action, phones):
        op = api.post(f"{base}/participants/{action}", json={"phones": phones})
        assert op.status_code == 202, op.get_json()
        network.drain()
        done = api.get(f"{base}/operations/{op.get_json()['id']}").get_json()
        assert done["status"] == "succeeded"
        return {r["phone"]: r["reason"] if not r["ok"] else "ok" for r in done["participants"]}

    assert run("add", [carol, ALICE, NOBODY]) == {carol: "ok", ALICE: "already_participant",
                                                  NOBODY: "not_on_whatsapp"}
    assert run("promote", [ALICE, ALICE, "+447400123499"]) == {ALICE: "ok",
                                                               "+447400123499": "not_participant"}
    assert run("promote", [ALICE]) == {ALICE: "already_admin"}
    assert run("demote", [BOB, me]) == {BOB: "not_admin", me: "not_allowed"}
    assert run("demote", [ALICE]) == {ALICE: "ok"}
    assert run("remove", [BOB, me]) == {BOB: "ok", me: "not_allowed"}
    roles = {p["phone"]: p["role"] for p in api.get(base).get_json()["participants"]}
    assert roles == {me: "superadmin", ALICE: "member", carol: "member"}


def test_invite_link_and_reset(api, network, linked, group):
    base = f"/v1/devices/{linked['id']}/groups/{group['id']}"
    first = api.get(f"{base}/invite").get_json()["url"]
    assert first == group["invite_link"]
    assert api.post(f"{base}/invite/reset").status_code == 202
    network.drain()
    second = api.get(f"{base}/invite").get_json()["url"]
    assert second.startswith("https://chat.whatsapp.com/") and second != first


def test_a_participant_device_sees_the_group_after_a_sync_but_is_no_admin(api, c, network, linked):
    other = api.post("/v1/devices", json={"alias": "second"}).get_json()
    network.drain()
    other_phone = SandboxTransport.phone_of(other["id"])
    created = create(api, linked, participants=[other_phone])
    network.drain()
    listing = api.get(f"/v1/devices/{other['id']}/groups").get_json()["data"]
    assert listing == []  # the listing queued a sync
    network.drain()
    listing = api.get(f"/v1/devices/{other['id']}/groups").get_json()["data"]
    assert len(listing) == 1
    mirrored = listing[0]
    assert mirrored["id"] != created["group"]["id"]  # each device has its own mirror
    assert mirrored["invite_link"] is None
    assert_error(api.get(f"/v1/devices/{other['id']}/groups/{mirrored['id']}/invite"), 409,
                 "not_group_admin")
    op = api.patch(f"/v1/devices/{other['id']}/groups/{mirrored['id']}", json={"subject": "mine"})
    network.drain()
    failed = api.get(f"/v1/devices/{other['id']}/groups/{mirrored['id']}/operations/"
                     f"{op.get_json()['id']}").get_json()
    assert (failed["status"], failed["failure_reason"]) == ("failed", "not_group_admin")
    # Removed from the group, the device's next sync forgets it.
    api.post(f"/v1/devices/{linked['id']}/groups/{created['group']['id']}/participants/remove",
             json={"phones": [other_phone]})
    network.drain()
    assert api.post(f"/v1/devices/{other['id']}/groups/sync").status_code == 202
    network.drain()
    assert api.get(f"/v1/devices/{other['id']}/groups").get_json()["data"] == []


def test_a_participant_known_only_by_lid_is_kept_with_phone_null(api, c, network, linked,
                                                                   group):
    lid = "207435312347202@lid"
    network.sandbox.network.groups.join_anonymously(group["wa_id"], lid)
    assert api.post(f"/v1/devices/{linked['id']}/groups/sync").status_code == 202
    network.drain()
    synced = api.get(f"/v1/devices/{linked['id']}/groups/{group['id']}").get_json()
    assert {"phone": None, "lid": lid, "role": "member"} in synced["participants"]
    assert {"phone": ALICE, "lid": None, "role": "member"} in synced["participants"]


def test_listing_syncs_at_most_every_few_minutes(api, c, network, linked):
    api.get(f"/v1/devices/{linked['id']}/groups")
    network.drain()
    before = len(c.tasks.on(names.RUNNER_CONTROL_QUEUE))
    api.get(f"/v1/devices/{linked['id']}/groups")
    assert len(c.tasks.on(names.RUNNER_CONTROL_QUEUE)) == before
    c.clock.advance(301)
    api.get(f"/v1/devices/{linked['id']}/groups")
    assert len(c.tasks.on(names.RUNNER_CONTROL_QUEUE)) == before + 1


def test_group_changes_need_a_connected_device(api, c, device):
    c.store.update("devices", device["id"], {"status": "disconnected"})
    assert_error(api.post(f"/v1/devices/{device['id']}/groups",
                          json={"subject": "x", "participants": [ALICE]}), 409, "device_not_connected")


def test_a_transport_without_groups_fails_the_operation(api, c, device):
    c.store.update("devices", device["id"], {"transport": "whatsapp"})
    runner = Runner(c, {"sandbox": SandboxTransport(), "whatsapp": UnavailableTransport("no build")})
    try:
        created = create(api, device)
        runner.handle_device_task(c.tasks.on(names.RUNNER_CONTROL_QUEUE)[-1].payload)
        group = api.get(f"/v1/devices/{device['id']}/groups/{created['group']['id']}").get_json()
        assert (group["status"], group["failure_reason"]) == ("failed", "transport_error")
        c.store.update("devices", device["id"], {"status": "connected"})
        assert_error(api.post(f"/v1/devices/{device['id']}/groups/{group['id']}/participants/add",
                              json={"phones": [ALICE]}), 409, "group_not_active")
    finally:
        runner.stop()


@pytest.mark.parametrize("body", [
    {"subject": "", "participants": [ALICE]},
    {"subject": "x" * 101, "participants": [ALICE]},
    {"subject": "x", "participants": []},
    {"subject": "x", "participants": ["not a phone"]},
    {"subject": "x", "participants": [ALICE] * 257},
    {"subject": "x", "participants": [ALICE], "description": "d" * 2049},
    {"participants": [ALICE]},
    {"subject": "x", "participants": [ALICE], "admins": [ALICE]},
])
def test_bad_group_requests(api, device, body):
    assert_error(api.post(f"/v1/devices/{device['id']}/groups", json=body), 422)


def test_bad_participant_requests(api, network, linked, group):
    base = f"/v1/devices/{linked['id']}/groups/{group['id']}/participants"
    assert_error(api.post(f"{base}/add", json={"phones": []}), 422)
    assert_error(api.post(f"{base}/add", json={"phones": ["123"]}), 422)
    assert_error(api.post(f"{base}/add", json={"phones": [ALICE] * 101}), 422)
    assert_error(api.post(f"{base}/kick", json={"phones": [ALICE]}), 404)


def test_groups_of_another_account_are_not_found(api, network, linked, group, new_account):
    other = new_account("Other").api
    base = f"/v1/devices/{linked['id']}/groups"
    assert_error(other.get(base), 404)
    assert_error(other.get(f"{base}/{group['id']}"), 404)
    assert_error(other.post(f"{base}/{group['id']}/participants/add", json={"phones": [ALICE]}), 404)
    assert_error(api.get(f"{base}/grp_nope"), 404)
    assert_error(api.get(f"{base}/123@g.us"), 404)


def test_a_group_chat_is_named_by_the_group_subject_and_follows_it(api, c, network, linked, group):
    from shared.services import chats as chat_service

    account_id = c.store.get("devices", linked["id"])["account_id"]
    chat_service.record_inbound(c.store, c.clock, account_id, linked["id"], {
        "id": "msg_g1", "wa_id": "WA-G1", "phone": ALICE, "chat": group["wa_id"],
        "message": "When does it ship?", "received_at": c.clock.now(), "push_name": "Alice"})
    base = f"/v1/devices/{linked['id']}/chats"
    assert api.get(f"{base}/{group['wa_id']}").get_json()["name"] == "Order 1042"  # not Alice
    api.patch(f"/v1/devices/{linked['id']}/groups/{group['id']}", json={"subject": "Order 1042 shipped"})
    network.drain()
    assert api.get(f"{base}/{group['wa_id']}").get_json()["name"] == "Order 1042 shipped"
    found = api.get(f"{base}?search=shipped").get_json()["data"]
    assert [chat["id"] for chat in found] == [group["wa_id"]]
