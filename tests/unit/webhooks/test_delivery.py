"""Fan-out and delivery as services: signing, retries, Retry-After, 410, disabling after
a day of failures with one email, crashes between the steps of an attempt."""

from __future__ import annotations

import base64
from datetime import timedelta
from email.utils import format_datetime

import flask
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from functions.webhook_fanout import handle_fanout
from shared import names
from shared.adapters.pubsub_bus import encode
from shared.domain import Event
from shared.ids import new_id
from shared.ports import HttpAnswer
from shared.services.events import publish
from shared.services.webhooks import delivery as webhook_delivery
from shared.services.webhooks import delivery_log, registration
from shared.services.webhooks import fanout as webhook_fanout
from tests.fakes import FakeHttp
from tests.unit.webhooks.conftest import SCHEDULE, add_device, build, settings

URL = "http://127.0.0.1:9000/hook"


def make_event(c, name="message:out:sent", account="acc_1", device="dev_1") -> Event:
    return Event(id=new_id("evt"), event=name, created_at=c.clock.now(), account=account,
                 device=device, data={"id": "msg_1"})


def add_webhook(c, account="acc_1", **kwargs):
    kwargs.setdefault("events", ["*"])
    kwargs.setdefault("devices", None)
    for device_id in kwargs["devices"] or ():
        if c.store.get("devices", device_id) is None:
            add_device(c, account, device_id)
    return registration.create_webhook(c, account, url=URL, **kwargs)


def deliver(c, delivery_id, attempt=None):
    return webhook_delivery.deliver(c, delivery_id, attempt)


def tasks(c):
    return c.tasks.on(names.WEBHOOK_QUEUE)


def run_due(c, *, advance: float = 0.0) -> int:
    """Run every queued webhook task once, like the queue would (each at most once)."""
    done = getattr(c, "_done", set())
    c._done = done
    c.clock.advance(advance)
    ran = 0
    for task in tasks(c):
        if task.name in done or (task.schedule_at and task.schedule_at > c.clock.now()):
            continue
        done.add(task.name)
        deliver(c, task.payload["delivery_id"], task.payload["attempt"])
        ran += 1
    return ran


# --- signatures --------------------------------------------------------------------------


def test_body_and_signature_verify_with_standardwebhooks(c):
    webhook = add_webhook(c)
    add_device(c, "acc_1", "dev_1")
    event = publish(c.bus, c.clock, "message:out:sent", "acc_1", "dev_1", {"id": "msg_1"})
    [task] = tasks(c)
    assert deliver(c, task.payload["delivery_id"], 0) == "succeeded"
    [post] = c.http.posts
    payload = Verifier(webhook.secret).verify(post.body, post.headers)
    assert payload == {"id": event.id, "event": "message:out:sent",
                       "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
                       "device": "dev_1", "sequence": event.sequence, "data": {"id": "msg_1"}}
    assert post.headers["webhook-id"] == event.id
    with pytest.raises(WebhookVerificationError):
        Verifier(registration.new_secret()).verify(post.body, post.headers)


