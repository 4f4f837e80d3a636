"""The cache of an account's webhooks in the fan-out process (shared/caches.py,
Caches.webhooks_taking), with the API as another process over the same store: a webhook
deleted, disabled or changed there acts here no longer than WEBHOOK_STALENESS (or at once,
where delivery reads the webhook before each POST); one created, enabled or subscribed
there loses none of the events fanned out here in the meantime (the catch-up task,
fanout.catch_up), and gets each exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import flask
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from functions.webhook_deliver import handle_deliver
from shared import names
from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.memory_store import MemoryStore
from shared.bootstrap import Container
from shared.caches import WEBHOOK_STALENESS, TtlCache
from shared.domain import DeliveryFailure, DeliveryStatus, Event
from shared.services.webhooks import registration
from shared.services.webhooks.fanout import catch_up, fan_out
from tests.fakes import FakeClock, FakeHttp, FakeTaskQueue, make_settings

ACCOUNT = "acc_1"
PAST = WEBHOOK_STALENESS + 0.001


class World:
    """Two processes over one store and one queue: `fanner` logs events and fans them
    out (the runner and webhook_fanout), `api` changes webhooks (the API)."""

    def __init__(self, caches: bool = True):
        self.store, self.tasks, self.http = MemoryStore(), FakeTaskQueue(), FakeHttp()
        self.clock = FakeClock(datetime.now(UTC).replace(microsecond=0))  # verifiers check time
        self.fanner = self.process(caches, fanout=True)
        self.api = self.process(caches, fanout=False)
        self.ran = 0
        self.n = 0

    def process(self, caches: bool, *, fanout: bool) -> Container:
        publisher = InProcessBus(threaded=False)
        c = Container(make_settings(caches=caches), store=self.store, tasks=self.tasks,
                      publisher=publisher, clock=self.clock, http=self.http)
        if fanout:
            publisher.subscribe(lambda event: fan_out(c, event))
        return c

    def webhook(self, events=("message:out:sent",), **kwargs):
        return registration.create_webhook(self.api, ACCOUNT, url="http://127.0.0.1:9/hook",
                                           events=list(events), devices=None, **kwargs)

    def event(self, name: str = "message:out:sent") -> Event:
        """An event logged and fanned out by `fanner`, as the runner's are."""
        self.n += 1
        event = self.fanner.bus.event(name, ACCOUNT, "dev_1", {"n": self.n}, key=f"e{self.n}")
        self.fanner.bus.publish(event)
        return event

    def run_tasks(self) -> None:
        """Every task accepted and not yet run (whatever its schedule time), through the
        webhook_deliver function, until none is left."""
        app = flask.Flask(__name__)
        while self.ran < len(self.tasks.tasks):
            task = self.tasks.tasks[self.ran]
            self.ran += 1
            assert task.queue == names.WEBHOOK_QUEUE and task.target == names.TARGET_WEBHOOK_DELIVER
            with app.test_request_context("/", method="POST", json=task.payload):
                answer = handle_deliver(self.fanner, flask.request)
            assert answer[1] == 200, answer

    def received(self, url: str = "http://127.0.0.1:9/hook") -> list[str]:
        """The event ids POSTed to `url`, in order."""
        return [p.headers["webhook-id"] for p in self.http.posts if p.url == url]

    def catch_ups(self) -> list:
        return [t for t in self.tasks.tasks if "catch_up" in t.payload]

    def deliveries(self, webhook_id: str):
        return self.fanner.repos.deliveries.find([("webhook_id", "==", webhook_id)])


@pytest.fixture
def w() -> World:
    return World()


# --- reads ----------------------------------------------------------------------------


def test_fan_out_reads_an_accounts_webhooks_once_per_staleness_and_event_name(w):
    w.webhook()
    reads = []
    docs = w.fanner.repos.webhooks.docs
    w.fanner.repos.webhooks.docs = lambda *a, **k: reads.append(1) or docs(*a, **k)
    for _ in range(5):
        w.event("message:out:sent")
        w.event("message:out:read")  # taken by none: the absence is kept too
    assert len(reads) == 2
    w.clock.advance(PAST)
    w.event("message:out:sent")
    assert len(reads) == 3
    assert len(w.deliveries(w.fanner.repos.webhooks.find([])[0].id)) == 6


def test_an_entry_counts_its_age_from_before_its_read(w):
    cache: TtlCache[int] = TtlCache(5.0, w.clock)

    def slow_read():  # the store answers a second later: the value is as old as the read
        w.clock.advance(1.0)
        return 1

    cache.get("k", slow_read)
    w.clock.advance(4.0)
    assert cache.peek("k") is None


