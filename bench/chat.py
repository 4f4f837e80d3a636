"""The web chat's figures (issue #16), in headless Chromium against the local stack on the
emulators (`python -m infra.dev` with Firestore, Pub/Sub and the Firebase Auth emulator):

- an inbound message to it showing in the open chat, p50 and p99, beside the time the
  same message takes to reach a webhook receiver on the same stack;
- what an idle open chat tab costs: its requests a minute (counted in the browser) and
  the Firestore reads a minute they make (each request's reads counted in-process through
  the same API code over a counting store), beside a bare long-poll loop's;
- opening a chat of 1000 messages: time to first render and to scroll to the oldest,
  beside opening a chat of one message."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.web import CHROMIUM, CHROMIUM_ARGS, DIST, sign_in

PASSWORD = "bench password 1"


def _pct(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return statistics.median(values), cuts[98]


def _reads_per_long_poll(wait: int = 25) -> tuple[float, float]:
    """Firestore reads of one idle GET /v1/events?after=…&wait=…, and its seconds, through
    the API in-process over a counting store (what the stack's API process does)."""
    from bench.harness import in_process_stack

    c, client, headers, _, _ = in_process_stack(1, runner=False)
    # On Firestore the account's listener wakes the poll (event_feed.Watches) and the poll
    # reads the log only as a safety net; the in-memory store cannot listen, so give it a
    # listener that never fires (nothing is logged meanwhile), or it would read twice a
    # second, which no deployed API does.
    c.store.watch = lambda *args, **kwargs: (lambda: None)
    cursor = client.get("/v1/events?after=now", headers=headers).get_json()["next_cursor"]
    c.store.reset()
    started = time.perf_counter()
    client.get(f"/v1/events?after={cursor}&wait={wait}&type=message:in:new,message:out:*,"
               "message:reaction,chat:*,contact:update", headers=headers)
    took = time.perf_counter() - started
    return float(sum(c.store.reads.values())), took


def web_chat(messages: int = 50, idle_seconds: float = 60.0, history: int = 1000) -> None:
    print("web chat (headless Chromium, the local stack on the emulators)")
    if messages <= 0:
        print("  skipped at smoke sizes: it starts the whole stack")
        return
    from infra import emulators

    if not (DIST / "index.html").is_file() or not Path(CHROMIUM).exists() or not emulators.gcloud_available():
        print("  needs web/dist (`make web`), Debian's chromium and gcloud's emulators")
        return
    import requests
    from playwright.sync_api import sync_playwright

    from bench.webhooks import _Receiver
    from tests.e2e.stack import running_stack, wait_until

    data = Path(tempfile.mkdtemp(prefix="utio-bench-chat-"))
    firestore = emulators.start_firestore(log_path=data / "firestore.log")
    pubsub = emulators.start_pubsub(log_path=data / "pubsub.log")
    receiver = _Receiver()
    email = "bench-chat@utio.local"
    env = {"FIRESTORE_EMULATOR_HOST": firestore.host, "PUBSUB_EMULATOR_HOST": pubsub.host,
           "UTIO_DEV_AUTH": None, "UTIO_DEV_EMAIL": email, "UTIO_DEV_PASSWORD": PASSWORD,
           "UTIO_MAIL_OUTBOX": str(data / "outbox.jsonl")}
    try:
        with running_stack(data / "stack", env) as stack, sync_playwright() as p:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {stack.key}"
            api, origin = stack.api, stack.api.removesuffix("/v1")
            device = s.post(f"{api}/devices", json={"alias": "bench", "transport": "sandbox"}).json()["id"]
            wait_until(lambda: s.get(f"{api}/devices/{device}").json()["status"] == "connected",
                       30, "the device to link")
            s.post(f"{api}/webhooks", json={"url": receiver.url(), "events": ["message:in:new"]})
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=origin, viewport={"width": 1280, "height": 900})
            page = sign_in(context, email, PASSWORD)

            def inject(phone: str, text: str) -> float:
                started = time.perf_counter()
                answer = s.post(f"{api}/devices/{device}/sandbox/inbound",
                                json={"phone": phone, "message": text})
                assert answer.status_code == 202, answer.text
                return started

            def chat_ready(phone: str) -> None:
                wait_until(lambda: s.get(f"{api}/devices/{device}/chats/%2B{phone[1:]}").ok, 30,
                           "the chat")

            # 1. inbound -> shown in the open chat, beside inbound -> webhook receiver
            phone = "+34600100111"
            inject(phone, "warm-up")
            chat_ready(phone)
            page.goto(f"/chat/{device}/%2B{phone[1:]}")
            page.get_by_text("warm-up").first.wait_for()
            shown, hooked = [], []
            for n in range(messages + 3):
                text = f"bench message {n} ."
                started = inject(phone, text)
                page.wait_for_function("t => document.querySelector('.messages')?.textContent.includes(t)",
                                       arg=text, polling="raf", timeout=20_000)
                at = time.perf_counter()
                with receiver.lock:
                    deadline = time.monotonic() + 20
                    while text not in receiver.arrivals and time.monotonic() < deadline:
                        receiver.lock.wait(0.5)
                    arrived = receiver.arrivals.get(text)
                if n >= 3 and arrived is not None:
                    shown.append(at - started)
                    hooked.append(arrived - started)
            s50, s99 = _pct(shown)
            h50, h99 = _pct(hooked)
            print(f"  inbound message -> shown in the open chat ({len(shown)} sequential messages)")
            print(f"    baseline  -> the webhook receiver (same messages)   p50 {h50 * 1000:6.0f} ms"
                  f"  p99 {h99 * 1000:6.0f} ms")
            print(f"    utio      -> on screen in the open chat tab         p50 {s50 * 1000:6.0f} ms"
                  f"  p99 {s99 * 1000:6.0f} ms   ratio p50 {s50 / h50:.2f}")

            # 2. an idle open chat tab: its requests a minute, and their Firestore reads
            requests_seen: list[str] = []
            page.on("request", lambda r: requests_seen.append(r.url) if "/v1/" in r.url else None)
            page.wait_for_timeout(2000)  # (the sync API hands events over while it waits)
            requests_seen.clear()
            page.wait_for_timeout(idle_seconds * 1000)
            per_minute = len(requests_seen) * 60 / idle_seconds
            polls = sum("/v1/events" in u for u in requests_seen) * 60 / idle_seconds
            reads, took = _reads_per_long_poll()
            bare = 60 / took  # a bare loop of 25 s long polls: its requests a minute
            print(f"  an idle open chat tab ({idle_seconds:.0f} s in the browser; Firestore reads of "
                  f"one idle long poll counted in-process with an API key, the account's listener "
                  f"held as on Firestore: {reads:.0f} in {took:.1f} s;")
            print("  a signed-in person's request also reads its people document)")
            print(f"    baseline  a bare GET /v1/events?wait=25 loop       {bare:5.2f} requests/min"
                  f"  {bare * reads:6.0f} Firestore reads/min")
            print(f"    utio      the open chat tab                        {per_minute:5.2f} requests/min"
                  f"  {polls * reads:6.0f} Firestore reads/min   (long polls {polls:.2f}/min, "
                  f"others {per_minute - polls:.2f}/min)")

            # 3. opening a chat of 1000 messages, beside a chat of one
            one, full = "+34600100222", "+34600100333"
            inject(one, "only message")
            _seed(stack, firestore.host, device, full, history)
            chat_ready(one)
            chat_ready(full)
            opened = {}
            for phone, label in ((one, "one"), (full, "full")):
                times = []
                for _ in range(3):
                    tab = context.new_page()
                    started = time.perf_counter()
                    tab.goto(f"/chat/{device}/%2B{phone[1:]}")
                    tab.locator(".messages > li").first.wait_for()
                    times.append(time.perf_counter() - started)
                    if label == "full" and "scroll" not in opened:
                        started = time.perf_counter()
                        tab.wait_for_function(
                            """n => { const box = document.querySelector('.messages-scroll');
                                       box.scrollTop = 0;
                                       return document.querySelectorAll('.messages > li').length >= n
                                         && !document.querySelector('.load-older'); }""",
                            arg=history, polling=100, timeout=120_000)
                        opened["scroll"] = time.perf_counter() - started
                        opened["items"] = tab.locator(".messages > li").count()
                    tab.close()
                opened[label] = statistics.median(times)
            print("  opening a chat (median of 3 fresh tabs; /chat/{device}/{phone} to its "
                  "first message on screen)")
            print(f"    baseline  a chat of 1 message                     {opened['one'] * 1000:7.0f} ms")
            print(f"    utio      a chat of {history} messages              {opened['full'] * 1000:7.0f} ms"
                  f"   ratio {opened['full'] / opened['one']:.2f}")
            print(f"    utio      ... then scrolled up to its oldest      {opened['scroll'] * 1000:7.0f} ms"
                  f"   ({opened['items']} messages on the page, 50 a page)")
            browser.close()
    finally:
        receiver.close()
        pubsub.stop()
        firestore.stop()


def _seed(stack, firestore_host: str, device: str, phone: str, count: int) -> None:
    """A chat of `count` messages, filed straight into the stack's Firestore as the runner
    files inbound messages (injecting 1000 through the sandbox would bench the runner)."""
    import os

    from shared.bootstrap import Container
    from shared.services import chats
    from shared.settings import Settings

    os.environ["FIRESTORE_EMULATOR_HOST"] = firestore_host  # the Firestore client reads it
    settings = Settings.from_env({"UTIO_PROJECT": stack.project, "UTIO_STORE_BACKEND": "firestore"})
    c = Container(settings)
    account = c.repos.devices.doc(device)["account_id"]
    lock = threading.Lock()
    numbers = iter(range(1, count + 1))

    def work():
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            chats.record_inbound(c.store, c.clock, account, device, {
                "id": f"msg_bench{n:05d}", "wa_id": f"BENCH{n:05d}", "phone": phone,
                "message": f"history {n} .", "received_at": c.clock.now()})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
