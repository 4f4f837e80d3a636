"""The webhook endpoints through the Flask test client."""

from __future__ import annotations

import json

import pytest

from shared.events import CATALOG, EventName
from shared.services.webhooks import delivery as webhook_delivery
from shared.services.webhooks import registration
from tests.fakes import assert_error
from tests.unit.webhooks.conftest import add_device, build, caller, settings

URL = "http://127.0.0.1:9000/hook"


def make(api, **body):
    response = api.post("/v1/webhooks", json={"url": URL} | body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- the event list ------------------------------------------------------------------------


def test_event_list_needs_no_key_and_has_every_event(c):
    client = caller(c).client
    data = client.get("/v1/webhooks/events").get_json()["data"]
    assert [e["name"] for e in data] == [n.value for n in EventName]
    for entry in data:
        assert entry["description"]
        example = entry["example"]
        assert example["event"] == entry["name"]
        assert {"id", "event", "created_at", "device", "data"} <= set(example)
        assert ("sequence" in example) == (example["device"] is not None)
    names = {e["name"] for e in data}
    for wanted in ("message:out:new", "message:in:new", "message:reaction", "device:status",
                   "chat:update", "chat:delete", "contact:update", "group:update",
                   "webhook:test"):
        assert wanted in names


def test_every_event_name_is_a_valid_filter(api):
    assert make(api, events=[n.value for n in CATALOG] + ["group:*", "message:out:*"])


# --- create, read, update ---------------------------------------------------------------


def test_create_with_headers_and_read_them_back_masked(c, api):
    created = make(api, headers={"Authorization": "Bearer s3cr3t", "X-Tenant": "eu"},
                   description="CRM")
    assert created["secret"].startswith("whsec_")
    got = api.get(f"/v1/webhooks/{created['id']}").get_json()
    assert got["headers"] == {"Authorization": "****", "X-Tenant": "****"}
    assert registration.get_webhook(c, api.account_id, created["id"]).headers == {
        "Authorization": "Bearer s3cr3t", "X-Tenant": "eu"}
    assert got["description"] == "CRM" and "secret" not in got
    assert api.get(f"/v1/webhooks/{created['id']}/secret").get_json() == {
        "secret": created["secret"], "previous_secret_expires_at": None}


def test_secrets_and_header_values_are_encrypted_at_rest(c, api):
    created = make(api, headers={"Authorization": "Bearer s3cr3t"})
    raw = repr(c.store.get("webhooks", created["id"]))
    assert created["secret"] not in raw and created["secret"][6:] not in raw
    assert "s3cr3t" not in raw
    # a sealed value is bound to its webhook: copied to another one, it does not open
    other = make(api)
    doc = c.store.get("webhooks", other["id"])
    doc["secret_sealed"] = c.store.get("webhooks", created["id"])["secret_sealed"]
    c.store.put("webhooks", other["id"], {k: v for k, v in doc.items() if k != "id"})
    with pytest.raises(ValueError):
        registration.get_webhook(c, api.account_id, other["id"])


def test_patch_changes_only_what_it_names(c, api):
    dev_a = "dev_" + "a" * 20
    add_device(c, api.account_id, dev_a)
    created = make(api, events=["message:*"], headers={"X-A": "1"}, description="d")
    patched = api.patch(f"/v1/webhooks/{created['id']}",
                        json={"url": "http://127.0.0.1:9001/new", "devices": [dev_a]}).get_json()
    assert patched["url"] == "http://127.0.0.1:9001/new" and patched["devices"] == [dev_a]
    assert patched["events"] == ["message:*"] and patched["headers"] == {"X-A": "****"}
    assert patched["description"] == "d"
    patched = api.patch(f"/v1/webhooks/{created['id']}",
                        json={"devices": None, "headers": None, "events": ["*"],
                              "description": None}).get_json()
    assert patched["devices"] is None and patched["headers"] == {} and patched["events"] == ["*"]
    assert patched["description"] is None
    assert api.get(f"/v1/webhooks/{created['id']}/secret").get_json()["secret"] == created["secret"]


def test_disable_and_re_enable_with_patch(c, api):
    created = make(api)
    off = api.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}).get_json()
    assert off["enabled"] is False and off["disabled_reason"] == "manual" and off["disabled_at"]
    c.store.update("webhooks", created["id"], {"disabled_reason": "failing",
                                               "failing_since": c.clock.now()})
    on = api.patch(f"/v1/webhooks/{created['id']}", json={"enabled": True}).get_json()
    assert on["enabled"] is True
    assert on["disabled_reason"] is None and on["disabled_at"] is None
    assert on["failing_since"] is None


