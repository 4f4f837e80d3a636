"""Pages in real headless Chromium (Debian's `chromium`, driven by Playwright for Python).

`browser` is one Chromium for the whole session; `web_server` serves the built web app
(web/dist, what `make web` builds) and the API on one loopback origin, as `make dev` and
the load balancer do, over an in-memory container. Tests that need the whole local stack
start it themselves (tests/e2e/stack.py)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.infra.tools import ROOT

CHROMIUM = os.environ.get("UTIO_CHROMIUM", "/usr/bin/chromium")
WEB_DIST = ROOT / "web" / "dist"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium; "
                    "or `apt-get install chromium`")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass
class WebServer:
    origin: str
    app: object


@pytest.fixture(scope="session")
def web_server() -> Iterator[WebServer]:
    from functions.api.app import create_app
    from tests.fakes import make_container, make_settings

    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("web/dist is not built: run `make web` (make test builds it)")
    app = create_app(make_container(settings=make_settings(web_dir=str(WEB_DIST))))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(5)
