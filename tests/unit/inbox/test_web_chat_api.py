"""What the web chat needs of the API: chat names and search, assignment to agents (field,
filter, event), the agents of a device, sending files, replies and reactions in a chat,
the web chat's lane (only a person's sign-in may use it), and files read back."""

from __future__ import annotations

import io

import pytest

from functions.api.app import create_app
from shared import names
from shared.events import EventName
from shared.services import chats as chat_service
from tests.fakes import assert_error, make_container, make_settings, seed_device
from tests.unit.inbox.helpers import inbound
from tests.unit.inbox.test_agents import new_agent, platform  # noqa: F401 (fixture)
from tests.unit.messaging.helpers import png
from tests.unit.test_person_tokens import FakeIdentity, auth, certs_url, keys, owner, token  # noqa: F401

PHONE = "+447400123456"


@pytest.fixture
def dev(device, account) -> dict:
    return device | {"account_id": account.id}


def chats_of(api, dev, **query) -> list[str]:
    response = api.get(f"/v1/devices/{dev['id']}/chats", query_string=query)
    assert response.status_code == 200, response.get_json()
    return [chat["id"] for chat in response.get_json()["data"]]


# --- names and search -----------------------------------------------------------------


def test_a_chat_is_named_by_its_contact_or_the_senders_whatsapp_name(c, dev, api):
    record = {"id": "msg_p1", "wa_id": "WAP1", "phone": PHONE, "message": "hola",
              "received_at": c.clock.now(), "push_name": "Ana G"}
    chat_service.record_inbound(c.store, c.clock, dev["account_id"], dev["id"], record)
    path = f"/v1/devices/{dev['id']}/chats/{PHONE}"
    assert api.get(path).get_json()["name"] == "Ana G"
    api.patch(f"/v1/devices/{dev['id']}/contacts/{PHONE}", json={"name": "Ana García"})
    assert api.get(path).get_json()["name"] == "Ana García"
    # a deleted chat's next message takes the contact's name again
    assert api.delete(path).status_code == 204
    inbound(c, dev, PHONE)
    assert api.get(path).get_json()["name"] == "Ana García"


def test_search_by_name_words_and_number_digits(c, dev, api):
    inbound(c, dev, "+447400123456")
    inbound(c, dev, "+34600100200")
    inbound(c, dev, "+34600999888")
    api.patch(f"/v1/devices/{dev['id']}/contacts/+34600100200", json={"name": "Jane Doe"})
    api.patch(f"/v1/devices/{dev['id']}/contacts/+34600999888", json={"name": "John Dowland"})
    assert chats_of(api, dev, search="jan") == ["+34600100200"]
    assert chats_of(api, dev, search="Do") == ["+34600999888", "+34600100200"]
    assert chats_of(api, dev, search="j dow") == ["+34600999888"]
    assert chats_of(api, dev, search="+44 7400") == ["+447400123456"]
    assert chats_of(api, dev, search="600100") == ["+34600100200"]  # national digits
    assert chats_of(api, dev, search="346009") == ["+34600999888"]
    assert chats_of(api, dev, search="nobody") == []
    label = api.post("/v1/labels", json={"name": "VIP"}).get_json()
    api.patch(f"/v1/devices/{dev['id']}/chats/+34600999888", json={"labels": [label["id"]]})
    assert chats_of(api, dev, search="do", label=label["id"]) == ["+34600999888"]
    for bad in ("", "+1", "x" * 51):
        assert_error(api.get(f"/v1/devices/{dev['id']}/chats", query_string={"search": bad}), 422)


def test_search_pages_with_a_cursor(c, dev, api):
    for n in range(5):
        inbound(c, dev, f"+3460010020{n}")
    first = api.get(f"/v1/devices/{dev['id']}/chats", query_string={"search": "600100", "limit": 3})
    body = first.get_json()
    assert len(body["data"]) == 3 and body["next_cursor"]
    rest = api.get(f"/v1/devices/{dev['id']}/chats", query_string={
        "search": "600100", "limit": 3, "cursor": body["next_cursor"]}).get_json()
    assert [c["id"] for c in rest["data"]] == ["+34600100201", "+34600100200"]
    assert rest["next_cursor"] is None