@pytest.mark.parametrize("body,code", [
    ({}, "validation_error"),
    ({"url": None}, "validation_error"),
    ({"enabled": None}, "validation_error"),
    ({"events": None}, "validation_error"),
    ({"events": []}, "validation_error"),
    ({"events": ["message:out:bounced"]}, "unknown_event"),
    ({"events": ["billing:*"]}, "unknown_event"),
    ({"url": "ftp://x.example/"}, "invalid_url"),
    ({"devices": ["dev_00000000000000000000"]}, "unknown_device"),
    ({"secret": "whsec_mine"}, "validation_error"),
    ({"headers": {"X-A": 1}}, "validation_error"),
    ({"headers": {f"X-{i}": "v" for i in range(11)}}, "validation_error"),
])
def test_patch_refuses_bad_input(api, body, code):
    created = make(api)
    assert_error(api.patch(f"/v1/webhooks/{created['id']}", json=body), 422, code)


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain"},
    {"host": "evil.example"},
    {"Webhook-Signature": "v1,forged"},
    {"webhook-id": "x"},
    {"User-Agent": "me"},
    {"Transfer-Encoding": "chunked"},
    {"X-Utio-Anything": "x"},
    {"Bad Name": "x"},
    {"X-Bad:": "x"},
    {"": "x"},
    {"X-Split": "a\r\nInjected: yes"},
    {"X-Nul": "a\x00b"},
    {"Authorization": "Bearer 7f3c…"},  # not Latin-1: every delivery would fail to send
    {"X-Long": "v" * 1001},
    {"X-" + "n" * 70: "v"},
    {"X-A": "1", "x-a": "2"},
    {f"X-{i}": "v" * 900 for i in range(6)},  # over 4 KB in all
])
def test_custom_headers_are_bounded_and_never_ours(api, headers):
    assert_error(api.post("/v1/webhooks", json={"url": URL, "headers": headers}), 422)
    created = make(api)
    assert_error(api.patch(f"/v1/webhooks/{created['id']}", json={"headers": headers}), 422)


def test_custom_headers_go_out_with_each_delivery(c, api):
    created = make(api, headers={"Authorization": "Bearer s3cr3t"})
    api.post(f"/v1/webhooks/{created['id']}/test")
    task = c.tasks.tasks[-1]
    webhook_delivery.deliver(c, task.payload["delivery_id"],
                     task.payload["attempt"])
    [post] = c.http.posts
    assert post.headers["Authorization"] == "Bearer s3cr3t"
    assert post.headers["webhook-id"] and post.headers["content-type"] == "application/json"


# --- secrets ---------------------------------------------------------------------------------


