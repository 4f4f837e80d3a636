from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from shared import names
from shared.domain import Event
from shared.ids import new_id
from shared.services.webhooks import delivery as webhook_delivery
from shared.services.webhooks import fanout as webhook_fanout
from shared.services.webhooks import registration
from shared.settings import Settings
from tests.fakes import TEST_RETRY_SCHEDULE, FakeClock, FakeHttp, make_container, make_settings

ACC, OTHER = "acc_mine", "acc_other"
URL = "http://127.0.0.1:9000/hook"


def make_event(name="message:out:sent", account=ACC, device="dev_1", clock=None) -> Event:
    # (now, not a fixed day: a webhook takes no event from before it was made)
    return Event(id=new_id("evt"), event=name, created_at=(clock.now() if clock else
                                                            datetime.now(UTC)),
                 account=account, device=device, data={"id": "msg_1", "status": "sent"})


def add_device(c, account_id, device_id):
    c.store.put("devices", device_id, {"account_id": account_id})


def add_webhook(c, *, account=ACC, events=("*",), devices=None, enabled=True, url=URL):
    for device_id in devices or ():
        if c.store.get("devices", device_id) is None:
            add_device(c, account, device_id)
    webhook = registration.create_webhook(c, account, url=url,
                                      events=list(events), devices=devices)
    if not enabled:
        c.store.update("webhooks", webhook.id, {"enabled": False})
    return webhook


def webhook_tasks(c):
    return c.tasks.on(names.WEBHOOK_QUEUE)


@pytest.fixture
def c():
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))  # signatures check real time
    return make_container(fanout=False, clock=clock, http=FakeHttp())


def fanout(c, event):
    return webhook_fanout.fan_out(c, event)


def deliver(c, delivery_id):
    return webhook_delivery.deliver(c, delivery_id)


# --- fan-out ----------------------------------------------------------------------


def test_fanout_makes_one_delivery_per_matching_webhook(c):
    every = add_webhook(c)
    dev1_only = add_webhook(c, devices=["dev_1"])
    dev2_only = add_webhook(c, devices=["dev_2"])
    exact = add_webhook(c, events=["message:out:sent"])
    other_exact = add_webhook(c, events=["message:out:delivered"])
    prefix = add_webhook(c, events=["message:*"])
    device_prefix = add_webhook(c, events=["device:*"])
    disabled = add_webhook(c, enabled=False)
    foreign = add_webhook(c, account=OTHER)

    event = make_event("message:out:sent", device="dev_1")
    made = fanout(c, event)

    matched = {c.store.get("deliveries", d)["webhook_id"] for d in made}
    assert matched == {every.id, dev1_only.id, exact.id, prefix.id}
    for skipped in (dev2_only, other_exact, device_prefix, disabled, foreign):
        assert skipped.id not in matched
    assert len(made) == len(set(made)) == 4

    tasks = webhook_tasks(c)
    assert len(tasks) == 4
    assert {t.payload["delivery_id"] for t in tasks} == set(made)
    assert all(t.target == names.TARGET_WEBHOOK_DELIVER and t.schedule_at is None for t in tasks)
    for delivery_id in made:
        doc = c.store.get("deliveries", delivery_id)
        assert doc["status"] == "pending" and doc["attempts"] == []
        assert doc["event_id"] == event.id and doc["account_id"] == ACC
        assert doc["event"] == event.body()


@pytest.mark.parametrize("pattern,event,matches", [
    ("*", "device:status", True),
    ("*", "message:in:new", True),
    ("message:*", "message:in:new", True),
    ("message:*", "message:out:read", True),
    ("message:*", "device:status", False),
    ("message:out:*", "message:out:delivered", True),
    ("message:out:*", "message:in:new", False),
    ("message:in:*", "message:in:new", True),
    ("device:*", "device:status", True),
    ("message:out:read", "message:out:read", True),
    ("message:out:read", "message:out:delivered", False),
])
def test_event_filters(c, pattern, event, matches):
    add_webhook(c, events=[pattern])
    assert len(fanout(c, make_event(event))) == (1 if matches else 0)


def test_event_without_device_reaches_only_all_device_webhooks(c):
    every = add_webhook(c)
    add_webhook(c, devices=["dev_1"])
    made = fanout(c, make_event("message:out:sent", device=None))
    assert [c.store.get("deliveries", d)["webhook_id"] for d in made] == [every.id]