# --- assignment -----------------------------------------------------------------------


def test_assign_a_chat_filter_by_assignee_and_the_event(api, client, c, platform):  # noqa: F811
    granted, other = platform
    inbound(c, granted, PHONE)
    inbound(c, granted, "+34600100200")
    ana, ana_api = new_agent(api, client, devices=[granted["id"]])
    bob, _ = new_agent(api, client, name="Bob", email="bob@acme.example", devices=[other["id"]])
    admin, _ = new_agent(api, client, name="Ada", email="ada@acme.example", role="admin")
    path = f"/v1/devices/{granted['id']}/chats/{PHONE}"
    response = api.patch(path, json={"assigned_to": ana["id"]})
    assert response.status_code == 200 and response.get_json()["assigned_to"] == ana["id"]
    event = [e for e in c.bus.published if e.event == EventName.chat_update][-1]
    assert event.data["changed"] == ["assigned_to"] and event.data["assigned_to"] == ana["id"]
    assert chats_of(api, granted, assigned_to=ana["id"]) == [PHONE]
    assert chats_of(ana_api, granted, assigned_to="me") == [PHONE]
    # a label change keeps the assignee; null unassigns
    assert api.patch(path, json={"read": True}).get_json()["assigned_to"] == ana["id"]
    assert api.patch(path, json={"assigned_to": None}).get_json()["assigned_to"] is None
    assert chats_of(ana_api, granted, assigned_to="me") == []
    # an admin may use every device; an agent without the grant may not be assigned
    assert api.patch(path, json={"assigned_to": admin["id"]}).status_code == 200
    assert_error(api.patch(path, json={"assigned_to": bob["id"]}), 422, "agent_not_granted")
    assert_error(api.patch(path, json={"assigned_to": "agt_00000000000000000000"}), 422,
                 "unknown_agent")
    assert_error(api.patch(path, json={"assigned_to": "ana"}), 422)
    api.patch(f"/v1/agents/{ana['id']}", json={"active": False})
    assert_error(api.patch(path, json={"assigned_to": ana["id"]}), 422, "agent_inactive")
    # `me` is an agent's; other filters refuse bad values
    assert_error(api.get(f"/v1/devices/{granted['id']}/chats?assigned_to=me"), 422, "not_an_agent")
    assert_error(api.get(f"/v1/devices/{granted['id']}/chats?assigned_to=ana"), 422)


def test_the_agents_of_a_device(api, client, c, platform):  # noqa: F811
    granted, other = platform
    ana, ana_api = new_agent(api, client, name="Ana", devices=[granted["id"]])
    new_agent(api, client, name="Bob", email="bob@acme.example", devices=[other["id"]])
    new_agent(api, client, name="Ada", email="ada@acme.example", role="admin")
    listed = api.get(f"/v1/devices/{granted['id']}/agents").get_json()["data"]
    assert [(a["name"], a["role"]) for a in listed] == [("Ada", "admin"), ("Ana", "agent")]
    assert set(listed[0]) == {"id", "name", "role"}  # no emails for other agents to read
    assert [a["name"] for a in ana_api.get(f"/v1/devices/{granted['id']}/agents").get_json()["data"]] \
        == ["Ada", "Ana"]
    # an ungranted device is not found, exactly as one that does not exist
    ungranted = ana_api.get(f"/v1/devices/{other['id']}/agents")
    missing = api.get("/v1/devices/dev_00000000000000000000/agents")
    assert_error(ungranted, 404, "not_found")
    assert_error(missing, 404, "not_found")
    assert ungranted.get_json()["error"]["message"].replace(other["id"], "X") == \
        missing.get_json()["error"]["message"].replace("dev_00000000000000000000", "X")


# --- sending in a chat ----------------------------------------------------------------