def test_rotation_signs_with_both_secrets_for_24_hours(c):
    webhook = add_webhook(c)
    rotated = registration.rotate_secret(c, "acc_1", webhook.id)
    assert rotated.secret != webhook.secret and rotated.previous_secret == webhook.secret
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    deliver(c, dlv)
    post = c.http.posts[-1]
    assert len(post.headers["webhook-signature"].split(" ")) == 2
    for secret in (webhook.secret, rotated.secret):  # a receiver knowing either verifies
        Verifier(secret).verify(post.body, post.headers)

    expires = c.store.get("webhooks", webhook.id)["previous_secret_expires_at"]
    assert expires == c.clock.now() + timedelta(hours=24)
    # 24 hours on (the verifier checks timestamps against the real time, so the grace
    # period ends instead of the clock moving)
    c.store.update("webhooks", webhook.id, {"previous_secret_expires_at": c.clock.now()})
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    deliver(c, dlv)
    post = c.http.posts[-1]
    assert len(post.headers["webhook-signature"].split(" ")) == 1
    Verifier(rotated.secret).verify(post.body, post.headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(webhook.secret).verify(post.body, post.headers)


def test_a_second_rotation_drops_the_oldest_secret(c):
    webhook = add_webhook(c)
    first = registration.rotate_secret(c, "acc_1", webhook.id)
    second = registration.rotate_secret(c, "acc_1", webhook.id)
    current = registration.get_webhook(c, "acc_1", webhook.id)
    assert current.signing_secrets(c.clock.now()) == [second.secret, first.secret]


# --- sequence ----------------------------------------------------------------------------


def test_sequence_grows_per_device(c):
    add_webhook(c)
    for device in ("dev_1", "dev_2", "dev_1", "dev_1", "dev_2"):
        publish(c.bus, c.clock, "message:in:new", "acc_1", device, {})
    publish(c.bus, c.clock, "webhook:test", "acc_1", None, {})
    bodies = [c.store.get("deliveries", t.payload["delivery_id"])["event"] for t in tasks(c)]
    assert [b["device"] for b in bodies] == ["dev_1", "dev_2", "dev_1", "dev_1", "dev_2", None]
    for device in ("dev_1", "dev_2"):  # in publishing order, strictly increasing
        numbers = [b["sequence"] for b in bodies if b["device"] == device]
        assert numbers == sorted(set(numbers))
    assert "sequence" not in bodies[-1]


# --- fan-out -----------------------------------------------------------------------------


def test_two_webhooks_on_two_of_three_devices(c):
    on_a = add_webhook(c, devices=["dev_a"])
    on_b = add_webhook(c, devices=["dev_b"])
    for device in ("dev_a", "dev_b", "dev_c"):
        publish(c.bus, c.clock, "message:in:new", "acc_1", device, {})
    routed = [(c.store.get("deliveries", t.payload["delivery_id"])["webhook_id"],
               c.store.get("deliveries", t.payload["delivery_id"])["event"]["device"])
              for t in tasks(c)]
    assert routed == [(on_a.id, "dev_a"), (on_b.id, "dev_b")]


@pytest.mark.parametrize("pattern,event,matches", [
    ("message:out:*", "message:out:read", True),
    ("message:out:*", "message:in:new", False),
    ("group:*", "group:update", True),
    ("chat:*", "chat:delete", True),
    ("contact:*", "contact:update", True),
    ("webhook:test", "webhook:test", True),
])
def test_prefix_filters(c, pattern, event, matches):
    add_webhook(c, events=[pattern])
    assert len(webhook_fanout.fan_out(c, make_event(c, event))) == int(matches)


def _push(c, event, fail_after=False):
    data, attributes = encode(event)
    envelope = {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes,
                            "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}
    with flask.Flask("t").test_request_context("/", method="POST", json=envelope):
        return handle_fanout(c, flask.request)


def test_a_repeated_pubsub_push_makes_one_delivery_per_webhook(c):
    hooks = [add_webhook(c) for _ in range(3)]
    event = make_event(c)
    for _ in range(3):  # Pub/Sub delivers at least once
        _, status = _push(c, event)
        assert status == 200
    deliveries = c.store.query("deliveries")
    assert sorted(d["webhook_id"] for d in deliveries) == sorted(w.id for w in hooks)
    assert len(tasks(c)) == 3  # the repeats' enqueues had the same names: dropped
    assert run_due(c) == 3
    assert len(c.http.posts) == 3


def test_fanout_that_fails_is_not_acknowledged(c, monkeypatch):
    add_webhook(c)

    def broken(*args, **kwargs):
        raise RuntimeError("Firestore unavailable")

    monkeypatch.setattr(c.store, "query", broken)
    with pytest.raises(RuntimeError):  # functions-framework answers 500: Pub/Sub pushes again
        _push(c, make_event(c))


def test_fanout_again_repairs_a_lost_first_task(c):
    add_webhook(c)
    event = make_event(c)
    [dlv] = webhook_fanout.fan_out(c, event)
    c.tasks.tasks.clear()  # the process died after creating the delivery, before the task
    c.tasks._names.clear()
    webhook_fanout.fan_out(c, event)
    assert [t.payload for t in tasks(c)] == [{"delivery_id": dlv, "attempt": 0}]


# --- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize("schedule, disable_after", [
    ((1.0, 2.0, 4.0, 8.0, 16.0, 32.0), 120.0),  # make dev's: 63 s of steps, disabled at 120 s
    ((5, 300, 1800, 7200, 18000, 36000, 36000), 86400.0),  # production's
])
def test_events_are_retried_for_as_long_as_the_webhook_is_enabled(tmp_path, schedule,
                                                                  disable_after):
    """A receiver down for good: no delivery gives up while its webhook is enabled; the
    webhook is disabled after `disable_after`, and every event is then recoverable."""
    c = build(tmp_path, settings_=settings(webhook_retry_schedule=schedule,
                                           webhook_disable_after=disable_after))
    webhook = add_webhook(c)
    c.http.script = [503] * 10000
    made = []
    for _ in range(6):  # events keep coming while the receiver is down
        made += webhook_fanout.fan_out(c, make_event(c))
        for _ in range(3):
            run_due(c, advance=disable_after / 40)
    while c.store.get("webhooks", webhook.id)["enabled"]:
        assert all(c.store.get("deliveries", d)["status"] == "pending" for d in made)
        assert run_due(c, advance=max(schedule) / 4) or True
    for _ in range(20):  # the pending ones find the webhook disabled at their next attempt
        run_due(c, advance=max(schedule))
    docs = [c.store.get("deliveries", d) for d in made]
    assert all(d["status"] == "failed" for d in docs), [d["status"] for d in docs]
    assert {d["reason"] for d in docs} <= {"retries_exhausted", "webhook_disabled"}
    c.store.update("webhooks", webhook.id, {"enabled": True})
    retried, more = delivery_log.recover(c, "acc_1", webhook.id,
                                         c.clock.now() - timedelta(days=29))
    assert retried == len(made) and not more