# --- removed or changed elsewhere: no longer than the staleness -------------------------


@pytest.mark.parametrize("how, reason", [
    ("deleted", DeliveryFailure.webhook_deleted), ("disabled", DeliveryFailure.webhook_disabled)])
def test_a_webhook_deleted_or_disabled_elsewhere_gets_nothing_at_once(w, how, reason):
    hook = w.webhook()
    first = w.event()
    w.run_tasks()
    assert w.received() == [first.id]
    if how == "deleted":
        registration.delete_webhook(w.api, ACCOUNT, hook.id)
    else:
        registration.update_webhook(w.api, ACCOUNT, hook.id, {"enabled": False})

    w.event()  # fanned out from the stale entry: a delivery, which posts nothing
    w.run_tasks()
    assert w.received() == [first.id]
    late = [d for d in w.deliveries(hook.id) if d.event_id != first.id]
    assert [(d.status, d.reason) for d in late] == [(DeliveryStatus.failed, reason)]

    w.clock.advance(PAST)
    w.event()  # past the staleness: not even a delivery
    assert len(w.deliveries(hook.id)) == 2
    w.run_tasks()
    assert w.received() == [first.id]


def test_a_new_url_or_secret_set_elsewhere_is_used_at_once(w):
    hook = w.webhook()
    w.event()
    registration.update_webhook(w.api, ACCOUNT, hook.id, {"url": "http://127.0.0.1:9/new"})
    rotated = registration.rotate_secret(w.api, ACCOUNT, hook.id)
    event = w.event()  # from the stale entry, which holds neither URL nor secret
    w.run_tasks()
    post = w.http.posts[-1]
    assert post.url == "http://127.0.0.1:9/new" and post.headers["webhook-id"] == event.id
    Verifier(rotated.secret).verify(post.body, post.headers)


def test_a_webhook_unsubscribed_elsewhere_gets_the_event_no_longer_than_the_staleness(w):
    hook = w.webhook(events=["message:out:sent", "device:status"])
    w.event()
    registration.update_webhook(w.api, ACCOUNT, hook.id, {"events": ["device:status"]})
    w.clock.advance(WEBHOOK_STALENESS - 0.001)
    w.event()  # still within the staleness: may be delivered
    w.clock.advance(0.002)
    w.event()
    assert len(w.deliveries(hook.id)) == 2


def test_what_this_process_changes_it_sees_at_once():
    w = World()
    c = w.fanner  # the API and fan-out in one process (make dev without gcloud)
    hook = registration.create_webhook(c, ACCOUNT, url="http://127.0.0.1:9/hook",
                                       events=["message:out:sent"], devices=None)
    assert w.event() and len(w.deliveries(hook.id)) == 1
    registration.update_webhook(c, ACCOUNT, hook.id, {"events": ["device:status"]})
    w.event()
    registration.update_webhook(c, ACCOUNT, hook.id, {"events": ["message:out:sent"]})
    w.event()
    registration.delete_webhook(c, ACCOUNT, hook.id)
    w.event()
    assert len(w.deliveries(hook.id)) == 2


# --- added elsewhere: nothing lost, nothing twice ------------------------------------


def _first_events_reach_it(w, hook, missed: list[Event]) -> None:
    """Events fanned out from a stale entry missed `hook`; its catch-up, due past the
    staleness, delivers each of them once; so do a second run of it and a Pub/Sub push
    of them again."""
    [catch_up] = w.catch_ups()
    assert catch_up.payload["catch_up"] == hook.id
    assert catch_up.schedule_at >= w.clock.now() + timedelta(seconds=WEBHOOK_STALENESS)
    w.clock.advance(PAST)
    fresh = w.event()  # past the staleness: from a fresh entry
    w.run_tasks()
    wanted = [e.id for e in missed] + [fresh.id]
    assert sorted(set(w.received()) & set(wanted)) == sorted(wanted)

    w.tasks.tasks.append(catch_up)  # the catch-up's task run twice
    for event in [*missed, fresh]:
        w.fanner.publisher.publish(event)  # and each event pushed again
    w.run_tasks()
    got = [i for i in w.received() if i in wanted]
    assert sorted(got) == sorted(wanted)  # each exactly once


def test_a_webhook_created_elsewhere_gets_the_events_its_cache_missed(w):
    w.event()  # the fan-out process keeps "no webhook takes message:out:sent"
    hook = w.webhook()
    missed = [w.event(), w.event()]
    assert w.deliveries(hook.id) == []
    _first_events_reach_it(w, hook, missed)


