"""The queue as its owner sees and steers it: the listing (order, positions, expected
times), pause and resume (kept across a runner restart, honoured before the runner hears
of it), clear (one event each; racing a send: nothing twice, nothing lost) and
expires_at (never late: in the queue, and while no runner held the device)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from device_runner.sandbox import SandboxTransport
from tests.fakes import assert_error, message_events
from tests.fakes import wait_until as _wait_until
from tests.unit.messaging.helpers import PHONE, Timer, connect, make_api, status


def wait_until(predicate, timeout: float = 15.0, message: str = "condition"):
    """A longer bound than the default: these wait on runner threads, on loaded machines."""
    return _wait_until(predicate, timeout, message)


T0 = "2026-01-01T00:00:00Z"


def at(seconds: float) -> str:
    return f"2026-01-01T00:{int(seconds) // 60:02d}:{int(seconds) % 60:02d}Z"


def queue(api, dev, **params):
    response = api.get(f"/v1/devices/{dev}/queue", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_listing_is_the_send_order_with_expected_times(api, dev, c):
    sent = {name: api.send(phone=PHONE, message=name, priority=priority, **extra).get_json()["id"]
            for name, priority, extra in [
                ("low", "low", {}), ("normal", "normal", {}), ("urgent", "urgent", {}),
                ("scheduled", "normal", {"deliver_at": at(10)}),
                ("expiring", "low", {"expires_at": at(5)})]}
    # sent after "low" (the test's clock stands still; the order of equal times is the ids')
    later = c.store.get("messages", sent["low"])["created_at"] + timedelta(microseconds=1)
    c.store.update("messages", sent["expiring"], {"created_at": later})
    listing = queue(api, dev)  # 15 a minute: one every 4 seconds
    assert listing["total"] == 5 and listing["paused"] is False
    assert listing["delivery_speed"] == 15
    rows = [(r["message"], r["position"], r["expected_at"]) for r in listing["data"]]
    assert rows == [("urgent", 1, at(0)), ("normal", 2, at(4)), ("low", 3, at(8)),
                    ("scheduled", 4, at(12)), ("expiring", None, None)]
    assert listing["data"][0]["id"] == sent["urgent"]
    first = queue(api, dev, limit=2)
    assert [r["message"] for r in first["data"]] == ["urgent", "normal"]
    page = queue(api, dev, limit=2, cursor=first["next_cursor"])
    assert [(r["message"], r["position"], r["expected_at"]) for r in page["data"]] == [
        ("low", 3, at(8)), ("scheduled", 4, at(12))]
    assert page["total"] == 5
    last = queue(api, dev, limit=2, cursor=page["next_cursor"])
    assert [(r["message"], r["position"]) for r in last["data"]] == [("expiring", None)]
    assert last["next_cursor"] is None and listing["next_cursor"] is None


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"cursor": "nope"},
                                    {"cursor": "W10"}, {"limit": "many"}, {"order": "asc"},
                                    {"offset": 1}])
def test_bad_listing_parameters_are_422(api, dev, params):
    assert_error(api.get(f"/v1/devices/{dev}/queue", query_string=params), 422)


def test_another_accounts_queue_is_not_found(api, dev, c):
    other = make_api(c, name="Other Ltd", email=None)
    for method, path in [("GET", ""), ("POST", "/pause"), ("POST", "/resume"), ("DELETE", "")]:
        assert_error(other.call(method, f"/v1/devices/{dev}/queue{path}"), 404)
    assert_error(api.get("/v1/devices/dev_00000000000000000000/queue"), 404)


@pytest.mark.parametrize("expires_at, deliver_at", [
    ("2025-12-31T23:59:00Z", None),  # in the past
    (at(30), at(60)),  # before it may be sent
    ("2026-01-01T00:00:00", None),  # no zone
    ("soon", None)])
def test_an_expiry_that_could_never_be_met_is_422(api, dev, expires_at, deliver_at):
    body = {"phone": PHONE, "message": "code 1234", "expires_at": expires_at}
    body |= {"deliver_at": deliver_at} if deliver_at else {}
    assert_error(api.send(**body), 422)
    assert api.get("/v1/messages").get_json()["data"] == []


def test_paused_nothing_goes_out_and_everything_stays_across_a_restart(api, dev, c, runner_for,
                                                                          network):
    state = api.post(f"/v1/devices/{dev}/queue/pause").get_json()
    assert state["paused"] is True and state["paused_at"] == T0
    assert api.post(f"/v1/devices/{dev}/queue/pause").get_json() == state  # no change
    ids = [api.send(phone=PHONE, message=f"m{i}").get_json()["id"] for i in range(3)]
    ids.append(api.send(phone=PHONE, message="due", deliver_at=at(1)).get_json()["id"])
    runner, timer = runner_for()
    connect(runner, timer, dev)
    for message_id in ids:
        runner.handle_message_task(message_id)
    c.clock.advance(5)  # the scheduled one is due: it waits too
    threading.Event().wait(0.2)
    assert network.send_attempts == [] and all(status(c, i) == "queued" for i in ids)
    listing = queue(api, dev)
    assert listing["paused"] and listing["total"] == 4
    assert all(r["expected_at"] is None for r in listing["data"])

    runner.stop()  # a restart: the pause is the device's, not the process's
    again, timer = runner_for()
    connect(again, timer, dev)
    threading.Event().wait(0.2)
    assert network.send_attempts == []

    assert api.post(f"/v1/devices/{dev}/queue/resume").get_json()["paused"] is False
    again.handle_device_task({"device_id": dev, "action": "refresh"})  # the resume's task
    again.sessions[dev].set_speed(60_000)
    wait_until(lambda: all(status(c, i) == "sent" for i in ids), message="all sent")
    assert sorted(network.send_attempts) == sorted(set(network.send_attempts))
    names = [e.event for e in c.bus.published if e.event.startswith("device:queue")]
    assert names == ["device:queue:paused", "device:queue:resumed"]


def test_a_pause_holds_before_the_runner_hears_of_it(api, dev, c, runner_for, network):
    runner, timer = runner_for()
    session = connect(runner, timer, dev)
    api.post(f"/v1/devices/{dev}/queue/pause")  # its refresh task is not delivered
    assert session.paused is False
    body = api.send(phone=PHONE, message="hold").get_json()
    runner.handle_message_task(body["id"])
    wait_until(lambda: session.paused, message="the session to learn of the pause")
    assert network.send_attempts == [] and status(c, body["id"]) == "queued"
    assert session.pending() == 1  # kept, not dropped
    api.post(f"/v1/devices/{dev}/queue/resume")
    runner.handle_device_task({"device_id": dev, "action": "refresh"})
    session.set_speed(60_000)
    wait_until(lambda: status(c, body["id"]) == "sent", message="sent after the resume")


def test_the_pause_event_counts_what_waits_without_reading_it(api, dev, c, monkeypatch):
    for i in range(3):
        api.send(phone=PHONE, message=f"m{i}")
    monkeypatch.setattr(c.repos.messages, "queued_for_device", None)  # not read: counted
    api.post(f"/v1/devices/{dev}/queue/pause")
    [paused] = [e.data for e in c.bus.published if e.event == "device:queue:paused"]
    assert paused["queued"] == 3


def test_clear_cancels_each_queued_message_with_its_event(api, dev, c):
    ids = [api.send(phone=PHONE, message=f"m{i}").get_json()["id"] for i in range(3)]
    ids.append(api.send(phone=PHONE, message="later", deliver_at=at(600)).get_json()["id"])
    cleared = api.delete(f"/v1/devices/{dev}/queue").get_json()
    assert cleared == {"device": dev, "cancelled": 4, "in_flight": []}
    assert all(status(c, i) == "cancelled" for i in ids)
    assert all(message_events(c, i, "message:out:cancelled") == ["message:out:cancelled"]
               for i in ids)
    assert api.get("/v1/devices/" + dev + "/usage").get_json()["messages"]["used"] == 0
    assert api.delete(f"/v1/devices/{dev}/queue").get_json()["cancelled"] == 0


def test_clear_commits_in_batches_and_a_claim_meanwhile_spoils_only_its_own(api, dev, c,
                                                                          monkeypatch):
    from shared.services import device_queue

    monkeypatch.setattr(device_queue, "CLEAR_BATCH", 4)
    ids = []
    for i in range(10):  # one a second: the queue's order is theirs
        ids.append(api.send(phone=PHONE, message=f"m{i}").get_json()["id"])
        c.clock.advance(1)
    commits, real = [], c.store.commit

    def commit(writes, **kwargs):
        writes = list(writes)
        commits.append(len(writes))
        if len(commits) == 1:  # the runner claims m5 between the read and the cancel
            c.store.update("messages", ids[5], {"claimed_by": "runner-0"})
        return real(writes, **kwargs)

    monkeypatch.setattr(c.store, "commit", commit)
    cleared = api.delete(f"/v1/devices/{dev}/queue").get_json()
    assert cleared == {"device": dev, "cancelled": 9, "in_flight": [ids[5]]}
    # 4 a commit (8 writes with their events); the batch with m5 (m4-m7) fails whole,
    # then goes one by one (m5's refused); the last 2 at once
    assert commits == [8, 8, 2, 2, 2, 2, 4]
    assert [status(c, i) for i in ids] == ["cancelled"] * 5 + ["queued"] + ["cancelled"] * 4
    assert all(message_events(c, i, "message:out:cancelled") == ["message:out:cancelled"]
               for i in ids if i != ids[5])
    assert api.get(f"/v1/devices/{dev}/usage").get_json()["messages"]["used"] == 1


class Blocking(SandboxTransport):
    """The sandbox, with each send held until the test lets it go."""

    def __init__(self, network, timer):
        super().__init__(network, timer=timer)
        self.entered = threading.Event()
        self.go = threading.Event()

    def send(self, device_id, wa_id, to, content, media=None):
        self.entered.set()
        self.go.wait(5)
        return super().send(device_id, wa_id, to, content, media)


def test_clear_racing_a_send_sends_nothing_twice_and_loses_nothing(api, dev, c, runner_for,
                                                                       network):
    timer = Timer()
    transport = Blocking(network, timer)
    runner, _ = runner_for(transport)
    connect(runner, timer, dev, speed=60_000)
    ids = [api.send(phone=PHONE, message=f"m{i}").get_json()["id"] for i in range(5)]
    for message_id in ids:
        runner.handle_message_task(message_id)
    assert transport.entered.wait(5)  # the first is on its way to WhatsApp
    cleared = api.delete(f"/v1/devices/{dev}/queue").get_json()
    transport.go.set()
    assert cleared["cancelled"] == 4 and cleared["in_flight"] == [ids[0]]
    wait_until(lambda: status(c, ids[0]) == "sent", message="the one in flight sent")
    threading.Event().wait(0.1)
    assert [status(c, i) for i in ids] == ["sent"] + ["cancelled"] * 4
    wa_ids = [c.store.get("messages", i)["wa_id"] for i in ids]
    assert network.send_attempts == [wa_ids[0]]  # once, and nothing cancelled went out


def test_a_message_expires_in_the_queue_rather_than_go_out_late(api, dev, c, runner_for,
                                                                     network):
    runner, timer = runner_for()
    session = connect(runner, timer, dev)
    session.set_connected(False)  # the phone is offline: nothing can go out
    body = api.send(phone=PHONE, message="code 1234",
                    expires_at="2026-01-01T00:00:00.300000Z").get_json()
    runner.handle_message_task(body["id"])
    wait_until(lambda: status(c, body["id"]) == "failed", message="expired")
    doc = c.store.get("messages", body["id"])
    assert doc["failure_reason"] == "expired" and doc["failed_at"]
    assert message_events(c, body["id"], "message:out:failed") == ["message:out:failed"]
    session.set_connected(True)
    threading.Event().wait(0.1)
    assert network.send_attempts == []
    assert api.get(f"/v1/devices/{dev}/usage").get_json()["messages"]["used"] == 0


def test_a_message_that_expired_while_no_runner_ran_fails_and_is_not_sent(api, dev, c,
                                                                              runner_for, network):
    body = api.send(phone=PHONE, message="code 1234", expires_at=at(60)).get_json()
    keep = api.send(phone=PHONE, message="no expiry").get_json()
    c.clock.advance(120)  # the runner was down past the expiry
    runner, timer = runner_for()
    connect(runner, timer, dev)  # reloads the device's queued messages
    wait_until(lambda: status(c, keep["id"]) == "sent", message="the other one sent")
    assert c.store.get("messages", body["id"])["failure_reason"] == "expired"
    assert network.send_attempts == [c.store.get("messages", keep["id"])["wa_id"]]


def test_the_send_checks_the_expiry_even_when_the_timer_is_late(api, dev, c, runner_for, network):
    runner, timer = runner_for()
    session = connect(runner, timer, dev)
    session.set_connected(False)
    body = api.send(phone=PHONE, message="code", expires_at=at(60)).get_json()
    runner.handle_message_task(body["id"])
    c.clock.advance(61)  # the clock passed it; the session's timer has not fired yet
    session.set_connected(True)
    wait_until(lambda: status(c, body["id"]) == "failed", message="expired at its send")
    assert network.send_attempts == []
    assert c.store.get("messages", body["id"])["failure_reason"] == "expired"


def test_an_idempotent_retry_with_another_expiry_is_a_conflict(api, dev):
    headers = {"Idempotency-Key": "otp-1"}
    first = api.post("/v1/messages", json={"phone": PHONE, "message": "code",
                                           "expires_at": at(300)}, headers=headers)
    assert first.status_code == 201
    again = api.post("/v1/messages", json={"phone": PHONE, "message": "code",
                                           "expires_at": at(300)}, headers=headers)
    assert again.status_code == 200 and again.get_json()["expires_at"] == at(300)
    assert_error(api.post("/v1/messages", json={"phone": PHONE, "message": "code",
                                                "expires_at": at(600)}, headers=headers), 409)


def test_queue_times_follow_the_device_speed(api, dev, c):
    api.patch(f"/v1/devices/{dev}", json={"settings": {"delivery_speed": 6}})
    for i in range(3):
        api.send(phone=PHONE, message=f"m{i}")
    times = [r["expected_at"] for r in queue(api, dev)["data"]]
    assert times == [at(0), at(10), at(20)]
    c.clock.advance(timedelta(minutes=1).total_seconds())
    assert queue(api, dev)["data"][0]["expected_at"] == "2026-01-01T00:01:00Z"


# --- daily caps and warm-up ------------------------------------------------------------


def test_the_warmup_defaults_double_for_a_week():
    from shared.domain import Warmup

    assert [Warmup().cap(day) for day in range(1, 9)] == [20, 40, 80, 160, 320, 640, 1280,
                                                          None]


def test_whatsapp_devices_warm_up_by_default_sandbox_ones_do_not(api):
    made = {t: api.post("/v1/devices", json={"transport": t}).get_json() for t in
            ("sandbox", "whatsapp")}
    assert made["sandbox"]["settings"]["warmup"]["enabled"] is False
    assert made["whatsapp"]["settings"]["warmup"] == {"enabled": True, "first_day": 20,
                                                      "days": 7}


@pytest.mark.parametrize("settings", [{"daily_limit": -1}, {"daily_limit": 100_001},
                                      {"daily_limit": "lots"}, {"warmup": {"first_day": 0}},
                                      {"warmup": {"days": 61}}, {"warmup": {"speed": 2}},
                                      {"warmup": True}])
def test_bad_caps_are_422(api, dev, settings):
    assert_error(api.patch(f"/v1/devices/{dev}", json={"settings": settings}), 422)
    assert_error(api.post("/v1/devices", json={"settings": settings}), 422)


def test_a_daily_limit_holds_the_rest_for_the_next_day(api, dev, c, runner_for, network):
    patched = api.patch(f"/v1/devices/{dev}", json={"settings": {
        "daily_limit": 1, "warmup": {"first_day": 5}}}).get_json()["settings"]
    assert patched["daily_limit"] == 1 and patched["warmup"] == {
        "enabled": False, "first_day": 5, "days": 7}  # the other fields kept
    c.clock.advance(3600)
    ids = []
    for i in range(2):  # a second apart: the older goes first
        ids.append(api.send(phone=PHONE, message=f"m{i}").get_json()["id"])
        c.clock.advance(1)
    runner, timer = runner_for()
    connect(runner, timer, dev)
    for message_id in ids:
        runner.handle_message_task(message_id)
    wait_until(lambda: status(c, ids[0]) == "sent", message="the day's one")
    wait_until(lambda: c.store.get("messages", ids[1])["claimed_by"] is None,
               message="the other given back")
    assert status(c, ids[1]) == "queued" and len(network.send_attempts) == 1
    daily = api.get(f"/v1/devices/{dev}/usage").get_json()["daily"]
    assert daily == {"day": "2026-01-01", "used": 1, "limit": 1, "warmup_day": None,
                     "resets_at": "2026-01-02T00:00:00Z"}
    [row] = queue(api, dev)["data"]
    assert row["expected_at"] == "2026-01-02T00:00:00Z"
    assert api.patch(f"/v1/devices/{dev}", json={"settings": {"daily_limit": 0}}).get_json()[
        "settings"]["daily_limit"] is None
    assert queue(api, dev)["data"][0]["expected_at"] == "2026-01-01T01:00:02Z"