def test_other_accounts_webhooks_never_match(c):
    add_webhook(c, account=OTHER)
    add_webhook(c, account=OTHER, devices=["dev_1"])
    assert fanout(c, make_event(device="dev_1")) == []
    assert webhook_tasks(c) == []


def test_fanout_twice_creates_nothing_new(c):
    add_webhook(c)
    add_webhook(c, events=["message:*"])
    event = make_event()
    first = fanout(c, event)
    second = fanout(c, event)
    assert first == second
    assert len(c.store.query("deliveries")) == 2
    assert len(webhook_tasks(c)) == 2
    assert len([t for t in c.tasks.calls if t.queue == names.WEBHOOK_QUEUE]) == 4  # 2 dropped


def test_fanout_again_after_a_failed_attempt_does_not_double_the_retry(c):
    add_webhook(c)
    event = make_event()
    [delivery_id] = fanout(c, event)
    c.http.script = [500]
    deliver(c, delivery_id)
    assert len(webhook_tasks(c)) == 2  # the first attempt and its retry
    fanout(c, event)  # Pub/Sub redelivers the event
    assert len(webhook_tasks(c)) == 2
    assert len(c.store.get("deliveries", delivery_id)["attempts"]) == 1


def test_fanout_after_success_creates_nothing(c):
    add_webhook(c)
    event = make_event()
    [delivery_id] = fanout(c, event)
    deliver(c, delivery_id)
    fanout(c, event)
    assert len(webhook_tasks(c)) == 1
    assert len(c.http.posts) == 1


# --- delivery -----------------------------------------------------------------------


def test_deliver_signs_per_standard_webhooks(c):
    webhook = add_webhook(c)
    event = make_event(clock=c.clock)
    [delivery_id] = fanout(c, event)
    assert deliver(c, delivery_id) == "succeeded"

    [post] = c.http.posts
    assert post.url == URL
    assert post.timeout == c.settings.webhook_timeout
    assert post.headers["content-type"] == "application/json"
    assert post.headers["webhook-id"] == event.id
    assert post.headers["webhook-timestamp"] == str(int(c.clock.now().timestamp()))
    payload = Verifier(webhook.secret).verify(post.body, post.headers)
    assert payload == json.loads(post.body) == event.body()
    assert set(payload) == {"id", "event", "created_at", "device", "data"}
    with pytest.raises(Exception):  # noqa: B017 - any verification error
        Verifier(registration.new_secret()).verify(post.body, post.headers)
    with pytest.raises(Exception):  # noqa: B017
        Verifier(webhook.secret).verify(post.body.replace(b"sent", b"read"), post.headers)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_succeeds(c, status):
    add_webhook(c)
    [delivery_id] = fanout(c, make_event())
    c.http.script = [status]
    assert deliver(c, delivery_id) == "succeeded"
    doc = c.store.get("deliveries", delivery_id)
    assert doc["status"] == "succeeded"
    [attempt] = doc["attempts"]
    assert attempt["status_code"] == status and attempt["error"] is None
    assert len(webhook_tasks(c)) == 1  # no retry


@pytest.mark.parametrize("answer", [500, 503, 404, 301, 429, OSError("connection refused")])
def test_failure_logs_the_attempt_and_schedules_a_retry(c, answer):
    add_webhook(c)
    [delivery_id] = fanout(c, make_event())
    c.http.script = [answer]
    assert deliver(c, delivery_id) == "pending"
    doc = c.store.get("deliveries", delivery_id)
    [attempt] = doc["attempts"]
    if isinstance(answer, int):
        assert attempt["status_code"] == answer and attempt["error"] is None
    else:
        assert attempt["status_code"] is None and "connection refused" in attempt["error"]
    retry = webhook_tasks(c)[-1]
    assert retry.payload == {"delivery_id": delivery_id, "attempt": 1}
    assert retry.name == f"{delivery_id}-1"
    wait = (retry.schedule_at - c.clock.now()).total_seconds()  # the step, with ±20% jitter
    assert 0.8 * TEST_RETRY_SCHEDULE[0] <= wait <= 1.2 * TEST_RETRY_SCHEDULE[0]


