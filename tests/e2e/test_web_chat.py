"""The web chat (issue #16) in headless Chromium against one local stack on the emulators
(Firestore, Pub/Sub, Firebase Auth), found by role, label and text as a person finds it.

The owner is the stack's development sign-in; the devices are sandbox devices made with
the development API key; agents are invited with it and set their password from the
invitation's code. What is set up through the API is set up once per module; every test
drives the pages. Inbound messages are injected with POST /v1/devices/{id}/sandbox/inbound.
Screenshots of the chat at 360 and 1280 px go beside the console's in build/screenshots/."""

from __future__ import annotations

import json
import re
import struct
import time
import uuid
import zlib
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.stack import running_stack, wait_until
from tests.e2e.test_web_console import (  # noqa: F401 (fixtures)
    PASSWORD,
    SCREENSHOTS,
    Page,
    browser,
    fits,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# ms a live change may take to show without a reload. The issue asks for 2 s, which
# `make bench` measures (web chat: p50/p99 over 50 messages); a test asserts no speed, and
# the machine running the whole suite is loaded, so this is slack, as in the console's.
LIVE = 10_000
SLOW = 10_000  # ms: a send reaching delivered (the sandbox takes a second or two)


def png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (Utio reads the type from the bytes)."""
    raw = b"".join(b"\x00" + b"\x0b\x7a\x5c" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Api:
    def __init__(self, stack):
        self.base, self.key = stack.api, stack.key

    def __call__(self, method: str, path: str, body=None, ok: int | None = None):
        answer = requests.request(method, self.base + path, json=body, timeout=30,
                                  headers={"Authorization": f"Bearer {self.key}"})
        if ok is not None:
            assert answer.status_code == ok, (method, path, answer.status_code, answer.text[:300])
        return answer.json() if answer.content else None


@pytest.fixture(scope="module")
def stack(emulators, auth_emulator, tmp_path_factory):
    data = tmp_path_factory.mktemp("webchat")
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    overrides = {"FIRESTORE_EMULATOR_HOST": emulators.firestore_host,
                 "PUBSUB_EMULATOR_HOST": emulators.pubsub_host,
                 "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.host, "UTIO_DEV_AUTH": None,
                 "UTIO_DEV_EMAIL": owner, "UTIO_DEV_PASSWORD": PASSWORD,
                 "UTIO_MAIL_OUTBOX": str(data / "outbox.jsonl")}
    with running_stack(data, overrides) as running:
        running.origin = running.api.removesuffix("/v1")
        running.auth_host = auth_emulator.host
        running.outbox = data / "outbox.jsonl"
        running.owner = owner
        running.call = Api(running)
        yield running


@pytest.fixture(scope="module")
def world(stack):
    """Two sandbox devices, seats for agents (a WhatsApp device on a Platform plan's
    trial), and two agents each granted one device, with their passwords set."""
    call = stack.call
    north = call("POST", "/devices", {"alias": "North", "transport": "sandbox"}, ok=201)
    south = call("POST", "/devices", {"alias": "South", "transport": "sandbox"}, ok=201)
    call("POST", "/devices", {"alias": "Seats", "transport": "whatsapp",
                              "plan": "platform-professional"}, ok=201)
    for d in (north, south):
        wait_until(lambda d=d: call("GET", f"/devices/{d['id']}")["status"] == "connected", 30,
                   "the sandbox device to link")
    agents = {}
    for name, device in (("Nora", north), ("Sam", south)):
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
        agent = call("POST", "/agents", {"name": name, "email": email, "devices": [device["id"]]}, ok=201)
        wait_until(lambda email=email: stack.outbox.exists() and email in stack.outbox.read_text(), 20,
                   "the invitation")
        mail = [json.loads(line) for line in stack.outbox.read_text().splitlines()
                if email in line][-1]
        link = re.search(r"http\S+/action\?\S+", mail["body"])[0]
        code = parse_qs(urlsplit(link).query)["oobCode"][0]
        reset = requests.post(f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/"
                              "accounts:resetPassword?key=fake-api-key",
                              json={"oobCode": code, "newPassword": PASSWORD}, timeout=30)
        assert reset.status_code == 200, reset.text
        agents[name] = {"email": email, "id": agent["id"], "device": device}
    return {"north": north, "south": south, "agents": agents}


def inject(stack, device: dict, phone: str, text: str) -> float:
    stack.call("POST", f"/devices/{device['id']}/sandbox/inbound", {"phone": phone, "message": text},
               ok=202)
    return time.monotonic()


def chat_exists(stack, device: dict, phone: str) -> bool:
    answer = requests.get(f"{stack.api}/devices/{device['id']}/chats/{quote(phone)}", timeout=10,
                          headers={"Authorization": f"Bearer {stack.key}"})
    return answer.status_code == 200


def sign_in(page, email: str, then: str | None = None) -> None:
    """Signs in on /login (or on the page a signed-out visit to `then` redirected to)."""
    if then is None:
        page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(then) + "$" if then else r"/devices$"))


@pytest.fixture(scope="module")
def owner_tab(browser, stack, world):  # noqa: F811
    t = Page(browser, stack)
    sign_in(t.page, stack.owner)
    yield t.page
    t.close()


def messages(page):
    return page.get_by_role("list", name="Messages")


def chat_link(page, name: str):
    return page.get_by_role("list", name="Chat list").get_by_role("link", name=re.compile(re.escape(name)))


def open_chat(page, device: dict, phone: str) -> None:
    page.goto(f"/chat/{device['id']}/{quote(phone)}")
    page.get_by_role("textbox", name="Message").wait_for()


def test_inbound_shows_live_and_a_reply_reaches_delivered(owner_tab, stack, world):
    page, north, phone = owner_tab, world["north"], "+447911123101"
    inject(stack, north, phone, "Hello, is anyone there?")
    wait_until(lambda: chat_exists(stack, north, phone), 20, "the first inbound message's chat")
    open_chat(page, north, phone)
    messages(page).get_by_role("listitem").filter(has_text="is anyone there").wait_for()
    chat_link(page, phone).get_by_label(re.compile("unread")).wait_for(state="detached",
                                                                       timeout=SLOW)  # opened: read

    inject(stack, north, phone, "My order number is 1042")
    messages(page).get_by_role("listitem").filter(has_text="order number is 1042").wait_for(timeout=LIVE)
    chat_link(page, phone).get_by_label("1 unread").wait_for(timeout=LIVE)
    # The tab's title shows the unread total (set by an effect after the list renders).
    expect(page).to_have_title(re.compile(r"^\(1\) "), timeout=LIVE)

    page.get_by_role("textbox", name="Message").fill("Thanks! Looking at 1042 now.")
    page.get_by_role("button", name="Send").click()
    mine = messages(page).get_by_role("listitem").filter(has_text="Looking at 1042 now")
    mine.wait_for()
    mine.get_by_text(re.compile(r"^(Delivered|Read)$")).wait_for(timeout=SLOW)  # the ticks changed
    ticks = mine.locator("[title]").first.get_attribute("title")
    assert ticks in ("Delivered", "Read"), ticks
    sent = [m for m in requests.get(f"{stack.api}/messages", timeout=10, headers={
        "Authorization": f"Bearer {stack.key}"}).json()["data"] if "1042 now" in m["message"]]
    assert sent and sent[0]["source"] == "web_chat"
    chat_link(page, phone).get_by_label(re.compile("unread")).wait_for(state="detached", timeout=SLOW)


def test_send_an_image_and_refuse_an_oversized_file_before_upload(owner_tab, stack, world):
    page, north, phone = owner_tab, world["north"], "+447911123102"
    inject(stack, north, phone, "Can you send me a photo?")
    wait_until(lambda: chat_exists(stack, north, phone), 20, "the chat")
    open_chat(page, north, phone)
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/v1/files") else None)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach").click()
    chooser.value.set_files(files=[{"name": "parcel.png", "mimeType": "image/png", "buffer": png()}])
    page.get_by_role("textbox", name="Message").fill("Here it is")
    page.get_by_role("button", name="Send").click()
    image = messages(page).get_by_role("img", name="Here it is")
    image.wait_for(timeout=SLOW)  # uploaded, sent, filed in the chat and shown from its file
    assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) == 4
    assert len(uploads) == 1

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach").click()
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * 1024 * 1024)
    chooser.value.set_files(files=[{"name": "huge.png", "mimeType": "image/png", "buffer": big}])
    alert = page.get_by_role("alert").filter(has_text="too large")
    alert.wait_for()
    assert "images up to 2 MB" in alert.inner_text()  # the plan's limit, named before sending
    assert page.get_by_role("button", name="Send").is_disabled()
    assert len(uploads) == 1  # nothing uploaded
    page.get_by_role("button", name="Remove file").click()


def test_a_direct_url_opens_a_new_chat_that_the_first_message_creates(owner_tab, stack, world):
    page, north = owner_tab, world["north"]
    page.goto(f"/chat/{north['id']}/447911123199")  # no "+": it is optional
    page.get_by_text("No messages yet").wait_for()
    assert not chat_exists(stack, north, "+447911123199")
    page.get_by_role("textbox", name="Message").fill("Hello from Acme")
    page.get_by_role("button", name="Send").click()
    chat_link(page, "+447911123199").wait_for(timeout=SLOW)
    assert chat_exists(stack, north, "+447911123199")
    messages(page).get_by_role("listitem").filter(has_text="Hello from Acme").wait_for()
    page.goto(f"/chat/{north['id']}/12345")
    page.get_by_role("heading", name="Not a valid number").wait_for()


def test_two_agents_see_only_their_devices(browser, stack, world):  # noqa: F811
    north, south = world["north"], world["south"]
    for name, mine, other in (("Nora", north, south), ("Sam", south, north)):
        t = Page(browser, stack)
        page = t.page
        target = f"/chat/{mine['id']}/{quote('+447911123150')}"
        page.goto(target)  # signed out: sign in, then land where the URL pointed
        page.wait_for_url(re.compile(r"/login\?next="))
        sign_in(page, world["agents"][name]["email"], then=target)
        page.get_by_role("textbox", name="Message").wait_for()
        page.goto("/chat")
        devices = page.get_by_role("list", name="Devices")
        devices.get_by_role("link", name=mine["alias"]).wait_for()
        assert devices.get_by_role("link").count() == 1
        for path in (f"/chat/{other['id']}", f"/chat/{other['id']}/{quote('+447911123101')}",
                     "/chat/dev_00000000000000000000"):
            page.goto(path)
            page.get_by_role("heading", name="Not found").wait_for()
        # pages outside an agent's menu, opened by address, say so (a webhooks page stayed
        # "Loading…" under the API's 403: found by a new user's walkthrough)
        for path in ("/webhooks", "/send", "/api-keys"):
            page.goto(path)
            page.get_by_role("heading", name="Not available to agents").wait_for()
            page.get_by_role("link", name="Go to the chats").wait_for()
        t.close()


def test_two_tabs_on_two_devices_each_get_their_own_messages(browser, stack, world):  # noqa: F811
    north, south = world["north"], world["south"]
    t = Page(browser, stack)
    first = t.page
    sign_in(first, stack.owner)
    second = t.context.new_page()
    phones = {"north": "+447911123201", "south": "+447911123202"}
    inject(stack, north, phones["north"], "north opens")
    inject(stack, south, phones["south"], "south opens")
    wait_until(lambda: chat_exists(stack, north, phones["north"])
               and chat_exists(stack, south, phones["south"]), 20, "both chats")
    open_chat(first, north, phones["north"])
    open_chat(second, south, phones["south"])
    inject(stack, north, phones["north"], "for the north tab")
    inject(stack, south, phones["south"], "for the south tab")
    messages(first).get_by_role("listitem").filter(has_text="for the north tab").wait_for(timeout=LIVE)
    messages(second).get_by_role("listitem").filter(has_text="for the south tab").wait_for(timeout=LIVE)
    assert messages(first).get_by_text("for the south tab").count() == 0
    assert messages(second).get_by_text("for the north tab").count() == 0
    assert chat_link(first, phones["south"]).count() == 0
    t.close()


def test_labels_and_metadata_edited_in_the_panel_are_the_contacts(owner_tab, stack, world):
    page, north, phone = owner_tab, world["north"], "+447911123103"
    stack.call("POST", "/labels", {"name": "Returns", "color": "orange"}, ok=201)
    inject(stack, north, phone, "I want to return a parcel")
    wait_until(lambda: chat_exists(stack, north, phone), 20, "the chat")
    page.goto(f"/chat/{north['id']}")  # the labels are read when the inbox opens
    chat_link(page, phone).click()
    page.get_by_role("button", name="Contact").click()
    panel = page.get_by_role("complementary", name="Contact")
    panel.get_by_label("Name").fill("Rita Returns")
    panel.get_by_role("button", name="Add field").click()
    panel.get_by_label("Key 1").fill("crm_id")
    panel.get_by_label("Value 1").fill("C-77")
    panel.get_by_role("button", name="Save contact").click()
    panel.get_by_text("Contact saved.").wait_for()
    panel.get_by_label("New label").fill("VIP")
    panel.get_by_role("button", name="Create label").click()
    labels = panel.get_by_role("list", name="Labels")
    labels.get_by_text("VIP").wait_for()
    panel.get_by_label("Add a label").select_option(label="Returns")
    labels.get_by_text("Returns").wait_for()
    panel.get_by_role("button", name="Remove label VIP").click()
    labels.get_by_text("VIP").wait_for(state="detached")
    contact = stack.call("GET", f"/devices/{north['id']}/contacts/{quote(phone)}")
    by_name = {lbl["name"]: lbl["id"] for lbl in stack.call("GET", "/labels")["data"]}
    assert contact["name"] == "Rita Returns"
    assert contact["metadata"] == {"crm_id": "C-77"}
    assert contact["labels"] == [by_name["Returns"]]
    chat = stack.call("GET", f"/devices/{north['id']}/chats/{quote(phone)}")
    assert chat["labels"] == [by_name["Returns"]]  # the chat list filters by them (below)
    # assign it to Nora, and filter by label
    panel.get_by_label("Assigned to").select_option(label="Nora")
    panel.get_by_text("Chat assigned.").wait_for()
    assert stack.call("GET", f"/devices/{north['id']}/chats/{quote(phone)}")["assigned_to"] == \
        world["agents"]["Nora"]["id"]
    page.get_by_label("Label", exact=True).select_option(label="Returns")
    wait_until(lambda: page.get_by_role("list", name="Chat list").get_by_role("link").count() == 1,
               10, "the label filter")


def test_screenshots_of_the_chat(browser, stack, world):  # noqa: F811
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    north, phone = world["north"], "+447911123104"
    inject(stack, north, phone, "Hi! Where is my parcel? 📦")
    wait_until(lambda: chat_exists(stack, north, phone), 20, "the chat")
    stack.call("POST", f"/devices/{north['id']}/chats/{quote(phone)}/messages",
               {"message": "It left our warehouse this morning 🚚"}, ok=201)
    for width in (360, 1280):
        t = Page(browser, stack, width)
        page = t.page
        sign_in(page, stack.owner)
        page.goto("/chat")
        page.get_by_role("heading", name="Web chat").wait_for()
        page.screenshot(path=SCREENSHOTS / f"chat-devices-{width}.png", full_page=True)
        fits(page, width, "chat-devices")
        page.goto(f"/chat/{north['id']}")
        chat_link(page, phone).wait_for()
        page.screenshot(path=SCREENSHOTS / f"chat-list-{width}.png")
        fits(page, width, "chat-list")
        open_chat(page, north, phone)
        messages(page).get_by_role("listitem").first.wait_for()
        page.wait_for_timeout(300)
        page.screenshot(path=SCREENSHOTS / f"chat-{width}.png")
        fits(page, width, "chat")
        for height in (900, 640):  # a phone's window too: the composer is on screen, not below
            page.set_viewport_size({"width": width, "height": height})
            for control in (page.get_by_role("textbox", name="Message"),
                            page.get_by_role("button", name="Send")):
                box = control.bounding_box()
                assert box and 0 <= box["y"] and box["y"] + box["height"] <= height, (width, height, box)
        t.close()


def test_the_chat_list_shows_more_chats_past_its_first_page(owner_tab, stack, world):
    page, south = owner_tab, world["south"]
    for n in range(101):
        inject(stack, south, f"+4479111250{n:02d}" if n < 100 else "+447911125100", f"Hello {n}")

    def listed() -> int:
        return len(stack.call("GET", f"/devices/{south['id']}/chats?limit=200")["data"])

    wait_until(lambda: listed() >= 101, 60, "101 chats")
    total = listed()
    page.goto(f"/chat/{south['id']}")
    chats = page.get_by_role("list", name="Chat list").get_by_role("link")
    chat_link(page, "+447911125100").wait_for()  # the newest first
    assert chats.count() == 100
    page.get_by_role("button", name="More chats").click()
    wait_until(lambda: chats.count() == total, 10, "the next page of chats")
    chat_link(page, "+447911125000").wait_for()  # the oldest of them, on the second page
    assert page.get_by_role("button", name="More chats").count() == 0


def test_a_message_its_sender_edited_then_deleted_shows_so(owner_tab, stack, world):
    # (the chat kept showing the first text, unmarked, after both: found by a new user's
    # walkthrough; the API had edited_at and revoked_at all along)
    page, north, phone = owner_tab, world["north"], "+447911123171"
    inject(stack, north, phone, "Is the order on its way?")
    wait_until(lambda: chat_exists(stack, north, phone), 20, "the inbound message's chat")
    history = stack.call("GET", f"/devices/{north['id']}/chats/{quote(phone)}/messages")
    message_id = history["data"][0]["id"]
    stack.call("POST", f"/devices/{north['id']}/sandbox/inbound-edit",
               {"message": message_id, "text": "Is order #1042 on its way?"}, ok=202)
    wait_until(lambda: stack.call("GET", f"/devices/{north['id']}/chats/{quote(phone)}/messages")
               ["data"][0].get("edited_at"), 20, "the edit filed")
    open_chat(page, north, phone)
    bubble = messages(page).get_by_role("listitem").filter(has_text="Is order #1042 on its way?")
    bubble.get_by_text("Edited").wait_for(timeout=LIVE)
    stack.call("POST", f"/devices/{north['id']}/sandbox/inbound-revoke", {"message": message_id},
               ok=202)
    wait_until(lambda: stack.call("GET", f"/devices/{north['id']}/chats/{quote(phone)}/messages")
               ["data"][0].get("revoked_at"), 20, "the deletion filed")
    open_chat(page, north, phone)
    messages(page).get_by_text("This message was deleted").wait_for(timeout=LIVE)
    assert messages(page).get_by_text("Is order #1042 on its way?").count() == 0


@pytest.mark.parametrize("width", [1280, 360])
def test_the_contact_panel_takes_the_keyboard_and_escape_gives_it_back(owner_tab, stack, world, width):
    # (opening it left the focus on its button, or at 360 px at the top of the page, and
    # Escape did nothing: found by a new user's walkthrough)
    page, north, phone = owner_tab, world["north"], "+447911123181"
    inject(stack, north, phone, "A question about my order")
    wait_until(lambda: chat_exists(stack, north, phone), 20, "the inbound message's chat")
    page.set_viewport_size({"width": width, "height": 900})
    try:
        open_chat(page, north, phone)
        button = page.get_by_role("button", name="Contact", exact=True)
        button.focus()
        page.keyboard.press("Enter")
        panel = page.get_by_role("complementary", name="Contact")
        expect(panel.get_by_role("heading", name="Contact")).to_be_focused()
        page.keyboard.press("Escape")
        panel.wait_for(state="detached")
        expect(button).to_be_focused()
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_scrolling_up_a_long_chat_loads_every_page_to_its_first_message(owner_tab, stack, world,
                                                                        emulators, monkeypatch):
    # (a focus hook in the conversation stopped the paging after its second page; only
    # make bench's 1000-message chat showed it)
    from shared.bootstrap import Container
    from shared.services import chats
    from shared.settings import Settings

    page, north, phone, count = owner_tab, world["north"], "+447911123191", 160
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulators.firestore_host)
    c = Container(Settings.from_env({"UTIO_PROJECT": stack.project, "UTIO_STORE_BACKEND": "firestore"}))
    account = c.repos.devices.doc(north["id"])["account_id"]
    for n in range(1, count + 1):
        chats.record_inbound(c.store, c.clock, account, north["id"], {
            "id": f"msg_long{n:04d}", "wa_id": f"LONG{n:04d}", "phone": phone,
            "message": f"line {n}", "received_at": c.clock.now()})
    open_chat(page, north, phone)
    page.wait_for_function(
        """n => { const box = document.querySelector('.messages-scroll');
                   box.scrollTop = 0;
                   return document.querySelectorAll('.messages > li').length >= n
                     && !document.querySelector('.load-older'); }""",
        arg=count, polling=200, timeout=60_000)
    messages(page).get_by_text("line 1", exact=True).wait_for()
