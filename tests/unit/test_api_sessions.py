"""Linking, change of number, profile, number checks and inbound media, through the API
and a sandbox runner (the API's synchronous calls go to the runner's app)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from device_runner.app import create_app as runner_app
from shared import names
from shared.adapters.inbound_media import MediaStore
from shared.adapters.storage import DiskStorage
from shared.runner_rpc import RunnerRpc, raise_for
from tests.fakes import Caller, assert_error, make_container, make_settings


class AppRpc(RunnerRpc):
    def __init__(self, client):
        self.client = client
        self.calls: list[str] = []

    def call(self, action, payload):
        self.calls.append(action)
        response = self.client.post(f"/rpc/{action}", json=payload)
        raise_for(response.status_code, response.get_json(silent=True))
        return response.get_json()


@pytest.fixture
def container(tmp_path):
    c = make_container(settings=make_settings(scan_wait=0.05))
    c.__dict__["inbound_media"] = MediaStore(DiskStorage(tmp_path / "media"))
    return c


@pytest.fixture
def stack(container, make_runner, client, account):
    runner, timer = make_runner(container)
    rpc = container.__dict__["runner_rpc"] = AppRpc(runner_app(runner).test_client())
    done: set[int] = set()

    def run_tasks():
        for i, task in enumerate(list(container.tasks.tasks)):
            if i not in done and task.target == names.TARGET_RUNNER_DEVICES:
                done.add(i)
                runner.handle_device_task(task.payload)

    return Caller(client).as_(account), runner, timer, run_tasks, rpc


def new_device(api, run_tasks) -> str:
    device = api.post("/v1/devices", json={"alias": "main"}).get_json()
    run_tasks()  # the runner starts it: the sandbox shows a QR code
    return device["id"]


def test_scan_returns_the_current_qr_in_each_format(stack):
    api, runner, timer, run_tasks, _ = stack
    device = new_device(api, run_tasks)
    as_json = api.get(f"/v1/devices/{device}/scan?format=json")
    assert as_json.status_code == 200, as_json.get_json()
    body = as_json.get_json()
    assert body["qr"].startswith("2@") and body["status"] == "linking" and body["expires_at"]
    assert as_json.headers["Cache-Control"] == "no-store"
    png = api.get(f"/v1/devices/{device}/scan")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(png.data)).size[0] > 100
    svg = api.get(f"/v1/devices/{device}/scan", headers={"Accept": "image/svg+xml"})
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    text = api.get(f"/v1/devices/{device}/scan?format=text")
    assert text.mimetype == "text/plain" and text.get_data(as_text=True) == body["qr"]
    assert api.get(f"/v1/devices/{device}").get_json()["status_code"] == "wa-qr"
    timer.fire_all()  # the sandbox "scans" it
    assert_error(api.get(f"/v1/devices/{device}/scan"), 409, "device_already_linked")


def test_scan_asks_for_a_new_code_when_none_is_current(stack, container):
    api, runner, timer, run_tasks, _ = stack
    device = api.post("/v1/devices", json={}).get_json()["id"]  # its start task not yet run
    response = api.get(f"/v1/devices/{device}/scan?format=json")
    assert response.status_code == 202 and response.headers["Retry-After"] == "2"
    links = [t for t in container.tasks.tasks if t.payload.get("action") == "link"]
    assert len(links) == 1
    run_tasks()
    assert api.get(f"/v1/devices/{device}/scan?format=json").status_code == 200


def test_pairing_code_by_phone(stack):
    api, runner, timer, run_tasks, rpc = stack
    device = new_device(api, run_tasks)
    response = api.get(f"/v1/devices/{device}/scan?phone=%2B34 612 345 678")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert len(body["pairing_code"]) == 9 and body["phone"] == "+34612345678"
    assert rpc.calls == ["pair"]
    timer.fire_all()
    assert api.get(f"/v1/devices/{device}").get_json()["phone"] == "+34612345678"
    assert_error(api.get(f"/v1/devices/{device}/scan?phone=12"), 422)


def test_relink_changes_the_number_and_keeps_the_device(stack, container):
    api, runner, timer, run_tasks, _ = stack
    device = new_device(api, run_tasks)
    timer.fire_all()
    first = api.get(f"/v1/devices/{device}").get_json()
    api.patch(f"/v1/devices/{device}", json={"settings": {"delivery_speed": 7}})
    assert api.post(f"/v1/devices/{device}/relink").status_code == 202
    run_tasks()
    timer.fire_all()
    after = api.get(f"/v1/devices/{device}").get_json()
    assert after["id"] == device and after["status"] == "connected"
    assert after["phone"] != first["phone"] and after["settings"]["delivery_speed"] == 7
    [event] = [e for e in container.bus.published if e.data.get("previous_phone")]
    assert event.data["previous_phone"] == first["phone"]



def test_relink_keeps_the_devices_chats_and_contacts(stack, container):
    from shared.ports import Inbound

    api, runner, timer, run_tasks, _ = stack
    device = new_device(api, run_tasks)
    timer.fire_all()
    runner.on_inbound(device, Inbound(wa_id="WA-BEFORE", sender="+447400123456",
                                      text="Is my order on its way?", at=container.clock.now()))
    contact = f"/v1/devices/{device}/contacts/+447400123456"
    assert api.patch(contact, json={"name": "Ann", "metadata": {"crm": "42"}}).status_code == 200
    assert api.post(f"/v1/devices/{device}/relink").status_code == 202
    run_tasks()
    timer.fire_all()
    assert api.get(f"/v1/devices/{device}").get_json()["status"] == "connected"
    chats = api.get(f"/v1/devices/{device}/chats").get_json()["data"]
    assert [c["id"] for c in chats] == ["+447400123456"]
    messages = api.get(f"/v1/devices/{device}/chats/+447400123456/messages").get_json()["data"]
    assert [m["wa_id"] for m in messages] == ["WA-BEFORE"]
    kept = api.get(contact).get_json()
    assert kept["name"] == "Ann" and kept["metadata"] == {"crm": "42"}
    # the new number's messages join the same chat
    runner.on_inbound(device, Inbound(wa_id="WA-AFTER", sender="+447400123456",
                                      text="Hello again", at=container.clock.now()))
    messages = api.get(f"/v1/devices/{device}/chats/+447400123456/messages").get_json()["data"]
    assert [m["wa_id"] for m in messages] == ["WA-AFTER", "WA-BEFORE"]

def jpeg() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(out, format="JPEG")
    return base64.b64encode(out.getvalue()).decode()


def test_profile_through_the_session(stack):
    api, runner, timer, run_tasks, _ = stack
    device = new_device(api, run_tasks)
    assert_error(api.patch(f"/v1/devices/{device}/profile", json={"name": "Acme"}), 409,
                 "device_not_connected")
    timer.fire_all()
    response = api.patch(f"/v1/devices/{device}/profile",
                         json={"name": "Acme", "description": "Anvils", "image": jpeg()})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "Acme" and response.get_json()["image_updated_at"]
    profile = runner.transports["sandbox"].profiles[device]
    assert profile["name"] == "Acme" and profile["image"].startswith(b"\xff\xd8")
    assert_error(api.patch(f"/v1/devices/{device}/profile", json={}), 422)
    assert_error(api.patch(f"/v1/devices/{device}/profile", json={"image": "aGVsbG8="}), 422)


def test_numbers_exist_through_a_connected_device(stack, container):
    api, runner, timer, run_tasks, rpc = stack
    numbers = {"numbers": ["+447911123456", "+447911120000"]}
    assert_error(api.post("/v1/numbers/exists", json=numbers), 409, "no_connected_device")
    device = new_device(api, run_tasks)
    timer.fire_all()
    first = api.post("/v1/numbers/exists", json=numbers)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["device"] == device
    assert [(d["phone"], d["exists"], d["cached"]) for d in body["data"]] == [
        ("+447911123456", True, False), ("+447911120000", False, False)]
    again = api.post("/v1/numbers/exists", json=numbers).get_json()
    assert [d["cached"] for d in again["data"]] == [True, True]
    assert again["usage"]["used"] == 4 and again["usage"]["limit"] == 1000
    assert rpc.calls == ["exists"]  # the second answer came from the day's cache
    container.store.update("number_checks_usage", f"{device}:{again['usage']['period']}",
                           {"count": 999})
    error = assert_error(api.post("/v1/numbers/exists", json=numbers), 429, "quota_exceeded")
    assert error["details"] == {"used": 999, "limit": 1000, "asked": 2}


def test_inbound_media_only_for_the_devices_account(stack, container, other_account, client):
    api, runner, timer, run_tasks, _ = stack
    device = new_device(api, run_tasks)
    container.inbound_media.put(device, "W1.png", b"\x89PNG-bytes", "image/png")
    response = api.get(f"/v1/devices/{device}/media/W1.png")
    assert response.status_code == 200 and response.data == b"\x89PNG-bytes"
    assert response.mimetype == "image/png"
    assert_error(api.get(f"/v1/devices/{device}/media/nope.png"), 404)
    assert_error(Caller(client).as_(other_account).get(f"/v1/devices/{device}/media/W1.png"), 404)


@pytest.mark.parametrize("code", ["wa-connection-failed", "wa-client-outdated", "wa-banned"])
def test_scan_of_a_device_that_cannot_make_a_code_says_why(stack, container, code):
    """Not 202 "try again in a moment" forever: the device's own status code and message."""
    api, *_ = stack
    device = api.post("/v1/devices", json={}).get_json()["id"]
    container.store.update("devices", device, {"status": "disconnected", "status_code": code})
    error = assert_error(api.get(f"/v1/devices/{device}/scan?format=json"), 409,
                         "device_cannot_link")
    assert error["details"]["status_code"] == code and code in error["message"]
    assert error["details"]["status_message"] in error["message"]
