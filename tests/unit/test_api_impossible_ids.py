"""Path ids that Firestore reserves or refuses are just ids of nothing: a 404 (or a 4xx
about the input), never a 5xx. The store refuses them like Firestore (see the contract
suite), so these run on the in-memory store as they would on Firestore."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from functions.api.registry import api as registry
from tests.fakes import assert_error

IMPOSSIBLE = ["__main__", "__proto__", "..", ".", "a" * 1501, "%2F", "_____"]


@pytest.mark.parametrize("path", [
    "/v1/messages/__main__", "/v1/agents/__main__", "/v1/webhooks/__proto__",
    "/v1/devices/__main__", "/v1/files/__main__"])
def test_reserved_ids_are_not_found(api, path):
    assert_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/v1/api-keys/__main__"), ("POST", "/v1/agents/__main__/token"),
    ("POST", "/v1/webhooks/__proto__/rotate-secret"), ("DELETE", "/v1/messages/__main__"),
    ("DELETE", "/v1/webhooks/__proto__")])
def test_reserved_ids_in_actions_are_not_found(api, method, path):
    assert_error(api.call(method, path, json={}), 404, "not_found")


@pytest.mark.parametrize("route", registry.routes, ids=lambda r: f"{r.method} {r.path}")
def test_no_route_answers_an_impossible_id_with_a_5xx(api, device, route):
    if "{" not in route.path:
        return
    for bad in IMPOSSIBLE:
        for name in re.findall(r"{(\w+)}", route.path):
            # the other parameters get real ids where there are any, so the impossible one
            # is reached
            path = route.path.replace("{" + name + "}", quote(bad, safe="%"))
            path = re.sub(r"{device_id}|{id}", device["id"], path)
            path = re.sub(r"{\w+}", "x", path)
            response = api.call(route.method, path, json={})
            body = response.get_json(silent=True) or {}
            if body.get("error", {}).get("code") == "billing_not_configured":
                continue
            assert response.status_code < 500, (route.method, path, body)
            if response.status_code >= 400:
                assert_error(response, response.status_code)


@pytest.mark.parametrize("name", ["%ff", "%ED%A0%80", "%C0%AF", "名前.jpg", "%00", "a%0A",
                                  "%F0%9F%92%A9", "x" * 300, ".", "a%2Fb", "%E2%80%AE"])
def test_media_names_with_odd_unicode_are_not_found(api, device, name):
    assert_error(api.get(f"/v1/devices/{device['id']}/media/{name}"), 404, "not_found")


LOCATION = {"latitude": 51.5033, "longitude": -0.1196, "name": "London Eye"}
BUTTONS = {"text": "Did it arrive?", "items": [{"type": "reply", "id": "yes", "text": "Yes"}]}
LIST = {"text": "When?", "button": "Pick", "sections": [
    {"title": "Tomorrow", "rows": [{"id": "am", "title": "Morning"}]}]}


@pytest.mark.parametrize("extra", [{}, {"phone": None, "group": None, "message": None}],
                         ids=["absent", "nulls"])
def test_several_content_kinds_at_once_are_422_naming_them(api, device, extra):
    body = {"phone": "+447911123456", "location": LOCATION, "buttons": BUTTONS, "list": LIST}
    error = assert_error(api.post("/v1/messages", json=body | extra | (
        {"phone": "+447911123456"} if extra else {})), 422, "validation_error")
    assert "location, buttons, list" in error["message"], error


def test_a_null_phone_is_no_phone(api, device):
    body = {"phone": None, "group": None, "location": LOCATION, "buttons": BUTTONS}
    error = assert_error(api.post("/v1/messages", json=body), 422, "validation_error")
    assert "phone" in error["message"]


@pytest.mark.parametrize("kind", ["chats/447911123456", "contacts/+447911123456"])
def test_an_empty_label_id_is_422(api, device, kind):
    path = f"/v1/devices/{device['id']}/{kind}"
    response = api.patch(path, json={"labels": [""]})
    assert response.status_code in (404, 422), response.get_json()
    assert_error(response, response.status_code)
    if response.status_code == 422:
        assert "labels" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("devices", [[""] * 400, ["", "__main__"], ["dev_x"], ["a/b"]])
def test_webhook_devices_that_are_not_device_ids_are_422(api, devices):
    for method, path in (("POST", "/v1/webhooks"), ):
        error = assert_error(api.call(method, path, json={
            "url": "https://hooks.acme.example/x", "devices": devices}), 422, "validation_error")
        assert error["message"].startswith("body: devices.0: not a device id"), error


def test_webhook_devices_are_at_most_500(api):
    assert_error(api.post("/v1/webhooks", json={
        "url": "https://hooks.acme.example/x", "devices": ["dev_" + "0" * 20] * 501}), 422)
