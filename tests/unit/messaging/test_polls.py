"""Polls on the sandbox: sent, voted on through the sandbox's vote action (as WhatsApp
carries votes: the hashes of the options), tallied on the message with a
message:poll:vote event per vote; a new vote replaces the voter's last one. Bad polls and
bad votes are 4xx."""

from __future__ import annotations

import pytest

from shared.content import Poll
from tests.fakes import assert_error
from tests.fakes import wait_until as _wait_until
from tests.unit.messaging.helpers import OTHER, PHONE, connected_sandbox


def wait_until(predicate, timeout: float = 15.0, message: str = "condition"):
    """A longer bound than the default: these wait on runner threads, on loaded machines."""
    return _wait_until(predicate, timeout, message)


POLL = {"question": "Which day suits you?", "options": ["Mon", "Tue", "Wed"]}


@pytest.fixture
def sent_poll(api, dev, c):
    """A poll sent by a sandbox runner; its runner handles the control tasks by hand."""
    runner, network = connected_sandbox(c, dev)
    made = {}

    def send(poll=POLL):
        body = api.send(phone=PHONE, poll=poll).get_json()
        runner.handle_message_task(body["id"])
        wait_until(lambda: c.store.get("messages", body["id"])["status"] == "sent",
                   message="the poll sent")
        made["body"] = body
        return body

    yield send, runner, network
    runner.stop()


def vote(api, c, runner, dev, poll_id, phone, options):
    response = api.post(f"/v1/devices/{dev}/sandbox/poll-vote",
                        json={"message": poll_id, "phone": phone, "options": options})
    assert response.status_code == 202, response.get_json()
    for task in [t for t in c.tasks.tasks if t.payload.get("action") == "sandbox_poll_vote"]:
        runner.handle_device_task(task.payload)
    c.tasks.tasks[:] = [t for t in c.tasks.tasks
                        if t.payload.get("action") != "sandbox_poll_vote"]


def test_votes_are_events_and_the_poll_keeps_the_tally(api, dev, c, sent_poll):
    send, runner, network = sent_poll
    poll = send()
    assert poll["type"] == "poll" and poll["message"] == "Which day suits you?"
    wa_id = c.store.get("messages", poll["id"])["wa_id"]
    assert network.contents[wa_id] == Poll(**POLL)
    vote(api, c, runner, dev, poll["id"], PHONE, ["Tue"])
    vote(api, c, runner, dev, poll["id"], OTHER, ["Tue"])
    vote(api, c, runner, dev, poll["id"], PHONE, ["Wed"])  # changes their vote
    got = api.get(f"/v1/messages/{poll['id']}").get_json()
    assert got["poll_results"] == {"votes": {"Mon": 0, "Tue": 1, "Wed": 1}, "voters": 2}
    events = [e for e in c.bus.published if e.event == "message:poll:vote"]
    assert [(e.data["phone"], e.data["options"]) for e in events] == [
        (PHONE, ["Tue"]), (OTHER, ["Tue"]), (PHONE, ["Wed"])]
    assert events[-1].data["message_id"] == poll["id"]
    assert events[-1].data["poll_results"] == got["poll_results"]
    vote(api, c, runner, dev, poll["id"], OTHER, [])  # withdrawn
    assert api.get(f"/v1/messages/{poll['id']}").get_json()["poll_results"] == {
        "votes": {"Mon": 0, "Tue": 0, "Wed": 1}, "voters": 1}


def test_a_repeated_vote_event_is_filed_once(api, dev, c, sent_poll):
    send, runner, _ = sent_poll
    poll = send(POLL | {"multiple": True})
    vote(api, c, runner, dev, poll["id"], PHONE, ["Mon", "Wed"])
    task = {"device_id": dev, "action": "sandbox_poll_vote", "phone": PHONE, "options": ["Mon"],
            "poll_wa_id": c.store.get("messages", poll["id"])["wa_id"], "wa_id": "WA_VOTE_1"}
    runner.handle_device_task(task)
    runner.handle_device_task(task)  # redelivered
    assert len([e for e in c.bus.published if e.event == "message:poll:vote"]) == 2
    assert api.get(f"/v1/messages/{poll['id']}").get_json()["poll_results"]["votes"] == {
        "Mon": 1, "Tue": 0, "Wed": 0}


@pytest.mark.parametrize("poll", [
    {"question": "Q", "options": ["only one"]},
    {"question": "Q", "options": [f"o{i}" for i in range(13)]},
    {"question": "Q", "options": ["same", "same"]},
    {"question": "Q", "options": ["a", ""]},
    {"question": "Q", "options": ["a", "x" * 101]},
    {"question": "", "options": ["a", "b"]},
    {"question": "Q", "options": ["a", "b"], "multiple": "yes"},
    {"options": ["a", "b"]},
    {"question": "Q", "options": ["a", "b"], "anonymous": True}])
def test_bad_polls_are_422(api, dev, poll):
    assert_error(api.send(phone=PHONE, poll=poll), 422)


def test_bad_votes_are_4xx(api, dev, c, sent_poll):
    send, _, _ = sent_poll
    poll = send()
    text = api.send(phone=PHONE, message="hi").get_json()
    queued = api.send(phone=PHONE, poll=POLL).get_json()  # not sent: no runner task run
    path = f"/v1/devices/{dev}/sandbox/poll-vote"
    for body, status, code in [
            ({"message": poll["id"], "phone": PHONE, "options": ["Fri"]}, 422, "unknown_option"),
            ({"message": poll["id"], "phone": PHONE, "options": ["Mon", "Tue"]}, 422,
             "single_choice_poll"),
            ({"message": text["id"], "phone": PHONE, "options": []}, 422, "not_a_poll"),
            ({"message": queued["id"], "phone": PHONE, "options": ["Mon"]}, 409, "poll_not_sent"),
            ({"message": "msg_00000000000000000000", "phone": PHONE, "options": []}, 404, None),
            ({"message": poll["id"], "phone": "12", "options": []}, 422, None),
            ({"message": poll["id"], "phone": PHONE}, 422, None)]:
        assert_error(api.post(path, json=body), status, code)
    whatsapp = api.post("/v1/devices", json={"transport": "whatsapp"}).get_json()["id"]
    assert_error(api.post(f"/v1/devices/{whatsapp}/sandbox/poll-vote", json={
        "message": poll["id"], "phone": PHONE, "options": []}), 400)


def test_a_vote_by_a_contact_known_by_lid_carries_it(api, dev, c, sent_poll):
    import hashlib
    from datetime import UTC, datetime

    from shared.ports import Inbound

    send, runner, _ = sent_poll
    poll = send()
    wa_id = c.store.get("messages", poll["id"])["wa_id"]
    lid = "207435312347202@lid"
    runner.on_inbound(dev, Inbound(
        wa_id="WA_VOTE_LID", sender=lid, lid=lid, text="", at=datetime.now(UTC),
        type="poll_vote", content={"poll_wa_id": wa_id,
                                   "option_hashes": [hashlib.sha256(b"Tue").hexdigest()]}))
    [vote] = [e.data for e in c.bus.published if e.event == "message:poll:vote"]
    assert (vote["phone"], vote["lid"], vote["options"]) == (lid, lid, ["Tue"])