def test_rotate_secret(api):
    created = make(api)
    rotated = api.post(f"/v1/webhooks/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    body = rotated.get_json()
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    assert body["previous_secret_expires_at"]
    assert api.get(f"/v1/webhooks/{created['id']}/secret").get_json() == body
    assert api.get(f"/v1/webhooks/{created['id']}").get_json()["previous_secret_expires_at"] == \
        body["previous_secret_expires_at"]


# --- test events, the delivery log, retries ----------------------------------------------


def test_test_event_goes_to_that_webhook_only(c, api):
    one, two = make(api, events=["message:in:new"]), make(api)
    response = api.post(f"/v1/webhooks/{one['id']}/test")
    assert response.status_code == 202
    delivery = response.get_json()
    assert delivery["status"] == "pending" and delivery["webhook_id"] == one["id"]
    assert delivery["event"]["event"] == "webhook:test"
    assert delivery["event"]["data"]["webhook_id"] == one["id"]
    assert "sequence" not in delivery["event"]
    assert api.get(f"/v1/webhooks/{two['id']}/deliveries").get_json()["data"] == []
    api.patch(f"/v1/webhooks/{one['id']}", json={"enabled": False})
    assert_error(api.post(f"/v1/webhooks/{one['id']}/test"), 409, "webhook_disabled")


def test_delivery_log_pages_newest_first(c, api):
    created = make(api)
    made = []
    for _ in range(25):
        made.append(api.post(f"/v1/webhooks/{created['id']}/test").get_json()["id"])
        c.clock.advance(1)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/v1/webhooks/{created['id']}/deliveries", query_string=query).get_json()
        seen += [d["id"] for d in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and seen == list(reversed(made))


def test_delivery_log_shows_attempts(c, api):
    created = make(api)
    delivery = api.post(f"/v1/webhooks/{created['id']}/test").get_json()
    c.http.script = [503]
    webhook_delivery.deliver(c, delivery["id"], 0)
    got = api.get(f"/v1/webhooks/{created['id']}/deliveries/{delivery['id']}").get_json()
    [attempt] = got["attempts"]
    assert attempt["status_code"] == 503 and attempt["response"] == "answer 503"
    assert attempt["latency_ms"] >= 0 and attempt["at"] and attempt["manual"] is False
    assert got["next_attempt_at"] and got["status"] == "pending"
    failed = api.get(f"/v1/webhooks/{created['id']}/deliveries",
                     query_string={"status": "failed"}).get_json()
    assert failed["data"] == []
    pending = api.get(f"/v1/webhooks/{created['id']}/deliveries",
                      query_string={"status": "pending"}).get_json()
    assert [d["id"] for d in pending["data"]] == [delivery["id"]]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"limit": "x"},
                                   {"cursor": "!!!"}, {"cursor": "bm90LWEtY3Vyc29y"},
                                   {"status": "lost"}, {"colour": "red"}])
def test_delivery_log_refuses_bad_queries(api, query):
    created = make(api)
    assert_error(api.get(f"/v1/webhooks/{created['id']}/deliveries", query_string=query), 422)


def test_retry_by_hand(c, api):
    created = make(api)
    delivery = api.post(f"/v1/webhooks/{created['id']}/test").get_json()
    path = f"/v1/webhooks/{created['id']}/deliveries/{delivery['id']}/retry"
    assert_error(api.post(path), 409, "delivery_pending")
    webhook_delivery.deliver(c, delivery["id"], 0)
    retried = api.post(path)
    assert retried.status_code == 202
    assert retried.get_json()["status"] == "pending"
    task = c.tasks.tasks[-1]
    assert task.payload == {"delivery_id": delivery["id"], "attempt": 1}
    assert task.name == f"{delivery['id']}-1-m1"
    webhook_delivery.deliver(c, delivery["id"], 1)
    got = api.get(f"/v1/webhooks/{created['id']}/deliveries/{delivery['id']}").get_json()
    assert got["status"] == "succeeded" and [a["manual"] for a in got["attempts"]] == [False, True]


def test_retry_requeues_a_pending_delivery_whose_task_was_lost(c, api):
    created = make(api)
    delivery = api.post(f"/v1/webhooks/{created['id']}/test").get_json()
    c.tasks.tasks.clear()
    c.clock.advance(600)
    response = api.post(f"/v1/webhooks/{created['id']}/deliveries/{delivery['id']}/retry")
    assert response.status_code == 202
    assert len(c.tasks.calls) == 2  # enqueued again under its name


def test_recover_endpoint(c, api):
    created = make(api)
    assert_error(api.post(f"/v1/webhooks/{created['id']}/recover", json={"since": "yesterday"}), 422)
    assert_error(api.post(f"/v1/webhooks/{created['id']}/recover",
                   json={"since": "2026-01-01T00:00:00"}), 422)  # no zone
    response = api.post(f"/v1/webhooks/{created['id']}/recover",
                        json={"since": "2020-01-01T00:00:00+01:00"})
    assert response.status_code == 202 and response.get_json() == {"retried": 0, "more": False}


# --- another account's webhooks are not there -----------------------------------------------


