"""The web app's figures: its built size (JavaScript and CSS, gzipped) beside Preact's own
runtime, and the time to first render of /devices for a signed-in owner in headless
Chromium against the local stack (`python -m infra.dev` on the emulators), beside the
signed-out /login page of the same build."""

from __future__ import annotations

import gzip
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def web_size() -> None:
    print("web app size (web/dist, gzip -9)")
    if not (DIST / "index.html").is_file():
        print("  web/dist is not built: run `make web`")
        return
    docs = DIST / "docs"  # /docs: the API reference (Scalar) and the guides, loaded apart
    app = [p for p in DIST.rglob("*") if p.is_file() and docs not in p.parents]
    js = sorted(p for p in app if p.suffix == ".js")
    css = sorted(p for p in app if p.suffix == ".css")
    runtime = ROOT / "web" / "node_modules" / "preact" / "dist" / "preact.mjs"
    if runtime.is_file():
        print(f"  baseline  Preact's runtime alone               {_gz(runtime) / 1024:7.1f} KiB")
    print(f"  utio      the app's JavaScript ({len(js)} files)       {sum(map(_gz, js)) / 1024:7.1f} KiB"
          f"   ({sum(p.stat().st_size for p in js) / 1024:.0f} KiB raw)")
    print(f"  utio      the app's CSS ({len(css)} files)             {sum(map(_gz, css)) / 1024:7.1f} KiB")
    doc_files = [p for p in docs.rglob("*") if p.is_file() and p.suffix in (".js", ".css")]
    if doc_files:
        print(f"  utio      /docs' JavaScript and CSS ({len(doc_files)} files, only on /docs) "
              f"{sum(map(_gz, doc_files)) / 1024:7.1f} KiB")


def sign_in(context, email: str, password: str):
    """Sign in on the console's /login in a new page of `context` (the session is the
    context's from then on)."""
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/devices")
    return page


def first_render(rounds: int = 5) -> None:
    print("first render of /devices (headless Chromium, the local stack on the emulators)")
    if rounds <= 0:
        print("  skipped at smoke sizes: it starts the whole stack")
        return
    if not (DIST / "index.html").is_file() or not Path(CHROMIUM).exists():
        print("  needs web/dist (`make web`) and Debian's chromium")
        return
    from playwright.sync_api import sync_playwright

    from tests.e2e.stack import running_stack

    email, password = "bench@utio.local", "bench password 1"
    with tempfile.TemporaryDirectory() as data:
        env = {"UTIO_DEV_AUTH": None, "UTIO_DEV_EMAIL": email, "UTIO_DEV_PASSWORD": password,
               "UTIO_MAIL_OUTBOX": f"{data}/outbox.jsonl"}
        with running_stack(Path(data), env) as stack, sync_playwright() as p:
            origin = stack.api.removesuffix("/v1")
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=origin)
            sign_in(context, email, password).close()
            login, devices = [], []
            for _ in range(rounds):
                signed_out = browser.new_page(base_url=origin)
                started = time.perf_counter()
                signed_out.goto("/login")
                signed_out.get_by_role("button", name="Sign in").wait_for()
                login.append(time.perf_counter() - started)
                signed_out.close()
                tab = context.new_page()
                started = time.perf_counter()
                tab.goto("/devices")
                tab.get_by_text("No devices yet").or_(tab.get_by_role("list", name="Devices")).wait_for()
                devices.append(time.perf_counter() - started)
                tab.close()
            browser.close()
        b, d = statistics.median(login), statistics.median(devices)
        print(f"  baseline  /login, signed out (no API data)       {b * 1000:8.1f} ms")
        print(f"  utio      /devices, signed in (sign-in + API)    {d * 1000:8.1f} ms   ratio {d / b:.2f}"
              f"   (median of {rounds})")
