"""The caches (shared/caches.py) over the Firestore emulator, with two processes' worth of
containers on one database: what one revokes, deletes or disables, the other stops
acting on within the staleness its cache states (a deleted webhook: no POST at once, as
delivery reads it; no delivery past the staleness); and a webhook created by one gets the
events the other fanned out from its stale cache meanwhile, once each (the catch-up task,
on the emulator's queries of the event log by commit time)."""

from __future__ import annotations

from datetime import UTC, datetime

import flask
import pytest

from functions.api.app import create_app
from functions.webhook_deliver import handle_deliver
from shared import caches
from shared.adapters.inprocess_bus import InProcessBus
from shared.bootstrap import Container
from shared.domain import DeliveryFailure, DeliveryStatus, Event
from shared.services.accounts import create_account
from shared.services.webhooks import delivery, registration
from shared.services.webhooks.fanout import fan_out
from tests.fakes import FakeClock, FakeHttp, FakeTaskQueue, make_settings

pytestmark = pytest.mark.emulator


def _process(store, clock) -> Container:
    return Container(make_settings(caches=True), store=store, tasks=FakeTaskQueue(),
                     clock=clock, http=FakeHttp())


def test_what_another_process_revokes_stops_acting_within_the_staleness(firestore_store):
    clock = FakeClock()
    here, elsewhere = _process(firestore_store, clock), _process(firestore_store, clock)
    account, key, raw = create_account(here, "Acme")
    client = create_app(here).test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    device = client.post("/v1/devices", json={}, headers=headers).get_json()
    hook = registration.create_webhook(here, account.id, url="http://127.0.0.1:9/hook",
                                       events=["message:out:sent"], devices=None)

    def event(n: int) -> Event:
        return Event(id=f"evt_cache_{n}", event="message:out:sent", account=account.id,
                     device=device["id"], created_at=datetime(2026, 1, 1, tzinfo=UTC), data={})

    def send():
        return client.post("/v1/messages", headers=headers, json={
            "device": device["id"], "phone": "+447911123456", "message": "hi"}).status_code

    assert client.get("/v1/devices", headers=headers).status_code == 200
    assert send() == 201 and len(fan_out(here, event(1))) == 1

    # another process revokes the key, deletes the webhook and the device
    elsewhere.repos.api_keys.delete(key.id)
    registration.delete_webhook(elsewhere, account.id, hook.id)
    elsewhere.store.delete("devices", device["id"])

    late = fan_out(here, event(2))  # from the stale entry: a delivery that posts nothing
    assert delivery.deliver(here, late[0]) == DeliveryStatus.failed
    assert here.repos.deliveries.get(late[0]).reason == DeliveryFailure.webhook_deleted
    assert here.http.posts == []
    clock.advance(max(caches.API_KEY_STALENESS, caches.DEVICE_STALENESS,
                      caches.WEBHOOK_STALENESS))
    assert fan_out(here, event(3)) == []
    assert client.get("/v1/devices", headers=headers).status_code == 401
    assert here.caches.device(device["id"]) is None
    assert send() == 401


def test_a_webhook_made_elsewhere_gets_the_events_fanned_out_from_a_stale_cache_once(
        firestore_store):
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    tasks, http = FakeTaskQueue(), FakeHttp()
    publisher = InProcessBus(threaded=False)
    runner = Container(make_settings(caches=True), store=firestore_store, tasks=tasks,
                       clock=clock, http=http, publisher=publisher)
    publisher.subscribe(lambda e: fan_out(runner, e))
    api = Container(make_settings(caches=True), store=firestore_store, tasks=tasks,
                    clock=clock, http=http)

    def logged(n: int) -> Event:  # logged in Firestore (logged_at: its commit time), fanned out
        made = runner.bus.event("message:out:sent", "acc_1", "dev_1", {"n": n}, key=f"k{n}")
        runner.bus.publish(made)
        return made

    logged(0)  # the runner keeps "no webhook takes message:out:sent" for the staleness
    hook = registration.create_webhook(api, "acc_1", url="http://127.0.0.1:9/hook",
                                       events=["message:*"], devices=None)
    missed = [logged(1), logged(2)]
    assert tasks.on("webhook-deliveries")[0].payload["catch_up"] == hook.id
    assert len(tasks.tasks) == 1  # the catch-up only: no delivery yet
    clock.advance(caches.WEBHOOK_STALENESS + 0.001)
    fresh = logged(3)

    app = flask.Flask(__name__)
    for _ in range(2):  # every task, then every task again (each is repeatable)
        for task in list(tasks.tasks):
            with app.test_request_context("/", method="POST", json=task.payload):
                assert handle_deliver(runner, flask.request)[1] == 200
    got = [p.headers["webhook-id"] for p in http.posts]
    wanted = {e.id for e in [*missed, fresh]}
    assert wanted <= set(got) and len([i for i in got if i in wanted]) == 3