@pytest.mark.parametrize("method,suffix,body", [
    ("GET", "", None), ("PATCH", "", {"enabled": False}), ("DELETE", "", None),
    ("GET", "/secret", None), ("POST", "/rotate-secret", None), ("POST", "/test", None),
    ("GET", "/deliveries", None), ("GET", "/deliveries/DLV", None),
    ("POST", "/deliveries/DLV/retry", None),
    ("POST", "/recover", {"since": "2026-01-01T00:00:00Z"}),
])
def test_another_accounts_webhook_is_404(c, api, other, method, suffix, body):
    theirs = make(other)
    delivery = other.post(f"/v1/webhooks/{theirs['id']}/test").get_json()
    path = f"/v1/webhooks/{theirs['id']}{suffix}".replace("DLV", delivery["id"])
    assert_error(api.call(method, path, json=body), 404, "not_found")
    mine = make(api)  # and their delivery is not found under my webhook either
    if "DLV" in suffix:
        path = f"/v1/webhooks/{mine['id']}{suffix}".replace("DLV", delivery["id"])
        assert_error(api.call(method, path, json=body), 404, "not_found")


# --- outside local mode ---------------------------------------------------------------------


@pytest.fixture
def production(tmp_path, monkeypatch):
    answers = {"hooks.acme.example": ["93.184.215.14"], "evil.example": ["10.0.0.7"],
               "mixed.example": ["93.184.215.14", "192.168.0.1"]}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise OSError("no such host")
        return [(2, 1, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr("socket.getaddrinfo", getaddrinfo)
    c = build(tmp_path, settings_=settings(env="production", allow_private_webhooks=False))
    return caller(c)


@pytest.mark.parametrize("url,code", [
    ("http://hooks.acme.example/h", "invalid_url"),
    ("https://127.0.0.1/h", "forbidden_address"),
    ("https://10.0.0.1/h", "forbidden_address"),
    ("https://169.254.169.254/computeMetadata/v1/", "forbidden_address"),
    ("https://metadata.google.internal/computeMetadata/v1/", "forbidden_address"),
    ("https://evil.example/h", "forbidden_address"),
    ("https://mixed.example/h", "forbidden_address"),
    ("https://localhost/h", "forbidden_address"),
    ("https://[::1]/h", "forbidden_address"),
    ("https://nowhere.example/h", "unresolvable_host"),
    ("https://user:pw@hooks.acme.example/h", "invalid_url"),
])
def test_ssrf_refused_on_create_and_patch(production, url, code):
    assert_error(production.post("/v1/webhooks", json={"url": url}), 422, code)
    created = production.post("/v1/webhooks",
                              json={"url": "https://hooks.acme.example/h"}).get_json()
    assert_error(production.patch(f"/v1/webhooks/{created['id']}", json={"url": url}), 422, code)


def test_openapi_documents_the_webhook_routes(api):
    doc = api.client.get("/v1/openapi.json").get_json()
    for method, path in [("get", "/v1/webhooks/events"), ("patch", "/v1/webhooks/{webhook_id}"),
                         ("post", "/v1/webhooks/{webhook_id}/rotate-secret"),
                         ("get", "/v1/webhooks/{webhook_id}/secret"),
                         ("post", "/v1/webhooks/{webhook_id}/test"),
                         ("get", "/v1/webhooks/{webhook_id}/deliveries"),
                         ("get", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"),
                         ("post", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"),
                         ("post", "/v1/webhooks/{webhook_id}/recover")]:
        assert method in doc["paths"][path], (method, path)
    assert doc["paths"]["/v1/webhooks/events"]["get"]["security"] == []
    params = {p["name"] for p in doc["paths"]["/v1/webhooks/{webhook_id}/deliveries"]["get"][
        "parameters"]}
    assert {"limit", "cursor", "status"} <= params


def test_custom_headers_are_write_only_and_shown_masked(c, api):
    secret = "Bearer s3cret-0123456789abcdef"
    created = make(api, headers={"Authorization": secret, "X-Short": "s3cret"})
    shown = {"Authorization": "****cdef", "X-Short": "****"}
    assert created["headers"] == shown
    assert api.get(f"/v1/webhooks/{created['id']}").get_json()["headers"] == shown
    listed = api.get("/v1/webhooks").get_json()["data"]
    assert all("s3cret" not in json.dumps(w) for w in listed)
    # sent back as shown, a header keeps its value; a new value replaces it
    api.patch(f"/v1/webhooks/{created['id']}", json={"headers": shown | {"X-Short": "new"}})
    stored = registration.get_webhook(c, api.account_id, created["id"])
    assert stored.headers == {"Authorization": secret, "X-Short": "new"}
