"""The caches of API keys and devices (shared/caches.py): what another process removes or
disables acts here no longer than the staleness each cache states, and what this process
changes is seen at once. The webhooks' cache has its own tests (test_webhook_cache.py);
here: fan-out still reads only the webhooks that take the event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.api.app import create_app
from shared import caches
from shared.caches import TtlCache
from shared.domain import Event
from shared.services.webhooks import registration
from shared.services.webhooks.fanout import fan_out
from tests.fakes import ADMIN_KEY, Caller, FakeClock, FakeHttp, make_container, make_settings

JUST_BEFORE = 0.001  # seconds short of a staleness


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def c(clock):
    return make_container(settings=make_settings(caches=True), clock=clock, http=FakeHttp())


@pytest.fixture
def api(c) -> Caller:
    client = create_app(c).test_client()
    made = client.post("/v1/accounts", json={"name": "Acme"},
                       headers={"Authorization": f"Bearer {ADMIN_KEY}"}).get_json()
    return Caller(client, made["api_key"]["key"], made["account"]["id"])


def test_unit_tests_run_without_caches_and_everything_else_with_them():
    assert not make_settings().caching
    assert make_settings(env="production").caching and make_settings(env="local").caching
    assert not make_settings(env="production", caches=False).caching


def test_an_entry_is_read_again_once_it_is_as_old_as_the_staleness(clock):
    cache: TtlCache[int] = TtlCache(2.0, clock)
    loads = []

    def load():
        loads.append(1)
        return len(loads)

    assert cache.get("k", load) == 1
    clock.advance(2.0 - JUST_BEFORE)
    assert cache.get("k", load) == 1  # used often, still read at most 2 s ago
    clock.advance(JUST_BEFORE)
    assert cache.get("k", load) == 2


def test_nothing_absent_is_kept(clock):
    cache: TtlCache[int] = TtlCache(60.0, clock)
    assert cache.get("k", lambda: None) is None
    assert cache.get("k", lambda: 7) == 7


def test_the_least_recently_used_entries_go_first(clock):
    cache: TtlCache[str] = TtlCache(60.0, clock, size=2)
    for key in ("a", "b"):
        cache.get(key, lambda key=key: key)
    cache.get("a", lambda: "again")  # used: "b" is now the oldest
    cache.get("c", lambda: "c")
    assert cache.get("a", lambda: "reloaded") == "a"
    assert cache.get("b", lambda: "reloaded") == "reloaded"


# --- API keys -------------------------------------------------------------------------


def test_a_key_revoked_elsewhere_is_refused_within_the_staleness(c, clock, api):
    assert api.get("/v1/devices").status_code == 200
    c.store.delete("api_keys", c.store.query("api_keys")[0]["id"])  # another instance revoked it
    clock.advance(caches.API_KEY_STALENESS - JUST_BEFORE)
    assert api.get("/v1/devices").status_code == 200  # stale, as stated
    clock.advance(JUST_BEFORE)
    answer = api.get("/v1/devices")
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"


def test_a_key_revoked_here_is_refused_at_once(api):
    second = api.post("/v1/api-keys", json={"name": "ci"}).get_json()
    other = Caller(api.client, second["key"], api.account_id)
    assert other.get("/v1/devices").status_code == 200
    assert api.delete(f"/v1/api-keys/{second['id']}").status_code == 204
    assert other.get("/v1/devices").status_code == 401


def test_a_new_key_works_at_once(c, api):
    assert Caller(api.client, "utio_not_yet").get("/v1/devices").status_code == 401
    from shared.services.accounts import create_api_key

    _, raw = create_api_key(c, api.account_id, "made elsewhere", raw_key="utio_not_yet")
    assert Caller(api.client, raw).get("/v1/devices").status_code == 200


def test_keys_are_read_from_the_store_once_per_staleness(c, clock, api):
    reads = []
    by_hash = c.repos.api_keys.by_hash
    c.repos.api_keys.by_hash = lambda h: reads.append(h) or by_hash(h)
    for _ in range(5):
        assert api.get("/v1/devices").status_code == 200
    clock.advance(caches.API_KEY_STALENESS)
    assert api.get("/v1/devices").status_code == 200
    assert len(reads) == 1 + 1


# --- devices --------------------------------------------------------------------------


def _send(api, device_id):
    return api.post("/v1/messages", json={"device": device_id, "phone": "+447911123456",
                                          "message": "hello"})


def test_a_device_deleted_elsewhere_takes_no_message_after_the_staleness(c, clock, api):
    device = api.post("/v1/devices", json={}).get_json()
    assert _send(api, device["id"]).status_code == 201
    c.store.delete("devices", device["id"])  # another process deleted it
    clock.advance(caches.DEVICE_STALENESS)
    answer = _send(api, device["id"])
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "unknown_device"


def test_a_device_whose_subscription_ended_elsewhere_is_refused_after_the_staleness(
        c, clock, api):
    device = api.post("/v1/devices", json={"transport": "whatsapp"}).get_json()
    assert _send(api, device["id"]).status_code == 201  # on its trial
    c.store.update("devices", device["id"], {"billing_status": "canceled"})  # Stripe's webhook
    clock.advance(caches.DEVICE_STALENESS - JUST_BEFORE)
    assert _send(api, device["id"]).status_code == 201  # stale, as stated
    clock.advance(JUST_BEFORE)
    answer = _send(api, device["id"])
    assert answer.status_code == 402
    assert answer.get_json()["error"]["code"] == "subscription_canceled"


def test_a_device_deleted_here_is_gone_at_once(api):
    device = api.post("/v1/devices", json={}).get_json()
    assert _send(api, device["id"]).status_code == 201
    assert api.delete(f"/v1/devices/{device['id']}").status_code == 204
    assert _send(api, device["id"]).status_code == 422


def test_a_device_changed_here_is_seen_at_once(c, api):
    device = api.post("/v1/devices", json={}).get_json()
    assert c.caches.device(device["id"]).settings.delivery_speed != 7
    api.patch(f"/v1/devices/{device['id']}", json={"settings": {"delivery_speed": 7}})
    assert c.caches.device(device["id"]).settings.delivery_speed == 7


def _send_unnamed(api):
    return api.post("/v1/messages", json={"phone": "+447911123456", "message": "hello"})


def test_a_message_without_device_goes_from_the_only_one_read_once_per_staleness(c, clock, api):
    device = api.post("/v1/devices", json={}).get_json()
    reads = []
    of_account = c.repos.devices.of_account
    c.repos.devices.of_account = lambda *a, **k: reads.append(1) or of_account(*a, **k)
    for _ in range(3):
        answer = _send_unnamed(api)
        assert answer.status_code == 201 and answer.get_json()["device_id"] == device["id"]
    assert len(reads) == 1
    clock.advance(caches.DEVICE_STALENESS)
    assert _send_unnamed(api).status_code == 201
    assert len(reads) == 2


def test_a_second_device_made_here_makes_the_device_required_at_once(api):
    api.post("/v1/devices", json={})
    assert _send_unnamed(api).status_code == 201
    api.post("/v1/devices", json={})
    answer = _send_unnamed(api)
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "device_required"


def test_a_second_device_made_elsewhere_is_seen_within_the_staleness(c, clock, api):
    first = api.post("/v1/devices", json={}).get_json()
    assert _send_unnamed(api).status_code == 201
    doc = c.store.get("devices", first["id"])
    c.store.put("devices", "dev_other", doc | {"id": "dev_other"})  # another process made it
    clock.advance(caches.DEVICE_STALENESS - JUST_BEFORE)
    assert _send_unnamed(api).get_json()["device_id"] == first["id"]  # stale, as stated
    clock.advance(JUST_BEFORE)
    answer = _send_unnamed(api)
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "device_required"


def test_the_only_device_deleted_leaves_no_device_at_once_here_and_elsewhere_in_time(
        c, clock, api):
    device = api.post("/v1/devices", json={}).get_json()
    assert _send_unnamed(api).status_code == 201
    assert api.delete(f"/v1/devices/{device['id']}").status_code == 204
    assert _send_unnamed(api).get_json()["error"]["code"] == "no_device"
    again = api.post("/v1/devices", json={}).get_json()
    assert _send_unnamed(api).status_code == 201
    c.store.delete("devices", again["id"])  # another process deleted it
    clock.advance(caches.DEVICE_STALENESS)
    assert _send_unnamed(api).get_json()["error"]["code"] == "no_device"


# --- LIDs -----------------------------------------------------------------------------


def test_a_lid_learnt_elsewhere_shows_on_messages_within_the_staleness(c, clock, api):
    from shared.services import lids

    device = api.post("/v1/devices", json={}).get_json()
    assert _send(api, device["id"]).get_json()["lid"] is None
    lids.learn(c.store, device["id"], "123456789@lid", "+447911123456")  # by the runner
    clock.advance(caches.LID_STALENESS - JUST_BEFORE)
    assert _send(api, device["id"]).get_json()["lid"] is None  # stale, as stated
    clock.advance(JUST_BEFORE)
    assert _send(api, device["id"]).get_json()["lid"] == "123456789@lid"
    c.store.delete("lid_map", f"{device['id']}:123456789@lid")  # never happens: kept anyway
    clock.advance(caches.LID_STALENESS)
    assert _send(api, device["id"]).get_json()["lid"] == "123456789@lid"


# --- webhooks -------------------------------------------------------------------------


def _event(account_id: str, name: str = "message:out:sent", device: str | None = "dev_1",
           n: int = 0) -> Event:
    return Event(id=f"evt_{name}_{n}", event=name, account=account_id, device=device,
                 created_at=datetime(2026, 1, 1, tzinfo=UTC), data={})


def _webhook(c, account_id, events=("message:out:sent",), devices=None):
    return registration.create_webhook(c, account_id, url="http://127.0.0.1:9/hook",
                                       events=list(events), devices=devices)


def test_fan_out_reads_only_the_webhooks_that_take_the_event(c, api):
    for i in range(20):
        _webhook(c, api.account_id, events=["device:status"] if i else ["message:out:*"])
    reads = []
    docs = c.repos.webhooks.docs
    c.repos.webhooks.docs = lambda *a, **k: reads.extend(found := docs(*a, **k)) or found
    assert len(fan_out(c, _event(api.account_id, n=1))) == 1
    assert len(reads) == 1


def test_the_query_finds_exactly_what_each_webhook_matches(c):
    patterns = [["*"], ["message:*"], ["message:out:*"], ["message:out:sent"],
                ["message:in:new", "message:out:sent"], ["device:status"], ["message:*", "*"]]
    routes = []
    for p in patterns:
        for d in ("all", "dev_1"):
            for enabled in (True, False):
                hook = _webhook(c, "acc", events=["*"])
                c.store.update("webhooks", hook.id, {"events": p, "enabled": enabled,
                                                     "devices": None if d == "all" else [d]})
                routes.append(c.repos.webhooks.owned_route("acc", hook.id))
    _webhook(c, "acc_other")
    for name in ("message:out:sent", "message:out:read", "message:in:new", "device:status",
                 "messages:x", "message"):
        for device in ("dev_1", "dev_2", None):
            event = _event("acc", name, device)
            found = [r for r in c.repos.webhooks.routes_for("acc", name) if r.matches(event)]
            assert sorted(r.id for r in found) == \
                sorted(r.id for r in routes if r.matches(event)), (name, device)
