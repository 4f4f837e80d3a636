"""The webhook HTTP client's keep-alive pool, against a scripted local server: requests
reuse a connection, only to the address that was checked; a kept-alive connection the
server closed is re-sent on a fresh one (and the delivery succeeds at its first attempt);
a fresh connection that fails is not re-sent; the deadline still bounds it all."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from shared.adapters.http_client import PinnedHttpClient
from shared.domain import Event
from shared.services.webhooks import delivery as webhook_delivery
from shared.services.webhooks import fanout as webhook_fanout
from shared.services.webhooks import registration
from tests.unit.webhooks.conftest import build
from tests.unit.webhooks.test_ssrf import _certificate

ANSWER = b"HTTP/1.1 204 No Content\r\n\r\n"


class Scripted:
    """Accepts connections on `host` and reads whole requests off each; `plan(conn,
    request)` (both counted from 0) says what to do with each request: "answer" (204,
    the connection kept alive), "close" (close the connection without answering) or
    "hang" (answer nothing until the client hangs up)."""

    def __init__(self, plan, host: str = "127.0.0.1", port: int = 0,
                 tls: ssl.SSLContext | None = None):
        self.plan, self.tls = plan, tls
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.answered: list[bytes] = []  # the bodies of the requests answered
        self.dropped = 0  # requests read and closed on without an answer
        self.hung_up = threading.Event()  # the client closed a hanging connection
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                index, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn, index):
        buffer = b""
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                return
        with conn:
            conn.settimeout(10)
            for number in range(1000):
                try:
                    body, buffer = _read_request(conn, buffer)
                except (OSError, EOFError):
                    return
                action = self.plan(index, number)
                if action == "close":
                    with self._lock:
                        self.dropped += 1
                    return
                if action == "hang":
                    try:
                        if conn.recv(1) == b"":
                            self.hung_up.set()
                    except OSError:
                        self.hung_up.set()
                    return
                with self._lock:
                    self.answered.append(body)
                conn.sendall(ANSWER)

    def close(self):
        self.sock.close()


def _read_request(conn, buffer: bytes) -> tuple[bytes, bytes]:
    """One request's body (by Content-Length) and what came after it."""
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            raise EOFError
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            raise EOFError
        rest += data
    return rest[:length], rest[length:]


