"""/docs: the API reference (Scalar, served by us) in headless Chromium."""

from __future__ import annotations

import re

import pytest

from functions.api.registry import api

# The tab Scalar shows for each language the seed names, and a mark of its code.
LANGUAGES = {
    "Shell": "curl ",
    "JavaScript": "fetch(",
    "Node.js": "fetch(",
    "Python": "requests.post(",
    "Ruby": "Net::HTTP",
    "PHP": "GuzzleHttp",
    "Java": "OkHttpClient",
    "C#": "HttpClient",
    "Swift": "URLSession",
    "Go": "http.NewRequest",
}


@pytest.fixture
def page(browser, web_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)  # Scalar renders the whole document in the page
    page = context.new_page()
    page.requests = []
    page.violations = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda m: "Content Security Policy" in m.text
            and page.violations.append(m.text))
    yield page
    context.close()


def open_reference(page, origin: str):
    page.goto(f"{origin}/docs", wait_until="load")
    page.get_by_role("heading", name="Utio API", exact=True).wait_for(timeout=120_000)


def show_send_message(page, origin: str):
    """Scroll to POST /v1/messages as its link in the sidebar does (no reload)."""
    page.goto(f"{origin}/docs#tag/messages/POST/v1/messages")
    heading = page.get_by_role("heading", name="Queue a message")
    heading.wait_for()
    return page.locator("section", has=heading).last


def test_reference_renders_every_tag(page, web_server):
    open_reference(page, web_server.origin)
    sidebar = page.get_by_role("complementary", name="Sidebar for Utio API")
    for tag in sorted({route.tag for route in api.routes}):
        link = sidebar.get_by_role("link", name=tag, exact=True)
        assert link.get_attribute("href") == f"#tag/{tag}", tag
    assert page.get_by_role("link", name="Guides").first.is_visible()
    assert page.get_by_role("link", name="Postman collection").first.is_visible()


def test_reference_makes_no_request_outside_our_origin(page, web_server):
    open_reference(page, web_server.origin)
    show_send_message(page, web_server.origin)
    page.wait_for_load_state("networkidle")
    outside = [url for url in page.requests
               if not url.startswith(web_server.origin + "/") and not url.startswith("data:")]
    assert page.requests and not outside, outside
    assert not page.violations, page.violations


def test_send_message_has_client_code_in_every_language(page, web_server):
    open_reference(page, web_server.origin)
    for language, mark in LANGUAGES.items():
        page.goto(f"{web_server.origin}/docs#description/introduction")
        tabs = page.get_by_role("tablist", name="Client Libraries")
        tab = tabs.get_by_role("tab", name=language, exact=True)
        tab.focus()  # the last tabs may sit under the "More" menu: the keyboard reaches all
        page.keyboard.press("Enter")
        assert tab.get_attribute("aria-selected") == "true", language
        code = show_send_message(page, web_server.origin).locator("pre").first
        code.wait_for()
        text = code.inner_text()
        assert mark in text and re.search(r"/v1/messages\b", text), (language, text[:300])


def test_postman_collection_is_served_beside_the_reference(web_server):
    client = web_server.app.test_client()
    response = client.get("/docs/utio.postman_collection.json")
    assert response.status_code == 200
    collection = response.get_json()
    assert collection["info"]["name"] == "Utio API"
    assert {v["key"] for v in collection["variable"]} >= {"baseUrl", "bearerToken"}
    requests = [item for folder in collection["item"] for item in folder.get("item", [])]
    assert len(requests) == len(api.routes)


def test_try_it_sends_a_real_request_with_the_readers_key(page, web_server):
    from tests.fakes import ADMIN_KEY

    created = web_server.app.test_client().post(
        "/v1/accounts", json={"name": "Docs reader"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"}).get_json()
    key = created["api_key"]["key"]
    sent = []
    page.on("response", lambda r: "/v1/devices" in r.url and sent.append(
        (r.request.headers.get("authorization"), r.status)))
    open_reference(page, web_server.origin)
    page.get_by_role("textbox", name="Bearer Token").fill(key)
    page.goto(f"{web_server.origin}/docs#tag/devices/GET/v1/devices")
    heading = page.get_by_role("heading", name="List devices")
    heading.wait_for()
    page.locator("section", has=heading).last.get_by_role("button", name="Test Request").click()
    page.get_by_role("dialog").get_by_role("button", name="Send", exact=False).first.click()
    page.get_by_role("dialog").get_by_text("200", exact=False).first.wait_for()
    assert (f"Bearer {key}", 200) in sent, sent
