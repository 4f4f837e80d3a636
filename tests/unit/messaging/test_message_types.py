"""POST /v1/messages with each content type, to phones and groups, and the rules on what
may be sent where."""

from __future__ import annotations

import pytest

from shared.content import MAX_TEXT
from shared.services import message_transitions
from tests.fakes import assert_error
from tests.unit.messaging.helpers import GROUP, OTHER, PHONE, first_text

BUTTONS = {"text": "Did your parcel arrive?", "footer": "Acme",
           "items": [{"type": "reply", "id": "yes", "text": "Yes"},
                     {"type": "reply", "id": "no", "text": "No"}]}
LINK_BUTTONS = {"text": "Your order", "items": [
    {"type": "url", "text": "Track it", "url": "https://acme.example/t/1"},
    {"type": "call", "text": "Call us", "phone": "+44 20 7946 0018"}]}
LIST = {"text": "When should we deliver?", "button": "Pick a slot", "sections": [
    {"title": "Tomorrow", "rows": [{"id": "am", "title": "Morning", "description": "8-12"},
                                   {"id": "pm", "title": "Afternoon"}]}]}


def test_text_with_emojis(api, dev):
    body = api.send(phone=PHONE, message="Hola 👋🏽 — ¿qué tal? 中文").get_json()
    assert body["type"] == "text"
    assert body["content"] == {"type": "text", "text": "Hola 👋🏽 — ¿qué tal? 中文"}
    assert body["message"] == "Hola 👋🏽 — ¿qué tal? 中文"


@pytest.mark.parametrize("text,status", [("x" * MAX_TEXT, 201), ("x" * (MAX_TEXT + 1), 422),
                                         ("🙂" * MAX_TEXT, 201), ("", 422)])
def test_text_length(api, dev, text, status):
    assert api.send(phone=PHONE, message=text).status_code == status


def test_location(api, dev):
    body = api.send(phone=PHONE, location={"latitude": 51.5033, "longitude": -0.1196,
                                           "name": "London Eye", "address": "SE1 7PB"}).get_json()
    assert body["type"] == "location" and body["message"] == "London Eye"
    assert body["content"]["latitude"] == 51.5033 and body["content"]["address"] == "SE1 7PB"


@pytest.mark.parametrize("location", [
    {"latitude": 91, "longitude": 0}, {"latitude": 0, "longitude": -181},
    {"latitude": "north", "longitude": 0}, {"longitude": 0}, {"latitude": 0, "longitude": 0,
                                                               "altitude": 3}])
def test_bad_locations(api, dev, location):
    assert_error(api.send(phone=PHONE, location=location), 422, "validation_error")


def test_contacts(api, dev):
    body = api.send(phone=PHONE, contacts=[
        {"name": "Ana Pérez", "phone": "+34 612 34 56 78", "email": "ana@example.com"},
        {"name": "Bob", "phone": OTHER, "organization": "Acme"}]).get_json()
    assert body["type"] == "contacts" and body["message"] == "Ana Pérez, Bob"
    assert body["content"]["contacts"][0]["phone"] == "+34612345678"


@pytest.mark.parametrize("contacts", [
    [], [{"name": "Ana"}], [{"name": "Ana", "phone": "12"}], [{"name": "", "phone": PHONE}],
    [{"name": "Ana", "phone": PHONE, "email": "not-an-email"}],
    [{"name": f"c{i}", "phone": PHONE} for i in range(21)]])
def test_bad_contacts(api, dev, contacts):
    assert_error(api.send(phone=PHONE, contacts=contacts), 422, "validation_error")


def test_reply_buttons_after_a_text(api, dev):
    first_text(api, dev, {"phone": PHONE})
    body = api.send(phone=PHONE, buttons=BUTTONS).get_json()
    assert body["type"] == "buttons" and body["message"] == "Did your parcel arrive?"
    assert [b["id"] for b in body["content"]["items"]] == ["yes", "no"]


def test_url_and_call_buttons_to_a_phone(api, dev):
    first_text(api, dev, {"phone": PHONE})
    body = api.send(phone=PHONE, buttons=LINK_BUTTONS).get_json()
    assert [b["type"] for b in body["content"]["items"]] == ["url", "call"]
    assert body["content"]["items"][1]["phone"] == "+442079460018"


@pytest.mark.parametrize("buttons", [
    {"text": "x", "items": []},
    {"text": "x", "items": [{"type": "reply", "id": str(i), "text": "b"} for i in range(4)]},
    {"text": "x", "items": [{"type": "reply", "id": "a", "text": "b"},
                            {"type": "reply", "id": "a", "text": "c"}]},
    {"text": "x", "items": [{"type": "reply", "id": "a", "text": "b" * 21}]},
    {"text": "x", "items": [{"type": "url", "text": "b", "url": "ftp://x"}]},
    {"text": "x", "items": [{"type": "call", "text": "b", "phone": "nope"}]},
    {"text": "x", "items": [{"type": "share", "text": "b"}]},
    {"text": "", "items": [{"type": "reply", "id": "a", "text": "b"}]},
    {"text": "x" * 1025, "items": [{"type": "reply", "id": "a", "text": "b"}]}])