def test_receiver_down_then_back_gets_the_event_under_one_webhook_id(c):
    add_webhook(c)
    event = make_event(c)
    [dlv] = webhook_fanout.fan_out(c, event)
    c.http.script = [OSError("connection refused"), 503, 502]
    for _ in range(10):
        run_due(c, advance=10)
    assert [p.headers["webhook-id"] for p in c.http.posts] == [event.id] * 4
    doc = c.store.get("deliveries", dlv)
    assert doc["status"] == "succeeded" and doc["attempt_count"] == 4
    assert [a["status_code"] for a in doc["attempts"]] == [None, 503, 502, 200]


def test_retry_delays_follow_the_schedule_with_jitter(tmp_path):
    c = build(tmp_path, settings_=settings(webhook_disable_after=25.0))
    add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    c.http.script = [500] * 10
    at = []
    for _ in range(len(SCHEDULE) + 1):
        before = c.clock.now()
        run_due(c, advance=0)
        doc = c.store.get("deliveries", dlv)
        if doc["next_attempt_at"]:
            at.append((doc["next_attempt_at"] - before).total_seconds())
        c.clock.advance(10)
    assert len(at) == len(SCHEDULE)
    for delay, base in zip(at, SCHEDULE, strict=True):
        assert base * 0.8 <= delay <= base * 1.2
    doc = c.store.get("deliveries", dlv)
    assert doc["status"] == "failed" and doc["reason"] == "retries_exhausted"
    assert doc["attempt_count"] == len(SCHEDULE) + 1
    assert [t.name for t in tasks(c)] == [f"{dlv}-{n}" for n in range(len(SCHEDULE) + 1)]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(tmp_path, status):
    c = build(tmp_path, settings_=settings(webhook_retry_schedule=(1.0, 100.0)))
    add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    c.http.script = [HttpAnswer(status, "slow down", {"retry-after": "30"})]
    deliver(c, dlv, 0)
    wait = (c.store.get("deliveries", dlv)["next_attempt_at"] - c.clock.now()).total_seconds()
    assert 30 <= wait <= 31
    assert tasks(c)[-1].schedule_at == c.store.get("deliveries", dlv)["next_attempt_at"]


def test_retry_after_as_a_date_and_capped(tmp_path):
    c = build(tmp_path, settings_=settings(webhook_retry_schedule=(1.0, 100.0)))
    add_webhook(c)
    for retry_after, low, high in [(format_datetime(c.clock.now() + timedelta(seconds=50),
                                                    usegmt=True), 49, 51),
                                   ("86400", 100, 100), ("soon", 0.8, 1.2)]:
        [dlv] = webhook_fanout.fan_out(c, make_event(c))
        c.http.script = [HttpAnswer(429, "", {"retry-after": retry_after})]
        deliver(c, dlv, 0)
        wait = (c.store.get("deliveries", dlv)["next_attempt_at"] - c.clock.now()).total_seconds()
        assert low <= wait <= high, retry_after


def test_3xx_is_a_failed_attempt(c):
    add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    c.http.script = [HttpAnswer(302, "", {"location": "http://169.254.169.254/"})]
    assert deliver(c, dlv, 0) == "pending"
    assert len(c.http.posts) == 1  # the client never follows; nothing went to the Location


# --- at least once, whatever dies when ------------------------------------------------------


class Crash(Exception):
    pass


