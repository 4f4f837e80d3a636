"""The guides under /docs/guides (docs/guides/*.md rendered at build time) in headless
Chromium: each renders with its title, the guide list links every guide, and every link
from a guide to our own origin resolves (the page answers, and its #anchor exists)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.infra.tools import ROOT

GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))
SLUGS = [re.sub(r"^\d+-", "", path.stem) for path in GUIDES]


def title(path) -> str:
    return re.search(r"^# (.+)$", path.read_text(), re.M).group(1).strip()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 360, "height": 800})
    yield context.new_page()
    context.close()


def test_the_guide_list_links_every_guide(page, web_server):
    page.goto(f"{web_server.origin}/docs/guides")
    main = page.get_by_role("main")
    for path, slug in zip(GUIDES, SLUGS, strict=True):
        link = main.get_by_role("link", name=title(path), exact=True)
        assert link.get_attribute("href") == f"/docs/guides/{slug}"


@pytest.mark.parametrize("path", GUIDES, ids=SLUGS)
def test_each_guide_renders_and_its_links_resolve(page, web_server, path):
    slug = re.sub(r"^\d+-", "", path.stem)
    page.goto(f"{web_server.origin}/docs/guides/{slug}")
    assert page.get_by_role("heading", level=1).inner_text() == title(path)
    # at 360 px the page does not scroll sideways (long inline code did: 367-398 px);
    # a code block scrolls inside its own box
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{slug}: {width} px wide at 360"
    current = page.get_by_role("navigation", name="Guides").get_by_role("link", name=title(path))
    assert current.get_attribute("aria-current") == "page"
    client = web_server.app.test_client()
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    own = [h for h in hrefs if h.startswith(("/", "#"))]
    assert own
    for href in own:
        target = urlsplit(href)
        where = target.path or f"/docs/guides/{slug}"
        answer = client.get(where)
        assert answer.status_code == 200, f"{slug}: {href} answers {answer.status_code}"
        if target.fragment:
            assert f'id="{target.fragment}"' in answer.get_data(as_text=True), (
                f"{slug}: {href}: no such anchor")