def test_bad_buttons(api, dev, buttons):
    first_text(api, dev, {"phone": PHONE})
    assert_error(api.send(phone=PHONE, buttons=buttons), 422, "validation_error")


def test_url_and_call_buttons_to_a_group_are_refused(api, dev):
    first_text(api, dev, {"group": GROUP})
    error = assert_error(api.send(group=GROUP, buttons=LINK_BUTTONS), 422,
                     "buttons_not_allowed_in_groups")
    assert "group" in error["message"]
    assert api.send(group=GROUP, buttons=BUTTONS).status_code == 201  # reply buttons are fine


def test_list_after_a_text(api, dev):
    first_text(api, dev, {"phone": PHONE})
    body = api.send(phone=PHONE, list=LIST).get_json()
    assert body["type"] == "list" and body["content"]["button"] == "Pick a slot"


@pytest.mark.parametrize("change", [
    {"sections": []},
    {"sections": [{"title": "s", "rows": [{"id": str(i), "title": "r"} for i in range(11)]}]},
    {"sections": [{"title": "a", "rows": [{"id": str(i), "title": "r"} for i in range(6)]},
                  {"title": "b", "rows": [{"id": f"b{i}", "title": "r"} for i in range(5)]}]},
    {"sections": [{"title": "a", "rows": [{"id": "x", "title": "r"}]},
                  {"title": "b", "rows": [{"id": "x", "title": "r"}]}]},
    {"sections": [{"title": "a", "rows": [{"id": "x", "title": "r" * 25}]}]},
    {"button": ""}, {"button": "b" * 21}])
def test_bad_lists(api, dev, change):
    first_text(api, dev, {"phone": PHONE})
    assert_error(api.send(phone=PHONE, list=LIST | change), 422, "validation_error")


@pytest.mark.parametrize("kind,content", [("buttons", BUTTONS), ("list", LIST)])
def test_buttons_or_list_cannot_open_a_conversation(api, dev, c, kind, content):
    error = assert_error(api.send(phone=PHONE, **{kind: content}), 422, "first_message_not_text")
    assert "text" in error["message"] and PHONE in error["message"]
    assert c.store.query("messages") == []


def test_an_inbound_message_opens_the_conversation(api, dev, c):
    c.store.put("chats", f"{dev}:{PHONE}", {"device_id": dev, "phone": PHONE})
    assert api.send(phone=PHONE, list=LIST).status_code == 201


def test_a_failed_or_cancelled_text_does_not_open_it(api, dev, c):
    from shared.domain import FailureReason, Message

    failed = first_text(api, dev, {"phone": PHONE})
    message_transitions.fail(c, Message.model_validate(c.store.get("messages", failed["id"])),
                 FailureReason.number_not_on_whatsapp)
    cancelled = first_text(api, dev, {"phone": PHONE})
    api.delete(f"/v1/messages/{cancelled['id']}")
    assert_error(api.send(phone=PHONE, buttons=BUTTONS), 422, "first_message_not_text")


def test_a_queued_text_opens_it_only_if_it_goes_first(api, dev, c):
    api.send(phone=PHONE, message="hi", priority="low")
    # urgent buttons would overtake the low text
    assert_error(api.send(phone=PHONE, buttons=BUTTONS, priority="urgent"), 422,
             "first_message_not_text")
    assert api.send(phone=PHONE, buttons=BUTTONS, priority="low").status_code == 201


def test_a_text_sent_opens_it_for_any_priority(api, dev, c):

    text = first_text(api, dev, {"phone": PHONE})
    message_transitions.mark_sent(c, text["id"])
    assert api.send(phone=PHONE, buttons=BUTTONS, priority="urgent").status_code == 201
    # another chat is still closed
    assert_error(api.send(phone=OTHER, buttons=BUTTONS), 422, "first_message_not_text")


@pytest.mark.parametrize("raw,jid", [("120363025246125486@g.us", "120363025246125486@g.us"),
                                     ("120363025246125486", "120363025246125486@g.us"),
                                     ("447911123456-1609459200@g.us", "447911123456-1609459200@g.us")])
def test_group_target(api, dev, raw, jid):
    body = api.send(group=raw, message="hi all").get_json()
    assert body["group"] == jid and body["phone"] is None


@pytest.mark.parametrize("body,code", [
    ({"group": "not-a-group", "message": "x"}, "invalid_group"),
    ({"group": "123@newsletter", "message": "x"}, "unsupported_target"),
    ({"group": "123456789@broadcast", "message": "x"}, "broadcast_not_supported"),
    ({"phone": "status@broadcast", "message": "x"}, "broadcast_not_supported"),
    ({"broadcast": "bl_1", "message": "x"}, "broadcast_not_supported"),
])
def test_targets_that_are_not_phones_or_groups(api, dev, c, body, code):
    error = assert_error(api.send(**body), 422, code)
    if code == "broadcast_not_supported":
        assert "1-to-1" in error["message"] and "group" in error["message"]
    assert c.store.query("messages") == []


