"""Status (stories) from a device: a text on a colour, or an image, queued and paced like
messages, to status@broadcast and to no chat; bad posts are 4xx."""

from __future__ import annotations

import io

import pytest

from shared.content import Media, Text
from tests.fakes import assert_error
from tests.fakes import wait_until as _wait_until
from tests.unit.messaging import helpers as h


def wait_until(predicate, timeout: float = 15.0, message: str = "condition"):
    """A longer bound than the default: these wait on runner threads, on loaded machines."""
    return _wait_until(predicate, timeout, message)


@pytest.fixture
def runner(c, dev):
    made, network = h.connected_sandbox(c, dev)
    made.network = network
    yield made
    made.stop()


def test_text_and_image_statuses_go_to_status_broadcast(api, dev, c, runner):
    text = api.post(f"/v1/devices/{dev}/status",
                    json={"message": "Open on Sunday", "background": "#128C7E"})
    assert text.status_code == 201, text.get_json()
    upload = api.post("/v1/files", data={"file": (io.BytesIO(h.jpeg()), "s.jpg")},
                      content_type="multipart/form-data").get_json()
    image = api.post(f"/v1/devices/{dev}/status",
                     json={"media": {"file": upload["id"], "caption": "Sunday"}}).get_json()
    posts = [text.get_json(), image]
    assert all(p["status_post"] and p["phone"] is None and p["group"] is None for p in posts)
    for post in posts:
        runner.handle_message_task(post["id"])
    wait_until(lambda: all(c.store.get("messages", p["id"])["status"] == "sent" for p in posts),
               message="both posted")
    wa = [c.store.get("messages", p["id"])["wa_id"] for p in posts]
    assert [runner.network.delivered[w][1] for w in wa] == ["status@broadcast"] * 2
    assert isinstance(runner.network.contents[wa[0]], Text)
    assert isinstance(runner.network.contents[wa[1]], Media)
    assert runner.network.contexts[wa[0]] == {"background": "#128C7E"}
    assert api.get(f"/v1/devices/{dev}/chats").get_json()["data"] == []  # in no chat


@pytest.mark.parametrize("body", [{}, {"message": ""}, {"message": "x" * 701},
                                  {"message": "a", "media": {"url": "https://x.example/a.jpg"}},
                                  {"message": "a", "background": "green"},
                                  {"media": {"url": "https://x.example/a.jpg"},
                                   "background": "#000000"},
                                  {"media": {"url": "https://x.example/a.pdf",
                                             "type": "document"}},
                                  {"message": "a", "phone": "+447911123456"}])
def test_bad_statuses_are_422(api, dev, body):
    assert_error(api.post(f"/v1/devices/{dev}/status", json=body), 422)


def test_a_document_is_no_status_and_another_accounts_device_is_404(api, dev, c):
    c.fetcher.files["https://x.example/a.pdf"] = h.pdf()
    assert_error(api.post(f"/v1/devices/{dev}/status",
                          json={"media": {"url": "https://x.example/a.pdf"}}), 422,
                 "unsupported_status_media")
    assert api.get("/v1/messages").get_json()["data"] == []  # nothing queued
    assert_error(api.post("/v1/devices/dev_00000000000000000000/status",
                          json={"message": "hi"}), 404)
