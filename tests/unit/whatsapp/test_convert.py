"""Conversion between our message model and WhatsApp's protobufs (neonize's real waE2E
types), with no connection: every outbound content type, and inbound messages back."""

from __future__ import annotations

import json

import pytest
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource, UploadResponse
from neonize.proto.Neonize_pb2 import Message as MessageEvent
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ButtonsResponseMessage,
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    InteractiveResponseMessage,
    ListResponseMessage,
    Message,
    VideoMessage,
)

from device_runner.whatsapp import convert, jids

TO = "+447911123456"
GROUP = "120363025246125486@g.us"
FILE = {"id": "file_1", "mime": "image/jpeg", "size": 2048, "sha256": "ab" * 32,
        "filename": "photo.jpg"}
UPLOAD = UploadResponse(url="https://mmg.whatsapp.net/x.enc", DirectPath="/v/t62/x",
                        MediaKey=b"k" * 32, FileSHA256=b"s" * 32, FileEncSHA256=b"e" * 32,
                        FileLength=2048)


def roundtrip(message: Message) -> Message:
    """What WhatsApp would carry: the serialised bytes, parsed again."""
    return Message.FromString(message.SerializeToString())


# --- addresses ------------------------------------------------------------------------------


def test_addresses():
    assert jids.jid_text(jids.jid(TO)) == "447911123456@s.whatsapp.net"
    assert jids.jid_text(jids.jid(GROUP)) == GROUP
    parsed = jids.parse_jid("34600555111:12@s.whatsapp.net")
    assert (parsed.User, parsed.Device) == ("34600555111", 12)
    assert jids.phone(parsed) == "+34600555111"
    assert jids.phone(JID(User="123", Server="lid")) is None
    with pytest.raises(convert.Unsupported):
        jids.jid("not a number")


# --- outbound --------------------------------------------------------------------------------


def test_text_and_text_with_a_quote():
    assert roundtrip(convert.outgoing({"type": "text", "text": "Hi 🚚"}, to=TO)).conversation == "Hi 🚚"
    quoted = roundtrip(convert.outgoing(
        {"type": "text", "text": "Yes"}, to=TO,
        quote={"wa_id": "3EB0Q", "from_me": False, "text": "Shipped?"}))
    context = quoted.extendedTextMessage.contextInfo
    assert quoted.extendedTextMessage.text == "Yes"
    assert (context.stanzaID, context.participant) == ("3EB0Q", "447911123456@s.whatsapp.net")
    assert context.quotedMessage.conversation == "Shipped?"


@pytest.mark.parametrize("kind,field", [("image", "imageMessage"), ("video", "videoMessage"),
                                        ("gif", "videoMessage"), ("audio", "audioMessage"),
                                        ("document", "documentMessage")])
def test_media_carries_the_upload(kind, field):
    content = {"type": kind, "file": FILE, "caption": None if kind == "document" else "Look"}
    message = roundtrip(convert.outgoing(content, to=TO, upload=UPLOAD))
    part = getattr(message, field)
    assert (part.URL, part.directPath, part.mediaKey, part.fileLength) == (
        UPLOAD.url, UPLOAD.DirectPath, UPLOAD.MediaKey, 2048)
    assert part.fileSHA256 == UPLOAD.FileSHA256 and part.fileEncSHA256 == UPLOAD.FileEncSHA256
    if kind == "gif":
        assert part.gifPlayback
    if kind == "document":
        assert part.fileName == "photo.jpg"
    assert convert.media_kind(content) == ("video" if kind == "gif" else kind)


def test_voice_notes_and_documents_with_a_caption():
    voice = convert.outgoing({"type": "audio", "file": FILE, "voice": True}, to=TO, upload=UPLOAD)
    assert voice.audioMessage.PTT and voice.audioMessage.mimetype == "audio/ogg; codecs=opus"
    doc = roundtrip(convert.outgoing({"type": "document", "file": FILE, "caption": "Invoice",
                                      "filename": "invoice.pdf"}, to=TO, upload=UPLOAD))
    inner = doc.documentWithCaptionMessage.message.documentMessage
    assert (inner.fileName, inner.caption) == ("invoice.pdf", "Invoice")
    with pytest.raises(convert.Unsupported):
        convert.outgoing({"type": "image", "file": FILE}, to=TO)  # no upload