def test_a_webhook_enabled_elsewhere_gets_the_events_its_cache_missed(w):
    hook = w.webhook(enabled=False)
    assert w.catch_ups() == []  # a disabled webhook takes nothing: no catch-up
    w.event()
    registration.update_webhook(w.api, ACCOUNT, hook.id, {"enabled": True})
    missed = [w.event()]
    assert w.deliveries(hook.id) == []
    _first_events_reach_it(w, hook, missed)


def test_a_webhook_subscribed_elsewhere_gets_the_events_its_cache_missed(w):
    hook = w.webhook(events=["device:status"])
    w.tasks.tasks.clear()  # its creation's catch-up
    w.event(), w.event("message:out:read")
    registration.update_webhook(w.api, ACCOUNT, hook.id, {"events": ["message:*"]})
    missed = [w.event(), w.event("message:out:read")]
    w.event("device:queue:paused")  # taken by neither its old nor its new events
    assert w.deliveries(hook.id) == []
    _first_events_reach_it(w, hook, missed)
    assert all(json.loads(p.body)["event"].startswith("message:") for p in w.http.posts)


def test_a_catch_up_gives_nothing_to_a_webhook_deleted_or_disabled_before_it_runs(w):
    gone, off = w.webhook(), w.webhook()
    registration.delete_webhook(w.api, ACCOUNT, gone.id)
    registration.update_webhook(w.api, ACCOUNT, off.id, {"enabled": False})
    w.event()  # from an entry read before: deliveries, which end unsent
    w.clock.advance(PAST)
    for task in w.catch_ups():
        p = task.payload
        assert catch_up(w.fanner, p["catch_up"], datetime.fromisoformat(p["since"]),
                        datetime.fromisoformat(p["until"])) == []
    w.run_tasks()
    assert w.received() == []


def test_an_event_pushed_twice_is_fanned_out_once_per_webhook(w):
    hooks = [w.webhook(), w.webhook(events=["message:*"])]
    event = w.event()
    w.fanner.publisher.publish(event)  # Pub/Sub pushes it again
    w.clock.advance(PAST)
    w.run_tasks()
    assert sorted(d.webhook_id for h in hooks for d in w.deliveries(h.id)) == \
        sorted(h.id for h in hooks)
    assert w.received().count(event.id) == 2  # one POST to each webhook


def test_without_caches_fan_out_reads_each_time_and_queues_no_catch_up():
    w = World(caches=False)
    w.event()
    hook = w.webhook()
    w.event()
    assert w.catch_ups() == [] and len(w.deliveries(hook.id)) == 1


def test_a_catch_up_task_that_is_not_one_is_refused(w):
    app = flask.Flask(__name__)
    with app.test_request_context("/", method="POST", json={"catch_up": "wh_1", "since": "x"}):
        answer = handle_deliver(w.fanner, flask.request)
    assert answer.status_code == 400


# --- events from before a webhook took them -------------------------------------------


def test_an_event_from_before_a_webhook_was_made_published_again_is_not_its(w):
    # The sweep publishes a quiet process's last minute of events again (event_log.sweep),
    # and a webhook made meanwhile got events from before it existed (found by a new
    # user's walkthrough: an inbound message 8 s older than the webhook, a minute later).
    old = w.event()
    w.clock.advance(0.7)
    near = w.event()  # within a second of its making: "perhaps from a second before"
    w.clock.advance(0.5)
    hook = w.webhook()  # (1.2 s after `old`)
    w.clock.advance(PAST)
    for event in (old, near):
        w.fanner.publisher.publish(event)  # the sweep's copies
    w.clock.advance(PAST)
    w.run_tasks()
    assert w.received() == [near.id]
    assert [d.event_id for d in w.deliveries(hook.id)] == [near.id]


def test_an_event_from_while_a_webhook_was_disabled_published_again_is_not_its(w):
    hook = w.webhook()
    registration.update_webhook(w.api, ACCOUNT, hook.id, {"enabled": False})
    w.clock.advance(PAST)
    while_off = w.event()
    w.clock.advance(10)
    registration.update_webhook(w.api, ACCOUNT, hook.id, {"enabled": True})
    w.clock.advance(PAST)
    w.fanner.publisher.publish(while_off)  # the sweep's copy, after the webhook is on again
    after = w.event()
    w.clock.advance(PAST)
    w.run_tasks()
    assert w.received() == [after.id]
