"""MediaFetcher over requests: redirects followed by hand so that every hop passes the
private-address guard, a byte cap enforced while streaming, and one deadline for all."""

from __future__ import annotations

import time
from urllib.parse import urljoin

import requests

from shared.errors import ValidationFailed
from shared.ports import Fetched, FetchError, MediaFetcher
from shared.urlguard import check_url

MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class RequestsMediaFetcher(MediaFetcher):
    def __init__(self, *, allow_private: bool, session: requests.Session | None = None):
        self._allow_private = allow_private
        self._session = session or requests.Session()

    def _guard(self, url: str) -> None:
        try:
            check_url(url, allow_private=self._allow_private, field="media.url")
        except ValidationFailed as exc:
            reason = "invalid_url" if exc.code == "invalid_url" else (
                "unreachable" if exc.code == "unresolvable_host" else "forbidden_address")
            raise FetchError(reason, exc.message) from exc

    def fetch(self, url, *, max_bytes, timeout):
        deadline = time.monotonic() + timeout
        for _ in range(MAX_REDIRECTS + 1):
            self._guard(url)
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchError("timeout", f"fetching {url} took more than {timeout:.0f} s")
            try:
                response = self._session.get(url, stream=True, allow_redirects=False,
                                             timeout=(min(left, 10), left),
                                             headers={"User-Agent": "Utio-Media-Fetcher/1"})
            except requests.Timeout as exc:
                raise FetchError("timeout", f"fetching {url} timed out") from exc
            except requests.RequestException as exc:
                raise FetchError("unreachable", f"could not fetch {url}: {exc}") from exc
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise FetchError("http_status",
                                     f"fetching {url} answered HTTP {response.status_code}")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError("too_large", f"{url} is {int(declared)} bytes; "
                                     f"at most {max_bytes} are allowed")
                data = bytearray()
                try:
                    for chunk in response.iter_content(CHUNK):
                        data += chunk
                        if len(data) > max_bytes:
                            raise FetchError("too_large", f"{url} is larger than {max_bytes} "
                                             "bytes")
                        if time.monotonic() > deadline:
                            raise FetchError("timeout", f"fetching {url} took more than "
                                             f"{timeout:.0f} s")
                except requests.RequestException as exc:
                    raise FetchError("unreachable", f"fetching {url} broke off: {exc}") from exc
                return Fetched(bytes(data), response.headers.get("Content-Type"), url)
        raise FetchError("unreachable", f"{url}: more than {MAX_REDIRECTS} redirects")