def test_location_and_contacts():
    loc = roundtrip(convert.outgoing({"type": "location", "latitude": 51.5033,
                                      "longitude": -0.1196, "name": "London Eye",
                                      "address": "Riverside", "url": None}, to=TO))
    assert (loc.locationMessage.degreesLatitude, loc.locationMessage.name) == (51.5033, "London Eye")
    one = convert.outgoing({"type": "contacts", "contacts": [
        {"name": "Ann Lee", "phone": "+447911123457", "email": "ann@x.example",
         "organization": "Acme"}]}, to=TO)
    assert one.contactMessage.displayName == "Ann Lee"
    assert "TEL;type=CELL;type=VOICE;waid=447911123457:+447911123457" in one.contactMessage.vcard
    assert "ORG:Acme;" in one.contactMessage.vcard and "EMAIL:ann@x.example" in one.contactMessage.vcard
    two = convert.outgoing({"type": "contacts", "contacts": [
        {"name": "Ann", "phone": "+447911123457"}, {"name": "Bob", "phone": "+447911123458"}]}, to=TO)
    assert [c.displayName for c in two.contactsArrayMessage.contacts] == ["Ann", "Bob"]


def test_buttons_through_neonizes_interactive_builder():
    message = roundtrip(convert.outgoing({
        "type": "buttons", "text": "Did your parcel arrive?", "header": "Acme", "footer": "Reply",
        "items": [{"type": "reply", "id": "yes", "text": "Yes"},
                  {"type": "url", "text": "Track", "url": "https://acme.example/t/1"},
                  {"type": "call", "text": "Call us", "phone": "+447911123457"}]}, to=TO))
    interactive = message.interactiveMessage
    assert interactive.body.text == "Did your parcel arrive?"
    assert (interactive.header.title, interactive.footer.text) == ("Acme", "Reply")
    buttons = interactive.nativeFlowMessage.buttons
    assert [b.name for b in buttons] == ["quick_reply", "cta_url", "cta_call"]
    params = [json.loads(b.buttonParamsJSON) for b in buttons]
    assert params[0] == {"display_text": "Yes", "id": "yes"}
    assert params[1]["url"] == "https://acme.example/t/1"
    assert params[2]["id"] == "+447911123457"


def test_list_through_neonizes_single_select():
    message = roundtrip(convert.outgoing({
        "type": "list", "text": "When?", "button": "Pick a slot", "title": "Delivery",
        "footer": None, "sections": [
            {"title": "Tomorrow", "rows": [{"id": "am", "title": "Morning", "description": "8-12"},
                                           {"id": "pm", "title": "Afternoon"}]}]}, to=TO))
    [button] = message.interactiveMessage.nativeFlowMessage.buttons
    assert button.name == "single_select"
    params = json.loads(button.buttonParamsJSON)
    assert params["title"] == "Pick a slot"
    [section] = params["sections"]
    assert section["title"] == "Tomorrow"
    assert [(r["id"], r["title"]) for r in section["rows"]] == [("am", "Morning"), ("pm", "Afternoon")]


def test_reactions_address_the_target_message():
    mine = roundtrip(convert.outgoing({"type": "reaction", "emoji": "👍", "target": {
        "wa_id": "3EB0T", "from_me": False}}, to=TO, now_ms=1700000000000))
    key = mine.reactionMessage.key
    assert (key.remoteJID, key.ID, key.fromMe) == ("447911123456@s.whatsapp.net", "3EB0T", False)
    assert (mine.reactionMessage.text, mine.reactionMessage.senderTimestampMS) == ("👍", 1700000000000)
    group = convert.outgoing({"type": "reaction", "emoji": "", "target": {
        "wa_id": "3EB0G", "from_me": False, "sender": "+447911123457"}}, to=GROUP)
    assert group.reactionMessage.key.participant == "447911123457@s.whatsapp.net"
    assert group.reactionMessage.text == ""  # removes the reaction


def test_unknown_content_is_refused():
    with pytest.raises(convert.Unsupported):
        convert.outgoing({"type": "hologram"}, to=TO)


# --- inbound ---------------------------------------------------------------------------------


def event(message: Message, *, chat: str = "447911123456", server: str = "s.whatsapp.net"):
    source = MessageSource(Chat=JID(User=chat, Server=server),
                           Sender=JID(User="447911123456", Server="s.whatsapp.net"),
                           IsGroup=server == "g.us")
    built = MessageEvent(Info=MessageInfo(MessageSource=source, ID="W1", Pushname="Ann",
                                          Timestamp=1700000000), Message=message)
    parsed = MessageEvent()  # neonize's Go side fills every proto2 field; we set a few
    parsed.MergeFromString(built.SerializePartialToString())
    return parsed


