from __future__ import annotations

from datetime import timedelta

import flask
import pytest

import main
from shared import names
from shared.bootstrap import set_container
from shared.events import EventName
from shared.inbox import Chat
from shared.services import chat_cleanup
from tests.fakes import assert_error
from tests.unit.inbox.helpers import inbound


@pytest.fixture
def dev(device, account) -> dict:
    return device | {"account_id": account.id}


def chat_ids(c, dev) -> list[str]:
    return sorted(d["chat"] for d in c.store.query("chats", [("device_id", "==", dev["id"])]))


def test_cleanup_setting_is_a_device_setting(api, dev):
    path = f"/v1/devices/{dev['id']}"
    assert "chat_cleanup" not in api.get(path).get_json()["settings"]  # off: absent
    patched = api.patch(path, json={"settings": {"chat_cleanup": {"inactive_days": 30}}}).get_json()
    assert patched["settings"]["chat_cleanup"] == {"inactive_days": 30, "max_chats": None}
    # delivery_speed alone leaves the clean-up as it is; a new clean-up replaces the old.
    assert api.patch(path, json={"settings": {"delivery_speed": 20}}).get_json()[
        "settings"]["chat_cleanup"]["inactive_days"] == 30
    assert api.patch(path, json={"settings": {"chat_cleanup": {"max_chats": 500}}}).get_json()[
        "settings"]["chat_cleanup"] == {"inactive_days": None, "max_chats": 500}
    assert "chat_cleanup" not in api.patch(path, json={"settings": {"chat_cleanup": {}}}).get_json()[
        "settings"]


@pytest.mark.parametrize("cleanup", [{"inactive_days": 0}, {"max_chats": 0}, {"max_chats": -1},
                                     {"inactive_days": 3651}, {"days": 3}, {"max_chats": "many"}])
def test_bad_cleanup_settings(api, dev, cleanup):
    assert_error(api.patch(f"/v1/devices/{dev['id']}", json={"settings": {"chat_cleanup": cleanup}}),
                 422)


def test_inactive_chats_are_deleted(api, c, dev):
    inbound(c, dev, "+447400123401", "old")
    c.clock.advance(timedelta(days=10).total_seconds())
    inbound(c, dev, "+447400123402", "recent")
    api.patch(f"/v1/devices/{dev['id']}", json={"settings": {"chat_cleanup": {"inactive_days": 7}}})
    report = chat_cleanup.run(c.store, c.bus, c.clock)
    assert report["chats_deleted"] == 1 and report["failed"] == []
    assert chat_ids(c, dev) == ["+447400123402"]
    assert [e["message"] for e in c.store.query("chat_messages")] == ["recent"]
    deleted = [e.data for e in c.bus.published if e.event == EventName.chat_delete]
    assert deleted == [{"id": "+447400123401", "kind": "user", "reason": "cleanup"}]


def test_keep_at_most_n_chats(api, c, dev):
    for n in range(5):
        inbound(c, dev, f"+4474001234{n:02d}")
    inbound(c, dev, "+447400123400")  # the oldest chat becomes the most recent
    api.patch(f"/v1/devices/{dev['id']}", json={"settings": {"chat_cleanup": {"max_chats": 2}}})
    chat_cleanup.run(c.store, c.bus, c.clock)
    assert chat_ids(c, dev) == ["+447400123400", "+447400123404"]


def test_devices_without_the_setting_keep_everything(c, dev):
    for n in range(3):
        inbound(c, dev, f"+4474001234{n:02d}")
    c.clock.advance(timedelta(days=3650).total_seconds())
    assert chat_cleanup.run(c.store, c.bus, c.clock)["chats_deleted"] == 0
    assert len(chat_ids(c, dev)) == 3


def _fake_chats(c, dev, count: int) -> None:
    now = c.clock.now()
    for n in range(count):
        key = f"{dev['id']}:+3460000{n:04d}"
        c.store.put("chats", key, Chat(key=key, account_id=dev["account_id"], device_id=dev["id"],
                                       chat=f"+3460000{n:04d}", thread=f"thr_{n}",
                                       last_message_at=now, sort_key=f"x|{key}", created_at=now,
                                       updated_at=now).to_doc())


def test_warnings_for_many_chats_and_groups(api, c, dev):
    _fake_chats(c, dev, 1001)
    for n in range(51):
        c.store.put("groups", f"grp_{n}", {"id": f"grp_{n}", "account_id": dev["account_id"],
                                           "device_id": dev["id"], "status": "active"})
    chat_cleanup.run(c.store, c.bus, c.clock)
    warnings = api.get(f"/v1/devices/{dev['id']}").get_json()["warnings"]
    assert [(w["code"], w["count"], w["limit"]) for w in warnings] == [
        ("too_many_chats", 1001, 1000), ("too_many_groups", 51, 50)]
    assert "slow" in warnings[0]["message"]
    # The clean-up brings the chats under the threshold: the warning goes.
    api.patch(f"/v1/devices/{dev['id']}", json={"settings": {"chat_cleanup": {"max_chats": 1000}}})
    chat_cleanup.run(c.store, c.bus, c.clock)
    warnings = api.get(f"/v1/devices/{dev['id']}").get_json()["warnings"]
    assert [w["code"] for w in warnings] == ["too_many_groups"]


def test_exactly_1000_chats_is_no_warning(api, c, dev):
    _fake_chats(c, dev, 1000)
    chat_cleanup.run(c.store, c.bus, c.clock)
    assert api.get(f"/v1/devices/{dev['id']}").get_json()["warnings"] == []


def test_a_failing_device_does_not_stop_the_others(c, dev, caplog):
    c.store.put("devices", "dev_broken", {"id": "dev_broken", "account_id": "acc_x"})
    report = chat_cleanup.run(c.store, c.bus, c.clock)
    assert report["failed"] == ["dev_broken"] and report["devices"] == 1


def test_chat_cleanup_is_a_function_target(c, dev):
    assert "chat_cleanup" in names.FUNCTION_TARGETS
    for target in names.FUNCTION_TARGETS:
        assert callable(getattr(main, target)), target
    inbound(c, dev, "+447400123401")
    c.store.update("devices", dev["id"], {"settings": {"chat_cleanup": {"max_chats": 1},
                                                       "delivery_speed": 15}})
    inbound(c, dev, "+447400123402")
    set_container(c)
    try:
        app = flask.Flask("job")
        with app.test_request_context("/", method="POST"):
            response, status = main.chat_cleanup(flask.request)
        assert status == 200
        assert response.get_json()["chats_deleted"] == 1
    finally:
        set_container(None)