def test_process_dies_after_posting_before_recording(c, monkeypatch):
    """The task is not acknowledged, so it runs again: the receiver gets the event a
    second time under the same webhook-id. Nothing lost, nothing recorded twice."""
    add_webhook(c)
    event = make_event(c)
    [dlv] = webhook_fanout.fan_out(c, event)
    real_update = c.store.update

    def dies(collection, doc_id, changes, **kw):
        if collection == "deliveries" and "attempts" in changes:
            raise Crash()
        return real_update(collection, doc_id, changes, **kw)

    monkeypatch.setattr(c.store, "update", dies)
    with pytest.raises(Crash):
        deliver(c, dlv, 0)
    monkeypatch.setattr(c.store, "update", real_update)
    assert deliver(c, dlv, 0) == "succeeded"  # Cloud Tasks runs the same task again
    assert [p.headers["webhook-id"] for p in c.http.posts] == [event.id, event.id]
    assert c.store.get("deliveries", dlv)["attempt_count"] == 1


def test_process_dies_after_recording_before_queuing_the_retry(c, monkeypatch):
    add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    c.http.script = [500]
    real_enqueue = c.tasks.enqueue

    def dies(queue, target, payload, **kw):
        if payload.get("attempt") == 1:
            raise Crash()
        return real_enqueue(queue, target, payload, **kw)

    monkeypatch.setattr(c.tasks, "enqueue", dies)
    with pytest.raises(Crash):
        deliver(c, dlv, 0)
    monkeypatch.setattr(c.tasks, "enqueue", real_enqueue)
    assert deliver(c, dlv, 0) == "pending"  # the same task again: it only queues the retry
    assert len(c.http.posts) == 1
    retry = tasks(c)[-1]
    assert retry.payload == {"delivery_id": dlv, "attempt": 1} and retry.name == f"{dlv}-1"
    assert retry.schedule_at == c.store.get("deliveries", dlv)["next_attempt_at"]


def test_a_duplicate_task_of_a_recorded_attempt_posts_nothing(c):
    add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    c.http.script = [500]
    deliver(c, dlv, 0)
    assert deliver(c, dlv, 0) == "pending"  # attempt 0 again: recorded already
    assert len(c.http.posts) == 1
    c.clock.advance(5)
    assert deliver(c, dlv, 1) == "succeeded"
    assert deliver(c, dlv, 1) == "succeeded"
    assert len(c.http.posts) == 2


def test_two_runs_of_one_attempt_record_it_once(c, monkeypatch):
    """Two copies of a task race: both POST, one records, the other finds it recorded."""
    add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    real_post = c.http.post
    raced = []

    def post_and_race(*args, **kwargs):
        answer = real_post(*args, **kwargs)
        if not raced:
            raced.append(True)
            deliver(c, dlv, 0)  # the other copy runs to the end meanwhile
        return answer

    monkeypatch.setattr(c.http, "post", post_and_race)
    c.http.script = [500, 500]
    assert deliver(c, dlv, 0) == "pending"
    doc = c.store.get("deliveries", dlv)
    assert doc["attempt_count"] == 1 and len(doc["attempts"]) == 1
    assert [t.name for t in tasks(c)] == [f"{dlv}-0", f"{dlv}-1"]


# --- the webhook's health ----------------------------------------------------------------


def outbox(c):
    return c.mailer.messages()


def test_410_gone_disables_the_webhook_and_emails_the_owner(c):
    from shared.services.accounts import create_account

    account, _, _ = create_account(c, "Acme", "ops@acme.example")
    webhook = add_webhook(c, account=account.id)
    [dlv] = webhook_fanout.fan_out(c, make_event(c, account=account.id))
    c.http.script = [410]
    assert deliver(c, dlv, 0) == "failed"
    assert c.store.get("deliveries", dlv)["reason"] == "gone"
    doc = c.store.get("webhooks", webhook.id)
    assert doc["enabled"] is False and doc["disabled_reason"] == "gone"
    [mail] = outbox(c)
    assert mail["to"] == "ops@acme.example" and webhook.id in mail["subject"]
    assert "410" in mail["body"] and '{"enabled": true}' in mail["body"]
    assert webhook_fanout.fan_out(c, make_event(c, account=account.id)) == []


