"""The HTTP client webhook deliveries and media fetches go out through (urllib3).

- It connects to the address the caller checked (shared.urlguard) while the Host header,
  TLS SNI and certificate check use the URL's host name: what was checked is what is
  reached, whatever DNS answers a moment later.
- No redirects, no retries (the delivery schedule retries), no decompression.
- `timeout` is one deadline for the whole request: connecting, the TLS handshake,
  sending, and reading the answer. No single socket operation waits longer than what is
  left, and a watchdog shuts the connection's socket down when the time is up, so a
  receiver that drips a byte now and then cannot hold the request past it.
- `post` reads only the first EXCERPT bytes of the answer; a connection with unread
  bytes, or one the deadline cut, is closed, not reused.
- Keep-alive connections are pooled per (address, host name, port): a request reuses only
  a connection to the very address its caller checked, never one opened for an address
  checked before. At most POOL_SIZE idle connections a pool, POOL_COUNT pools (the least
  recently used is closed); more requests at once than POOL_SIZE open connections that
  are closed after use. Thread-safe (urllib3's pools).
- A kept-alive connection the server closed in the meantime (its idle timeout) fails the
  request before any answer arrives; that request is sent again on another connection,
  as browsers do, so a receiver's idle timeout never shows as a failed attempt. Only
  then: a fresh connection that fails, a timeout, or an answer begun is never re-sent
  (a receiver that did get the first copy sees the same webhook-id twice, which
  at-least-once delivery allows).
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from shared.ports import HttpAnswer, HttpClient

EXCERPT = 1024
POOL_SIZE = 4  # idle keep-alive connections kept per (address, host name, port)
POOL_COUNT = 64  # such pools kept, the least recently used closed first

_current = threading.local()  # the Deadline of the request this thread is making


class Deadline:
    """Shuts down every socket of one request when `seconds` have passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        _watchdog.add(self)

    def left(self) -> float:
        return max(self.ends - time.monotonic(), 0.001)

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()  # (it waits in the watchdog's heap until its time)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


class _Watchdog:
    """One thread expires every request's Deadline when its time is up (a Timer each was a
    thread started per request: a good part of a webhook delivery's own time). A finished
    deadline stays in the heap until it reaches the top, then is dropped unexpired."""

    def __init__(self):
        self._heap: list[tuple[float, int, Deadline]] = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.ends, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():  # first, or forked
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="http-deadlines")
                self._thread.start()
            elif self._heap[0][2] is deadline:  # sooner than what the thread waits for
                self._cond.notify()

    def _run(self) -> None:
        heap = self._heap
        while True:
            with self._cond:
                while True:
                    # finished ones need no cutting: dropped whenever they reach the top, so
                    # the thread wakes for the next request still running, not once for
                    # every request made (a wake-up each was a thread switch per request)
                    while heap and heap[0][2]._done:
                        heapq.heappop(heap)
                    if heap and heap[0][0] <= time.monotonic():
                        break
                    self._cond.wait(heap[0][0] - time.monotonic() if heap else None)
                _, _, deadline = heapq.heappop(heap)
            deadline._expire()


_watchdog = _Watchdog()


def _forget_watchdog() -> None:  # a forked child's lock may be held by a thread it lacks
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_forget_watchdog)


def _shut(sock: socket.socket) -> None:
    # the plain socket's shutdown, also for an SSLSocket: it only wakes up the reader
    # blocked on the descriptor, and leaves the TLS object to the thread using it
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # already closed, or detached by the TLS wrapper (then watched again)
        pass


