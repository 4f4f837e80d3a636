"""The media fetcher against a real HTTP server on loopback: size cap, deadline,
redirects, and the private-address guard on every hop."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask, Response, redirect

from shared.adapters import media_fetcher
from shared.adapters.media_fetcher import PinnedMediaFetcher
from shared.errors import ValidationFailed
from shared.ports import FetchError
from shared.urlguard import resolve_target
from tests.fakes import serving
from tests.unit.messaging.helpers import jpeg

SLOW_CHUNKS = 50
SLOW_SENT: list[int] = []  # one entry per chunk /slow sent
SLOW_DONE = threading.Event()  # /slow's body ended: finished, or the client went


@pytest.fixture(scope="module")
def server():
    app = Flask("files")

    @app.get("/photo.jpg")
    def photo():
        return Response(jpeg(5000), mimetype="image/jpeg")

    @app.get("/stream")
    def stream():  # no Content-Length: the cap must hold while reading
        return Response((b"\0" * 1000 for _ in range(100)), mimetype="application/octet-stream")

    @app.get("/slow")
    def slow():
        def body():
            try:
                for _ in range(SLOW_CHUNKS):
                    time.sleep(0.05)  # each gap far below the timeout: only a total deadline cuts
                    SLOW_SENT.append(1)
                    yield b"\0" * 10
            finally:
                SLOW_DONE.set()
        return Response(body(), mimetype="application/octet-stream")

    @app.get("/hop")
    def hop():
        return redirect("/photo.jpg", 302)

    @app.get("/out")
    def out():
        return redirect("http://metadata.google.internal/computeMetadata/v1/", 302)

    @app.get("/loop")
    def loop():
        return redirect("/loop", 302)

    @app.get("/missing")
    def missing():
        return "no", 404

    with serving(app) as base:
        yield base


def refusal(fetcher, url: str, *, max_bytes: int, timeout: float) -> str:
    """The reason of the FetchError that fetching `url` raises."""
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, max_bytes=max_bytes, timeout=timeout)
    return caught.value.reason


@pytest.fixture
def fetcher():
    return PinnedMediaFetcher(allow_private=True)


def test_fetches_a_file(server, fetcher):
    got = fetcher.fetch(f"{server}/photo.jpg", max_bytes=10_000, timeout=5)
    assert got.data == jpeg(5000) and got.content_type == "image/jpeg"


def test_declared_length_over_the_cap(server, fetcher):
    assert refusal(fetcher, f"{server}/photo.jpg", max_bytes=4999, timeout=5) == "too_large"


def test_streamed_body_over_the_cap(server, fetcher):
    assert refusal(fetcher, f"{server}/stream", max_bytes=50_000, timeout=5) == "too_large"
    assert len(fetcher.fetch(f"{server}/stream", max_bytes=100_000, timeout=5).data) == 100_000


def test_one_deadline_for_the_whole_body(server, fetcher):
    """50 chunks 0.05 s apart: a per-read timeout would take them all. The fetch times out,
    and the server sees the client go before half of them were sent."""
    SLOW_SENT.clear()
    SLOW_DONE.clear()
    assert refusal(fetcher, f"{server}/slow", max_bytes=10_000, timeout=0.5) == "timeout"
    assert SLOW_DONE.wait(10) and len(SLOW_SENT) < SLOW_CHUNKS / 2, len(SLOW_SENT)


def test_follows_redirects(server, fetcher):
    got = fetcher.fetch(f"{server}/hop", max_bytes=10_000, timeout=5)
    assert got.url.endswith("/photo.jpg") and got.data == jpeg(5000)


def test_redirect_loop(server, fetcher):
    assert refusal(fetcher, f"{server}/loop", max_bytes=10_000, timeout=5) == "unreachable"


def test_http_error(server, fetcher):
    assert refusal(fetcher, f"{server}/missing", max_bytes=10_000, timeout=5) == "http_status"


def test_private_addresses_are_refused_outside_local_mode(server):
    strict = PinnedMediaFetcher(allow_private=False)
    for url in (f"{server}/photo.jpg", "https://127.0.0.1/x.jpg", "https://10.0.0.8/x.jpg",
                "https://169.254.169.254/latest/meta-data/", "https://[::1]/x.jpg"):
        assert refusal(strict, url, max_bytes=10_000, timeout=5) in (
            "forbidden_address", "invalid_url"), url


def test_every_redirect_hop_is_checked(server, monkeypatch):
    """A public URL that redirects into the metadata server is refused at the hop."""
    seen = []

    def guard(url, *, allow_private, field):
        seen.append(url)
        if "metadata" in url:
            raise ValidationFailed("metadata addresses are refused", code="forbidden_address")
        return resolve_target(url, allow_private=True, field=field)

    monkeypatch.setattr(media_fetcher, "resolve_target", guard)
    assert refusal(PinnedMediaFetcher(allow_private=False), f"{server}/out", max_bytes=10_000,
                   timeout=5) == "forbidden_address"
    assert len(seen) == 2 and "metadata" in seen[1]


def test_dns_rebinding_does_not_reach_loopback(monkeypatch):
    """The host is public when checked and loopback a moment later: the fetch connects to
    the checked address (here refused, standing in for the public host) and never to the
    loopback listener; the host is looked up once per hop."""
    import socket

    import urllib3.util.connection

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    real_getaddrinfo, lookups = socket.getaddrinfo, []

    def rebinding(host, port_, *args, **kwargs):
        if host == "rebind.example":
            lookups.append(host)
            ip = "93.184.215.14" if len(lookups) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port_))]
        return real_getaddrinfo(host, port_, *args, **kwargs)

    real_connect, dialled = urllib3.util.connection.create_connection, []

    def connect(address, *args, **kwargs):  # no traffic leaves the machine
        dialled.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError(f"{address[0]} is not reachable from the tests")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)
    try:
        assert refusal(PinnedMediaFetcher(allow_private=False),
                       f"https://rebind.example:{port}/x", max_bytes=1000,
                       timeout=2) == "unreachable"
        assert dialled == [("93.184.215.14", port)] and lookups == ["rebind.example"]
        with pytest.raises(TimeoutError):  # nothing ever connected to the listener
            listener.accept()
    finally:
        listener.close()
