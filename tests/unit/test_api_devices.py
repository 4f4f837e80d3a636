from __future__ import annotations

import pytest

from functions.api.app import create_app
from shared import names
from tests.fakes import assert_error, make_container, make_settings


def test_create_device_uses_the_default_transport(api, container):
    response = api.post("/v1/devices", json={"alias": "Sales"})
    assert response.status_code == 201
    device = response.get_json()
    assert device["transport"] == "sandbox"
    assert device["status"] == "pending"
    assert device["alias"] == "Sales"
    assert device["settings"] == {"delivery_speed": 15, "daily_limit": None,  # warm-up: off
                                  "typing_seconds": 0, "read_on_reply": None,
                                  "warmup": {"enabled": False, "first_day": 20, "days": 7}}
    assert device["id"].startswith("dev_")
    assert container.tasks.on(names.RUNNER_CONTROL_QUEUE)[-1].payload == {
        "device_id": device["id"], "action": "start"}


def test_default_transport_comes_from_settings():
    c = make_container(settings=make_settings(default_transport="whatsapp"))
    client = create_app(c).test_client()
    from shared.services.accounts import create_account

    _, _, key = create_account(c, "Acme")
    response = client.post("/v1/devices", json={}, headers={"Token": key})
    assert response.status_code == 201
    assert response.get_json()["transport"] == "whatsapp"


def test_create_device_with_explicit_transport_and_speed(api):
    device = api.post("/v1/devices", json={"transport": "whatsapp",
                                           "settings": {"delivery_speed": 40}}).get_json()
    assert device["transport"] == "whatsapp"
    assert device["settings"]["delivery_speed"] == 40


def test_list_and_get_devices(api, other_account):
    first = api.post("/v1/devices", json={"alias": "one"}).get_json()
    second = api.post("/v1/devices", json={"alias": "two"}).get_json()
    api.as_(other_account).post("/v1/devices", json={"alias": "theirs"})
    listed = api.get("/v1/devices").get_json()["data"]
    assert {d["id"] for d in listed} == {first["id"], second["id"]}
    assert api.get(f"/v1/devices/{first['id']}").get_json() == first


def test_patch_alias_and_settings(api, device, container):
    response = api.patch(f"/v1/devices/{device['id']}",
                         json={"alias": "Support", "settings": {"delivery_speed": 60}})
    assert response.status_code == 200
    patched = response.get_json()
    assert patched["alias"] == "Support"
    assert patched["settings"]["delivery_speed"] == 60
    assert api.get(f"/v1/devices/{device['id']}").get_json()["settings"]["delivery_speed"] == 60
    assert container.tasks.on(names.RUNNER_CONTROL_QUEUE)[-1].payload == {
        "device_id": device["id"], "action": "refresh"}


def test_patch_alias_only_keeps_settings(api):
    device = api.post("/v1/devices", json={"settings": {"delivery_speed": 33}}).get_json()
    patched = api.patch(f"/v1/devices/{device['id']}", json={"alias": "x"}).get_json()
    assert patched["alias"] == "x"
    assert patched["settings"]["delivery_speed"] == 33


@pytest.mark.parametrize("speed", [0, -1, 121, 10**6, "fast", 1.5, None])
def test_delivery_speed_bounds(api, device, speed):
    if speed is None:  # explicit null: leaves the setting alone
        response = api.patch(f"/v1/devices/{device['id']}", json={"settings": {"delivery_speed": None}})
        assert response.status_code == 200
        return
    response = api.patch(f"/v1/devices/{device['id']}", json={"settings": {"delivery_speed": speed}})
    assert_error(response, 422, "validation_error")
    response = api.post("/v1/devices", json={"settings": {"delivery_speed": speed}})
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("speed", [1, 120])
def test_delivery_speed_limits_are_inclusive(api, device, speed):
    response = api.patch(f"/v1/devices/{device['id']}", json={"settings": {"delivery_speed": speed}})
    assert response.status_code == 200


@pytest.mark.parametrize("body", [
    {"transport": "telegram"},
    {"alias": 5},
    {"alias": "x" * 101},
    {"colour": "blue"},
    {"settings": {"delivery_speed": 10, "turbo": True}},
    {"settings": "fast"},
])
def test_bad_device_body_is_422(api, body):
    assert_error(api.post("/v1/devices", json=body), 422, "validation_error")


def test_delete_device(api, device, container):
    assert api.delete(f"/v1/devices/{device['id']}").status_code == 204
    assert_error(api.get(f"/v1/devices/{device['id']}"), 404)
    assert api.get("/v1/devices").get_json()["data"] == []
    assert container.tasks.on(names.RUNNER_CONTROL_QUEUE)[-1].payload == {
        "device_id": device["id"], "action": "stop"}


def test_delete_device_fails_its_queued_messages(api, device, container):
    message = api.post("/v1/messages", json={"phone": "+447911123456", "message": "hi"}).get_json()
    assert api.delete(f"/v1/devices/{device['id']}").status_code == 204
    after = api.get(f"/v1/messages/{message['id']}").get_json()
    assert after["status"] == "failed"
    assert after["failure_reason"] == "device_deleted"
    assert after["failed_at"]
    assert [e.event for e in container.bus.published if e.data.get("id") == message["id"]] == [
        "message:out:new", "message:out:failed"]


@pytest.mark.parametrize("method,suffix,body", [
    ("GET", "", None),
    ("PATCH", "", {"alias": "mine now"}),
    ("DELETE", "", None),
    ("POST", "/sandbox/inbound", {"phone": "+447911123456", "message": "hi"}),
])
def test_another_accounts_device_is_404(api, other_account, method, suffix, body):
    theirs = api.as_(other_account).post("/v1/devices", json={"alias": "theirs"}).get_json()
    response = api.call(method, f"/v1/devices/{theirs['id']}{suffix}", json=body)
    assert_error(response, 404, "not_found")
    still = api.as_(other_account).get(f"/v1/devices/{theirs['id']}").get_json()
    assert still["alias"] == "theirs"


def test_unknown_device_is_404(api):
    assert_error(api.get("/v1/devices/dev_nope"), 404, "not_found")
    assert_error(api.patch("/v1/devices/dev_nope", json={"alias": "x"}), 404)
    assert_error(api.delete("/v1/devices/dev_nope"), 404)


def test_sandbox_inbound_enqueues_a_control_task(api, device, container):
    response = api.post(f"/v1/devices/{device['id']}/sandbox/inbound",
                        json={"phone": "+44 7911 123456", "message": "hello"})
    assert response.status_code == 202
    payload = container.tasks.on(names.RUNNER_CONTROL_QUEUE)[-1].payload
    assert payload.pop("wa_id").startswith("WA_")  # fixed now: a retried task injects it once
    assert payload == {"device_id": device["id"], "action": "sandbox_inbound",
                       "phone": "+447911123456", "message": "hello"}


def test_sandbox_inbound_refused_on_whatsapp_devices(api):
    device = api.post("/v1/devices", json={"transport": "whatsapp"}).get_json()
    response = api.post(f"/v1/devices/{device['id']}/sandbox/inbound",
                        json={"phone": "+447911123456", "message": "hello"})
    assert_error(response, 400, "not_a_sandbox_device")