def upload(caller, data: bytes, name: str):
    return caller.post("/v1/files", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_send_a_file_a_reply_and_a_reaction_in_a_chat(c, dev, api):
    inbound(c, dev, PHONE, wa_id="WAQ1")
    path = f"/v1/devices/{dev['id']}/chats/{PHONE}/messages"
    image = png()
    file = upload(api, image, "photo.png").get_json()
    sent = api.post(path, json={"media": {"file": file["id"], "caption": "Here"}})
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["type"] == "image" and sent.get_json()["source"] == "api"
    content = api.get(f"/v1/files/{file['id']}/content")
    assert content.status_code == 200 and content.data == image
    assert content.mimetype == "image/png"
    assert_error(api.get("/v1/files/file_000000000000000000000000/content"), 404)
    reply = api.post(path, json={"message": "Yes", "quote": "WAQ1"}).get_json()
    assert reply["quote"]["wa_id"] == "WAQ1"
    reaction = api.post(path, json={"reaction": {"message": "WAQ1", "emoji": "👍"}}).get_json()
    assert reaction["type"] == "reaction"
    for bad in ({}, {"message": "a", "media": {"file": file["id"]}},
                {"reaction": {"message": "WAQ1", "emoji": "👍"}, "quote": "WAQ1"},
                {"message": "x" * 6001}, {"message": "x", "source": "phone"},
                {"media": {"file": "file_nope"}}, {"message": "x", "quote": "WA_none"}):
        assert_error(api.post(path, json=bad), 422)


def test_a_chat_with_a_new_number_starts_with_its_first_message(c, dev, api):
    path = f"/v1/devices/{dev['id']}/chats/+447400999111"
    assert_error(api.get(path), 404)
    assert api.post(path + "/messages", json={"message": "Hello"}).status_code == 201
    assert_error(api.post(f"/v1/devices/{dev['id']}/chats/12/messages", json={"message": "x"}), 422)


def test_an_agent_uploads_and_reads_the_plan_limits_of_its_devices(api, client, c, platform):  # noqa: F811
    granted, other = platform
    _, agent = new_agent(api, client, devices=[granted["id"]])
    assert upload(agent, png(), "p.png").status_code == 201
    usage = agent.get(f"/v1/devices/{granted['id']}/usage").get_json()
    assert usage["media_limits"]["image"] > 0
    assert_error(agent.get(f"/v1/devices/{other['id']}/usage"), 404)


def test_only_a_persons_sign_in_may_use_the_web_chats_lane(api, client, c, platform):  # noqa: F811
    granted, _ = platform
    _, agent = new_agent(api, client, devices=[granted["id"]])
    path = f"/v1/devices/{granted['id']}/chats/{PHONE}/messages"
    body = {"message": "Hi", "source": "web_chat"}
    assert_error(api.post(path, json=body), 403, "web_chat_needs_sign_in")
    assert_error(agent.post(path, json=body), 403, "web_chat_needs_sign_in")


@pytest.fixture
def people_c(certs_url):  # noqa: F811
    from shared.person_tokens import CERTS

    CERTS.clear()
    container = make_container(settings=make_settings(
        env="production", identity_backend="firebase", identity_project="utio-prod-test",
        id_token_certs_url=certs_url, person_check_seconds=0))
    container.__dict__["identity"] = FakeIdentity()
    return container


def test_a_signed_in_person_sends_in_the_web_chats_lane(people_c, keys):  # noqa: F811
    c = people_c
    raw, account_id = owner(c, keys)
    device = seed_device(c, account_id)
    client = create_app(c).test_client()
    path = f"/v1/devices/{device.id}/chats/{PHONE}/messages"
    response = client.post(path, json={"message": "Hi", "source": "web_chat", "priority": "low"},
                           headers=auth(raw))
    assert response.status_code == 201, response.get_json()
    sent = response.get_json()
    assert (sent["source"], sent["priority"]) == ("web_chat", "urgent")
    assert [t.payload["message_id"] for t in c.tasks.on(names.MESSAGE_QUEUES["urgent"])] == [sent["id"]]
    stored = c.store.get("messages", sent["id"])
    assert stored["source"] == "web_chat"
    from shared.domain import WEB_CHAT_RANK, Message

    assert Message.model_validate(stored).send_rank == WEB_CHAT_RANK
    # the same Idempotency-Key with the other lane is another request
    key = {"Idempotency-Key": "k1"} | auth(raw)
    assert client.post(path, json={"message": "Hey", "source": "web_chat"}, headers=key).status_code == 201
    assert_error(client.post(path, json={"message": "Hey"}, headers=key), 409)
