"""The webhook HTTP client's timeout is one deadline for the whole request, against a
local receiver that drips its answer a byte at a time (loopback only, bounded). Every gap
between two bytes is well under the timeout, so a client with per-read timeouts only would
read the whole answer: a TimeoutError, with the receiver seeing the connection dropped
before half of the dripped bytes were out, shows the one deadline. No wall-clock bound:
a slow machine drips fewer bytes by the deadline, never more."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from shared.adapters.http_client import PinnedHttpClient

GAP = 0.1  # between two dripped bytes: well under the timeout, so only a total deadline cuts


class Dripper:
    """Accepts connections on loopback and answers each with `answer`, one byte every GAP
    seconds after the first `fast` bytes; stops when the client hangs up or after
    `answer` is sent."""

    def __init__(self, answer: bytes, fast: int = 0):
        self.answer, self.fast = answer, fast
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.cut = threading.Event()  # the client hung up before the end
        self.dripped = 0  # bytes sent one at a time before the end or the cut
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            conn.recv(65536)
            try:
                conn.sendall(self.answer[:self.fast])
                for byte in self.answer[self.fast:]:
                    conn.sendall(bytes([byte]))
                    self.dripped += 1
                    time.sleep(GAP)
            except OSError:
                self.cut.set()
                return
            if conn.recv(1) == b"":  # the client may have closed after reading it all
                self.cut.set()

    def close(self):
        self.sock.close()

    def cut_early(self) -> bool:
        """The client dropped the connection before half of the dripped part was sent."""
        return self.cut.wait(10) and self.dripped < (len(self.answer) - self.fast) / 2


@pytest.fixture
def drippers():
    made = []

    def make(*args, **kwargs):
        made.append(Dripper(*args, **kwargs))
        return made[-1]

    yield make
    for dripper in made:
        dripper.close()


def _post(port: int, timeout: float):
    return PinnedHttpClient().post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout)


def test_a_dripped_status_line_and_headers_are_cut_at_the_deadline(drippers):
    """Each byte arrives well within the timeout, all of them would take 4 s."""
    dripper = drippers(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: " + b"p" * 10 + b"\r\n\r\n")
    with pytest.raises(TimeoutError, match="Timeout"):
        _post(dripper.port, 0.5)
    assert dripper.cut_early(), dripper.dripped  # dropped at the deadline, not left open


def test_a_dripped_body_is_cut_at_the_deadline(drippers):
    body = b"x" * 40
    dripper = drippers(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + body, fast=38)
    with pytest.raises(TimeoutError):
        _post(dripper.port, 0.5)
    assert dripper.cut_early(), dripper.dripped


def test_a_dripped_answer_within_the_deadline_is_read(drippers):
    dripper = drippers(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", fast=40)
    answer = _post(dripper.port, 2)
    assert answer.status == 202 and answer.body == "ok"


def test_a_kept_alive_connection_is_still_bounded(drippers):
    """The second request rides the pooled connection of the first; the deadline still
    watches it."""
    quick = b"HTTP/1.1 204 No Content\r\n\r\n"
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    port = server.getsockname()[1]
    cut = threading.Event()
    dripped = []

    def read_request(conn) -> None:
        """One whole request (headers and Content-Length body): a partial read would leave
        bytes behind and the close would reset the connection under the client."""
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)

    def serve():
        with server, server.accept()[0] as conn:
            conn.settimeout(5)
            read_request(conn)
            conn.sendall(quick)
            read_request(conn)
            slow = quick * 4  # 4 s of bytes: a per-read timeout alone would read them all
            try:
                for byte in slow:
                    conn.sendall(bytes([byte]))
                    dripped.append(byte)
                    time.sleep(GAP)
                time.sleep(1)  # hold the connection open past the client's deadline
            except OSError:
                cut.set()

    threading.Thread(target=serve, daemon=True).start()
    client = PinnedHttpClient()
    assert client.post(f"http://127.0.0.1:{port}/", b"{}", {}, 2).status == 204
    with pytest.raises(TimeoutError):
        client.post(f"http://127.0.0.1:{port}/", b"{}", {}, 0.5)
    assert cut.wait(10) and len(dripped) < len(quick), len(dripped)  # before one whole answer


def test_requests_share_one_watchdog_thread_and_a_later_deadline_still_cuts():
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, lambda environ, start: (
        start("204 No Content", []), [b""])[1], threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = PinnedHttpClient()
    try:
        before = set(threading.enumerate())
        for _ in range(30):  # long deadlines, finished at once: none may start a thread
            answer = client.post(f"http://127.0.0.1:{server.server_port}/", b"{}", {}, 60,
                                 address="127.0.0.1")
            assert answer.status == 204
        # threads this loop started, but the test server's own (one per connection): at
        # most the watchdog, when this process had none yet (counted by name, not by
        # threading.active_count(), which other tests' threads ending or starting move)
        started = [t.name for t in threading.enumerate()
                   if t not in before and "process_request_thread" not in t.name]
        assert started in ([], ["http-deadlines"])
        assert [t.name for t in threading.enumerate()].count("http-deadlines") == 1
    finally:
        server.shutdown()
    # a short deadline behind the 30 long ones still expires on time
    dripper = Dripper(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + b"x" * 40, fast=40)
    try:
        with pytest.raises(TimeoutError):
            client.post(f"http://127.0.0.1:{dripper.port}/", b"{}", {}, 1.0, address="127.0.0.1")
        assert dripper.cut_early()
    finally:
        dripper.close()