@pytest.fixture
def scripted():
    made = []

    def make(plan, **kwargs):
        made.append(Scripted(plan, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_requests_to_one_host_reuse_one_connection(scripted):
    server = scripted(lambda conn, request: "answer")
    client = PinnedHttpClient()
    for n in range(20):
        assert client.post(f"http://hooks.invalid:{server.port}/h", f'{{"n":{n}}}'.encode(),
                           {}, 5, address="127.0.0.1").status == 204
    assert server.connections == 1
    assert server.answered == [f'{{"n":{n}}}'.encode() for n in range(20)]


def test_a_pooled_connection_serves_only_the_address_it_was_opened_to(scripted):
    """The same host name checked to another address the next time: the request goes to
    that address, not down the connection kept alive to the first."""
    first = scripted(lambda conn, request: "answer", host="127.0.0.1")
    try:
        second = scripted(lambda conn, request: "answer", host="127.0.0.2", port=first.port)
    except OSError:
        pytest.skip("no 127.0.0.2 on this machine")
    client = PinnedHttpClient()
    url = f"http://hooks.invalid:{first.port}/h"
    assert client.post(url, b"1", {}, 5, address="127.0.0.1").status == 204
    assert client.post(url, b"2", {}, 5, address="127.0.0.2").status == 204
    assert client.post(url, b"3", {}, 5, address="127.0.0.1").status == 204
    assert first.answered == [b"1", b"3"] and second.answered == [b"2"]
    assert first.connections == 1  # kept alive across the request to the other address


def test_a_kept_alive_connection_the_server_closed_is_sent_again_on_a_fresh_one(scripted):
    """The server drops the first connection at its second request (an idle timeout
    racing the request): that request goes again, once, on a new connection."""
    server = scripted(lambda conn, request: "close" if (conn, request) == (0, 1) else "answer")
    client = PinnedHttpClient()
    url = f"http://127.0.0.1:{server.port}/h"
    assert client.post(url, b"1", {}, 5).status == 204
    assert client.post(url, b"2", {}, 5).status == 204
    assert server.dropped == 1 and server.answered == [b"1", b"2"]
    assert server.connections == 2


def test_a_kept_alive_tls_connection_the_server_closed_is_sent_again(tmp_path, scripted):
    """The same over TLS, where the connection is made before the request is sent."""
    cert_file, key_file = _certificate(tmp_path, "hooks.acme.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    server = scripted(lambda conn, request: "close" if (conn, request) == (0, 1) else "answer",
                      tls=tls)
    client = PinnedHttpClient(ca_certs=str(cert_file))
    url = f"https://hooks.acme.test:{server.port}/h"
    assert client.post(url, b"1", {}, 5, address="127.0.0.1").status == 204
    assert client.post(url, b"2", {}, 5, address="127.0.0.1").status == 204
    assert server.dropped == 1 and server.answered == [b"1", b"2"]
    fresh = scripted(lambda conn, request: "close", tls=tls)  # a new connection: no re-send
    with pytest.raises(OSError):
        client.post(f"https://hooks.acme.test:{fresh.port}/h", b"3", {}, 5, address="127.0.0.1")
    assert fresh.dropped == 1 and fresh.connections == 1


def test_a_fresh_connection_closed_without_an_answer_is_not_sent_again(scripted):
    server = scripted(lambda conn, request: "close")
    with pytest.raises(OSError):
        PinnedHttpClient().post(f"http://127.0.0.1:{server.port}/h", b"1", {}, 5)
    assert server.dropped == 1 and server.connections == 1


def test_the_deadline_bounds_the_request_sent_again(scripted):
    """The kept-alive connection is closed under the second request and the fresh one
    answers nothing: a TimeoutError at the one deadline, the fresh connection dropped."""
    server = scripted(lambda conn, request: "answer" if conn == 0 and request == 0
                      else "close" if conn == 0 else "hang")
    client = PinnedHttpClient()
    url = f"http://127.0.0.1:{server.port}/h"
    assert client.post(url, b"1", {}, 5).status == 204
    with pytest.raises(TimeoutError):
        client.post(url, b"2", {}, 0.5)
    assert server.hung_up.wait(5)  # the client hung up the fresh connection, not left it
    assert server.dropped == 1 and server.connections == 2


def test_a_delivery_over_a_connection_the_receiver_closed_succeeds_at_its_first_attempt(
        tmp_path, scripted):
    """Two events to one webhook; the receiver closes the kept-alive connection under the
    second delivery. Both deliveries succeed with one attempt each, none logged as a
    failure, and the receiver answered each event once."""
    server = scripted(lambda conn, request: "close" if (conn, request) == (0, 1) else "answer")
    c = build(tmp_path)
    c.http = PinnedHttpClient()
    registration.create_webhook(c, "acc_1", url=f"http://127.0.0.1:{server.port}/h",
                                events=["*"], devices=None)
    outcomes = []
    for n in range(2):
        [dlv] = webhook_fanout.fan_out(c, Event(
            id=f"evt_{n}", event="message:in:new", account="acc_1", device="dev_1",
            created_at=c.clock.now(), data={"n": n}))
        outcomes.append(webhook_delivery.deliver(c, dlv, 0))
        [attempt] = c.store.get("deliveries", dlv)["attempts"]
        assert attempt["status_code"] == 204 and attempt["error"] is None
    assert outcomes == ["succeeded", "succeeded"]
    assert server.dropped == 1 and len(server.answered) == 2
    assert c.store.get("webhooks", registration.list_webhooks(c, "acc_1")[0].id
                       )["failing_since"] is None