def _watch(sock: socket.socket | None) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _Watched:
    """Hands every socket a request uses (new, TLS-wrapped or kept alive) to its Deadline,
    and tells the request whether it rides a connection used before (`_current.reused`)."""

    _uses = 0  # requests sent on the current socket

    def _new_conn(self):
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def connect(self):
        super().connect()
        self._uses = 0
        _watch(self.sock)

    def request(self, *args, **kwargs):
        # (a plain connection connects inside request(), a TLS one before it)
        _current.reused = self.sock is not None and self._uses > 0
        _watch(self.sock)
        super().request(*args, **kwargs)
        self._uses += 1


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class Exchange:
    """One request's answer, read under the request's deadline."""

    def __init__(self, response: urllib3.BaseHTTPResponse, deadline: Deadline):
        self._response = response
        self._deadline = deadline
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.headers.items()}

    def read(self, amount: int) -> bytes:
        """Up to `amount` bytes of the body (fewer only at its end); OSError, TimeoutError
        when the deadline passed."""
        try:
            data = self._response.read(amount, decode_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise _error(self._deadline, exc) from exc
        if self._deadline.expired:
            raise _timeout(self._deadline)
        return data



class PinnedHttpClient(HttpClient):
    def __init__(self, *, ca_certs: str | None = None, num_pools: int = POOL_COUNT):
        self._pools = urllib3.PoolManager(num_pools=num_pools, maxsize=POOL_SIZE, block=False,
                                          retries=False, cert_reqs="CERT_REQUIRED",
                                          ca_certs=ca_certs or certifi.where())
        self._pools.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    @contextmanager
    def exchange(self, method: str, url: str, *, timeout: float, address: str | None = None,
                 headers: dict[str, str] | None = None,
                 body: bytes | None = None) -> Iterator[Exchange]:
        """Send one request to `address` (else wherever the URL's host resolves) and yield
        its answer to read; `timeout` bounds everything until the block ends. OSError
        (TimeoutError for the deadline) on failure."""
        parts = urlsplit(url)
        host = (parts.hostname or "").encode("idna").decode("ascii")
        default_port = 443 if parts.scheme == "https" else 80
        port = parts.port or default_port
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = (f"[{host}]" if ":" in host else host) + (
            "" if port == default_port else f":{port}")
        pool_kwargs = {"server_hostname": host, "assert_hostname": host} \
            if parts.scheme == "https" else {}
        send = {**(headers or {}), "Host": host_header, "Accept-Encoding": "identity"}
        deadline = Deadline(timeout)
        response = None
        try:
            _current.deadline = deadline
            try:
                pool = self._pools.connection_from_host(address or host, port, parts.scheme,
                                                        pool_kwargs=pool_kwargs)
                for stale in range(POOL_SIZE + 1):  # each stale one is dropped from the pool
                    _current.reused = False
                    left = deadline.left()
                    try:
                        response = pool.urlopen(
                            method, target, body=body, headers=send, redirect=False,
                            retries=False, preload_content=False, decode_content=False,
                            assert_same_host=False,
                            timeout=urllib3.Timeout(connect=left, read=left))
                        break
                    except urllib3.exceptions.HTTPError as exc:
                        if stale == POOL_SIZE or not _closed_while_idle(exc, deadline):
                            raise
            except urllib3.exceptions.HTTPError as exc:
                raise _error(deadline, exc) from exc
            finally:
                _current.deadline = None
            if deadline.expired:  # cut while the headers dripped in, yet they parsed
                raise _timeout(deadline)
            yield Exchange(response, deadline)
        finally:
            deadline.finish()
            if response is not None:
                if deadline.expired or not response.isclosed():
                    response.close()  # cut, or unread bytes: do not reuse this connection
                response.release_conn()

    def post(self, url, body, headers, timeout, *, address=None):
        with self.exchange("POST", url, timeout=timeout, address=address, headers=headers,
                           body=body) as answer:
            excerpt = answer.read(EXCERPT)
            if len(excerpt) == EXCERPT:
                answer.read(1)  # (more unread: the connection is closed, not reused)
            return HttpAnswer(answer.status, excerpt.decode("utf-8", "replace"),
                              answer.headers)


def _closed_while_idle(exc: Exception, deadline: Deadline) -> bool:
    """The request rode a kept-alive connection that the server had closed: it failed
    sending, or read the end of the connection (or a reset) where the answer's status
    line was due. Not when the deadline cut it (its socket is shut down the same way)."""
    cause = exc.args[1] if isinstance(exc, urllib3.exceptions.ProtocolError) \
        and len(exc.args) > 1 else None
    return (getattr(_current, "reused", False) and not deadline.expired
            and isinstance(cause, (ConnectionResetError, BrokenPipeError,
                                   ConnectionAbortedError)))


def _timeout(deadline: Deadline) -> TimeoutError:
    return TimeoutError(f"Timeout: no complete answer within {deadline.seconds:g} s")


def _error(deadline: Deadline, exc: Exception) -> OSError:
    timed_out = isinstance(exc, urllib3.exceptions.TimeoutError) and not isinstance(
        exc, urllib3.exceptions.NewConnectionError)  # (a refused connection, in urllib3 2)
    if deadline.expired or timed_out:
        return _timeout(deadline)
    return OSError(_describe(exc))


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"