def test_failing_for_a_day_disables_once_with_one_email(tmp_path):
    c = build(tmp_path, settings_=settings(webhook_retry_schedule=(3600.0,) * 30))
    from shared.services.accounts import create_account

    account, _, _ = create_account(c, "Acme", "ops@acme.example")
    webhook = add_webhook(c, account=account.id)
    for _ in range(5):
        webhook_fanout.fan_out(c, make_event(c, account=account.id))
    c.http.script = [500] * 1000
    for _ in range(30):
        run_due(c, advance=3600 * 1.25)
    doc = c.store.get("webhooks", webhook.id)
    assert doc["enabled"] is False and doc["disabled_reason"] == "failing"
    disabled_at = doc["disabled_at"]
    assert timedelta(hours=24) <= disabled_at - doc["failing_since"] <= timedelta(hours=26)
    assert len(outbox(c)) == 1
    statuses = {d["status"] for d in c.store.query("deliveries")}
    assert statuses == {"failed"}
    reasons = {d["reason"] for d in c.store.query("deliveries")}
    assert reasons == {"webhook_disabled"}

    # re-enabling is a PATCH; then the failed deliveries can be recovered
    registration.update_webhook(c, account.id, webhook.id,
                            {"enabled": True})
    doc = c.store.get("webhooks", webhook.id)
    assert doc["enabled"] and doc["disabled_reason"] is None and doc["failing_since"] is None
    c.http.script = []
    retried, more = delivery_log.recover(c, account.id, webhook.id,
                                     disabled_at - timedelta(days=3))
    assert (retried, more) == (5, False)
    run_due(c)
    assert {d["status"] for d in c.store.query("deliveries")} == {"succeeded"}
    assert len(outbox(c)) == 1


def test_a_success_resets_the_failing_clock(tmp_path):
    c = build(tmp_path, settings_=settings(webhook_retry_schedule=(3600.0,) * 40))
    start = c.clock.now()

    class UpOnceAtHour20(FakeHttp):
        def post(self, *args, **kwargs):
            super().post(*args, **kwargs)
            hours = (c.clock.now() - start).total_seconds() / 3600
            return HttpAnswer(200 if 20 <= hours < 21.5 else 500, "")

    c.http = UpOnceAtHour20()
    webhook = add_webhook(c)
    for _ in range(36):  # hours
        webhook_fanout.fan_out(c, make_event(c))
        run_due(c, advance=3600)
    doc = c.store.get("webhooks", webhook.id)
    assert doc["enabled"] is True  # 36 hours of failures, but never 24 in a row
    assert (doc["failing_since"] - start) >= timedelta(hours=21)
    for _ in range(16):
        run_due(c, advance=3600)
    assert c.store.get("webhooks", webhook.id)["enabled"] is False


def test_no_email_without_an_address(c):
    webhook = add_webhook(c)  # acc_1 has no account document, so no email
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    c.http.script = [410]
    deliver(c, dlv, 0)
    assert c.store.get("webhooks", webhook.id)["enabled"] is False
    assert outbox(c) == []


def test_deliveries_of_a_deleted_webhook_fail(c):
    webhook = add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    registration.delete_webhook(c, "acc_1", webhook.id)
    assert deliver(c, dlv, 0) == "failed"
    assert c.store.get("deliveries", dlv)["reason"] == "webhook_deleted"
    assert c.http.posts == []


# --- by hand ------------------------------------------------------------------------------


def test_manual_retry_is_one_attempt_now(c):
    webhook = add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    run_due(c)
    assert c.store.get("deliveries", dlv)["status"] == "succeeded"
    for n in (1, 2):
        c.http.script = [500]
        delivery_log.retry_delivery(c, "acc_1", webhook.id, dlv)
        run_due(c)
        doc = c.store.get("deliveries", dlv)
        assert doc["status"] == "failed" and doc["reason"] == "manual_attempt_failed"
        assert doc["attempts"][-1]["manual"] is True and doc["attempt_count"] == n + 1
    delivery_log.retry_delivery(c, "acc_1", webhook.id, dlv)
    run_due(c)
    assert c.store.get("deliveries", dlv)["status"] == "succeeded"
    assert len({p.headers["webhook-id"] for p in c.http.posts}) == 1


def test_a_webhook_stored_before_sealing_still_delivers(c):
    secret = registration.new_secret()
    now = c.clock.now()
    c.store.put("webhooks", "wh_old", {"account_id": "acc_1", "url": URL, "events": ["*"],
                                       "devices": None, "enabled": True, "secret": secret,
                                       "created_at": now})
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    assert deliver(c, dlv, 0) == "succeeded"
    Verifier(secret).verify(c.http.posts[0].body, c.http.posts[0].headers)


def test_the_attempt_log_keeps_the_newest(c):
    webhook = add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    run_due(c)
    for _ in range(webhook_delivery.MAX_LOGGED_ATTEMPTS + 5):
        delivery_log.retry_delivery(c, "acc_1", webhook.id, dlv)
        run_due(c)
    doc = c.store.get("deliveries", dlv)
    assert doc["attempt_count"] == webhook_delivery.MAX_LOGGED_ATTEMPTS + 6
    assert len(doc["attempts"]) == webhook_delivery.MAX_LOGGED_ATTEMPTS
    assert all(a["manual"] for a in doc["attempts"])