def test_retries_follow_the_schedule_then_fail(c):
    """The schedule's steps, then a failure once the delivery is as old as the disabling
    threshold (the webhook, failing all along, is disabled by then)."""
    import dataclasses

    c.settings = dataclasses.replace(c.settings, webhook_disable_after=90.0)
    webhook = add_webhook(c)
    event = make_event(clock=c.clock)
    [delivery_id] = fanout(c, event)
    c.http.script = [500, OSError("timed out"), 502, 500, 200]
    statuses = []
    for _ in range(len(TEST_RETRY_SCHEDULE) + 1):
        statuses.append(deliver(c, delivery_id))
        c.clock.advance(30)
    assert statuses == ["pending"] * len(TEST_RETRY_SCHEDULE) + ["failed"]

    tasks = webhook_tasks(c)
    retries = tasks[1:]
    assert [t.name for t in tasks] == [f"{delivery_id}-{n}" for n in range(len(tasks))]
    assert len(retries) == len(TEST_RETRY_SCHEDULE)
    start = c.clock.now() - timedelta(seconds=30 * (len(TEST_RETRY_SCHEDULE) + 1))
    for n, (task, delay) in enumerate(zip(retries, TEST_RETRY_SCHEDULE, strict=True)):
        wait = (task.schedule_at - start - timedelta(seconds=30 * n)).total_seconds()
        assert 0.8 * delay <= wait <= 1.2 * delay

    doc = c.store.get("deliveries", delivery_id)
    assert doc["status"] == "failed"
    assert len(doc["attempts"]) == len(TEST_RETRY_SCHEDULE) + 1
    # every attempt is the same message to the receiver: same webhook-id, valid signature
    assert {p.headers["webhook-id"] for p in c.http.posts} == {event.id}
    for post in c.http.posts:
        assert Verifier(webhook.secret).verify(post.body, post.headers)["id"] == event.id
    timestamps = [p.headers["webhook-timestamp"] for p in c.http.posts]
    assert len(set(timestamps)) == len(timestamps)  # signed afresh for each attempt
    # a task delivered again after the end changes nothing
    assert deliver(c, delivery_id) == "failed"
    assert len(c.http.posts) == len(TEST_RETRY_SCHEDULE) + 1


def test_production_schedule_is_about_a_day_and_local_is_seconds():
    production = Settings.from_env({"UTIO_ENV": "production"}).webhook_retry_schedule
    assert 20 <= sum(production) / 3600 <= 36
    local = Settings.from_env({"UTIO_ENV": "local"}).webhook_retry_schedule
    assert sum(local) < 120
    custom = Settings.from_env({"UTIO_WEBHOOK_RETRY_SCHEDULE": "1, 2,3"}).webhook_retry_schedule
    assert custom == (1.0, 2.0, 3.0)


def test_success_after_retries(c):
    add_webhook(c)
    [delivery_id] = fanout(c, make_event())
    c.http.script = [500, 200]
    assert deliver(c, delivery_id) == "pending"
    assert deliver(c, delivery_id) == "succeeded"
    assert len(webhook_tasks(c)) == 2  # first attempt and one retry; nothing after success


def test_repeated_task_after_success_posts_nothing(c):
    add_webhook(c)
    [delivery_id] = fanout(c, make_event())
    deliver(c, delivery_id)
    assert deliver(c, delivery_id) == "succeeded"
    assert len(c.http.posts) == 1


def test_deleted_webhook_fails_the_delivery(c):
    webhook = add_webhook(c)
    [delivery_id] = fanout(c, make_event())
    registration.delete_webhook(c, ACC, webhook.id)
    assert deliver(c, delivery_id) == "failed"
    assert c.store.get("deliveries", delivery_id)["status"] == "failed"
    assert c.http.posts == []
    assert len(webhook_tasks(c)) == 1


def test_unknown_delivery_is_none(c):
    assert deliver(c, "dlv_nope") is None


def test_url_that_turned_private_is_not_posted_to():
    c = make_container(settings=make_settings(env="production", allow_private_webhooks=False),
                       fanout=False)
    webhook = registration.create_webhook(c, ACC,
                                      url="https://93.184.215.14/hook", events=["*"],
                                      devices=None)
    c.store.update("webhooks", webhook.id, {"url": "https://169.254.169.254/hook"})
    [delivery_id] = fanout(c, make_event())
    assert deliver(c, delivery_id) == "pending"
    assert c.http.posts == []
    [attempt] = c.store.get("deliveries", delivery_id)["attempts"]
    assert "metadata" in attempt["error"]


def test_bus_feeds_fanout_in_process():
    c = make_container(fanout=True)
    add_webhook(c)
    c.bus.publish(make_event())
    assert len(webhook_tasks(c)) == 1