def test_inbound_text_with_a_quote_and_wrappers():
    got = convert.incoming(event(Message(ephemeralMessage=FutureProofMessage(message=Message(
        extendedTextMessage=ExtendedTextMessage(text="Sure", contextInfo=ContextInfo(
            stanzaID="3EB0Q", participant="34600555111@s.whatsapp.net")))))))
    assert (got.type, got.text, got.sender, got.push_name) == ("text", "Sure", "+447911123456", "Ann")
    assert got.content["quote"] == {"wa_id": "3EB0Q", "sender": "+34600555111"}
    assert got.at.year == 2023


def test_inbound_media_and_others():
    video = convert.incoming(event(Message(videoMessage=VideoMessage(
        mimetype="video/mp4", gifPlayback=True, seconds=3, fileLength=10))))
    assert video.type == "gif" and video.media is not None and video.content["seconds"] == 3
    doc = convert.incoming(event(Message(documentWithCaptionMessage=FutureProofMessage(
        message=Message(documentMessage=DocumentMessage(fileName="a.pdf", caption="Invoice",
                                                        mimetype="application/pdf"))))))
    assert (doc.type, doc.text, doc.content["filename"]) == ("document", "Invoice", "a.pdf")
    contacts = convert.incoming(event(Message(contactsArrayMessage=ContactsArrayMessage(contacts=[
        ContactMessage(displayName="Ann", vcard=convert.vcard({"name": "Ann", "phone": "+4479"})),
        ContactMessage(displayName="Bob", vcard="BEGIN:VCARD\nEND:VCARD")]))))
    assert contacts.content["contacts"][0]["phone"] == "+4479"
    assert contacts.text == "Ann, Bob"


def test_inbound_replies_to_buttons_and_lists():
    button = convert.incoming(event(Message(buttonsResponseMessage=ButtonsResponseMessage(
        selectedButtonID="yes", selectedDisplayText="Yes"))))
    assert (button.type, button.content["id"]) == ("button_reply", "yes")
    row = convert.incoming(event(Message(listResponseMessage=ListResponseMessage(
        title="Morning", singleSelectReply=ListResponseMessage.SingleSelectReply(selectedRowID="am")))))
    assert (row.type, row.content["id"]) == ("list_reply", "am")
    flow = convert.incoming(event(Message(interactiveResponseMessage=InteractiveResponseMessage(
        body=InteractiveResponseMessage.Body(text="Yes"),
        nativeFlowResponseMessage=InteractiveResponseMessage.NativeFlowResponseMessage(
            name="quick_reply", paramsJSON='{"id": "yes"}')))))
    assert (flow.type, flow.content["id"], flow.text) == ("button_reply", "yes", "Yes")


def test_inbound_in_a_group_and_unsupported():
    got = convert.incoming(event(Message(conversation="hi"), chat="120363025246125486", server="g.us"))
    assert got.group == GROUP
    odd = convert.incoming(event(Message(pollCreationMessage={"name": "Lunch?"})))
    assert odd.type == "unsupported" and odd.content["fields"] == ["pollCreationMessage"]


def test_outbound_then_inbound_agree():
    """What we send, read back as a recipient would see it."""
    for content in ({"type": "text", "text": "x"},
                    {"type": "location", "latitude": 1.5, "longitude": 2.5, "name": "P"},
                    {"type": "contacts", "contacts": [{"name": "Ann", "phone": "+447911123457"}]}):
        sent = convert.outgoing(content, to=TO)
        back = convert.incoming(event(sent))
        assert back.type == content["type"]


def test_every_content_model_of_the_messaging_issue_converts():
    """shared.content's models (the messaging work), dumped as the adapter dumps them."""
    content = pytest.importorskip("shared.content")
    file = content.StoredFile(id="file_1", mime="image/jpeg", size=10, sha256="ab" * 32,
                              filename="a.jpg")
    models = [
        content.Text(text="hi"),
        content.Location(latitude=1.0, longitude=2.0, name="P"),
        content.Contacts(contacts=[content.ContactCard(name="Ann", phone="+447911123457")]),
        content.Buttons(text="Q?", items=[content.ReplyButton(id="y", text="Yes"),
                                          content.UrlButton(type="url", text="Go",
                                                            url="https://a.example")]),
        content.ListMessage(text="Pick", button="Open", sections=[content.ListSection(
            title="S", rows=[content.ListRow(id="r", title="Row")])]),
        content.Reaction(target=content.MessageRef(wa_id="3EB0T", from_me=True), emoji="👍"),
        *[content.Media(type=kind, file=file) for kind in convert.MEDIA_TYPES],
    ]
    for model in models:
        body = model.model_dump(mode="json")
        upload = UPLOAD if convert.media_kind(body) else None
        message = convert.outgoing(body, to=TO, upload=upload)
        assert message.ListFields(), body["type"]
