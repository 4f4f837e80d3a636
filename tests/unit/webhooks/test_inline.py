"""Fan-out's inline first attempt (shared.services.webhooks.fanout): one hop for a receiver
that answers, its task queued first so that nothing is stranded, nothing posted twice
that at-least-once does not allow, and the inline work of one push bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain import WebhookRoute
from shared.ports import HttpAnswer
from shared.services.webhooks import fanout as webhook_fanout
from shared.services.webhooks.fanout import INLINE_GRACE
from tests.fakes import FakeHttp
from tests.unit.webhooks.conftest import build, settings
from tests.unit.webhooks.test_delivery import Crash, _push, add_webhook, make_event, run_due, tasks

TIMEOUT = 2.0


@pytest.fixture
def c(tmp_path):
    return build(tmp_path, settings_=settings(webhook_inline_attempts=3,
                                              webhook_inline_timeout=TIMEOUT,
                                              webhook_inline_budget=10.0))


def test_success_inline_posts_once_and_its_task_posts_nothing(c):
    hook = add_webhook(c)
    event = make_event(c)
    [dlv] = webhook_fanout.fan_out(c, event)
    assert [p.headers["webhook-id"] for p in c.http.posts] == [event.id]
    assert c.http.posts[0].timeout == TIMEOUT
    doc = c.store.get("deliveries", dlv)
    assert doc["status"] == "succeeded" and doc["attempt_count"] == 1
    assert len(doc["attempts"]) == 1
    [task] = tasks(c)  # queued before the attempt, after its deadline
    assert task.name == f"{dlv}-0" and task.payload == {"delivery_id": dlv, "attempt": 0}
    assert task.schedule_at == c.clock.now() + timedelta(seconds=TIMEOUT + INLINE_GRACE)
    assert run_due(c, advance=TIMEOUT + INLINE_GRACE) == 1
    assert len(c.http.posts) == 1  # the task found the delivery done
    assert c.repos.webhooks.get(hook.id).enabled


def test_failure_inline_hands_over_to_the_retry_task(c):
    add_webhook(c)
    c.http.script = [503]
    event = make_event(c)
    [dlv] = webhook_fanout.fan_out(c, event)
    doc = c.store.get("deliveries", dlv)
    assert doc["status"] == "pending" and doc["attempt_count"] == 1
    assert [t.name for t in tasks(c)] == [f"{dlv}-0", f"{dlv}-1"]
    retry = tasks(c)[1]
    assert retry.payload == {"delivery_id": dlv, "attempt": 1}
    assert retry.schedule_at == doc["next_attempt_at"]
    # the first task, once due, only makes sure the retry is queued; the retry posts
    run_due(c, advance=TIMEOUT + INLINE_GRACE)
    run_due(c, advance=60)
    assert [p.headers["webhook-id"] for p in c.http.posts] == [event.id, event.id]
    doc = c.store.get("deliveries", dlv)
    assert doc["status"] == "succeeded" and doc["attempt_count"] == 2
    assert len(tasks(c)) == 2


@pytest.mark.parametrize("answer", [OSError("timed out"), 404, HttpAnswer(500, "no")])
def test_timeouts_errors_and_non_2xx_inline_are_recorded_and_retried(c, answer):
    add_webhook(c)
    c.http.script = [answer]
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    doc = c.store.get("deliveries", dlv)
    assert doc["status"] == "pending" and doc["attempt_count"] == 1
    assert tasks(c)[-1].name == f"{dlv}-1"


def test_a_crash_after_recording_the_delivery_strands_nothing(c, monkeypatch):
    """The delivery is stored, then its task cannot be queued: the push fails (500) and
    comes again, which queues the task; no attempt is made inline by the repeat."""
    add_webhook(c)
    event = make_event(c)
    real_enqueue = c.tasks.enqueue

    def dies(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(c.tasks, "enqueue", dies)
    with pytest.raises(Crash):
        webhook_fanout.fan_out(c, event)
    assert c.http.posts == []  # no attempt before its task is queued
    monkeypatch.setattr(c.tasks, "enqueue", real_enqueue)
    [dlv] = webhook_fanout.fan_out(c, event)  # Pub/Sub pushes it again
    assert c.http.posts == []
    [task] = tasks(c)
    assert task.name == f"{dlv}-0" and task.schedule_at is None
    assert run_due(c) == 1
    assert [p.headers["webhook-id"] for p in c.http.posts] == [event.id]


def test_a_crash_in_the_inline_attempt_leaves_it_to_its_task(c, monkeypatch):
    """Posted, then the attempt cannot be recorded: the task repeats it under the same
    webhook-id (at least once), and the other webhooks are still attempted."""
    add_webhook(c)
    add_webhook(c)
    event = make_event(c)
    real_update = c.store.update
    crashed = []

    def dies(collection, doc_id, changes, **kw):
        if collection == "deliveries" and "attempts" in changes and not crashed:
            crashed.append(doc_id)
            raise Crash()
        return real_update(collection, doc_id, changes, **kw)

    monkeypatch.setattr(c.store, "update", dies)
    made = webhook_fanout.fan_out(c, event)
    monkeypatch.setattr(c.store, "update", real_update)
    assert len(c.http.posts) == 2
    [lost] = crashed
    assert c.store.get("deliveries", lost)["attempt_count"] == 0
    [other] = [d for d in made if d != lost]
    assert c.store.get("deliveries", other)["status"] == "succeeded"
    run_due(c)
    assert len(c.http.posts) == 2  # not before its deadline
    run_due(c, advance=TIMEOUT + INLINE_GRACE)
    assert [p.headers["webhook-id"] for p in c.http.posts] == [event.id] * 3
    assert c.store.get("deliveries", lost)["status"] == "succeeded"


def test_a_push_delivered_twice_makes_one_delivery_and_one_post_per_webhook(c):
    hooks = [add_webhook(c) for _ in range(2)]
    event = make_event(c)
    for _ in range(2):
        _, status = _push(c, event)
        assert status == 200
    assert sorted(d["webhook_id"] for d in c.store.query("deliveries")) == \
        sorted(h.id for h in hooks)
    assert len(c.http.posts) == 2
    run_due(c, advance=TIMEOUT + INLINE_GRACE)
    assert len(c.http.posts) == 2


def test_a_repeated_push_after_a_failed_inline_attempt_posts_nothing_more(c):
    add_webhook(c)
    c.http.script = [500]
    event = make_event(c)
    [dlv] = webhook_fanout.fan_out(c, event)
    webhook_fanout.fan_out(c, event)
    assert len(c.http.posts) == 1
    assert [t.name for t in tasks(c)] == [f"{dlv}-0", f"{dlv}-1"]


def test_at_most_n_webhooks_are_attempted_inline(c):
    for _ in range(5):
        add_webhook(c)
    made = webhook_fanout.fan_out(c, make_event(c))
    assert len(c.http.posts) == 3
    queued_now = [t for t in tasks(c) if t.schedule_at is None]
    assert len(queued_now) == 2  # the rest go to their task at once
    assert all(c.store.get("deliveries", t.payload["delivery_id"])["attempt_count"] == 0
               for t in queued_now)
    assert run_due(c) == 2
    assert len(c.http.posts) == 5
    assert all(c.store.get("deliveries", d)["status"] == "succeeded" for d in made)


class SlowHttp(FakeHttp):
    """Every answer takes `seconds` of the (fake) clock."""

    def __init__(self, clock, seconds):
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def post(self, *args, **kwargs):
        self.clock.advance(self.seconds)
        return super().post(*args, **kwargs)


def test_the_time_budget_bounds_the_inline_work(tmp_path):
    c = build(tmp_path, settings_=settings(webhook_inline_attempts=10,
                                           webhook_inline_timeout=TIMEOUT,
                                           webhook_inline_budget=5.0))
    c.http = SlowHttp(c.clock, 2.0)  # a receiver that answers in 2 s
    for _ in range(5):
        add_webhook(c)
    made = webhook_fanout.fan_out(c, make_event(c))
    assert len(made) == 5
    assert len(c.http.posts) == 3  # started at 0, 2 and 4 s; none at 6 s
    assert len([t for t in tasks(c) if t.schedule_at is None]) == 2


def test_inline_off_queues_every_first_attempt(tmp_path):
    c = build(tmp_path)  # the tests' settings: webhook_inline_attempts=0
    add_webhook(c)
    [dlv] = webhook_fanout.fan_out(c, make_event(c))
    assert c.http.posts == []
    assert [(t.name, t.schedule_at) for t in tasks(c)] == [(f"{dlv}-0", None)]


def test_catch_up_does_not_attempt_inline(c):
    hook = add_webhook(c)
    event = make_event(c)
    route = c.repos.webhooks.doc(hook.id)
    webhook_fanout.enqueue_delivery(c, WebhookRoute.model_validate(route), event)
    assert c.http.posts == []
