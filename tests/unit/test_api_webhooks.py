from __future__ import annotations

import pytest

from functions.api.app import create_app
from shared.services.accounts import create_account
from tests.fakes import assert_error, make_container, make_settings

URL = "http://127.0.0.1:9000/hook"


def test_create_webhook_returns_its_secret(api, container):
    response = api.post("/v1/webhooks", json={"url": URL})
    assert response.status_code == 201
    webhook = response.get_json()
    assert webhook["secret"].startswith("whsec_")
    assert webhook["events"] == ["*"]
    assert webhook["devices"] is None
    assert webhook["enabled"] is True
    stored = container.store.get("webhooks", webhook["id"])  # sealed at rest, never plain
    assert webhook["secret"] not in repr(stored) and stored["secret_sealed"].startswith("sealed:")


def test_secret_is_shown_only_on_create(api):
    webhook = api.post("/v1/webhooks", json={"url": URL}).get_json()
    assert "secret" not in api.get(f"/v1/webhooks/{webhook['id']}").get_json()
    assert all("secret" not in w for w in api.get("/v1/webhooks").get_json()["data"])


def test_secrets_differ(api):
    secrets = {api.post("/v1/webhooks", json={"url": URL}).get_json()["secret"] for _ in range(3)}
    assert len(secrets) == 3


@pytest.mark.parametrize("events", [["*"], ["message:*"], ["message:out:sent", "device:status"],
                                    ["message:in:new"], ["message:out:*"], ["message:in:*"]])
def test_known_event_filters_are_accepted(api, events):
    response = api.post("/v1/webhooks", json={"url": URL, "events": events})
    assert response.status_code == 201
    assert response.get_json()["events"] == events


@pytest.mark.parametrize("events", [["message:out:bounced"], ["*", "nope"], ["message"],
                                    ["billing:*"], ["message:o:*"], ["message:out:sent:*"],
                                    ["mess*"]])
def test_unknown_event_name_is_422(api, events):
    assert_error(api.post("/v1/webhooks", json={"url": URL, "events": events}), 422,
                 "unknown_event")


@pytest.mark.parametrize("events", [[], "message:*", [1]])
def test_bad_events_value_is_422(api, events):
    assert_error(api.post("/v1/webhooks", json={"url": URL, "events": events}), 422)


def test_webhook_for_listed_devices(api, device):
    response = api.post("/v1/webhooks", json={"url": URL, "devices": [device["id"]]})
    assert response.status_code == 201
    assert response.get_json()["devices"] == [device["id"]]


def test_devices_of_another_account_are_422(api, device, other_account):
    theirs = api.as_(other_account).post("/v1/devices", json={}).get_json()
    response = api.post("/v1/webhooks", json={"url": URL, "devices": [device["id"], theirs["id"]]})
    assert_error(response, 422, "unknown_device")
    assert_error(api.post("/v1/webhooks", json={"url": URL, "devices": ["dev_" + "0" * 20]}), 422,
                 "unknown_device")
    assert api.get("/v1/webhooks").get_json()["data"] == []


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "example.com/hook", "/hook",
                                 "javascript:alert(1)", "file:///etc/passwd", "https://", ""])
def test_non_http_url_is_422(api, url):
    assert_error(api.post("/v1/webhooks", json={"url": url}), 422, "invalid_url")


@pytest.fixture
def production_api():
    c = make_container(settings=make_settings(env="production", allow_private_webhooks=False))
    _, _, key = create_account(c, "Acme")
    client = create_app(c).test_client()

    def post(url):
        return client.post("/v1/webhooks", json={"url": url}, headers={"Token": key})

    return post


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook",
    "http://169.254.169.254/computeMetadata/v1/",
    "https://localhost/hook",
    "https://127.0.0.1:8443/hook",
    "https://169.254.169.254/computeMetadata/v1/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://10.0.0.5/hook",
    "https://192.168.1.1/hook",
    "https://172.16.0.1/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[fd00::1]/hook",
])
def test_private_and_metadata_urls_are_refused_outside_local_mode(production_api, url):
    assert_error(production_api(url), 422)


@pytest.mark.parametrize("url", [
    "https://example.com:99999/hook",
    "https://example.com:port/hook",
    "https://[::1/hook",
    "https://" + "a" * 64 + ".example/hook",
    "https://..example/hook",
    "http://93.184.215.14/hook",  # plain http is for local mode only
])
def test_unparseable_urls_are_422_outside_local_mode(production_api, url):
    assert_error(production_api(url), 422)


def test_public_https_url_is_accepted_outside_local_mode(production_api):
    assert production_api("https://93.184.215.14/hook").status_code == 201


def test_loopback_is_allowed_in_local_mode(api):
    assert api.post("/v1/webhooks", json={"url": "http://localhost:9000/x"}).status_code == 201


def test_get_list_delete_webhook(api):
    webhook = api.post("/v1/webhooks", json={"url": URL}).get_json()
    got = api.get(f"/v1/webhooks/{webhook['id']}").get_json()
    assert got["url"] == URL
    assert [w["id"] for w in api.get("/v1/webhooks").get_json()["data"]] == [webhook["id"]]
    assert api.delete(f"/v1/webhooks/{webhook['id']}").status_code == 204
    assert_error(api.get(f"/v1/webhooks/{webhook['id']}"), 404)


@pytest.mark.parametrize("method,suffix", [("GET", ""), ("DELETE", ""), ("GET", "/deliveries")])
def test_another_accounts_webhook_is_404(api, other_account, method, suffix):
    theirs = api.as_(other_account).post("/v1/webhooks", json={"url": URL}).get_json()
    assert_error(api.call(method, f"/v1/webhooks/{theirs['id']}{suffix}"), 404, "not_found")
    assert api.get("/v1/webhooks").get_json()["data"] == []
    assert api.as_(other_account).get(f"/v1/webhooks/{theirs['id']}").status_code == 200


def test_deliveries_list_shows_a_fanned_out_event(api, device):
    webhook = api.post("/v1/webhooks", json={"url": URL, "events": ["message:out:new"]}).get_json()
    message = api.post("/v1/messages", json={"phone": "+447911123456", "message": "hi"}).get_json()
    deliveries = api.get(f"/v1/webhooks/{webhook['id']}/deliveries").get_json()["data"]
    assert len(deliveries) == 1
    assert deliveries[0]["status"] == "pending"
    assert deliveries[0]["event"]["event"] == "message:out:new"
    assert deliveries[0]["event"]["data"]["id"] == message["id"]
    assert "account" not in deliveries[0]["event"]
