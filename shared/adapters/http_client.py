"""The HTTP client webhook deliveries go out through (urllib3).

- It connects to the address the caller checked (shared.urlguard) while the Host header,
  TLS SNI and certificate check use the URL's host name: what was checked is what is
  reached, whatever DNS answers a moment later.
- No redirects, no retries (the delivery schedule retries), no decompression.
- `timeout` bounds the connection and each read; only the first EXCERPT bytes of the
  answer are read, and a connection with unread bytes is closed, not reused.
- Keep-alive connections are pooled per (address, host name).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import certifi
import urllib3

from shared.ports import HttpAnswer, HttpClient

EXCERPT = 1024


class PinnedHttpClient(HttpClient):
    def __init__(self, *, ca_certs: str | None = None, num_pools: int = 64):
        self._pools = urllib3.PoolManager(num_pools=num_pools, maxsize=4, block=False,
                                          retries=False, cert_reqs="CERT_REQUIRED",
                                          ca_certs=ca_certs or certifi.where())

    def post(self, url, body, headers, timeout, *, address=None):
        parts = urlsplit(url)
        host = (parts.hostname or "").encode("idna").decode("ascii")
        default_port = 443 if parts.scheme == "https" else 80
        port = parts.port or default_port
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = (f"[{host}]" if ":" in host else host) + (
            "" if port == default_port else f":{port}")
        pool_kwargs = {"server_hostname": host, "assert_hostname": host} \
            if parts.scheme == "https" else {}
        send = {**headers, "Host": host_header, "Accept-Encoding": "identity"}
        try:
            pool = self._pools.connection_from_host(address or host, port, parts.scheme,
                                                    pool_kwargs=pool_kwargs)
            response = pool.urlopen("POST", target, body=body, headers=send, redirect=False,
                                    retries=False, preload_content=False, decode_content=False,
                                    assert_same_host=False,
                                    timeout=urllib3.Timeout(connect=timeout, read=timeout))
            try:
                excerpt = response.read(EXCERPT, decode_content=False)
                answer = HttpAnswer(response.status, excerpt.decode("utf-8", "replace"),
                                    {k.lower(): v for k, v in response.headers.items()})
                if len(excerpt) == EXCERPT and response.read(1, decode_content=False):
                    response.close()  # more unread: do not reuse this connection
            finally:
                response.release_conn()
            return answer
        except urllib3.exceptions.HTTPError as exc:
            raise OSError(_describe(exc)) from exc


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"
