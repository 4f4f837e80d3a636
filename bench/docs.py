"""The documentation page in headless Chromium: bytes transferred and time to render the
API reference at /docs, beside the web app's own first page as the baseline, both served
by the api process from web/dist over loopback (bytes uncompressed, as served here)."""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"


def _serve():
    from werkzeug.serving import WSGIRequestHandler, make_server

    from functions.api.app import create_app
    from tests.fakes import make_container, make_settings

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:
            pass

    app = create_app(make_container(settings=make_settings(web_dir=str(DIST))))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _load(browser, url: str, ready) -> tuple[float, int, int]:
    """Seconds to `ready`, then bytes and requests of one cold load (the page's own
    resource timing entries, read once the network is idle)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    ready(page)
    elapsed = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    sizes = page.evaluate("""() => performance.getEntriesByType("navigation")
        .concat(performance.getEntriesByType("resource")).map(e => e.decodedBodySize)""")
    context.close()
    return elapsed, sum(sizes), len(sizes)


def docs_page(rounds: int = 5) -> None:
    print("documentation page (/docs, headless Chromium, cold cache, loopback)")
    if not (DIST / "docs" / "index.html").is_file() or not shutil.which(CHROMIUM):
        print("  not measured: needs web/dist (make web) and /usr/bin/chromium")
        return
    from playwright.sync_api import sync_playwright

    server = _serve()
    origin = f"http://127.0.0.1:{server.server_port}"
    cases = {
        "baseline  the web app's first page (/)": (
            f"{origin}/", lambda page: page.locator("#app *").first.wait_for()),
        "utio      API reference (/docs)        ": (
            f"{origin}/docs", lambda page: page.get_by_role(
                "link", name="webhooks", exact=True).wait_for(timeout=120_000)),
        "utio      a guide (/docs/guides/webhooks)": (
            f"{origin}/docs/guides/webhooks", lambda page: page.get_by_role(
                "heading", level=1).wait_for()),
    }
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--disable-gpu"])
            results = {name: [] for name in cases}
            for _ in range(rounds):  # interleaved, so drift hits every case alike
                for name, (url, ready) in cases.items():
                    results[name].append(_load(browser, url, ready))
            browser.close()
    finally:
        server.shutdown()
    base = statistics.median(r[0] for r in results[next(iter(cases))])
    for name, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        _, size, requests = runs[-1]
        print(f"  {name}  {seconds * 1000:7.0f} ms to render (ratio {seconds / base:5.2f})  "
              f"{size / 1024:7.0f} KiB in {requests} requests")