@pytest.mark.parametrize("body,field", [
    ({"message": "x"}, "phone"),
    ({"phone": PHONE, "group": GROUP, "message": "x"}, "phone"),
    ({"phone": PHONE}, "message"),
    ({"phone": PHONE, "message": "x", "location": {"latitude": 1, "longitude": 1}}, "location"),
    ({"phone": PHONE, "message": "caption?", "media": {"url": "https://x.example/a.jpg"}},
     "media"),
])
def test_exactly_one_target_and_one_content(api, dev, body, field):
    error = assert_error(api.send(**body), 422, "validation_error")
    assert error["details"][0]["field"] == field


# --- quotes and reactions ---------------------------------------------------------------


def test_reply_quoting_our_own_message(api, dev):
    quoted = first_text(api, dev, {"phone": PHONE})
    body = api.send(phone=PHONE, message="as I said", quote=quoted["id"]).get_json()
    assert body["quote"]["message_id"] == quoted["id"] and body["quote"]["from_me"] is True
    assert body["quote"]["text"] == "Hello!" and body["quote"]["wa_id"].startswith("3EB0")


def test_reply_quoting_a_received_message(api, dev, c):
    c.store.put("chat_messages", f"{dev}:ABCDEF123", {"id": "msg_in1", "wa_id": "ABCDEF123",
                                                      "device_id": dev, "phone": PHONE,
                                                      "message": "Where is my order?"})
    body = api.send(phone=PHONE, message="On its way", quote="ABCDEF123").get_json()
    assert body["quote"] == {"wa_id": "ABCDEF123", "from_me": False, "sender": PHONE,
                             "message_id": None, "text": "Where is my order?"}


def test_quote_of_another_chat_or_unknown_message(api, dev, c):
    quoted = first_text(api, dev, {"phone": PHONE})
    assert_error(api.send(phone=OTHER, message="x", quote=quoted["id"]), 422, "message_in_other_chat")
    assert_error(api.send(phone=PHONE, message="x", quote="msg_nope"), 422, "unknown_message")
    assert_error(api.send(phone=PHONE, message="x", quote="NOPE"), 422, "unknown_message")


def test_reaction(api, dev):
    target = first_text(api, dev, {"phone": PHONE})
    body = api.send(phone=PHONE, reaction={"message": target["id"], "emoji": "👍"}).get_json()
    assert body["type"] == "reaction" and body["message"] == "👍"
    assert body["content"]["target"]["message_id"] == target["id"]
    removed = api.send(phone=PHONE, reaction={"message": target["id"], "emoji": ""})
    assert removed.status_code == 201


@pytest.mark.parametrize("reaction,code", [
    ({"message": "msg_nope", "emoji": "👍"}, "unknown_message"),
    ({"message": "TARGET", "emoji": "ok"}, "validation_error"),
    ({"message": "TARGET", "emoji": "👍" * 17}, "validation_error"),
    ({"emoji": "👍"}, "validation_error"),
])
def test_bad_reactions(api, dev, reaction, code):
    target = first_text(api, dev, {"phone": PHONE})
    reaction = {k: (target["id"] if v == "TARGET" else v) for k, v in reaction.items()}
    assert_error(api.send(phone=PHONE, reaction=reaction), 422, code)


def test_a_reaction_quotes_nothing(api, dev):
    target = first_text(api, dev, {"phone": PHONE})
    assert_error(api.send(phone=PHONE, reaction={"message": target["id"], "emoji": "👍"},
                      quote=target["id"]), 422, "invalid_quote")


def test_every_type_is_in_the_openapi_document(api):
    doc = api.get("/v1/openapi.json").get_json()
    props = doc["components"]["schemas"]["SendMessage"]["properties"]
    for name in ("phone", "group", "message", "media", "location", "contacts", "buttons", "list",
                 "reaction", "quote", "deliver_at", "priority"):
        assert name in props
    upload = doc["paths"]["/v1/files"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


def test_quote_of_a_chat_log_entry(api, dev, c):
    """Entries of the chat log (main's chats) name their chat and direction."""
    c.store.put("chat_messages", f"{dev}:WAGROUP1", {"wa_id": "WAGROUP1", "chat": GROUP,
                                                     "phone": OTHER, "direction": "inbound",
                                                     "message": "who's in?"})
    body = api.send(group=GROUP, message="me", quote="WAGROUP1").get_json()
    assert body["quote"]["sender"] == OTHER and body["quote"]["from_me"] is False
    assert_error(api.send(phone=OTHER, message="x", quote="WAGROUP1"), 422, "message_in_other_chat")
