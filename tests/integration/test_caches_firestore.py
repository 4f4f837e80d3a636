"""The caches (shared/caches.py) over the Firestore emulator, with two processes' worth of
containers on one database: what one revokes, deletes or disables, the other stops
acting on within the staleness its cache states; a deleted webhook at once (fan-out reads
the webhooks that take each event, on the emulator's query of an array-contains-any)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.api.app import create_app
from shared import caches
from shared.bootstrap import Container
from shared.domain import Event
from shared.services.accounts import create_account
from shared.services.webhooks import registration
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

    assert fan_out(here, event(2)) == []  # webhooks are not cached: at once
    clock.advance(max(caches.API_KEY_STALENESS, caches.DEVICE_STALENESS))
    assert client.get("/v1/devices", headers=headers).status_code == 401
    assert here.caches.device(device["id"]) is None
    assert send() == 401
