"""Monthly message quotas: sharded counters that never pass the limit, releases for failed
and cancelled messages, the 429 that names the limit and plan, and one email a period."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.domain import Device, FailureReason, Message
from shared.plans import PLANS, Plan
from shared.services import message_transitions, quotas
from tests.fakes import assert_error, in_threads
from tests.unit.messaging.helpers import PHONE, make_api, set_plan


@pytest.fixture
def tiny_plan(monkeypatch):
    """A plan of 5 messages a month, so tests reach the limit quickly."""
    plan = Plan.model_validate(PLANS["messaging-professional"].model_dump()
                               | {"id": "tiny", "name": "Tiny", "messages_per_month": 5})
    monkeypatch.setitem(PLANS, "tiny", plan)
    return plan


def device_of(c, device_id) -> Device:
    return Device.model_validate(c.store.get("devices", device_id))


@pytest.mark.parametrize("limit", [0, 1, 5, 31, 32, 33, 10_000, 100_001])
def test_shares_add_up_to_the_limit(limit):
    assert sum(quotas.share(limit, i) for i in range(quotas.SHARDS)) == limit
    assert max(quotas.share(limit, i) for i in range(quotas.SHARDS)) - min(
        quotas.share(limit, i) for i in range(quotas.SHARDS)) <= 1


def test_reserve_up_to_the_limit_then_refuse(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    device = device_of(c, dev)
    got = [quotas.reserve(c.store, device, c.clock.now()) for _ in range(7)]
    assert all(got[:5]) and got[5:] == [None, None]
    assert quotas.used(c.store, dev, "2026-01") == 5
    quotas.release(c.store, dev, got[0].period, got[0].shard)
    assert quotas.reserve(c.store, device, c.clock.now()) is not None


def test_over_the_limit_is_429_naming_limit_and_plan(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    for i in range(5):
        assert api.send(phone=PHONE, message=str(i)).status_code == 201
    tasks_before = len(c.tasks.tasks)
    error = assert_error(api.send(phone=PHONE, message="one too many"), 429, "quota_exceeded")
    assert "monthly message limit" in error["message"] and "Tiny" in error["message"]
    assert error["details"]["limit"] == "messages_per_month"
    assert error["details"]["value"] == 5 and error["details"]["plan"] == "tiny"
    assert error["details"]["resets_at"] == "2026-02-01T00:00:00+00:00"
    assert len(c.store.query("messages")) == 5  # not created…
    assert len(c.tasks.tasks) == tasks_before  # …not queued
    assert [e.event for e in c.bus.published].count("message:out:new") == 5


def test_failed_and_cancelled_messages_do_not_count(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    made = [api.send(phone=PHONE, message=str(i)).get_json() for i in range(5)]
    assert_error(api.send(phone=PHONE, message="x"), 429)
    message_transitions.fail(c, Message.model_validate(c.store.get("messages", made[0]["id"])),
                 FailureReason.number_not_on_whatsapp)
    api.delete(f"/v1/messages/{made[1]['id']}")
    assert quotas.used(c.store, dev, "2026-01") == 3
    assert api.send(phone=PHONE, message="a").status_code == 201
    assert api.send(phone=PHONE, message="b").status_code == 201
    assert_error(api.send(phone=PHONE, message="c"), 429)


def test_sent_messages_keep_counting(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    made = api.send(phone=PHONE, message="x").get_json()
    message_transitions.mark_sent(c, made["id"])
    message_transitions.mark_read(c, made["id"])
    assert quotas.used(c.store, dev, "2026-01") == 1


def test_a_release_in_the_next_month_frees_the_month_it_was_counted_in(c, api, dev):
    made = api.send(phone=PHONE, message="x").get_json()
    c.clock.current = datetime(2026, 2, 3, tzinfo=UTC)
    message_transitions.fail(c, Message.model_validate(c.store.get("messages", made["id"])),
                 FailureReason.transport_error)
    assert quotas.used(c.store, dev, "2026-01") == 0
    assert quotas.used(c.store, dev, "2026-02") == 0


def test_a_new_month_starts_from_zero(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    for i in range(5):
        api.send(phone=PHONE, message=str(i))
    assert_error(api.send(phone=PHONE, message="x"), 429)
    c.clock.current = datetime(2026, 2, 1, tzinfo=UTC)
    assert api.send(phone=PHONE, message="x").status_code == 201


def test_a_plan_change_moves_the_limit_at_once(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    for i in range(5):
        api.send(phone=PHONE, message=str(i))
    assert_error(api.send(phone=PHONE, message="x"), 429)
    set_plan(c, dev, "messaging-business")  # billing upgraded the device
    assert api.send(phone=PHONE, message="x").status_code == 201


def test_quotas_are_per_device(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    second = api.post("/v1/devices", json={}).get_json()["id"]
    set_plan(c, second, "tiny")
    for i in range(5):
        api.send(phone=PHONE, message=str(i), device=dev)
    assert_error(api.send(phone=PHONE, message="x", device=dev), 429)
    assert api.send(phone=PHONE, message="x", device=second).status_code == 201


# --- the email --------------------------------------------------------------------------


def test_one_email_per_limit_per_period(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    for i in range(5):
        api.send(phone=PHONE, message=str(i))
    for _ in range(3):
        assert_error(api.send(phone=PHONE, message="x"), 429)
    [mail] = c.mailer.messages()
    assert mail["to"] == "owner@acme.example"
    assert "monthly message limit" in mail["subject"] and "Tiny" in mail["body"]
    c.clock.current = datetime(2026, 2, 1, tzinfo=UTC)
    for i in range(5):
        api.send(phone=PHONE, message=str(i))
    assert_error(api.send(phone=PHONE, message="x"), 429)
    assert len(c.mailer.messages()) == 2


def test_racing_refusals_send_one_email(c, api, dev, tiny_plan):
    set_plan(c, dev, "tiny")
    for i in range(5):
        api.send(phone=PHONE, message=str(i))
    barrier = threading.Barrier(6)

    def refuse():
        barrier.wait()
        api.send(phone=PHONE, message="x")

    in_threads(refuse, 6, timeout=10)
    assert len(c.mailer.messages()) == 1


def test_no_email_address_no_email(c, dev, tiny_plan):
    silent = make_api(c, "Silent Ltd", email=None)
    device = silent.post("/v1/devices", json={}).get_json()["id"]
    set_plan(c, device, "tiny")
    for i in range(6):
        silent.send(phone=PHONE, message=str(i))
    assert c.mailer.messages() == []


def test_a_mail_that_fails_is_tried_again_at_the_next_refusal(c, api, dev, tiny_plan):
    class Flaky:
        def __init__(self):
            self.calls = 0
            self.sent = []

        def send(self, to, subject, body):
            self.calls += 1
            if self.calls == 1:
                raise OSError("SMTP down")
            self.sent.append(subject)

    c.__dict__["mailer"] = Flaky()
    set_plan(c, dev, "tiny")
    for i in range(5):
        api.send(phone=PHONE, message=str(i))
    assert_error(api.send(phone=PHONE, message="x"), 429)  # the refusal stands without the mail
    assert_error(api.send(phone=PHONE, message="x"), 429)
    assert_error(api.send(phone=PHONE, message="x"), 429)
    assert c.mailer.calls == 2 and len(c.mailer.sent) == 1


# --- at scale ---------------------------------------------------------------------------


def test_concurrent_sends_never_pass_the_limit(c, api, dev, monkeypatch):
    """64 threads race for 100 units: exactly 100 succeed (bound: 0 over the limit)."""
    plan = Plan.model_validate(PLANS["messaging-professional"].model_dump()
                               | {"id": "hundred", "messages_per_month": 100})
    monkeypatch.setitem(PLANS, "hundred", plan)
    set_plan(c, dev, "hundred")
    device = device_of(c, dev)
    barrier = threading.Barrier(64)
    won = []

    def race(seed):
        rng = random.Random(seed)
        barrier.wait()
        for _ in range(4):
            if quotas.reserve(c.store, device, c.clock.now(), rng):
                won.append(1)

    in_threads(race, range(64), timeout=20)
    assert len(won) == 100
    assert quotas.used(c.store, dev, "2026-01") == 100


class CountingWrites:
    """Counts writes per document of the counter collection."""

    def __init__(self, store):
        self.store = store
        self.writes: Counter = Counter()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def increment(self, collection, doc_id, *args, **kwargs):
        value = self.store.increment(collection, doc_id, *args, **kwargs)
        if value is not None and collection == quotas.COUNTERS:
            self.writes[doc_id] += 1
        return value


def test_1000_messages_a_minute_write_each_shard_under_once_a_second(c, api, dev):
    """A minute of 1000 sends on one device, a tenth of them failing (released): no
    counter document takes 60 writes in that minute."""
    set_plan(c, dev, "messaging-enterprise")
    device = device_of(c, dev)
    counting = CountingWrites(c.store)
    rng = random.Random(1)
    for i in range(1000):
        held = quotas.reserve(counting, device, c.clock.now(), rng)
        if i % 10 == 0:
            quotas.release(counting, dev, held.period, held.shard)
    assert len(counting.writes) == quotas.SHARDS
    assert max(counting.writes.values()) < 60, counting.writes.most_common(3)
    assert sum(counting.writes.values()) == 1100


# --- delivery speed and usage ------------------------------------------------------------


@pytest.mark.parametrize("plan,setting,effective", [
    ("messaging-professional", 15, 15), ("messaging-professional", 120, 20),
    ("messaging-business", 60, 40), ("platform-enterprise", 120, 120),
])
def test_the_plan_caps_the_delivery_speed(c, api, dev, plan, setting, effective):
    api.call("PATCH", f"/v1/devices/{dev}", json={"settings": {"delivery_speed": setting}})
    set_plan(c, dev, plan)
    assert quotas.effective_speed(device_of(c, dev)) == effective
    usage = api.get(f"/v1/devices/{dev}/usage").get_json()
    assert usage["delivery_speed"] == {"configured": setting,
                                       "plan_max": PLANS[plan].max_delivery_speed,
                                       "effective": effective}


def test_usage(c, api, dev):
    for i in range(3):
        api.send(phone=PHONE, message=str(i))
    usage = api.get(f"/v1/devices/{dev}/usage").get_json()
    assert usage["messages"] == {"used": 3, "limit": 10_000, "remaining": 9_997}
    assert usage["plan"] == "messaging-professional" and usage["period"] == "2026-01"
    assert usage["media_limits"]["image"] == PLANS["messaging-professional"].media.image
    assert_error(api.get("/v1/devices/dev_nope/usage"), 404)


class CountingAllWrites:
    """Counts writes per document of every collection, as Firestore bills them."""

    def __init__(self, store):
        self.store = store
        self.writes: Counter = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name):
        if name == "store":
            raise AttributeError(name)
        return getattr(self.store, name)

    def _wrote(self, collection, doc_id, done=True):
        if done:
            with self._lock:
                self.writes[f"{collection}/{doc_id}"] += 1
        return done

    def create(self, collection, doc_id, *args, **kwargs):
        return self._wrote(collection, doc_id, self.store.create(collection, doc_id, *args,
                                                                 **kwargs))

    def put(self, collection, doc_id, *args, **kwargs):
        self.store.put(collection, doc_id, *args, **kwargs)
        self._wrote(collection, doc_id)

    def update(self, collection, doc_id, *args, **kwargs):
        return self._wrote(collection, doc_id, self.store.update(collection, doc_id, *args,
                                                                 **kwargs))

    def delete(self, collection, doc_id, *args, **kwargs):
        return self._wrote(collection, doc_id, self.store.delete(collection, doc_id, *args,
                                                                 **kwargs))

    def increment(self, collection, doc_id, *args, **kwargs):
        value = self.store.increment(collection, doc_id, *args, **kwargs)
        self._wrote(collection, doc_id, value is not None)
        return value


def test_1000_messages_a_minute_write_no_document_more_than_once_a_second(tmp_path):
    """Issue 3 over every collection: a minute of 1000 sends on one device (to as many
    recipients), each sent, delivered and read, its events numbered by the production bus
    (the event log, as shared/bootstrap.py builds it) and fanned out to a webhook: no
    document at all takes 60 writes in that minute."""
    from shared.adapters.inprocess_bus import InProcessBus
    from shared.adapters.mailers import FileOutboxMailer
    from shared.adapters.memory_store import MemoryStore
    from shared.adapters.storage import MemoryStorage
    from shared.bootstrap import Container
    from shared.domain import MessageStatus
    from shared.services.event_log import EventLog
    from shared.services.events import message_status_event
    from shared.services.webhooks.fanout import fan_out
    from shared.services.webhooks.registration import create_webhook
    from tests.fakes import FakeClock, FakeHttp, FakeTaskQueue, make_settings

    store, tasks, clock = CountingAllWrites(MemoryStore()), FakeTaskQueue(), FakeClock()
    publisher = InProcessBus(threaded=False)
    c = Container(make_settings(), store=store, tasks=tasks, clock=clock, http=FakeHttp(),
                  publisher=publisher, storage=MemoryStorage(),
                  mailer=FileOutboxMailer(tmp_path / "outbox.jsonl"))
    publisher.subscribe(lambda event: fan_out(c, event))
    assert isinstance(c.bus, EventLog)  # the production wrapping
    api = make_api(c)
    dev = api.post("/v1/devices", json={"alias": "main"}).get_json()["id"]
    set_plan(c, dev, "messaging-enterprise")
    create_webhook(c, api.account_id, url="http://127.0.0.1:9/hook",
                   events=["*"], devices=None)
    store.writes.clear()

    for i in range(1000):
        response = api.send(device=dev, phone=f"+4479111{i:05d}", message=f"order {i}")
        assert response.status_code == 201, response.get_json()
        message = Message.model_validate(store.get("messages", response.get_json()["id"]))
        for status in (MessageStatus.sent, MessageStatus.delivered, MessageStatus.read):
            # the runner's part: the message document changes, its event is published
            assert store.update("messages", message.id, {"status": status.value})
            message = message.model_copy(update={"status": status})
            c.bus.publish(message_status_event(c.bus, clock, message))
        clock.advance(0.06)

    assert len(publisher.published) == 4000
    sequences = [e.sequence for e in publisher.published]
    assert sequences == sorted(set(sequences))  # only grows for the device
    hottest = store.writes.most_common(5)
    assert hottest[0][1] < 60, hottest
    assert not [doc for doc in store.writes if doc.startswith("event_sequences/")]


@pytest.mark.parametrize("at,period", [
    (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "2026-12"),
    (datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2))), "2026-02"),
    (datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2026-11"),
    (datetime(999, 3, 1, tzinfo=UTC), "0999-03"),
])
def test_the_period_is_the_utc_calendar_month(at, period):
    assert quotas.period_of(at) == period
